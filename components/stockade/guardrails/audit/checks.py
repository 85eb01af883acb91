"""The audit's checks: each reads one kind of resource and returns what it found wrong.

They judge the deployed state by the same standards as the policy rules (the
S3 TLS statement and the AWS-managed-key test are shared with them).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from stockade.guardrails.audit.discovery import Expectations, Inventory, TaggedService
from stockade.guardrails.audit.model import AuditFinding
from stockade.guardrails.rules.storage import (
    KMS_ALGORITHMS,
    PUBLIC_ACCESS_BLOCK_FLAGS,
    aws_managed_key,
    denies_insecure_transport,
)

SECURITY_GROUPS = "security-group-ingress"
PUBLIC_IPS = "public-ip"
BUCKETS = "bucket-encryption-and-access"
LOG_GROUPS = "log-group-kms-and-retention"
KEY_ROTATION = "kms-key-rotation"
SERVICES = "ecs-replicas"

_PAB_KEYS = {flag: flag[0].upper() + flag[1:] for flag in PUBLIC_ACCESS_BLOCK_FLAGS}


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _private_https(permission: dict[str, Any]) -> bool:
    if (
        permission.get("IpProtocol") != "tcp"
        or permission.get("FromPort") != 443
        or permission.get("ToPort") != 443
    ):
        return False
    if permission.get("PrefixListIds"):
        return False
    cidrs = [r["CidrIp"] for r in permission.get("IpRanges", [])]
    cidrs += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
    groups = permission.get("UserIdGroupPairs", [])
    return bool(cidrs or groups) and all(ipaddress.ip_network(c, strict=False).is_private for c in cidrs)


def _describe_permission(permission: dict[str, Any]) -> str:
    protocol = permission.get("IpProtocol", "-1")
    ports = "all" if protocol == "-1" else f"{permission.get('FromPort')}-{permission.get('ToPort')}"
    sources = [r["CidrIp"] for r in permission.get("IpRanges", [])]
    sources += [r["CidrIpv6"] for r in permission.get("Ipv6Ranges", [])]
    sources += [g["GroupId"] for g in permission.get("UserIdGroupPairs", [])]
    sources += [p["PrefixListId"] for p in permission.get("PrefixListIds", [])]
    return (
        f"{'all protocols' if protocol == '-1' else protocol} ports {ports} from {', '.join(sources) or '?'}"
    )


def _endpoint_only_groups(ec2: Any, group_ids: list[str]) -> set[str]:
    """Groups used by interface VPC endpoints and by no other network interface."""
    on_endpoints: set[str] = set()
    for page in ec2.get_paginator("describe_vpc_endpoints").paginate():
        for endpoint in page.get("VpcEndpoints", []):
            if str(endpoint.get("VpcEndpointType", "")).lower() == "interface":
                on_endpoints |= {g["GroupId"] for g in endpoint.get("Groups", [])}
    candidates = [g for g in group_ids if g in on_endpoints]
    for chunk in _chunks(candidates, 100):
        pages = ec2.get_paginator("describe_network_interfaces").paginate(
            Filters=[{"Name": "group-id", "Values": chunk}]
        )
        for page in pages:
            for eni in page.get("NetworkInterfaces", []):
                if eni.get("InterfaceType") != "vpc_endpoint":
                    on_endpoints -= {g["GroupId"] for g in eni.get("Groups", [])}
    return {g for g in candidates if g in on_endpoints}


def check_security_groups(ec2: Any, inventory: Inventory) -> tuple[int, list[AuditFinding]]:
    findings: list[AuditFinding] = []
    groups: list[dict[str, Any]] = []
    for chunk in _chunks(inventory.security_groups, 100):
        groups += ec2.describe_security_groups(GroupIds=chunk)["SecurityGroups"]
    endpoint_only = _endpoint_only_groups(ec2, [g["GroupId"] for g in groups if g.get("IpPermissions")])
    for group in groups:
        for permission in group.get("IpPermissions", []):
            if group["GroupId"] in endpoint_only and _private_https(permission):
                continue
            findings.append(
                AuditFinding(
                    SECURITY_GROUPS,
                    f"{group['GroupId']} ({group.get('GroupName', '')})",
                    f"accepts inbound {_describe_permission(permission)}",
                )
            )
    return len(groups), findings


def check_public_ips(ec2: Any, inventory: Inventory, stack: str) -> tuple[int, list[AuditFinding]]:
    """Interfaces of the stack's groups (Fargate tasks, sandboxes) or tagged with the stack."""
    interfaces: dict[str, dict[str, Any]] = {}
    filters: list[list[dict[str, Any]]] = [[{"Name": "tag:stockade:stack", "Values": [stack]}]]
    filters += [[{"Name": "group-id", "Values": chunk}] for chunk in _chunks(inventory.security_groups, 100)]
    for filter_set in filters:
        for page in ec2.get_paginator("describe_network_interfaces").paginate(Filters=filter_set):
            for eni in page.get("NetworkInterfaces", []):
                interfaces[eni["NetworkInterfaceId"]] = eni
    findings = [
        AuditFinding(
            PUBLIC_IPS,
            eni_id,
            f"has public IP {eni['Association']['PublicIp']} ({eni.get('Description') or 'no description'})",
        )
        for eni_id, eni in sorted(interfaces.items())
        if eni.get("Association", {}).get("PublicIp")
    ]
    return len(interfaces), findings


