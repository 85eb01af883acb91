"""The component package: schema committed and current, and the provider answers over gRPC.

The provider runs in this process on Pulumi's own provider server
(`pulumi.provider.server.ProviderServicer`, which `component_provider_host` serves; grpc.aio
on 127.0.0.1); a
resource monitor and an engine, both Pulumi's test mocks behind real gRPC servers,
stand where the Pulumi engine would. The client speaks the provider protocol the
engine speaks: GetSchema, then Construct for every published component.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import threading
from collections.abc import Iterator
from concurrent import futures
from typing import Any

import grpc
import pulumi
import pydantic
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.provider.experimental.util import camel_case
from pulumi.provider.server import ProviderServicer
from pulumi.runtime import settings as runtime_settings
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.proto import engine_pb2_grpc, provider_pb2, provider_pb2_grpc, resource_pb2_grpc

from stockade import component_provider
from tests import component_programs as cp

PROJECT, STACK = "consumer", "dev"


def test_the_committed_schema_is_current() -> None:
    committed = component_provider.SCHEMA_PATH.read_text(encoding="utf-8")
    assert committed == component_provider.schema_text(), (
        "provider/schema.json is stale: run python -m stockade.component_provider --schema --write"
    )


def test_every_public_component_is_published_with_only_its_own_types() -> None:
    schema = component_provider.schema()
    assert set(schema["resources"]) == {f"stockade:index:{name}" for name in PUBLISHED}
    for token, resource in schema["resources"].items():
        assert resource["isComponent"] is True, token
        assert resource.get("description"), f"{token} has no description"
        assert resource["inputProperties"], token
        # Inputs and outputs are the component's contract: each one is documented.
        for kind in ("inputProperties", "properties"):
            undocumented = [k for k, v in resource.get(kind, {}).items() if not v.get("description")]
            assert not undocumented, f"{token} {kind} without a docstring: {undocumented}"
    # Every nested type is one of Stockade's own args or enums: a library class (IPv4Network),
    # a dataclass or a pydantic model cannot be filled in from another language.
    for type_def in component_provider.provider()._type_defs.values():
        module = type_def.python_type.__module__
        assert module.startswith("stockade."), f"{type_def.name} comes from {module}"
        assert not dataclasses.is_dataclass(type_def.python_type), type_def.name
        assert not issubclass(type_def.python_type, pydantic.BaseModel), type_def.name


class _Monitor(resource_pb2_grpc.ResourceMonitorServicer):
    """Pulumi's MockMonitor behind a real gRPC server: every call is delegated as is."""

    def __init__(self, monitor: MockMonitor) -> None:
        self.monitor = monitor

    def __getattribute__(self, name: str) -> Any:
        monitor = object.__getattribute__(self, "monitor")
        if name[:1].isupper() and hasattr(monitor, name):
            method = getattr(monitor, name)
            return lambda request, context: method(request)
        return object.__getattribute__(self, name)


class _Engine(engine_pb2_grpc.EngineServicer):
    def __init__(self) -> None:
        self.root = ""

    def Log(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def GetRootResource(self, request: Any, context: Any) -> Any:
        from pulumi.runtime.proto import engine_pb2

        return engine_pb2.GetRootResourceResponse(urn=self.root)

    def SetRootResource(self, request: Any, context: Any) -> Any:
        from pulumi.runtime.proto import engine_pb2

        self.root = request.urn
        return engine_pb2.SetRootResourceResponse()


class _ProviderMocks(pulumi.runtime.Mocks):
    """Outputs are the inputs plus what the providers compute and the components pass on
    (`arn`, `name`, `bucket`, `keyId`, `repositoryUrl`, `repoDigest`), so every declared
    output comes back filled in the Construct response."""

    def __init__(self) -> None:
        self.registered: list[str] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        self.registered.append(args.typ)
        kind = args.typ.split(":")[-1].lower()
        outputs = {
            "arn": f"arn:aws:{kind}:{cp.REGION}:{cp.ACCOUNT}:{args.name}",
            "name": args.name,
            "bucket": args.name,
            "keyId": args.name,
            "repositoryUrl": f"{cp.ACCOUNT}.dkr.ecr.{cp.REGION}.amazonaws.com/{args.name}",
            "repoDigest": f"{cp.ACCOUNT}.dkr.ecr.{cp.REGION}.amazonaws.com/{args.name}@sha256:" + "f" * 64,
        }
        outputs.update(args.inputs)
        return f"{args.name}_id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        return {}, []


class ProviderUnderTest:
    def __init__(self) -> None:
        self.mocks = _ProviderMocks()
        self.backend = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        resource_pb2_grpc.add_ResourceMonitorServicer_to_server(
            _Monitor(MockMonitor(self.mocks)), self.backend
        )
        engine_pb2_grpc.add_EngineServicer_to_server(_Engine(), self.backend)
        self.backend_address = f"127.0.0.1:{self.backend.add_insecure_port('127.0.0.1:0')}"
        self.backend.start()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.started.wait(timeout=30), "the provider server did not start"
        self.channel = grpc.insecure_channel(self.address)
        self.client = provider_pb2_grpc.ResourceProviderStub(self.channel)

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            self.server = grpc.aio.server()
            # The servicer `component_provider_host` serves the components with.
            servicer = ProviderServicer(
                component_provider.provider(), [], engine_address=self.backend_address
            )
            provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, self.server)
            self.address = f"127.0.0.1:{self.server.add_insecure_port('127.0.0.1:0')}"
            await self.server.start()
            self.started.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    def close(self) -> None:
        self.channel.close()
        asyncio.run_coroutine_threadsafe(self.server.stop(None), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=30)
        self.backend.stop(None)
        runtime_settings.reset_options()

    def construct(self, token: str, name: str, inputs: dict[str, Any]) -> Any:
        struct = struct_pb2.Struct()
        struct.update(inputs)
        request = provider_pb2.ConstructRequest(
            project=PROJECT,
            stack=STACK,
            type=token,
            name=name,
            inputs=struct,
            monitorEndpoint=self.backend_address,
            dryRun=False,
        )
        return self.client.Construct(request, timeout=120)


