// Webhook signature verification (Standard Webhooks scheme: `whsec_<base64 key>`, headers
// webhook-id, webhook-timestamp and webhook-signature = space-separated `v1,<base64 HMAC-SHA256>`
// of `${id}.${timestamp}.${body}`). The vendor signs with a `whsec_...` key and its SDKs verify
// through the Standard Webhooks libraries (docs/vendor-interface.md §1.5); docs/providers.md
// records this as an assumption.
import { createHmac, timingSafeEqual } from "node:crypto";

export const TOLERANCE_SECONDS = 300;

export class SignatureError extends Error {}

function keyBytes(secret: string): Buffer {
  if (!secret.startsWith("whsec_")) {
    throw new SignatureError("the signing key is not a whsec_... key");
  }
  const key = Buffer.from(secret.slice("whsec_".length), "base64");
  if (key.length < 16) {
    throw new SignatureError("the signing key is too short");
  }
  return key;
}

export function sign(secret: string, id: string, timestamp: string, body: string): string {
  const mac = createHmac("sha256", keyBytes(secret)).update(`${id}.${timestamp}.${body}`).digest("base64");
  return `v1,${mac}`;
}

/** Throws SignatureError unless `body` carries a valid, fresh signature; never echoes values. */
export function verify(
  secret: string,
  headers: Headers,
  body: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): void {
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  const signatures = headers.get("webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new SignatureError("missing webhook-id, webhook-timestamp or webhook-signature header");
  }
  if (!/^\d{1,12}$/.test(timestamp)) {
    throw new SignatureError("webhook-timestamp is not a Unix time");
  }
  if (Math.abs(nowSeconds - Number(timestamp)) > TOLERANCE_SECONDS) {
    throw new SignatureError("webhook-timestamp is outside the tolerance (replayed or clock skew)");
  }
  const expected = Buffer.from(sign(secret, id, timestamp, body));
  for (const candidate of signatures.split(" ")) {
    const presented = Buffer.from(candidate);
    if (presented.length === expected.length && timingSafeEqual(presented, expected)) {
      return;
    }
  }
  throw new SignatureError("no signature matches");
}
