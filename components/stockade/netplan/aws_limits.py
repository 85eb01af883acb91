"""What AWS itself accepts, as plain data: region names, tag limits, security-group rule quotas.

Pure functions and constants (botocore's shipped data is read as a file, no client is
made), so settings validation refuses what AWS would reject at apply time.
"""

from __future__ import annotations

import json
from functools import cache
from importlib.util import find_spec
from pathlib import Path

# Tags (docs.aws.amazon.com/tag-editor/latest/userguide/tagging.html, "Tag naming limits").
MAX_TAGS_PER_RESOURCE = 50
MAX_TAG_KEY_CHARS = 128
MAX_TAG_VALUE_CHARS = 256
RESERVED_TAG_PREFIX = "aws:"
"""AWS reserves keys starting `aws:` (any case); a tag request carrying one is refused."""

# Security groups (Amazon VPC quotas, "Inbound or outbound rules per security group", L-0EA8095F).
SECURITY_GROUP_RULE_QUOTA = 60
"""Default outbound rules per security group; a rule naming a prefix list counts as its size."""
AWS_SERVICE_RULE_WEIGHT = 10
"""Room kept for the endpoints rule and the S3 gateway prefix list (its weight is its size,
a handful of entries in every commercial region)."""


@cache
def aws_regions() -> frozenset[str]:
    """Every region in the partition data botocore ships (all partitions: aws, aws-cn, aws-us-gov, ...).

    Read from botocore's `partitions.json` (7 KB), not `endpoints.json` (1.2 MB, 13 ms to
    parse, paid by every validate and synth). It also lists pseudo-regions such as
    `aws-global`, which no stack can deploy to: they are left out. Empty when botocore is
    not installed, in which case the caller falls back to a pattern.
    """
    spec = find_spec("botocore")
    if spec is None or spec.origin is None:
        return frozenset()
    data = Path(spec.origin).parent / "data"
    for name in ("partitions.json", "endpoints.json"):  # the second for botocore releases before the first
        try:
            partitions = json.loads((data / name).read_text(encoding="utf-8"))["partitions"]
        except (OSError, ValueError, KeyError):
            continue
        return frozenset(
            region
            for partition in partitions
            for region in partition.get("regions", {})
            if not region.endswith("-global")
        )
    return frozenset()


def suggest_regions(name: str, limit: int = 3) -> list[str]:
    """Known regions close to `name` (same prefix first), for a did-you-mean."""
    import difflib

    known = sorted(aws_regions())
    return difflib.get_close_matches(name, known, n=limit, cutoff=0.6)


def gateway_egress_rule_count(upstream_targets: int) -> int:
    """Outbound rules the tunnel gateway's security group holds for this many (network, port) targets:
    one per target, cloudflared's edge over TCP and UDP, and the AWS service rules."""
    return upstream_targets + 2 + AWS_SERVICE_RULE_WEIGHT


MAX_UPSTREAM_TARGETS = SECURITY_GROUP_RULE_QUOTA - gateway_egress_rule_count(0)
"""Distinct (targetCidr, port) pairs one gateway security group can hold under the default quota."""