@pytest.fixture(scope="module")
def served() -> Iterator[ProviderUnderTest]:
    provider = ProviderUnderTest()
    try:
        yield provider
    finally:
        provider.close()


def _wire(value: Any, spec: dict[str, Any], types: dict[str, Any]) -> Any:
    """Python-side args (snake_case) as the engine sends them: schema names, enums as strings."""
    ref = spec.get("$ref", "")
    if ref.startswith("#/types/"):
        spec = types[ref.removeprefix("#/types/")]
    if isinstance(value, dict) and "properties" in spec:
        return {
            camel_case(k): _wire(v, spec["properties"][camel_case(k)], types)
            for k, v in value.items()
            if v is not None
        }
    if isinstance(value, dict) and "additionalProperties" in spec:
        return {k: _wire(v, spec["additionalProperties"], types) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_wire(v, spec.get("items", {}), types) for v in value]
    return value


NET = {
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": cp.SUBNETS,
    "endpoints_security_group_id": "sg-0e0e0e0e0e0e0e0e0",
    "s3_prefix_list_id": "pl-0123abcd",
    "internet_prefix_list_id": "pl-0fedcba9",
}
IMAGE = "docker.io/library/busybox@sha256:" + "d" * 64

PUBLISHED: dict[str, dict[str, Any]] = {
    "AwsNetwork": cp.network_args(),
    "AwsSandboxFleet": cp.fleet_args(NET),
    "AwsTunnelGateway": cp.gateway_args(NET, upstream="http://10.20.100.10:8080"),
    "SandboxImage": {
        "repository_name": "consumer-dev/session",
        "context": "images/session",
        "dockerfile": "images/session/Dockerfile",
        "tag": "v1",
        "platform": "linux/arm64",
        "kms_key_arn": cp.KEY_ARN,
        "tags": {"owner": "tests"},
    },
    "ProviderBridge": {
        "provider": "daytona",
        "image": IMAGE,
        "command": None,
        "environment": {"DAYTONA_API_URL": "https://app.daytona.io/api"},
        "secrets": {"DAYTONA_API_KEY": {"arn": cp.TOKEN_ARN}},
        "cpu": 256,
        "memory_mib": 512,
        "cpu_architecture": "ARM64",
        "api_hosts": ["app.daytona.io"],
        "vpc_id": NET["vpc_id"],
        "subnet_ids": cp.SUBNETS,
        "endpoints_security_group_id": NET["endpoints_security_group_id"],
        "s3_prefix_list_id": NET["s3_prefix_list_id"],
        "kms_key_arn": cp.KEY_ARN,
        "log_retention_days": 30,
        "account_id": cp.ACCOUNT,
        "region": cp.REGION,
        "partition": "aws",
        "permissions_boundary_arn": None,
        "tags": {"owner": "tests"},
    },
    "AlarmTopic": {
        "account_id": cp.ACCOUNT,
        "region": cp.REGION,
        "partition": "aws",
        "purpose": "alarms",
        "subscriptions": [{"protocol": "email", "endpoint": "oncall@example.com"}],
        "tags": {"owner": "tests"},
    },
    "EncryptionKey": {"account_id": cp.ACCOUNT, "region": cp.REGION, "partition": "aws", "tags": {}},
    "DockerNetwork": {
        "sandbox_subnet": "10.213.0.0/22",
        "filtered": True,
        "allowed_domains": ["api.anthropic.com"],
        "allowed_cidrs": [],
        "proxy_image": IMAGE,
        "labels": {"owner": "tests"},
    },
    "DockerSandboxFleet": {
        "mode": "pool",
        "environment_id": "env_0123456789",
        "environment_key": "not-a-real-key",
        "worker_image": IMAGE,
        "sandbox_network": "stockade-sandboxes",
        "egress_proxy_url": "http://egress-proxy:3128",
        "runtime": "runc",
        "cpus": 1,
        "memory_mib": 2048,
        "pids_limit": 512,
        "pool_size": 1,
        "max_idle_seconds": 300,
        "max_concurrent_sessions": 2,
        "keep_session_workspaces": False,
        "socket_path": "/var/run/docker.sock",
        "socket_group_id": None,
        "socket_proxy_image": IMAGE,
        "stack": STACK,
        "labels": {"owner": "tests"},
    },
    "DockerTunnelGateway": {
        "proxy_image": IMAGE,
        "cloudflared_image": IMAGE,
        "proxy_config": "routes: {}\n",
        "server_certificate_pem": "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
        "server_key_pem": "not-a-real-key",
        "tunnel_token": "not-a-real-token",
        "token_version": 1,
        "replicas": 1,
        "health_check": False,
        "labels": {"owner": "tests"},
    },
    "SandboxWorker": {
        "account_id": "0123456789abcdef0123456789abcdef",
        "worker_name": "consumer-sandboxes",
        "bundle": {
            "main": {
                "part_name": "index.js",
                "path": "build/index.js",
                "sha256": "e" * 64,
                "content_type": "application/javascript+module",
            },
            "modules": [],
            "assets_directory": None,
        },
        "compatibility_date": "2025-01-01",
        "compatibility_flags": ["nodejs_compat"],
        "durable_object_classes": ["Sandbox"],
        "microvm": False,
        "plain_text": {"ENVIRONMENT_ID": "env_0123456789"},
        "secret_text": {},
        "snapshot_bucket_name": "consumer-snapshots",
        "snapshot_expire_days": 7,
        "jurisdiction": None,
        "workers_dev": True,
        "custom_domain": None,
        "webhook_url": "https://consumer-sandboxes.example.workers.dev/webhook",
        "cleanup_schedule": "0 * * * *",
        "egress_policy_id": "default",
        "egress_allow": ["api.anthropic.com"],
        "egress_deny": [],
        "browser_rendering": False,
        "workers_ai": False,
    },
}


