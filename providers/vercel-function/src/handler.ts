// The webhook Function: verify the delivery, drain the queue, start one Sandbox per work item.
// The Sandbox gets the session's identifiers, its work secret and a placeholder key; the
// environment key stays in this Function and reaches the API only through networkPolicy.
import { SignatureError, verify } from "./signature.js";
import { PLACEHOLDER_KEY, networkPolicy, parseDomains } from "./policy.js";
import { drain, stop, type QueueOptions, type WorkItem } from "./queue.js";
import type { NetworkPolicy } from "@vercel/sandbox";

export const WORKER = { cmd: "ant", args: ["beta:worker", "run", "--workdir", "/workspace"] };
const MAX_BODY_BYTES = 1024 * 1024;

export interface SandboxRequest {
  name: string;
  image: string;
  env: Record<string, string>;
  networkPolicy: NetworkPolicy;
  timeoutMs: number;
  tags: Record<string, string>;
}

export interface Deps {
  env: Record<string, string | undefined>;
  /** Creates the Sandbox and starts the worker in it, detached (see ./vercel.ts). */
  startSandbox: (request: SandboxRequest) => Promise<void>;
  fetch?: typeof fetch;
  now?: () => number;
  log?: (event: string, fields: Record<string, unknown>) => void;
}

function required(env: Deps["env"], name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new Error(`${name} is not set; the Stockade stack sets it on the project`);
  return value;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

export async function handleWebhook(request: Request, deps: Deps): Promise<Response> {
  const log = deps.log ?? ((event, fields) => console.log(JSON.stringify({ event, ...fields })));
  if (request.method !== "POST") return json(405, { error: "POST only" });
  let config;
  try {
    config = {
      environmentId: required(deps.env, "ANTHROPIC_ENVIRONMENT_ID"),
      environmentKey: required(deps.env, "ANTHROPIC_ENVIRONMENT_KEY"),
      signingKey: required(deps.env, "ANTHROPIC_WEBHOOK_SIGNING_KEY"),
      image: required(deps.env, "SANDBOX_IMAGE"),
      domains: parseDomains(deps.env.SANDBOX_ALLOWED_DOMAINS),
      baseUrl: deps.env.ANTHROPIC_BASE_URL?.trim() || "https://api.anthropic.com",
      timeoutMs: Number(deps.env.SANDBOX_TIMEOUT_MS ?? 45 * 60 * 1000),
    };
  } catch (error) {
    log("config.invalid", { error: (error as Error).message });
    return json(500, { error: "the Function is not configured; see its logs" });
  }
  const body = await request.text();
  if (Buffer.byteLength(body) > MAX_BODY_BYTES) return json(413, { error: "body too large" });
  try {
    verify(config.signingKey, request.headers, body, Math.floor((deps.now ?? Date.now)() / 1000));
  } catch (error) {
    if (error instanceof SignatureError) {
      log("webhook.rejected", { reason: error.message });
      return json(401, { error: "invalid signature" });
    }
    throw error;
  }
  let event: { type?: unknown };
  try {
    event = JSON.parse(body) as { type?: unknown };
  } catch {
    return json(400, { error: "body is not JSON" });
  }
  if (event?.type !== "session.status_run_started") {
    return json(202, { ignored: typeof event?.type === "string" ? event.type : "unknown" });
  }
  const queue: QueueOptions = {
    baseUrl: config.baseUrl,
    environmentId: config.environmentId,
    environmentKey: config.environmentKey,
    fetch: deps.fetch,
  };
  const apiHost = new URL(config.baseUrl).hostname;
  const items: WorkItem[] = await drain(queue);
  const started: string[] = [];
  for (const item of items) {
    try {
      await deps.startSandbox({
        name: `stockade-${item.sessionId}`.slice(0, 63),
        image: config.image,
        env: {
          ANTHROPIC_ENVIRONMENT_ID: config.environmentId,
          ANTHROPIC_SESSION_ID: item.sessionId,
          ANTHROPIC_WORK_ID: item.workId,
          ANTHROPIC_WORK_SECRET: item.secret,
          ANTHROPIC_BASE_URL: config.baseUrl,
          ANTHROPIC_ENVIRONMENT_KEY: PLACEHOLDER_KEY,
        },
        networkPolicy: networkPolicy(config.domains, apiHost, config.environmentKey),
        timeoutMs: config.timeoutMs,
        tags: { "stockade-work-id": item.workId },
      });
      started.push(item.workId);
      log("sandbox.started", { work_id: item.workId, session_id: item.sessionId });
    } catch (error) {
      // No Sandbox runs this item: stop it rather than leave it claimed with nobody working.
      log("sandbox.failed", { work_id: item.workId, error: (error as Error).name });
      await stop(queue, item.workId).catch(() => undefined);
    }
  }
  return json(200, { started: started.length, claimed: items.length });
}
