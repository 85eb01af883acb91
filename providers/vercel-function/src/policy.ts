// The Sandbox's networkPolicy: the allowlist from SANDBOX_ALLOWED_DOMAINS, and on the API host
// a transform that swaps a placeholder credential for the environment key. The Sandbox only
// ever sees the placeholder; the key is added by Vercel's proxy on the way out
// (vercel.com/kb/guide/run-claude-managed-agent-tools-with-vercel-sandbox).
import type { NetworkPolicy, NetworkPolicyRule } from "@vercel/sandbox";

export const PLACEHOLDER_KEY = "stockade-placeholder-environment-key";

export function parseDomains(raw: string | undefined): string[] {
  const domains = (raw ?? "")
    .split(",")
    .map((d) => d.trim().toLowerCase())
    .filter((d) => d.length > 0);
  for (const domain of domains) {
    if (!/^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain)) {
      throw new Error(`SANDBOX_ALLOWED_DOMAINS has an entry that is not a domain name`);
    }
  }
  return domains;
}

export function networkPolicy(allowedDomains: string[], apiHost: string, environmentKey: string): NetworkPolicy {
  // Both header forms the vendor SDKs and `ant` authenticate with (auth_token / api key).
  const inject: NetworkPolicyRule[] = [
    {
      match: { headers: [{ key: { exact: "authorization" }, value: { exact: `Bearer ${PLACEHOLDER_KEY}` } }] },
      transform: [{ headers: { authorization: `Bearer ${environmentKey}` } }],
    },
    {
      match: { headers: [{ key: { exact: "x-api-key" }, value: { exact: PLACEHOLDER_KEY } }] },
      transform: [{ headers: { "x-api-key": environmentKey } }],
    },
  ];
  const allow: Record<string, NetworkPolicyRule[]> = {};
  for (const domain of allowedDomains) {
    allow[domain] = [];
  }
  allow[apiHost] = inject;
  return { allow };
}
