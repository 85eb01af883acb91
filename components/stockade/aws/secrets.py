"""Secrets Manager entries from secret settings: store a Pulumi secret, or reference an ARN."""

from __future__ import annotations

from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from stockade.settings.secrets import PulumiSecret, SecretReference


def secret_arn(
    name: str,
    setting: PulumiSecret | SecretReference,
    *,
    description: str,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """The ARN of a Secrets Manager secret holding `setting`.

    A reference is used as is (the customer owns and rotates it). A Pulumi secret
    is stored under the stack's CMK; its value reaches Pulumi only wrapped as a
    secret, so state holds it encrypted and previews show `[secret]`.
    """
    if isinstance(setting, SecretReference):
        return pulumi.Output.from_input(setting.arn)
    if setting.value is None:
        raise ValueError(f"{name}: the secret's value is not available to the program")
    secret = aws.secretsmanager.Secret(
        name,
        description=description,
        kms_key_id=kms_key_arn,
        recovery_window_in_days=7,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    aws.secretsmanager.SecretVersion(
        f"{name}-value",
        secret_id=secret.id,
        secret_string=pulumi.Output.secret(setting.value),
        opts=pulumi.ResourceOptions(parent=secret),
    )
    return secret.arn
