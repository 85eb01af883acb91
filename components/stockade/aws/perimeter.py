"""Compose the AWS perimeter from a stack's settings."""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.settings import StackSettings
from stockade.tags import stack_tags

BASE_NAME = "stockade"


def build_aws_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.aws.encryption_key import EncryptionKey

    assert settings.aws is not None and settings.aws_region is not None  # enforced by validation
    tags = stack_tags(settings)
    outputs: dict[str, Any] = {}

    key_arn: pulumi.Input[str]
    if settings.aws.kms_key_arn:
        key_arn = settings.aws.kms_key_arn
    else:
        key = EncryptionKey(
            f"{BASE_NAME}-encryption",
            {
                "account_id": settings.aws.account_id,
                "region": settings.aws_region,
                "partition": "aws",
                "tags": tags,
            },
        )
        key_arn = key.key_arn
    outputs["kmsKeyArn"] = key_arn
    return outputs
