"""The egress policy Stockade seeds for the Cloudflare template's sandboxes.

The document follows the template's own `EgressPolicy` schema (its OpenAPI spec,
`src/api/openapi.ts`): `{id, name, egressRules: [{type: allow|deny, host}], applyTo,
appliesToAll}`. That the template stores this same shape under `policy:<id>` in its
`EGRESS_POLICIES` KV namespace is an assumption written down in docs/providers.md;
the document is also exported so it can be PUT to `/api/egress-policies/<id>`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

POLICY_NAME = "Stockade default egress policy"


def policy_key(policy_id: str) -> str:
    """The KV key the template reads a policy from."""
    return f"policy:{policy_id}"


def policy_document(policy_id: str, allow: Sequence[str], deny: Sequence[str]) -> str:
    """The policy as compact, key-sorted JSON (deterministic, so diffs show only real changes)."""
    rules = [{"type": "allow", "host": host} for host in sorted(set(allow))]
    rules += [{"type": "deny", "host": host} for host in sorted(set(deny))]
    document = {
        "id": policy_id,
        "name": POLICY_NAME,
        "egressRules": rules,
        "applyTo": [],
        "appliesToAll": True,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
