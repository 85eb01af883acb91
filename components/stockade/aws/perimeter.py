"""Compose the AWS perimeter from a stack's settings.

The order is the dependency order: key, network, sandboxes, tunnel. Each block
only maps settings onto one component's args; the components do the work.
"""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.aws.arns import partition_for
from stockade.settings import StackSettings
from stockade.tags import stack_tags

BASE_NAME = "stockade"


def build_aws_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.aws.encryption_key import EncryptionKey

    assert settings.aws is not None and settings.aws_region is not None  # enforced by validation
    account = settings.aws
    region = settings.aws_region
    partition = partition_for(region)
    tags = stack_tags(settings)
    outputs: dict[str, Any] = {}

    # --- encryption: one customer-managed key for logs, secrets and artifacts ---
    key_arn: pulumi.Input[str]
    if account.kms_key_arn:
        key_arn = account.kms_key_arn
    else:
        key = EncryptionKey(
            f"{BASE_NAME}-encryption",
            {"account_id": account.account_id, "region": region, "partition": partition, "tags": tags},
        )
        key_arn = key.key_arn
    outputs["kmsKeyArn"] = key_arn

    # --- network (stockade:aws:Network) ---

    # --- sandboxes (stockade:aws:SandboxFleet / stockade:aws:ProviderBridge) ---

    # --- tunnel (stockade:aws:TunnelGateway) ---

    return outputs
