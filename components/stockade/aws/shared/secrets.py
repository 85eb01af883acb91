"""Secrets Manager entries from secret settings: store a Pulumi secret, or reference an ARN."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.lifecycle import stateful
from stockade.settings.secrets import PulumiSecret, SecretReference


class SecretArgs(TypedDict, total=False):
    """A secret handed to a component: give exactly one of `arn` and `value`."""

    arn: pulumi.Input[str]
    """An existing Secrets Manager secret's ARN; the customer owns and rotates it."""

    value: pulumi.Input[str]
    """The secret's value (a Pulumi secret Output); the component stores it under the CMK."""


def secret_args(setting: PulumiSecret | SecretReference, *, field: str) -> SecretArgs:
    """A secret setting as component args; `field` names the setting in the error."""
    if isinstance(setting, SecretReference):
        return {"arn": setting.arn}
    if setting.value is None:
        raise ValueError(f"{field}: the secret's value is not available to the program")
    return {"value": pulumi.Output.secret(setting.value)}


def provided_secret_arn(
    name: str,
    secret: SecretArgs,
    *,
    description: str,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> pulumi.Output[str]:
    """The ARN of `secret`: as given, or of a secret `name` stored under the CMK (as `secret_arn`)."""
    arn, value = secret.get("arn"), secret.get("value")
    if (arn is None) == (value is None):
        raise ValueError(f"{name}: give exactly one of the secret's ARN and its value")
    if arn is not None:
        return pulumi.Output.from_input(arn)
    assert value is not None
    return stored_secret(
        name,
        pulumi.Output.secret(value),
        description=description,
        kms_key_arn=kms_key_arn,
        tags=tags,
        parent=parent,
    )


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
    return stored_secret(
        name,
        pulumi.Output.secret(setting.value),
        description=description,
        kms_key_arn=kms_key_arn,
        tags=tags,
        parent=parent,
    )


def stored_secret(
    name: str,
    value: pulumi.Input[str],
    *,
    description: str,
    kms_key_arn: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    initial_only: bool = False,
    protect: bool = False,
) -> pulumi.Output[str]:
    """A Secrets Manager secret under the CMK holding `value`; returns its ARN.

    `initial_only`: Pulumi writes `value` once and never again, because something else
    (e.g. the tunnel's setup task) owns the secret's value from then on.
    `protect`: the secret holds something no `pulumi up` can recreate (aws/shared/lifecycle.py).
    """
    secret = aws.secretsmanager.Secret(
        name,
        description=description,
        kms_key_id=kms_key_arn,
        recovery_window_in_days=7,
        tags=dict(tags),
        opts=stateful(parent, protect),
    )
    aws.secretsmanager.SecretVersion(
        f"{name}-value",
        secret_id=secret.id,
        secret_string=value,
        opts=stateful(secret, protect, ignore_changes=["secretString"] if initial_only else None),
    )
    return secret.arn
