// Vercel Function entry point: POST /api/webhook (docs/providers.md, "Vercel").
import { handleWebhook } from "../src/handler.js";
import { startSandbox } from "../src/vercel.js";

export async function POST(request: Request): Promise<Response> {
  return handleWebhook(request, { env: process.env, startSandbox });
}
