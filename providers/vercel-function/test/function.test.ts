// node --test: the Function's code paths with a stand-in queue (an in-memory fetch that serves
// the documented poll/ack/stop calls) and a recording stand-in for Sandbox creation. Neither is
// the vendor's API nor Vercel's; they record what the Function sends.
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { SignatureError, sign, verify } from "../src/signature.js";
import { PLACEHOLDER_KEY, networkPolicy, parseDomains } from "../src/policy.js";
import { WORKER, handleWebhook, type SandboxRequest } from "../src/handler.js";

const SIGNING_KEY = `whsec_${randomBytes(24).toString("base64")}`;
const ENV_KEY = "sk-ant-oat01-vercel-function-test-key";
const NOW = 1_800_000_000;

function standinQueue(items: { id: string; session: string; secret: string }[]) {
  const calls: { method: string; path: string; auth: string | null }[] = [];
  const queued = [...items];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input));
    const headers = new Headers(init?.headers);
    calls.push({ method: init?.method ?? "GET", path: url.pathname + url.search, auth: headers.get("authorization") });
    if (headers.get("authorization") !== `Bearer ${ENV_KEY}`) return new Response("{}", { status: 401 });
    if (url.pathname.endsWith("/work/poll")) {
      const next = queued.shift();
      if (!next) return new Response(null, { status: 204 });
      return Response.json({ id: next.id, secret: next.secret, data: { id: next.session, type: "session" } });
    }
    return Response.json({ state: "starting" });
  }) as typeof fetch;
  return { calls, fetchImpl };
}

function delivery(body: string, key = SIGNING_KEY, timestamp = String(NOW)): Request {
  const id = "msg_1";
  return new Request("https://fn.example.com/api/webhook", {
    method: "POST",
    body,
    headers: { "webhook-id": id, "webhook-timestamp": timestamp, "webhook-signature": sign(key, id, timestamp, body) },
  });
}

const env = {
  ANTHROPIC_ENVIRONMENT_ID: "env_01VercelTest",
  ANTHROPIC_ENVIRONMENT_KEY: ENV_KEY,
  ANTHROPIC_WEBHOOK_SIGNING_KEY: SIGNING_KEY,
  SANDBOX_IMAGE: "stockade-session@sha256:" + "a".repeat(64),
  SANDBOX_ALLOWED_DOMAINS: "pypi.org, files.pythonhosted.org",
};
const EVENT = JSON.stringify({ type: "session.status_run_started", data: { id: "session_1" } });

test("a valid signature verifies; tampering, a stale timestamp or another key do not", () => {
  const body = '{"type":"x"}';
  const ts = String(NOW);
  const headers = (sig: string, t = ts) =>
    new Headers({ "webhook-id": "m", "webhook-timestamp": t, "webhook-signature": sig });
  verify(SIGNING_KEY, headers(`v0,zzz ${sign(SIGNING_KEY, "m", ts, body)}`), body, NOW);
  assert.throws(() => verify(SIGNING_KEY, headers(sign(SIGNING_KEY, "m", ts, body)), body + " ", NOW), SignatureError);
  assert.throws(() => verify(SIGNING_KEY, headers(sign(SIGNING_KEY, "m", ts, body)), body, NOW + 301), SignatureError);
  const other = `whsec_${randomBytes(24).toString("base64")}`;
  assert.throws(() => verify(SIGNING_KEY, headers(sign(other, "m", ts, body)), body, NOW), SignatureError);
  assert.throws(() => verify(SIGNING_KEY, new Headers(), body, NOW), /missing/);
});

test("the policy allows only the listed domains and puts the key only in the API host's transform", () => {
  const policy = networkPolicy(["pypi.org"], "api.anthropic.com", ENV_KEY);
  assert.ok(typeof policy === "object");
  const allow = policy.allow as Record<string, { match?: unknown; transform?: { headers?: Record<string, string> }[] }[]>;
  assert.deepEqual(Object.keys(allow).sort(), ["api.anthropic.com", "pypi.org"]);
  assert.deepEqual(allow["pypi.org"], []);
  const rules = allow["api.anthropic.com"] ?? [];
  assert.equal(rules.length, 2);
  for (const rule of rules) {
    assert.ok(JSON.stringify(rule.match).includes(PLACEHOLDER_KEY), "only requests carrying the placeholder");
    assert.ok(JSON.stringify(rule.transform).includes(ENV_KEY));
  }
  assert.throws(() => parseDomains("pypi.org,not a domain"), /not a domain name/);
  assert.deepEqual(parseDomains(" PyPI.org ,"), ["pypi.org"]);
});

