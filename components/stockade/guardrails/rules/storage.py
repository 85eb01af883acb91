"""S3 rules: every bucket encrypted with a customer key, closed to the public, TLS-only, versioned.

In pulumi-aws 7 a bucket's settings are separate resources
(`BucketServerSideEncryptionConfiguration`, `BucketPublicAccessBlock`,
`BucketPolicy`, `BucketVersioning`), so these are stack rules that find each
bucket's settings through the dependency graph.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, as_bool, get, is_set, items, parse_json
from stockade.guardrails.rule import Level, Rule
from stockade.guardrails.rules import tokens
from stockade.guardrails.rules.graph import linked, of_type

if TYPE_CHECKING:
    from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

KMS_ALGORITHMS = frozenset({"aws:kms", "aws:kms:dsse"})
PUBLIC_ACLS = frozenset({"public-read", "public-read-write", "authenticated-read"})
PUBLIC_ACCESS_BLOCK_FLAGS = (
    "blockPublicAcls",
    "blockPublicPolicy",
    "ignorePublicAcls",
    "restrictPublicBuckets",
)


def aws_managed_key(key_id: Any) -> bool:
    """True for the AWS-managed aliases (`alias/aws/s3`, ...): encrypted, but not under the customer's key."""
    return isinstance(key_id, str) and (key_id.startswith("alias/aws/") or ":alias/aws/" in key_id)


def _settings_by_bucket(
    resources: Sequence[PolicyResource], types: Iterable[str]
) -> tuple[list[PolicyResource], dict[str, list[PolicyResource]]]:
    buckets = of_type(resources, tokens.BUCKETS)
    found: dict[str, list[PolicyResource]] = {b.urn: [] for b in buckets}
    for setting in of_type(resources, types):
        bucket = linked(setting, "bucket", buckets)
        if bucket is not None:
            found[bucket.urn].append(setting)
    return buckets, found


def _each_bucket(
    args: StackValidationArgs,
    report: ReportViolation,
    types: Iterable[str],
    problems: Callable[[PolicyResource, list[PolicyResource]], list[str]],
) -> None:
    buckets, settings = _settings_by_bucket(list(args.resources), types)
    for bucket in buckets:
        for problem in problems(bucket, settings[bucket.urn]):
            report(f"bucket {bucket.name}: {problem}", bucket.urn)


def _inline_sse(bucket: PolicyResource) -> list[Any]:
    # The deprecated inline block still exists on the v7 Bucket; honour it if a component uses it.
    return list(items(get(bucket.props, "serverSideEncryptionConfiguration", "rule")))


def _sse_problems(bucket: PolicyResource, settings: list[PolicyResource]) -> list[str]:
    rules = [rule for s in settings for rule in items(get(s.props, "rules"))] + _inline_sse(bucket)
    if not rules:
        return ["no server-side encryption configuration (default SSE-S3 is not a customer key)"]
    problems = []
    for rule in rules:
        default = get(rule, "applyServerSideEncryptionByDefault")
        algorithm = get(default, "sseAlgorithm")
        key = get(default, "kmsMasterKeyId")
        if UNKNOWN in (rule, default, algorithm):
            continue
        if algorithm not in KMS_ALGORITHMS:
            shown = "no algorithm" if algorithm is MISSING else algorithm
            problems.append(f"encrypts with {shown}, not aws:kms")
        elif not is_set(key):
            problems.append("aws:kms without kmsMasterKeyId uses the AWS-managed key, not the stack's key")
        elif aws_managed_key(key):
            problems.append(f"encrypts with the AWS-managed key {key}")
    return problems


def check_s3_encryption(args: StackValidationArgs, report: ReportViolation) -> None:
    _each_bucket(args, report, tokens.BUCKET_SSE, _sse_problems)


S3_ENCRYPTION = Rule(
    name="s3-encryption-kms",
    description="Every bucket encrypts by default with SSE-KMS under a customer-managed key.",
    level=Level.MANDATORY,
    remediation=(
        "Add a BucketServerSideEncryptionConfiguration with sseAlgorithm aws:kms, kmsMasterKeyId set to "
        "the stack's key ARN and bucketKeyEnabled: true."
    ),
    stack_check=check_s3_encryption,
)


