"""Run every audit check for one stack, after making sure the credentials are for its account."""

from __future__ import annotations

from typing import Any

from stockade.guardrails.audit import checks
from stockade.guardrails.audit.discovery import Expectations, discover
from stockade.guardrails.audit.model import AuditFinding, AuditReport

# The exact IAM policy `stockade audit` needs: reads only. sts:GetCallerIdentity needs no grant.
READ_ONLY_POLICY: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "StockadeAuditReadOnly",
            "Effect": "Allow",
            "Action": [
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeVpcEndpoints",
                "ecs:DescribeServices",
                "kms:DescribeKey",
                "kms:GetKeyRotationStatus",
                "logs:DescribeLogGroups",
                "s3:GetBucketPolicy",
                "s3:GetBucketPublicAccessBlock",
                "s3:GetEncryptionConfiguration",
                "tag:GetResources",
            ],
            # Describe/List APIs do not support resource-level permissions; every action is a read.
            "Resource": "*",
        }
    ],
}

# boto3 operation -> IAM action, for every call the audit makes (tests hold the audit to this list).
OPERATION_ACTIONS: dict[str, str] = {
    "GetCallerIdentity": "sts:GetCallerIdentity",
    "GetResources": "tag:GetResources",
    "DescribeSecurityGroups": "ec2:DescribeSecurityGroups",
    "DescribeVpcEndpoints": "ec2:DescribeVpcEndpoints",
    "DescribeNetworkInterfaces": "ec2:DescribeNetworkInterfaces",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "DescribeLogGroups": "logs:DescribeLogGroups",
    "DescribeKey": "kms:DescribeKey",
    "GetKeyRotationStatus": "kms:GetKeyRotationStatus",
    "DescribeServices": "ecs:DescribeServices",
}


class AuditError(Exception):
    """The audit could not run (wrong account, unreadable stack); nothing was judged."""


def run_audit(session: Any, expected: Expectations) -> AuditReport:
    """Audit the account `session` reaches; refuse when it is not the stack's account."""
    account = session.client("sts").get_caller_identity()["Account"]
    if account != expected.account_id:
        raise AuditError(
            f"the credentials are for account {account}, but stack {expected.stack} deploys into "
            f"{expected.account_id} (stockade:aws.accountId); use --profile for the right account"
        )
    inventory = discover(session.client("resourcegroupstaggingapi"), expected.stack)
    ec2 = session.client("ec2")
    results: dict[str, tuple[int, list[AuditFinding]]] = {
        checks.SECURITY_GROUPS: checks.check_security_groups(ec2, inventory),
        checks.PUBLIC_IPS: checks.check_public_ips(ec2, inventory, expected.stack),
        checks.BUCKETS: checks.check_buckets(session.client("s3"), inventory),
        checks.LOG_GROUPS: checks.check_log_groups(session.client("logs"), inventory),
        checks.KEY_ROTATION: checks.check_key_rotation(
            session.client("kms"), [*inventory.kms_keys, *expected.extra_key_arns]
        ),
        checks.SERVICES: checks.check_services(session.client("ecs"), inventory, expected),
    }
    return AuditReport(
        stack=expected.stack,
        account=account,
        region=session.region_name or expected.region,
        checked={name: count for name, (count, _) in results.items()},
        findings=tuple(sorted(f for _, found in results.values() for f in found)),
    )