def test_the_provider_answers_get_schema_over_grpc(served: ProviderUnderTest) -> None:
    response = served.client.GetSchema(provider_pb2.GetSchemaRequest(version=0), timeout=60)
    assert json.loads(response.schema)["resources"] == component_provider.schema()["resources"]


@pytest.mark.parametrize("component", sorted(PUBLISHED))
def test_the_provider_constructs_each_component_over_grpc(served: ProviderUnderTest, component: str) -> None:
    schema = component_provider.schema()
    token = f"stockade:index:{component}"
    spec = {"properties": schema["resources"][token]["inputProperties"]}
    inputs = _wire(PUBLISHED[component], spec, schema["types"])
    before = len(served.mocks.registered)
    response = served.construct(token, f"consumer-{component.lower()}", inputs)
    assert response.urn.endswith(f"::{token}::consumer-{component.lower()}")
    created = served.mocks.registered[before:]
    assert token in created and len(created) > 1, f"{component} registered no children: {created}"
    declared = set(schema["resources"][token].get("properties", {}))
    returned = set(response.state.fields)
    assert returned <= declared, f"undeclared outputs: {returned - declared}"
    # Optional outputs (certificates, setup commands) are absent when that feature is off.
    required = set(schema["resources"][token].get("required", []))
    assert required <= returned, f"missing outputs: {required - returned}"


def test_bad_args_come_back_as_an_error_naming_the_field(served: ProviderUnderTest) -> None:
    schema = component_provider.schema()
    token = "stockade:index:AwsTunnelGateway"
    args = cp.gateway_args(NET, upstream="http://10.20.100.10:8080")
    args["tunnel"] = {**args["tunnel"], "replicas": 99}
    inputs = _wire(args, {"properties": schema["resources"][token]["inputProperties"]}, schema["types"])
    with pytest.raises(grpc.RpcError, match=r"tunnel\.replicas"):
        served.construct(token, "consumer-bad-gateway", inputs)
