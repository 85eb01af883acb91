"""Risk classification: one rule per risk, each explaining itself in plain words.

`stockade diff` and `stockade comment` both call `classify` on the same
`ResourceChange` model, so a risk reads the same whether it came from two
desired states or from a real preview. Rules look at the inputs on each side
(`change.before` / `change.after`, None where the resource does not exist) and
at the change kind; they never see a secret value, because the model holds none.

Stack-level risks (new weakened settings, changed secret config) come from the
functions at the bottom of this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stockade.review import egress, iam, netrules
from stockade.review.model import ChangeKind, ResourceChange, Risk
from stockade.review.paths import ABSENT, flatten, format_path, has_key, last_key
from stockade.review.text import code, listing, plain

# Types whose deletion loses data, keys or history; the value says what is lost.
STATEFUL: dict[str, tuple[str, str]] = {
    "aws:s3/bucket:Bucket": ("S3 bucket", "its objects are lost"),
    "aws:s3/bucketV2:BucketV2": ("S3 bucket", "its objects are lost"),
    "aws:s3/directoryBucket:DirectoryBucket": ("S3 directory bucket", "its objects are lost"),
    "aws:kms/key:Key": (
        "KMS key",
        "data encrypted under it becomes unreadable once the deletion window ends",
    ),
    "aws:kms/replicaKey:ReplicaKey": ("KMS replica key", "data encrypted under it becomes unreadable"),
    "aws:kms/externalKey:ExternalKey": ("KMS key", "data encrypted under it becomes unreadable"),
    "aws:secretsmanager/secret:Secret": ("Secrets Manager secret", "the stored secret value is lost"),
    "aws:cloudwatch/logGroup:LogGroup": ("CloudWatch log group", "its log history is lost"),
    "aws:efs/fileSystem:FileSystem": ("EFS file system", "its files are lost"),
    "aws:dynamodb/table:Table": ("DynamoDB table", "its items are lost"),
    "aws:rds/instance:Instance": ("RDS instance", "its data is lost unless a final snapshot is taken"),
    "aws:rds/cluster:Cluster": ("RDS cluster", "its data is lost unless a final snapshot is taken"),
    "aws:ecr/repository:Repository": ("ECR repository", "its images are lost"),
    "docker:index/volume:Volume": ("Docker volume", "its files are lost"),
}

# Resources whose only job is to protect or record something else.
PROTECTIVE: dict[str, str] = {
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket encryption configuration removed: new objects fall back to S3-managed keys (SSE-S3), "
        "not the stack's KMS key"
    ),
    "aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2": (
        "bucket encryption configuration removed: new objects fall back to S3-managed keys (SSE-S3), "
        "not the stack's KMS key"
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "bucket public access block removed: bucket policies and ACLs may make it public"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "bucket versioning configuration removed",
    "aws:s3/bucketVersioningV2:BucketVersioningV2": "bucket versioning configuration removed",
    "aws:s3/bucketLogging:BucketLogging": "bucket access logging removed",
    "aws:s3/bucketLoggingV2:BucketLoggingV2": "bucket access logging removed",
    "aws:ec2/flowLog:FlowLog": "VPC flow log removed: network traffic is no longer recorded",
    "aws:cloudtrail/trail:Trail": "CloudTrail trail removed: API activity is no longer recorded",
    "aws:kms/keyPolicy:KeyPolicy": "KMS key policy resource removed",
}

KMS_KEYS = frozenset(
    {"kmsKeyId", "kmsKeyArn", "kmsMasterKeyId", "kmsKey", "kmsKeyIdentifier", "kmsKeyID", "kmsEncryptionKey"}
)
# Flags that protect when true; the value is what turning them off means.
PROTECTIVE_FLAGS: dict[str, str] = {
    "enableKeyRotation": "KMS key rotation turned off",
    "deletionProtection": "deletion protection turned off",
    "deletionProtectionEnabled": "deletion protection turned off",
    "enableDeletionProtection": "deletion protection turned off",
    "encrypted": "encryption turned off",
    "storageEncrypted": "storage encryption turned off",
    "blockPublicAcls": "public access block loosened (`blockPublicAcls`)",
    "blockPublicPolicy": "public access block loosened (`blockPublicPolicy`)",
    "ignorePublicAcls": "public access block loosened (`ignorePublicAcls`)",
    "restrictPublicBuckets": "public access block loosened (`restrictPublicBuckets`)",
    "readonlyRootFilesystem": "container root filesystem made writable",
}
# Flags that endanger when true.
DANGEROUS_FLAGS: dict[str, str] = {
    "forceDestroy": "`forceDestroy` turned on: deleting the resource also deletes everything in it",
    "skipFinalSnapshot": "`skipFinalSnapshot` turned on: deleting the database keeps no snapshot",
    "privileged": "container runs privileged",
}
LOGGING_KEYS = frozenset({"logging", "logConfiguration", "loggingConfiguration", "logDestinationConfigs"})
PUBLIC_IP_KEYS = frozenset({"assignPublicIp", "mapPublicIpOnLaunch", "associatePublicIpAddress"})
LOAD_BALANCERS = frozenset({"aws:lb/loadBalancer:LoadBalancer", "aws:alb/loadBalancer:LoadBalancer"})
ELASTIC_IP = "aws:ec2/eip:Eip"
DOCKER_CONTAINER = "docker:index/container:Container"
POLICY_ATTACHMENTS = frozenset(
    {
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "aws:iam/userPolicyAttachment:UserPolicyAttachment",
        "aws:iam/groupPolicyAttachment:GroupPolicyAttachment",
        "aws:iam/policyAttachment:PolicyAttachment",
    }
)
REPLACING = frozenset({ChangeKind.REPLACE, ChangeKind.RENAME_REPLACE})


@dataclass(frozen=True)
class Rule:
    """A risk: its stable id, a title for humans, and the check that finds it."""

    id: str
    title: str
    check: Callable[[ResourceChange], Iterable[str]]


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "enabled", "yes", "1")
    return value is True or (isinstance(value, int) and not isinstance(value, bool) and value == 1)


def _number(value: Any) -> float | None:
    # Pulumi's wire format carries every number as a double: 30 arrives as 30.0.
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _present(value: Any) -> bool:
    return value is not ABSENT and value not in (None, "", [], {})


# --- rules -------------------------------------------------------------------------------------


def _ingress_or_public_ip(change: ResourceChange) -> Iterator[str]:
    before, after = change.before, change.after
    if after is None:
        return
    old = netrules.permissions(change.type, before, "ingress")
    for permission in netrules.uncovered(netrules.permissions(change.type, after, "ingress"), old):
        yield f"new ingress: {code(permission.describe('from'))}"
    old_leaves = flatten(before or {})
    for path, value in flatten(after).items():
        key = last_key(path)
        if key in PUBLIC_IP_KEYS and _truthy(value) and not _truthy(old_leaves.get(path)):
            yield f"{code(format_path(path))} turns on a public IP address"
    if change.type == ELASTIC_IP and before is None:
        yield "allocates an Elastic IP: a public IPv4 address"
    internet_facing = after.get("internal") is not True
    if (
        change.type in LOAD_BALANCERS
        and internet_facing
        and (before is None or before.get("internal") is True)
    ):
        yield "load balancer is internet-facing (`internal` is not true)"
    if change.type == DOCKER_CONTAINER:
        yield from _docker_ingress(before, after)


def _docker_ingress(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> Iterator[str]:
    def published(inputs: Mapping[str, Any] | None) -> set[tuple[str, str, str]]:
        found: set[tuple[str, str, str]] = set()
        for port in (inputs or {}).get("ports") or []:
            if isinstance(port, Mapping):
                ip = str(port.get("ip") or "0.0.0.0")  # noqa: S104 - Docker's own default bind address
                found.add((ip, plain(port.get("external", "")), plain(port.get("internal"))))
        return found

    for ip, external, internal in sorted(published(after) - published(before)):
        if not ip.startswith("127.") and ip != "::1":
            yield f"publishes container port {code(internal)} on the host at {code(f'{ip}:{external}')}"
    if after.get("networkMode") == "host" and (before or {}).get("networkMode") != "host":
        yield "container joins the host network namespace (`networkMode: host`)"


def _egress_widened(change: ResourceChange) -> Iterator[str]:
    if change.after is None:
        return
    old = netrules.permissions(change.type, change.before, "egress")
    for permission in netrules.uncovered(netrules.permissions(change.type, change.after, "egress"), old):
        yield f"new egress: {code(permission.describe('to'))}"
    widened, _ = egress.compare(change.type, change.before, change.after)
    for destination in widened:
        yield f"newly allowed: {destination.describe()}"


def egress_narrowed(change: ResourceChange) -> tuple[str, ...]:
    """Destinations the change stops allowing: worth saying, never a risk."""
    _, narrowed = egress.compare(change.type, change.before, change.after)
    found = [d.describe() for d in narrowed]
    old = netrules.permissions(change.type, change.before, "egress")
    new = netrules.permissions(change.type, change.after, "egress")
    found += [code(p.describe("to")) for p in netrules.uncovered(old, new)]
    return tuple(found)


def _protection_weakened(change: ResourceChange) -> Iterator[str]:
    before, after = change.before, change.after
    if before is not None and after is None and change.type in PROTECTIVE:
        yield PROTECTIVE[change.type]
        return
    if before is None or after is None:
        return
    old, new = flatten(before), flatten(after)
    for path, value in old.items():
        key = last_key(path)
        now = new.get(path, ABSENT)
        shown = code(format_path(path))
        if key in KMS_KEYS and _present(value) and not _present(now):
            yield f"customer-managed KMS key removed from {shown}"
        elif (
            key == "sseAlgorithm" and str(value).startswith("aws:kms") and not str(now).startswith("aws:kms")
        ):
            target = code(now) if now is not ABSENT else "nothing"
            yield f"{shown} downgraded from {code(value)} to {target}"
        elif key in PROTECTIVE_FLAGS and _truthy(value) and not _truthy(now):
            yield f"{PROTECTIVE_FLAGS[key]} at {shown}"
        elif key == "retentionInDays" and (days := _number(value)) and days > 0:
            if now is ABSENT or now is None:
                yield f"log retention setting removed from {shown} (was {plain(value)} days)"
            elif (now_days := _number(now)) and 0 < now_days < days:
                yield f"log retention shortened at {shown} from {plain(value)} to {plain(now)} days"
        elif (
            key == "status"
            and has_key(path, "versioningConfiguration")
            and value == "Enabled"
            and now != "Enabled"
        ):
            yield f"bucket versioning no longer enabled at {shown}"
    for path, value in new.items():
        key = last_key(path)
        if key in DANGEROUS_FLAGS and _truthy(value) and not _truthy(old.get(path, ABSENT)):
            yield f"{DANGEROUS_FLAGS[key]} ({code(format_path(path))})"
    if "serverSideEncryptionConfiguration" in before and "serverSideEncryptionConfiguration" not in after:
        yield "inline server-side encryption configuration removed"
    yield from _logging_removed(before, after)
    old_flags, new_flags = change.old_flags, change.new_flags
    if old_flags and new_flags:
        if old_flags.protect and not new_flags.protect:
            yield "`protect` dropped: a destroy or a replacement can now delete it"
        if old_flags.retain_on_delete and not new_flags.retain_on_delete:
            yield "`retainOnDelete` dropped: deleting it from the program now deletes it in the cloud"


def _logging_removed(before: Mapping[str, Any], after: Mapping[str, Any]) -> Iterator[str]:
    def roots(inputs: Mapping[str, Any]) -> set[str]:
        found: set[str] = set()
        for path, value in flatten(inputs).items():
            for depth, segment in enumerate(path):
                if isinstance(segment, str) and segment in LOGGING_KEYS and _present(value):
                    found.add(format_path(path[: depth + 1]))
        return found

    for path in sorted(roots(before) - roots(after)):
        yield f"logging configuration removed at {code(path)}"


def _iam_widened(change: ResourceChange) -> Iterator[str]:
    before, after = change.before, change.after
    if after is None:
        return
    for widening in iam.widenings(iam.find_documents(before), iam.find_documents(after)):
        if widening.removed_denies:
            yield f"Deny statements removed: {listing(list(widening.removed_denies))}"
            continue
        parts = [f"{code(widening.path)} newly allows {listing(list(widening.actions))}"]
        if widening.resources:
            parts.append(f"on {listing(list(widening.resources), 3)}")
        if widening.principals:
            parts.append(f"for {listing(list(widening.principals), 3)}")
        flags = []
        if widening.wildcard_action:
            flags.append("wildcard action")
        if widening.wildcard_resource:
            flags.append("wildcard resource")
        if widening.any_principal:
            flags.append("any principal")
        if widening.dropped_condition:
            flags.append("condition dropped")
        yield " ".join(parts) + (f" ({', '.join(flags)})" if flags else "")
    if change.type in POLICY_ATTACHMENTS:
        arn = after.get("policyArn")
        if arn and (before is None or before.get("policyArn") != arn):
            yield f"attaches managed policy {code(arn)}"
    new_managed = set(_as_strings(after.get("managedPolicyArns"))) - set(
        _as_strings((before or {}).get("managedPolicyArns"))
    )
    for arn in sorted(new_managed):
        yield f"attaches managed policy {code(arn)}"
    if (
        before is not None
        and _present(before.get("permissionsBoundary"))
        and not _present(after.get("permissionsBoundary"))
    ):
        yield "permissions boundary removed"


def _as_strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def _stateful_lost(change: ResourceChange) -> Iterator[str]:
    if change.type not in STATEFUL:
        return
    what, loss = STATEFUL[change.type]
    if change.kind is ChangeKind.REMOVE:
        verb = "deleted"
    elif change.kind in REPLACING:
        verb = "replaced (deleted and created again)"
    else:
        return
    retained = change.old_flags is not None and change.old_flags.retain_on_delete
    suffix = "; `retainOnDelete` is set, so Pulumi leaves the old one in the account" if retained else ""
    yield f"{what} {verb}: {loss}{suffix}"


def _urn_changed(change: ResourceChange) -> Iterator[str]:
    if change.kind is ChangeKind.RENAME_REPLACE and change.custom:
        yield (
            "Pulumi will delete and recreate it instead of updating: the old URN "
            f"{code(change.old_urn, 200)} is not among its aliases; add one to keep the resource"
        )


def _secret_input_changed(change: ResourceChange) -> Iterator[str]:
    if change.before is None or change.after is None:
        return
    paths = [p.path for p in change.properties if p.secret]
    if paths:
        yield f"{listing(paths)} changed (value not shown)"


RULES: tuple[Rule, ...] = (
    Rule("ingress-opened", "New ingress path or public IP", _ingress_or_public_ip),
    Rule("egress-widened", "Egress widened", _egress_widened),
    Rule("protection-weakened", "Encryption, logging or deletion protection weakened", _protection_weakened),
    Rule("iam-widened", "IAM actions or resources widened", _iam_widened),
    Rule("stateful-lost", "Stateful resource deleted or replaced", _stateful_lost),
    Rule("urn-changed-no-alias", "URN change without alias", _urn_changed),
    Rule("secret-changed", "Secret-bearing input changed", _secret_input_changed),
)
WEAKENING_RULE = Rule("new-weakening", "New weakened setting", lambda _change: ())
SECRET_CONFIG_RULE = Rule("secret-changed", "Secret-bearing input changed", lambda _change: ())
RULE_ORDER = {rule.id: index for index, rule in enumerate((*RULES, WEAKENING_RULE))}


def classify(change: ResourceChange) -> ResourceChange:
    """The change with every rule's findings attached, in rule order."""
    risks = tuple(Risk(rule.id, rule.title, reason) for rule in RULES for reason in rule.check(change))
    return replace(change, risks=risks, narrowed=egress_narrowed(change))


def weakening_risks(old: Sequence[str] | None, new: Sequence[str]) -> tuple[Risk, ...]:
    """Weakenings the new side reports that the old side did not."""
    known = set(old or ())
    return tuple(
        Risk(WEAKENING_RULE.id, WEAKENING_RULE.title, f"stack settings now report: {code(item, 300)}")
        for item in new
        if item not in known
    )


def secret_config_risks(changes: Iterable[tuple[str, str]]) -> tuple[Risk, ...]:
    """(config key path, what happened) pairs for secret config; values are never part of the input."""
    return tuple(
        Risk(
            SECRET_CONFIG_RULE.id,
            SECRET_CONFIG_RULE.title,
            f"secret config {code(path)} {what} (value not shown); resources that read it get the new value",
        )
        for path, what in changes
    )


def ordering_key(change: ResourceChange) -> tuple[int, int, str]:
    """Risky changes first (by their most important rule), then by kind and URN."""
    if change.risks:
        first = min(RULE_ORDER.get(r.rule, len(RULE_ORDER)) for r in change.risks)
        return (0, first, change.urn)
    return (1, list(ChangeKind).index(change.kind), change.urn)
