"""The artifacts bucket: private, KMS-encrypted, TLS-only, versioned, and expiring."""

from __future__ import annotations

import json
from collections.abc import Mapping

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.lifecycle import stateful

# Multipart uploads that never finish are invisible in listings but still billed.
_ABORT_INCOMPLETE_UPLOADS_DAYS = 7


def artifacts_bucket(
    name: str,
    *,
    kms_key_arn: pulumi.Input[str],
    expire_days: int,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    protect: bool = True,
) -> aws.s3.Bucket:
    """A bucket whose every object, and every old version of it, is gone after `expire_days`.

    Each concern is its own resource (the provider's v7 shape), so changing the
    lifecycle never touches encryption or access.
    """
    # Protected (aws/shared/lifecycle.py): the bucket holds sessions' artifacts.
    bucket = aws.s3.Bucket(name, force_destroy=False, tags=dict(tags), opts=stateful(parent, protect))
    on_bucket = pulumi.ResourceOptions(parent=bucket)
    aws.s3.BucketServerSideEncryptionConfiguration(
        f"{name}-encryption",
        bucket=bucket.id,
        rules=[
            {
                "apply_server_side_encryption_by_default": {
                    "sse_algorithm": "aws:kms",
                    "kms_master_key_id": kms_key_arn,
                },
                # One data key per bucket instead of per object: far fewer KMS calls.
                "bucket_key_enabled": True,
            }
        ],
        opts=on_bucket,
    )
    block = aws.s3.BucketPublicAccessBlock(
        f"{name}-public-access",
        bucket=bucket.id,
        block_public_acls=True,
        block_public_policy=True,
        ignore_public_acls=True,
        restrict_public_buckets=True,
        opts=on_bucket,
    )
    aws.s3.BucketOwnershipControls(
        f"{name}-ownership",
        bucket=bucket.id,
        rule={"object_ownership": "BucketOwnerEnforced"},
        opts=on_bucket,
    )
    versioning = aws.s3.BucketVersioning(
        f"{name}-versioning",
        bucket=bucket.id,
        versioning_configuration={"status": "Enabled"},
        opts=on_bucket,
    )
    aws.s3.BucketLifecycleConfiguration(
        f"{name}-lifecycle",
        bucket=bucket.id,
        rules=[
            {
                "id": "expire-session-artifacts",
                "status": "Enabled",
                "filter": {},
                "expiration": {"days": expire_days},
                "noncurrent_version_expiration": {"noncurrent_days": expire_days},
                "abort_incomplete_multipart_upload": {
                    "days_after_initiation": _ABORT_INCOMPLETE_UPLOADS_DAYS
                },
            },
            {
                # Expiring a versioned object leaves a delete marker; remove it once it is alone.
                "id": "remove-expired-delete-markers",
                "status": "Enabled",
                "filter": {},
                "expiration": {"expired_object_delete_marker": True},
            },
        ],
        # Lifecycle rules on a versioned bucket apply to the versions versioning creates.
        opts=pulumi.ResourceOptions(parent=bucket, depends_on=[versioning]),
    )
    aws.s3.BucketPolicy(
        f"{name}-policy",
        bucket=bucket.id,
        policy=bucket.arn.apply(_tls_only_policy),
        # S3 rejects a policy while the public access block is still being applied.
        opts=pulumi.ResourceOptions(parent=bucket, depends_on=[block]),
    )
    return bucket


def _tls_only_policy(bucket_arn: str) -> str:
    resources = [bucket_arn, f"{bucket_arn}/*"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyPlaintextTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": resources,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "DenyOldTls",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": resources,
                    "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
                },
            ],
        },
        sort_keys=True,
    )
