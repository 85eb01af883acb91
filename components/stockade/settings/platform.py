"""Settings about the platform a stack lands on: the AWS account or the Docker host."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field

from stockade.settings.base import SettingsModel
from stockade.settings.types import AwsAccountId, IamArn, KmsKeyArn, LogRetentionDays


class AwsSettings(SettingsModel):
    """`stockade:aws`: account-level settings for AWS stacks."""

    account_id: AwsAccountId
    """The account this stack must deploy into; synth answers caller-identity with it and
    rollouts refuse credentials for any other account."""

    permissions_boundary_arn: IamArn | None = None
    """A permissions boundary attached to every role Stockade creates."""

    kms_key_arn: KmsKeyArn | None = None
    """Use this customer-managed key instead of creating one (rotation must be on)."""

    log_retention_days: LogRetentionDays = 365
    """Retention for every log group Stockade creates."""


class ContainerRuntime(StrEnum):
    RUNC = "runc"
    """Docker's default runtime: namespaces and seccomp."""
    RUNSC = "runsc"
    """gVisor: a user-space kernel between sandboxes and the host. Must be installed on the host."""


class DockerSettings(SettingsModel):
    """`stockade:docker`: the Docker host for the `docker` target."""

    runtime: ContainerRuntime = ContainerRuntime.RUNC
    """OCI runtime for sandboxes; `runsc` (gVisor) is stronger isolation."""

    data_dir: Annotated[str, Field(pattern=r"^/[\w./-]*$")] = "/var/lib/stockade"
    """Host directory for the tunnel's config and TLS files."""


class PolicySettings(SettingsModel):
    """`stockade:policy`: what guardrails enforce beyond the built-in invariants."""

    required_tags: list[Annotated[str, Field(min_length=1, max_length=128)]] = Field(
        default_factory=lambda: ["stockade:stack", "stockade:environment"]
    )
    """Tag keys every taggable AWS resource must carry."""