def _bucket_problems(s3: Any, bucket: str) -> Iterator[str]:
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as error:
        if _error_code(error) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    defaults = [r.get("ApplyServerSideEncryptionByDefault", {}) for r in rules]
    if not any(
        d.get("SSEAlgorithm") in KMS_ALGORITHMS
        and d.get("KMSMasterKeyID")
        and not aws_managed_key(d["KMSMasterKeyID"])
        for d in defaults
    ):
        shown = ", ".join(str(d.get("SSEAlgorithm")) for d in defaults) or "none"
        yield f"default encryption is {shown}, not SSE-KMS with a customer-managed key"
    try:
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if _error_code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
        block = {}
    off = [flag for flag, key in _PAB_KEYS.items() if block.get(key) is not True]
    if off:
        yield f"public access block leaves {', '.join(off)} off"
    try:
        policy = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])
    except ClientError as error:
        if _error_code(error) != "NoSuchBucketPolicy":
            raise
        policy = {}
    statements = policy.get("Statement", [])
    if not any(
        denies_insecure_transport(s) for s in (statements if isinstance(statements, list) else [statements])
    ):
        yield "bucket policy does not deny requests without TLS"


def check_buckets(s3: Any, inventory: Inventory) -> tuple[int, list[AuditFinding]]:
    findings = [
        AuditFinding(BUCKETS, bucket, problem)
        for bucket in sorted(inventory.buckets)
        for problem in _bucket_problems(s3, bucket)
    ]
    return len(inventory.buckets), findings


def check_log_groups(logs: Any, inventory: Inventory) -> tuple[int, list[AuditFinding]]:
    findings: list[AuditFinding] = []
    for name in sorted(inventory.log_groups):
        matches = [
            group
            for page in logs.get_paginator("describe_log_groups").paginate(logGroupNamePrefix=name)
            for group in page.get("logGroups", [])
            if group["logGroupName"] == name
        ]
        for group in matches:
            if not group.get("kmsKeyId"):
                findings.append(AuditFinding(LOG_GROUPS, name, "not encrypted with a KMS key"))
            if not group.get("retentionInDays"):
                findings.append(AuditFinding(LOG_GROUPS, name, "no retention: logs are kept forever"))
    return len(inventory.log_groups), findings


def check_key_rotation(kms: Any, key_arns: Iterable[str]) -> tuple[int, list[AuditFinding]]:
    findings: list[AuditFinding] = []
    checked = 0
    for arn in sorted(set(key_arns)):
        metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
        rotatable = (
            metadata.get("KeyManager") == "CUSTOMER"
            and metadata.get("KeySpec", "SYMMETRIC_DEFAULT") == "SYMMETRIC_DEFAULT"
            and metadata.get("KeyState") == "Enabled"
            and metadata.get("Origin", "AWS_KMS") == "AWS_KMS"
        )
        if not rotatable:
            continue
        checked += 1
        if not kms.get_key_rotation_status(KeyId=metadata["KeyId"]).get("KeyRotationEnabled"):
            findings.append(AuditFinding(KEY_ROTATION, arn, "automatic key rotation is off"))
    return checked, findings


def service_role(service: TaggedService) -> str | None:
    """Which configured replica count a service answers to, from its component tag or name."""
    text = f"{service.component} {service.name}".lower()
    if "tunnel" in text or "gateway" in text:
        return "gateway"
    if any(word in text for word in ("fleet", "poller", "pool", "worker")):
        return "poller"
    return None


def check_services(ecs: Any, inventory: Inventory, expected: Expectations) -> tuple[int, list[AuditFinding]]:
    wanted = {"gateway": expected.gateway_replicas, "poller": expected.poller_replicas}
    settings_key = {"gateway": "tunnel.replicas", "poller": "sandboxes.pollerReplicas / poolSize"}
    findings: list[AuditFinding] = []
    seen: set[str] = set()
    by_cluster: dict[str, list[TaggedService]] = {}
    for service in inventory.services:
        by_cluster.setdefault(service.cluster, []).append(service)
    for cluster, services in sorted(by_cluster.items()):
        roles = {s.arn: service_role(s) for s in services}
        for chunk in _chunks([s.arn for s in services], 10):
            for described in ecs.describe_services(cluster=cluster, services=chunk).get("services", []):
                role = roles.get(described["serviceArn"])
                if role is None or wanted[role] is None:
                    continue
                seen.add(role)
                need = wanted[role]
                name = described["serviceName"]
                if described.get("desiredCount", 0) < need:
                    findings.append(
                        AuditFinding(
                            SERVICES,
                            name,
                            f"{role} desires {described.get('desiredCount', 0)} tasks; "
                            f"{settings_key[role]} is {need}",
                        )
                    )
                if described.get("runningCount", 0) < need:
                    findings.append(
                        AuditFinding(
                            SERVICES,
                            name,
                            f"{role} runs {described.get('runningCount', 0)} of {need} configured tasks",
                        )
                    )
    for role, need in wanted.items():
        if need is not None and role not in seen:
            findings.append(
                AuditFinding(
                    SERVICES, f"({role})", f"no {role} ECS service tagged with the stack ({need} expected)"
                )
            )
    return len(inventory.services), findings
