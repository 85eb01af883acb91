"""Encryption at rest under the customer's key, key rotation, and log retention."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, as_bool, as_int, get, is_set, items
from stockade.guardrails.rule import Level, Rule
from stockade.guardrails.rules import tokens
from stockade.guardrails.rules.storage import aws_managed_key

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs


def _key_problem(key: Any, what: str) -> str | None:
    if not is_set(key):
        return f"{what} is not set, so the AWS-managed key (or none) is used instead of the stack's key"
    if aws_managed_key(key):
        return f"{what} is the AWS-managed key {key}, not a customer-managed key"
    return None


def _problems(kind: str, props: Any) -> list[str]:
    problems: list[str | None] = []
    if kind in (tokens.LOG_GROUP, tokens.SECRET):
        problems.append(_key_problem(get(props, "kmsKeyId"), "kmsKeyId"))
    elif kind in (tokens.EFS, tokens.EBS_VOLUME):
        if as_bool(get(props, "encrypted")) is not True and get(props, "encrypted") is not UNKNOWN:
            problems.append("encrypted is not true")
        problems.append(_key_problem(get(props, "kmsKeyId"), "kmsKeyId"))
    elif kind == tokens.ECR_REPOSITORY:
        configs = [c for c in items(get(props, "encryptionConfigurations")) if c is not UNKNOWN]
        if not configs:
            problems.append("no encryptionConfigurations: images are encrypted with AES256, not KMS")
        for config in configs:
            if get(config, "encryptionType") not in ("KMS", "KMS_DSSE", UNKNOWN):
                problems.append(f"encryptionType is {get(config, 'encryptionType')}, not KMS")
            else:
                problems.append(_key_problem(get(config, "kmsKey"), "kmsKey"))
    elif kind in (tokens.SNS_TOPIC, tokens.SQS_QUEUE):
        problems.append(_key_problem(get(props, "kmsMasterKeyId"), "kmsMasterKeyId"))
    elif kind == tokens.SSM_PARAMETER:
        if get(props, "type") == "SecureString":
            problems.append(_key_problem(get(props, "keyId"), "keyId"))
    elif kind == tokens.DYNAMODB_TABLE:
        sse = get(props, "serverSideEncryption")
        if as_bool(get(sse, "enabled")) is not True:
            problems.append("serverSideEncryption is not enabled with a customer key")
        else:
            problems.append(_key_problem(get(sse, "kmsKeyArn"), "serverSideEncryption.kmsKeyArn"))
    return [p for p in problems if p]


def check_kms_at_rest(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for problem in _problems(args.resource_type, args.props):
        report(problem, None)


KMS_AT_REST = Rule(
    name="kms-encryption-at-rest",
    description=(
        "Log groups, secrets, EFS, EBS, ECR, SNS, SQS, SecureString parameters and DynamoDB tables are "
        "encrypted with a customer-managed KMS key."
    ),
    level=Level.MANDATORY,
    remediation=(
        "Pass the stack's key ARN (outputs.kmsKeyArn) as the resource's KMS key: kmsKeyId, kmsMasterKeyId, "
        "keyId or encryptionConfigurations[].kmsKey. AWS-managed aliases (alias/aws/...) do not count."
    ),
    resource_check=check_kms_at_rest,
)


def check_key_rotation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.KMS_KEY:
        return
    spec = get(args.props, "customerMasterKeySpec")
    if spec in (MISSING, UNKNOWN):
        spec = get(args.props, "keySpec")
    if spec not in (MISSING, UNKNOWN, "SYMMETRIC_DEFAULT"):
        return  # AWS rotates only symmetric encryption keys; asymmetric and HMAC keys cannot rotate
    if as_bool(get(args.props, "enableKeyRotation")) is not True:
        report("enableKeyRotation is not true", None)


KEY_ROTATION = Rule(
    name="kms-key-rotation",
    description="Every symmetric customer-managed KMS key rotates automatically.",
    level=Level.MANDATORY,
    remediation="Set enableKeyRotation: true (and rotationPeriodInDays, 90-2560; Stockade uses 365).",
    resource_check=check_key_rotation,
)


def check_log_retention(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.LOG_GROUP:
        return
    value = get(args.props, "retentionInDays")
    if value is UNKNOWN:
        return
    days = as_int(value)
    if days is None or days <= 0:
        report("retentionInDays is not set, so logs are kept forever", None)


LOG_RETENTION = Rule(
    name="log-retention",
    description="Every log group expires its logs after a set retention.",
    level=Level.MANDATORY,
    remediation="Set retentionInDays from aws.logRetentionDays (flow logs: network.flowLogs.retentionDays).",
    resource_check=check_log_retention,
)

RULES = (KMS_AT_REST, KEY_ROTATION, LOG_RETENTION)
