"""Outputs a provider would compute, emulated offline so programs can wire resources together.

The default is the resource's own inputs plus an ID and, for AWS, an ARN shaped
like the real one. Types whose outputs matter to Stockade register a richer emulator
with `register`; the pulumi-tls types are emulated in `stockade.emulators.tls`, which
needs `cryptography`, and reached through `stockade.emulators.tls_outputs`' disk cache.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stockade.emulators.tls_outputs import TLS_TYPES, emulated_tls
from stockade.engine.context import OfflineContext

Emulator = Callable[[str, dict[str, Any], OfflineContext], dict[str, Any]]
_EMULATORS: dict[str, Emulator] = {}

# Types whose ARN carries no region or account, or a special resource path.
_ARN_SHAPES: dict[str, str] = {
    "iam": "arn:{partition}:iam::{account}:{kind}/{name}",
    "s3": "arn:{partition}:s3:::{name}",
}


def register(type_token: str) -> Callable[[Emulator], Emulator]:
    def decorator(fn: Emulator) -> Emulator:
        _EMULATORS[type_token] = fn
        return fn

    return decorator


def stable_suffix(*parts: str, length: int = 7) -> str:
    """Deterministic stand-in for the random suffix Pulumi's auto-naming adds."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


def physical_name(name: str, inputs: dict[str, Any], *keys: str) -> str:
    for key in keys:
        value = inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return f"{name}-{stable_suffix(name)}"


def resource_id(type_token: str, name: str) -> str:
    return f"{name}-{stable_suffix(type_token, name)}"


def _aws_arn(type_token: str, name: str, ctx: OfflineContext) -> str:
    module = type_token.split(":")[1].split("/")[0]
    kind = type_token.rsplit(":", 1)[-1]
    kind = kind[0].lower() + kind[1:]
    shape = _ARN_SHAPES.get(module, "arn:{partition}:{service}:{region}:{account}:{kind}/{name}")
    return shape.format(
        partition=ctx.partition,
        service=module,
        region=ctx.region,
        account=ctx.account_id,
        kind=kind,
        name=name,
    )


def emulate(type_token: str, name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    outputs = dict(inputs)
    if type_token.startswith("aws:"):
        physical = physical_name(name, inputs, "name", "bucket", "family")
        outputs.setdefault("arn", _aws_arn(type_token, physical, ctx))
        outputs.setdefault("name", physical)
    elif type_token.startswith("docker:index/"):
        # Pulumi auto-names Docker containers, networks and volumes the program leaves unnamed.
        outputs.setdefault("name", physical_name(name, inputs, "name"))
    special = _EMULATORS.get(type_token)
    if special is not None:
        outputs.update(special(name, inputs, ctx))
    elif type_token in TLS_TYPES:
        outputs.update(emulated_tls(type_token, name, inputs, ctx))
    return outputs


@register("aws:s3/bucket:Bucket")
@register("aws:s3/bucketV2:BucketV2")
def _bucket(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    bucket = physical_name(name, inputs, "bucket")
    return {"bucket": bucket, "arn": f"arn:{ctx.partition}:s3:::{bucket}", "id": bucket}


@register("aws:iam/role:Role")
def _role(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # IAM's unique role IDs: "AROA" and 17 upper-case letters and digits.
    return {"uniqueId": "AROA" + stable_suffix("role", name, length=17).upper()}


@register("aws:kms/key:Key")
def _kms_key(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    key_id = f"{stable_suffix(name, length=8)}-0000-4000-8000-{stable_suffix('k', name, length=12)}"
    return {"keyId": key_id, "arn": f"arn:{ctx.partition}:kms:{ctx.region}:{ctx.account_id}:key/{key_id}"}


@register("aws:secretsmanager/secret:Secret")
def _secret(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    physical = physical_name(name, inputs, "name")
    arn = (
        f"arn:{ctx.partition}:secretsmanager:{ctx.region}:{ctx.account_id}:secret:"
        f"{physical}-{stable_suffix(physical, length=6)}"
    )
    return {"arn": arn, "id": arn}


@register("aws:ecs/taskDefinition:TaskDefinition")
def _task_definition(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    family = physical_name(name, inputs, "family")
    arn = f"arn:{ctx.partition}:ecs:{ctx.region}:{ctx.account_id}:task-definition/{family}:1"
    return {"arn": arn, "arnWithoutRevision": arn.rsplit(":", 1)[0], "revision": 1}


@register("aws:ec2/vpc:Vpc")
def _vpc(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {
        "id": f"vpc-{stable_suffix(name, length=17)}",
        "defaultSecurityGroupId": f"sg-{stable_suffix('d', name, length=17)}",
    }


@register("aws:ec2/subnet:Subnet")
def _subnet(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {"id": f"subnet-{stable_suffix(name, length=17)}"}


@register("aws:ec2/securityGroup:SecurityGroup")
def _security_group(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {"id": f"sg-{stable_suffix(name, length=17)}"}


@register("aws:ec2/eip:Eip")
def _elastic_ip(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # Documentation range (RFC 5737 TEST-NET-3): plainly not an address AWS would allocate.
    address = f"203.0.113.{int(stable_suffix(name, length=2), 16)}"
    return {"id": f"eipalloc-{stable_suffix(name, length=17)}", "publicIp": address}


@register("aws:ec2/managedPrefixList:ManagedPrefixList")
def _prefix_list(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {"id": f"pl-{stable_suffix(name, length=17)}"}


@register("aws:ec2/vpcEndpoint:VpcEndpoint")
def _vpc_endpoint(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    outputs: dict[str, Any] = {"id": f"vpce-{stable_suffix(name, length=17)}"}
    if inputs.get("vpcEndpointType") == "Gateway":
        outputs["prefixListId"] = f"pl-{stable_suffix('pl', name, length=8)}"
    return outputs


@register("aws:networkfirewall/firewall:Firewall")
def _network_firewall(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # One firewall endpoint per subnet mapping, keyed by subnet as AWS reports it; routes
    # point at these IDs. (The real status also names each AZ, which offline is unknown.)
    attachments = []
    for mapping in inputs.get("subnetMappings") or []:
        subnet = str(mapping.get("subnetId"))
        endpoint = f"vpce-{stable_suffix(name, subnet, length=17)}"
        attachments.append({"subnetId": subnet, "endpointId": endpoint})
    return {"firewallStatuses": [{"syncStates": [{"attachments": [a]} for a in attachments]}]}


@register("aws:ecr/repository:Repository")
def _ecr_repository(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    repository = physical_name(name, inputs, "name")
    return {
        "registryId": ctx.account_id,
        "repositoryUrl": f"{ctx.account_id}.dkr.ecr.{ctx.region}.{ctx.dns_suffix}/{repository}",
    }


@register("docker:index/image:Image")
def _built_image(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # Nothing is built offline. A digest derived from the build inputs stands in for the pushed
    # image's, so a synth shows the task definitions pinned by digest, as after a real push.
    image = str(inputs.get("imageName", ""))
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    digest = hashlib.sha256(f"{name}/{image}/{inputs.get('build')}".encode()).hexdigest()
    return {"repoDigest": f"{repository}@sha256:{digest}", "baseImageName": image}


@register("docker:index/remoteImage:RemoteImage")
def _remote_image(name: str, inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # The daemon answers with the pulled image's sha256 ID; offline there is no pull, so the
    # reference stands in for it and a synth shows which image each container runs.
    reference = str(inputs.get("name", ""))
    return {"imageId": reference, "repoDigest": reference if "@sha256:" in reference else ""}
