// The environment's work queue, as the webhook-mode worker drains it (docs/vendor-interface.md
// §1.5 and §1.7): non-blocking polls with reclaim_older_than_ms=2000 until the queue is empty,
// then ack each claimed item. Every call has a timeout; errors name the call and the status only.
export const API_VERSION = "2023-06-01";
export const BETA = "managed-agents-2026-04-01";
const MAX_ITEMS_PER_DELIVERY = 25;

export interface WorkItem {
  workId: string;
  sessionId: string;
  secret: string;
}

export interface QueueOptions {
  baseUrl: string;
  environmentId: string;
  environmentKey: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
}

const SAFE_ID = /^[A-Za-z0-9_-]{1,128}$/;

export class QueueError extends Error {}

async function call(options: QueueOptions, what: string, method: string, path: string): Promise<Response> {
  const url = `${options.baseUrl.replace(/\/$/, "")}/v1/environments/${encodeURIComponent(options.environmentId)}/work${path}`;
  let response: Response;
  try {
    response = await (options.fetch ?? fetch)(url, {
      method,
      headers: {
        authorization: `Bearer ${options.environmentKey}`,
        "anthropic-version": API_VERSION,
        "anthropic-beta": BETA,
        "anthropic-worker-id": "stockade-vercel-function",
        ...(method === "POST" ? { "content-type": "application/json" } : {}),
      },
      body: method === "POST" ? "{}" : undefined,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
    });
  } catch (error) {
    throw new QueueError(`${what}: ${(error as Error).name}`);
  }
  if (!response.ok) {
    throw new QueueError(`${what}: HTTP ${response.status}`);
  }
  return response;
}

function parseItem(document: unknown): WorkItem {
  const item = document as { id?: unknown; secret?: unknown; data?: { id?: unknown; type?: unknown } };
  if (typeof item?.id !== "string" || !SAFE_ID.test(item.id)) throw new QueueError("poll: bad work ID");
  if (typeof item.data?.id !== "string" || !SAFE_ID.test(item.data.id)) {
    throw new QueueError("poll: bad session ID");
  }
  if (item.data.type !== undefined && item.data.type !== "session") throw new QueueError("poll: not a session item");
  if (typeof item.secret !== "string" || item.secret.trim() === "") throw new QueueError("poll: no work secret");
  return { workId: item.id, sessionId: item.data.id, secret: item.secret };
}

/** Claim and acknowledge everything queued now. */
export async function drain(options: QueueOptions): Promise<WorkItem[]> {
  const items: WorkItem[] = [];
  while (items.length < MAX_ITEMS_PER_DELIVERY) {
    const response = await call(options, "poll", "GET", "/poll?reclaim_older_than_ms=2000");
    if (response.status === 204) break;
    const text = await response.text();
    if (!text.trim()) break;
    const item = parseItem(JSON.parse(text));
    await call(options, "ack", "POST", `/${encodeURIComponent(item.workId)}/ack`);
    items.push(item);
  }
  return items;
}

export async function stop(options: QueueOptions, workId: string): Promise<void> {
  await call(options, "stop", "POST", `/${encodeURIComponent(workId)}/stop`);
}