test("a delivery with a bad signature is refused before the queue is touched", async () => {
  const { calls, fetchImpl } = standinQueue([{ id: "work_1", session: "session_1", secret: "wsec_1" }]);
  const started: SandboxRequest[] = [];
  const other = `whsec_${randomBytes(24).toString("base64")}`;
  const response = await handleWebhook(delivery(EVENT, other), {
    env, fetch: fetchImpl, now: () => NOW * 1000, startSandbox: async (r) => void started.push(r), log: () => {},
  });
  assert.equal(response.status, 401);
  assert.equal(calls.length, 0);
  assert.equal(started.length, 0);
});

test("each claimed item gets one Sandbox with its IDs and secret, never the environment key", async () => {
  const { calls, fetchImpl } = standinQueue([
    { id: "work_1", session: "session_1", secret: "wsec_one" },
    { id: "work_2", session: "session_2", secret: "wsec_two" },
  ]);
  const started: SandboxRequest[] = [];
  const logs: string[] = [];
  const response = await handleWebhook(delivery(EVENT), {
    env, fetch: fetchImpl, now: () => NOW * 1000, startSandbox: async (r) => void started.push(r),
    log: (event, fields) => logs.push(JSON.stringify({ event, ...fields })),
  });
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { started: 2, claimed: 2 });
  assert.deepEqual(started.map((s) => s.name), ["stockade-session_1", "stockade-session_2"]);
  const [first] = started;
  assert.ok(first);
  assert.deepEqual(first.env, {
    ANTHROPIC_ENVIRONMENT_ID: "env_01VercelTest",
    ANTHROPIC_SESSION_ID: "session_1",
    ANTHROPIC_WORK_ID: "work_1",
    ANTHROPIC_WORK_SECRET: "wsec_one",
    ANTHROPIC_BASE_URL: "https://api.anthropic.com",
    ANTHROPIC_ENVIRONMENT_KEY: PLACEHOLDER_KEY,
  });
  assert.ok(!JSON.stringify(first.env).includes(ENV_KEY));
  assert.ok(JSON.stringify(first.networkPolicy).includes('"pypi.org":[]'));
  assert.equal(first.image, env.SANDBOX_IMAGE);
  assert.deepEqual(WORKER.args, ["beta:worker", "run", "--workdir", "/workspace"]);
  assert.deepEqual(
    calls.map((c) => `${c.method} ${c.path.replace("/v1/environments/env_01VercelTest/work", "")}`),
    ["GET /poll?reclaim_older_than_ms=2000", "POST /work_1/ack", "GET /poll?reclaim_older_than_ms=2000",
     "POST /work_2/ack", "GET /poll?reclaim_older_than_ms=2000"],
  );
  assert.ok(calls.every((c) => c.auth === `Bearer ${ENV_KEY}`));
  assert.ok(logs.every((line) => !line.includes(ENV_KEY) && !line.includes("wsec_")));
});

test("a Sandbox that cannot start gets its item stopped; other events are ignored", async () => {
  const { calls, fetchImpl } = standinQueue([{ id: "work_9", session: "session_9", secret: "wsec_9" }]);
  const deps = {
    env, fetch: fetchImpl, now: () => NOW * 1000, log: () => {},
    startSandbox: async () => { throw new Error("quota"); },
  };
  const response = await handleWebhook(delivery(EVENT), deps);
  assert.deepEqual(await response.json(), { started: 0, claimed: 1 });
  assert.ok(calls.some((c) => c.method === "POST" && c.path.endsWith("/work_9/stop")));
  const ignored = await handleWebhook(delivery(JSON.stringify({ type: "session.created" })), deps);
  assert.equal(ignored.status, 202);
});

test("a Function without its configuration answers 500 and names nothing secret", async () => {
  const logs: string[] = [];
  const response = await handleWebhook(delivery(EVENT), {
    env: { ...env, SANDBOX_IMAGE: undefined }, now: () => NOW * 1000,
    startSandbox: async () => {}, log: (e, f) => logs.push(JSON.stringify({ e, ...f })),
  });
  assert.equal(response.status, 500);
  assert.ok(logs.some((l) => l.includes("SANDBOX_IMAGE is not set")));
  assert.ok(logs.every((l) => !l.includes(ENV_KEY)));
});
