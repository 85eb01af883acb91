"""`stockade:aws:EncryptionKey`: the customer-managed KMS key the perimeter encrypts with."""

from __future__ import annotations

import json
from typing import NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.lifecycle import stateful
from stockade.aws.shared.naming import naming_for

DEFAULT_NAME = "stockade-encryption"


class EncryptionKeyArgs(TypedDict):
    """Inputs of an EncryptionKey."""

    account_id: str
    """Account that owns the key; its root principal administers it through IAM."""

    region: str
    """Region of the key; CloudWatch Logs in this region may use it."""

    partition: str
    """AWS partition (`aws`, `aws-cn`, `aws-us-gov`)."""

    tags: dict[str, str]
    """Tags for the key."""

    protect: NotRequired[bool]
    """Protect the key from deletion (default true): `protect` and `retain_on_delete`, because
    deleting it makes every secret, log and artifact encrypted under it unreadable."""

    name_base: NotRequired[str]
    """First part of the alias, `alias/<name_base>-<stack>`; default: derived from the component's
    name (aws/shared/naming.py)."""


class EncryptionKey(pulumi.ComponentResource):
    """A symmetric KMS key with yearly rotation, usable by the stack's log groups and secrets."""

    key_arn: pulumi.Output[str]
    """ARN of the key: what every other component's `kms_key_arn` takes."""
    key_id: pulumi.Output[str]
    """ID of the key."""

    def __init__(
        self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:aws:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        naming = naming_for(name, DEFAULT_NAME, args.get("name_base"))
        account, region, partition = args["account_id"], args["region"], args["partition"]
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    # Logs needs a key-policy grant; scope it to this account's log groups.
                    "Sid": "CloudWatchLogsInThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": f"logs.{region}.amazonaws.com"},
                    "Action": [
                        "kms:Encrypt*",
                        "kms:Decrypt*",
                        "kms:ReEncrypt*",
                        "kms:GenerateDataKey*",
                        "kms:Describe*",
                    ],
                    "Resource": "*",
                    "Condition": {
                        "ArnLike": {
                            "kms:EncryptionContext:aws:logs:arn": (
                                f"arn:{partition}:logs:{region}:{account}:log-group:*"
                            )
                        }
                    },
                },
            ],
        }
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Stockade {naming.scope}: sandboxes, tunnel, logs and artifacts",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=json.dumps(policy, sort_keys=True),
            tags=args["tags"],
            opts=stateful(self, args.get("protect", True)),
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/{naming.prefix}",
            target_key_id=key.key_id,
            opts=child,
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id})
