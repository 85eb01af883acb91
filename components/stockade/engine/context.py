"""What the offline engine knows about the world, taken from the stack's config.

Invokes such as getAvailabilityZones are answered from here instead of a cloud
API. The defaults below are documented in docs/synth.md; they matter only where
a stack leaves the corresponding setting out.
"""

from __future__ import annotations

from dataclasses import dataclass

OFFLINE_ACCOUNT_ID = "000000000000"
OFFLINE_REGION = "us-east-1"


@dataclass(frozen=True)
class OfflineContext:
    """Where the offline program runs: its project, stack, region and account, as the engine would say."""

    project: str
    stack: str
    region: str = OFFLINE_REGION
    account_id: str = OFFLINE_ACCOUNT_ID

    @property
    def partition(self) -> str:
        if self.region.startswith("cn-"):
            return "aws-cn"
        if self.region.startswith("us-gov-"):
            return "aws-us-gov"
        return "aws"

    @property
    def dns_suffix(self) -> str:
        return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"

    def availability_zones(self) -> list[str]:
        return [f"{self.region}{letter}" for letter in "abcdef"]
