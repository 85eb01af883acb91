"""`stockade:aws:EncryptionKey`: the customer-managed KMS key the perimeter encrypts with."""

from __future__ import annotations

import json
from typing import TypedDict

import pulumi
import pulumi_aws as aws


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


class EncryptionKey(pulumi.ComponentResource):
    """A symmetric KMS key with yearly rotation, usable by the stack's log groups and secrets."""

    key_arn: pulumi.Output[str]
    key_id: pulumi.Output[str]

    def __init__(
        self, name: str, args: EncryptionKeyArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("stockade:aws:EncryptionKey", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
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
            description=f"Stockade {pulumi.get_stack()}: sandboxes, tunnel, logs and artifacts",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=json.dumps(policy, sort_keys=True),
            tags=args["tags"],
            opts=child,
        )
        aws.kms.Alias(
            f"{name}-alias",
            name=f"alias/stockade-{pulumi.get_stack()}",
            target_key_id=key.key_id,
            opts=child,
        )
        self.key_arn = key.arn
        self.key_id = key.key_id
        self.register_outputs({"key_arn": self.key_arn, "key_id": self.key_id})
