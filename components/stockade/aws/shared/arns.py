"""ARN pieces: what depends only on the region, and ARNs joined from provider outputs."""

from __future__ import annotations

import pulumi


def partition_for(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def arn_concat(*parts: pulumi.Input[str]) -> pulumi.Output[str]:
    """`Output.concat` for ARNs and URLs a provider computes (`arn`, `repository_url`).

    A deployment always knows them once they exist; Pulumi's plain test mocks return only a
    resource's inputs, so there they are None, and `Output.concat` would fail the program.
    None joins as "" instead: the policy still renders, and the component stays testable
    with no mock values beyond what any Pulumi program gets.
    """
    return pulumi.Output.all(*parts).apply(
        lambda values: "".join("" if v is None else str(v) for v in values)
    )
