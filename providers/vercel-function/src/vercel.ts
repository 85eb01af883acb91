// The one place that calls @vercel/sandbox: create the Sandbox (authenticated by the Function's
// VERCEL_OIDC_TOKEN) and start the worker detached, so the Function returns at once.
import { Sandbox } from "@vercel/sandbox";
import { WORKER, type SandboxRequest } from "./handler.js";

export async function startSandbox(request: SandboxRequest): Promise<void> {
  const sandbox = await Sandbox.create({
    name: request.name,
    image: request.image,
    env: request.env,
    networkPolicy: request.networkPolicy,
    timeout: request.timeoutMs,
    tags: request.tags,
    signal: AbortSignal.timeout(60_000),
  });
  try {
    await sandbox.runCommand({ cmd: WORKER.cmd, args: WORKER.args, detached: true });
  } catch (error) {
    await sandbox.stop().catch(() => undefined);
    throw error;
  }
}