def _pab_problems(bucket: PolicyResource, settings: list[PolicyResource]) -> list[str]:
    problems = []
    blocks = [s for s in settings if s.resource_type == tokens.BUCKET_PAB]
    if not blocks:
        problems.append("no public access block")
    for block in blocks:
        off = [flag for flag in PUBLIC_ACCESS_BLOCK_FLAGS if as_bool(get(block.props, flag)) is not True]
        if off:
            problems.append(f"public access block leaves {', '.join(off)} off")
    for acl in (s for s in settings if s.resource_type in tokens.BUCKET_ACL):
        canned = get(acl.props, "acl")
        if canned in PUBLIC_ACLS:
            problems.append(f"bucket ACL {canned} grants public access")
    inline_acl = get(bucket.props, "acl")
    if inline_acl in PUBLIC_ACLS:
        problems.append(f"bucket ACL {inline_acl} grants public access")
    return problems


def check_s3_public_access(args: StackValidationArgs, report: ReportViolation) -> None:
    _each_bucket(args, report, {tokens.BUCKET_PAB, *tokens.BUCKET_ACL}, _pab_problems)


S3_PUBLIC_ACCESS = Rule(
    name="s3-public-access-blocked",
    description="Every bucket has a public access block with all four settings on, and no public ACL.",
    level=Level.MANDATORY,
    remediation=(
        "Add a BucketPublicAccessBlock with blockPublicAcls, blockPublicPolicy, ignorePublicAcls and "
        "restrictPublicBuckets all true; use BucketOwnershipControls BucketOwnerEnforced instead of ACLs."
    ),
    stack_check=check_s3_public_access,
)


def _values(value: Any) -> list[Any]:
    return [v for v in items(value) if v is not MISSING]


def denies_insecure_transport(statement: Any) -> bool:
    if get(statement, "Effect") != "Deny":
        return False
    principal = get(statement, "Principal")
    if principal != "*" and "*" not in _values(get(principal, "AWS")):
        return False
    actions = _values(get(statement, "Action"))
    if not any(a in ("s3:*", "*") for a in actions):
        return False
    if not any(isinstance(r, str) and r.endswith("/*") for r in _values(get(statement, "Resource"))):
        return False
    flag = get(statement, "Condition", "Bool", "aws:SecureTransport")
    return any(str(v).lower() == "false" for v in _values(flag))


def _tls_problems(bucket: PolicyResource, settings: list[PolicyResource]) -> list[str]:
    policies = [s for s in settings if s.resource_type == tokens.BUCKET_POLICY]
    inline = get(bucket.props, "policy")
    documents = [get(p.props, "policy") for p in policies] + ([inline] if is_set(inline) else [])
    if not documents:
        return ["no bucket policy, so plain-HTTP requests are not refused"]
    for document in documents:
        try:
            parsed = parse_json(document)
        except ValueError:
            return ["the bucket policy is not readable JSON"]
        if any(denies_insecure_transport(s) for s in items(get(parsed, "Statement"))):
            return []
    return ["no statement denies s3:* when aws:SecureTransport is false"]


def check_s3_tls_only(args: StackValidationArgs, report: ReportViolation) -> None:
    _each_bucket(args, report, [tokens.BUCKET_POLICY], _tls_problems)


S3_TLS_ONLY = Rule(
    name="s3-tls-only",
    description="Every bucket's policy denies requests that do not use TLS.",
    level=Level.MANDATORY,
    remediation=(
        'Add a BucketPolicy statement {"Effect": "Deny", "Principal": "*", "Action": "s3:*", '
        '"Resource": [bucket ARN, bucket ARN + "/*"], '
        '"Condition": {"Bool": {"aws:SecureTransport": "false"}}}.'
    ),
    stack_check=check_s3_tls_only,
)


def _versioning_problems(bucket: PolicyResource, settings: list[PolicyResource]) -> list[str]:
    statuses = [get(s.props, "versioningConfiguration", "status") for s in settings]
    statuses.append(get(bucket.props, "versioning", "enabled"))
    if any(status in ("Enabled", True, UNKNOWN) for status in statuses):
        return []
    return ["versioning is not enabled, so an overwrite or delete cannot be undone"]


def check_s3_versioning(args: StackValidationArgs, report: ReportViolation) -> None:
    _each_bucket(args, report, tokens.BUCKET_VERSIONING, _versioning_problems)


S3_VERSIONING = Rule(
    name="s3-versioning",
    description="Buckets keep object versions (with lifecycle expiry) so deletions can be undone.",
    level=Level.ADVISORY,
    remediation="Add a BucketVersioning with status Enabled, and a lifecycle rule that expires old versions.",
    stack_check=check_s3_versioning,
)

RULES = (S3_ENCRYPTION, S3_PUBLIC_ACCESS, S3_TLS_ONLY, S3_VERSIONING)
