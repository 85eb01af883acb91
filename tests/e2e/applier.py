"""TEST INFRASTRUCTURE: create a stack's synthesized Docker resources on a real engine.

This is not a deployment tool. The product's deploy path is `pulumi up`; no Pulumi CLI or
provider plugin can run on the machines this project is tested on, so the end-to-end tests
apply the offline synth's desired state themselves, mapping each pulumi-docker input one to
one onto the Engine API as the provider does (its container upload, for instance, writes a
tar archive at `/`, exactly as here). Image references are swapped through one explicit map.

Any input this applier does not map is refused (`UnmappedInputError`): a new container setting
must be mapped, and so tested, before a test can pass with it.
"""

from __future__ import annotations

import contextlib
import io
import tarfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
from docker.types import IPAMConfig, IPAMPool, LogConfig, Mount

from stockade.emulators import physical_name, resource_id
from stockade.engine.model import SynthResource

CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"

# Inputs that only steer Pulumi's own lifecycle: read where they matter, never sent to Docker.
_LIFECYCLE = {"destroyGraceSeconds", "mustRun", "start", "uploads"}
_CONTAINER_INPUTS = {
    "capabilities",
    "command",
    "cpus",
    "entrypoints",
    "envs",
    "groupAdds",
    "healthcheck",
    "image",
    "init",
    "labels",
    "logDriver",
    "logOpts",
    "memory",
    "memorySwap",
    "mounts",
    "networkMode",
    "networksAdvanced",
    "privileged",
    "readOnly",
    "restart",
    "runtime",
    "securityOpts",
    "stopSignal",
    "stopTimeout",
    "tmpfs",
    "user",
    "workingDir",
} | _LIFECYCLE
_MOUNT_KEYS = {"type", "source", "target", "readOnly"}
_NETWORK_INPUTS = {"driver", "internal", "ipamConfigs", "labels"}
_VOLUME_INPUTS = {"labels"}
_IMAGE_INPUTS = {"name", "keepLocally"}
# Environment variables whose value is an image reference the broker later runs.
_IMAGE_ENV = {"STOCKADE_SESSION_IMAGE"}


class UnmappedInputError(Exception):
    """The desired state uses an input the applier does not map; map it before testing it."""


def _refuse_unknown(resource: SynthResource, allowed: set[str]) -> None:
    unknown = sorted(set(resource.inputs) - allowed)
    if unknown:
        raise UnmappedInputError(f"{resource.type} {resource.name}: unmapped inputs {unknown}")


