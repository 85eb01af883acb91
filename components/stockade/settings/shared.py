"""`stockade:shared`: take the network, alarm topic or KMS key from another stack's outputs.

Several stacks (one per team or per workload) often share one VPC, one paging topic and one
key, deployed by a "shared" stack. Each entry names that stack; the program reads its outputs
with a Pulumi StackReference (`vpcId`, `privateSubnetIds`, ... / `alarmTopicArn` /
`kmsKeyArn`, the names a Stockade stack exports) instead of creating its own.
"""

from typing import Annotated

from pydantic import Field

from stockade.settings.base import SettingsModel

# Pulumi's fully qualified stack name. Each part: the characters Pulumi allows in
# organization, project and stack names.
STACK_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}/[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$"

StackName = Annotated[str, Field(pattern=STACK_NAME_PATTERN, examples=["acme/stockade/shared-prod"])]


class FromStack(SettingsModel):
    """Read this from another stack."""

    from_stack: StackName
    """The stack exporting it, fully qualified: `<organization>/<project>/<stack>`."""


class NetworkFromStack(FromStack):
    """Read the network from another stack."""

    vpc_endpoints: bool = True
    """Whether that network has Stockade's VPC endpoints (it then exports
    `endpointsSecurityGroupId` and `s3PrefixListId`); false sends AWS API traffic through
    its NAT. Stated here because the security groups are planned before its outputs are read."""


class SharedSettings(SettingsModel):
    """What this stack takes from other stacks instead of creating it (AWS target)."""

    network: NetworkFromStack | None = None
    """The VPC: the other stack's `vpcId`, `vpcCidr`, `privateSubnetIds`,
    `publicInternetPrefixListId` and, when it has them, `endpointsSecurityGroupId` and
    `s3PrefixListId`. Its egress filter then governs this stack's workloads too."""

    alarm_topic: FromStack | None = None
    """The alarm topic: the other stack's `alarmTopicArn`."""

    kms_key: FromStack | None = None
    """The customer-managed key: the other stack's `kmsKeyArn`. Its key policy must let this
    account's CloudWatch Logs use it (a Stockade EncryptionKey in the same account does)."""

    @property
    def referenced_stacks(self) -> set[str]:
        return {entry.from_stack for entry in (self.network, self.alarm_topic, self.kms_key) if entry}
