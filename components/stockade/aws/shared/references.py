"""Resources another stack owns, read through Pulumi StackReferences (`stockade:shared`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi


@dataclass
class StackReferences:
    """One StackReference per referenced stack, however many things are taken from it."""

    references: dict[str, pulumi.StackReference] = field(default_factory=dict)

    def output(self, stack: str, name: str) -> pulumi.Output[Any]:
        """`name` from `stack`'s outputs; the deployment fails naming both if it is missing."""
        if stack not in self.references:
            self.references[stack] = pulumi.StackReference(stack)
        return self.references[stack].require_output(name)


@dataclass(frozen=True)
class ReferencedNetwork:
    """What the fleet, bridge and gateway take from a network, from another stack's outputs."""

    vpc_id: pulumi.Output[str]
    vpc_cidr: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    public_internet_prefix_list_id: pulumi.Output[str]
    endpoints_security_group_id: pulumi.Output[str] | None
    s3_prefix_list_id: pulumi.Output[str] | None

    @classmethod
    def read(cls, references: StackReferences, stack: str, *, vpc_endpoints: bool) -> ReferencedNetwork:
        def out(name: str) -> pulumi.Output[Any]:
            return references.output(stack, name)

        return cls(
            vpc_id=out("vpcId"),
            vpc_cidr=out("vpcCidr"),
            private_subnet_ids=out("privateSubnetIds"),
            public_internet_prefix_list_id=out("publicInternetPrefixListId"),
            endpoints_security_group_id=out("endpointsSecurityGroupId") if vpc_endpoints else None,
            s3_prefix_list_id=out("s3PrefixListId") if vpc_endpoints else None,
        )

    def stack_outputs(self) -> dict[str, Any]:
        """The same names a network of this stack would export, so consumers need not care."""
        outputs: dict[str, Any] = {
            "vpcId": self.vpc_id,
            "vpcCidr": self.vpc_cidr,
            "privateSubnetIds": self.private_subnet_ids,
            "publicInternetPrefixListId": self.public_internet_prefix_list_id,
        }
        if self.endpoints_security_group_id is not None:
            outputs["endpointsSecurityGroupId"] = self.endpoints_security_group_id
        if self.s3_prefix_list_id is not None:
            outputs["s3PrefixListId"] = self.s3_prefix_list_id
        return outputs