def _duration_ns(text: str) -> int:
    units = {"ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
    for suffix in ("ms", "s", "m", "h"):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * units[suffix]
    raise UnmappedInputError(f"healthcheck duration {text!r} is not <n>ms|s|m|h")


def _labels(items: Iterable[Mapping[str, str]]) -> dict[str, str]:
    return {item["label"]: item["value"] for item in items}


def upload_archive(uploads: Iterable[Mapping[str, Any]]) -> list[bytes]:
    """One tar per upload, as pulumi-docker builds it: the full path as the member name.

    `owner` and `group` are numeric IDs here (the provider also resolves names on the deploying
    host, which would make the result depend on that host: Stockade never uses names).
    """
    archives = []
    for upload in uploads:
        unknown = set(upload) - {
            "file",
            "content",
            "contentBase64",
            "executable",
            "permissions",
            "owner",
            "group",
        }
        if unknown:
            raise UnmappedInputError(f"upload fields {sorted(unknown)}")
        if "contentBase64" in upload:
            import base64

            data = base64.b64decode(upload["contentBase64"])
        else:
            data = str(upload.get("content", "")).encode()
        if upload.get("permissions"):
            mode = int(str(upload["permissions"]), 8)
        else:
            mode = 0o744 if upload.get("executable") else 0o644
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(str(upload["file"]))
            info.size, info.mode = len(data), mode
            for field_name, attribute in (("owner", "uid"), ("group", "gid")):
                value = str(upload.get(field_name, "0"))
                if not value.isdigit():
                    raise UnmappedInputError(f"upload {field_name} {value!r} is not a numeric ID")
                setattr(info, attribute, int(value))
            tar.addfile(info, io.BytesIO(data))
        archives.append(buffer.getvalue())
    return archives


@dataclass
class Deployment:
    """What the applier created, by the stack's resource name, for assertions and teardown."""

    containers: dict[str, str] = field(default_factory=dict)  # resource name -> container ID
    networks: dict[str, str] = field(default_factory=dict)  # resource name -> network name
    volumes: dict[str, str] = field(default_factory=dict)  # resource name -> volume name
    grace: dict[str, int] = field(default_factory=dict)  # container ID -> destroy grace seconds
    # The offline engine's emulated resource IDs -> the IDs the engine really assigned. The
    # program wires some inputs from other resources' IDs (`container:<id>` network modes).
    ids: dict[str, str] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        if isinstance(value, str):
            kind, sep, rest = value.partition(":")
            if sep and kind == "container" and rest in self.ids:
                return f"container:{self.ids[rest]}"
            return self.ids.get(value, value)
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if isinstance(value, dict):
            return {k: self.resolve(v) for k, v in value.items()}
        return value


@dataclass
class Applier:
    client: docker.DockerClient
    image_map: Mapping[str, str]

    def image(self, reference: str) -> str:
        return self.image_map.get(reference, reference)

    def apply(self, resources: Iterable[SynthResource]) -> Deployment:
        deployment = Deployment()
        ordered = _dependency_order([r for r in resources if r.custom])
        handlers: dict[str, Callable[[SynthResource, Deployment], None]] = {
            REMOTE_IMAGE: self._image,
            NETWORK: self._network,
            VOLUME: self._volume,
            CONTAINER: self._container,
        }
        try:
            for resource in ordered:
                if resource.type.startswith("docker:"):
                    handler = handlers.get(resource.type)
                    if handler is None:
                        raise UnmappedInputError(
                            f"resource type {resource.type} ({resource.name}) is not mapped"
                        )
                    handler(resource, deployment)
                elif not resource.type.startswith("tls:"):
                    # pulumi-tls resources exist only in Pulumi's state; their outputs are already
                    # inside the containers' inputs. Anything else is outside this applier.
                    raise UnmappedInputError(
                        f"resource type {resource.type} ({resource.name}) is not a Docker resource"
                    )
        except Exception:
            self.destroy(deployment)
            raise
        return deployment

    # -- resources ----------------------------------------------------------------------------
    def _image(self, resource: SynthResource, deployment: Deployment) -> None:
        _refuse_unknown(resource, _IMAGE_INPUTS)
        reference = self.image(resource.inputs["name"])
        try:
            self.client.images.get(reference)
        except docker.errors.ImageNotFound:
            raise UnmappedInputError(
                f"{resource.name}: image {resource.inputs['name']} has no local test image"
            ) from None

    def _network(self, resource: SynthResource, deployment: Deployment) -> None:
        _refuse_unknown(resource, _NETWORK_INPUTS)
        inputs = resource.inputs
        ipam = None
        if inputs.get("ipamConfigs"):
            pools = []
            for config in inputs["ipamConfigs"]:
                if set(config) - {"subnet", "gateway", "ipRange"}:
                    raise UnmappedInputError(f"{resource.name}: ipam fields {sorted(config)}")
                pools.append(
                    IPAMPool(
                        subnet=config.get("subnet"),
                        gateway=config.get("gateway"),
                        iprange=config.get("ipRange"),
                    )
                )
            ipam = IPAMConfig(pool_configs=pools)
        name = physical_name(resource.name, inputs, "name")
        self.client.networks.create(
            name,
            driver=inputs.get("driver", "bridge"),
            internal=bool(inputs.get("internal", False)),
            ipam=ipam,
            labels=_labels(inputs.get("labels", [])),
        )
        deployment.networks[resource.name] = name
        deployment.ids[resource_id(resource.type, resource.name)] = name

    def _volume(self, resource: SynthResource, deployment: Deployment) -> None:
        _refuse_unknown(resource, _VOLUME_INPUTS)
        name = physical_name(resource.name, resource.inputs, "name")
        self.client.volumes.create(name=name, labels=_labels(resource.inputs.get("labels", [])))
        deployment.volumes[resource.name] = name
        deployment.ids[resource_id(resource.type, resource.name)] = name

    def _container(self, resource: SynthResource, deployment: Deployment) -> None:
        _refuse_unknown(resource, _CONTAINER_INPUTS)
        inputs = deployment.resolve(resource.inputs)
        api = self.client.api
        name = physical_name(resource.name, inputs, "name")
        mounts = []
        for mount in inputs.get("mounts", []):
            if set(mount) - _MOUNT_KEYS:
                raise UnmappedInputError(f"{resource.name}: mount fields {sorted(mount)}")
            mounts.append(
                Mount(
                    mount["target"],
                    mount.get("source"),
                    type=mount["type"],
                    read_only=bool(mount.get("readOnly")),
                )
            )
        networks = list(inputs.get("networksAdvanced", []))
        for network in networks:
            if set(network) - {"name", "aliases"}:
                raise UnmappedInputError(f"{resource.name}: network fields {sorted(network)}")
        capabilities = inputs.get("capabilities", {})
        if set(capabilities) - {"adds", "drops"}:
            raise UnmappedInputError(f"{resource.name}: capability fields {sorted(capabilities)}")
        host_config = api.create_host_config(
            mounts=mounts or None,
            cap_add=capabilities.get("adds") or None,
            cap_drop=capabilities.get("drops") or None,
            read_only=bool(inputs.get("readOnly", False)),
            security_opt=inputs.get("securityOpts") or None,
            tmpfs=inputs.get("tmpfs") or None,
            init=inputs.get("init"),
            mem_limit=int(inputs["memory"]) * 1024 * 1024 if inputs.get("memory") else None,
            memswap_limit=int(inputs["memorySwap"]) * 1024 * 1024 if inputs.get("memorySwap") else None,
            nano_cpus=int(float(inputs["cpus"]) * 1e9) if inputs.get("cpus") else None,
            network_mode=inputs.get("networkMode") or (networks[0]["name"] if networks else None),
            restart_policy={"Name": inputs["restart"]} if inputs.get("restart") else None,
            group_add=inputs.get("groupAdds") or None,
            privileged=bool(inputs.get("privileged", False)),
            log_config=LogConfig(type=inputs["logDriver"], config=inputs.get("logOpts", {}))
            if inputs.get("logDriver")
            else None,
            runtime=inputs.get("runtime"),
        )
        networking = None
        if networks and not inputs.get("networkMode"):
            first = networks[0]
            networking = api.create_networking_config(
                {first["name"]: api.create_endpoint_config(aliases=first.get("aliases") or None)}
            )
        healthcheck = None
        if inputs.get("healthcheck"):
            check = inputs["healthcheck"]
            if set(check) - {"tests", "interval", "timeout", "startPeriod", "retries"}:
                raise UnmappedInputError(f"{resource.name}: healthcheck fields {sorted(check)}")
            healthcheck = {
                "test": check["tests"],
                "interval": _duration_ns(check["interval"]),
                "timeout": _duration_ns(check["timeout"]),
                "start_period": _duration_ns(check["startPeriod"]),
                "retries": int(check["retries"]),
            }
        env = []
        for entry in inputs.get("envs", []):
            key, _, value = entry.partition("=")
            env.append(f"{key}={self.image(value)}" if key in _IMAGE_ENV else entry)
        created = api.create_container(
            self.image(inputs["image"]),
            name=name,
            command=inputs.get("command") or None,
            entrypoint=inputs.get("entrypoints") or None,
            user=inputs.get("user"),
            environment=env or None,
            labels=_labels(inputs.get("labels", [])),
            host_config=host_config,
            networking_config=networking,
            stop_signal=inputs.get("stopSignal"),
            stop_timeout=int(inputs["stopTimeout"]) if inputs.get("stopTimeout") is not None else None,
            healthcheck=healthcheck,
            working_dir=inputs.get("workingDir"),
        )
        container_id = created["Id"]
        deployment.containers[resource.name] = container_id
        deployment.ids[resource_id(resource.type, resource.name)] = container_id
        deployment.grace[container_id] = int(inputs.get("destroyGraceSeconds", 10))
        for network in networks[1:]:
            api.connect_container_to_network(
                container_id, network["name"], aliases=network.get("aliases") or None
            )
        for archive in upload_archive(inputs.get("uploads") or []):
            api.put_archive(container_id, "/", archive)
        if inputs.get("start", True):
            api.start(container_id)
        elif inputs.get("mustRun", True) is not False:
            raise UnmappedInputError(f"{resource.name}: start=false with mustRun unset")

    # -- teardown -----------------------------------------------------------------------------
    def destroy(self, deployment: Deployment) -> None:
        """Remove what `apply` created, newest first, stopping each container with its grace."""
        for container_id in reversed(list(deployment.containers.values())):
            try:
                self.client.api.stop(container_id, timeout=deployment.grace.get(container_id, 10))
                self.client.api.remove_container(container_id, v=True, force=True)
            except docker.errors.NotFound:
                pass
        for volume in deployment.volumes.values():
            with contextlib.suppress(docker.errors.NotFound):
                self.client.volumes.get(volume).remove(force=True)
        for network in deployment.networks.values():
            with contextlib.suppress(docker.errors.NotFound):
                self.client.networks.get(network).remove()


def _dependency_order(resources: list[SynthResource]) -> list[SynthResource]:
    by_urn = {r.urn: r for r in resources}
    seen: set[str] = set()
    ordered: list[SynthResource] = []

    def visit(resource: SynthResource, stack: tuple[str, ...]) -> None:
        if resource.urn in seen:
            return
        if resource.urn in stack:
            raise UnmappedInputError(f"dependency cycle through {resource.name}")
        for dependency in resource.depends_on:
            if dependency in by_urn:
                visit(by_urn[dependency], (*stack, resource.urn))
        seen.add(resource.urn)
        ordered.append(resource)

    for resource in sorted(resources, key=lambda r: r.urn):
        visit(resource, ())
    return ordered
