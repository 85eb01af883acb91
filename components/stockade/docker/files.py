"""How configuration and secret files reach read-only containers on a Docker host.

The proxy's config and TLS files, the egress allowlist and the environment key must be
files inside containers whose root filesystem is read-only, without passing through an
image layer, a host path or a process's environment (the daemon logs request bodies in
debug mode; `docker inspect` shows environment).

pulumi-docker's `uploads` copy content into a container through the engine's archive
API before it starts, so the content lands where the engine writes it, never in a
layer. Two engine rules shape the rest (moby daemon/archive.go):

* an upload into a read-only root filesystem is refused, and the provider always
  extracts at `/`, so the container receiving uploads cannot be read-only;
* an upload into a read-only volume is refused too.

So each set of files gets a *stager*: a container that is created but never started
(`start: false`, no network, no capabilities, an entrypoint that does not exist), whose
only job is to receive the uploads into named volumes. The containers that use the files
mount the same volumes read-only. No process ever runs with a writable root, and the
files are written by the daemon, owned and moded exactly as declared.

A consumer carries its stagers' IDs in a label, so new content replaces the consumer
(a config change needs a restart: docs/vendor-interface.md §2.2); the key's value never appears in it.
Secret and public files go through separate stagers: Pulumi treats a whole property as
secret when one element is, and the public ones (the proxy config) should stay readable
in previews, synth and policy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import pulumi
import pulumi_docker as docker

from stockade.docker.hardening import NO_NEW_PRIVILEGES, NONROOT_USER, docker_labels
from stockade.docker_dispatcher.spec import SANDBOX_UID, STOP_TIMEOUT_SECONDS

FILES_LABEL = "stockade:files"
"""Label on a consumer: its stagers' container IDs, so new content replaces the consumer."""
# Fails at exec if anyone ever runs `docker start` on a stager by hand.
NEVER_STARTS = "/stockade-stager-is-never-started"


@dataclass(frozen=True)
class StagedFile:
    """One file a stager writes into a volume."""

    path: str
    """Absolute path, as the consumers see it (under one of the stager's volume targets)."""
    content: pulumi.Input[str]
    mode: str = "0444"
    uid: int = 0
    gid: int = 0
    secret: bool = False
    """Hand the content to Pulumi as a secret: encrypted in state, `[secret]` in previews."""

    @classmethod
    def private(cls, path: str, content: pulumi.Input[str]) -> StagedFile:
        """A secret file only the non-root user of Stockade's containers can read."""
        return cls(path, content, mode="0400", uid=SANDBOX_UID, gid=SANDBOX_UID, secret=True)


def stage_files(
    name: str,
    *,
    image: pulumi.Input[str],
    volumes: Mapping[str, pulumi.Input[str]],
    files: Sequence[StagedFile],
    stack_labels: Mapping[str, str],
    opts: pulumi.ResourceOptions,
) -> docker.Container:
    """The stager for `files`; `volumes` maps each target directory to a volume name."""
    if len({f.secret for f in files}) != 1:
        # Pulumi marks a whole property secret when one element is: mixing would hide the
        # public files (the proxy config a reviewer and the policy pack read) as secret too.
        raise ValueError(f"{name}: stage secret and public files with separate stagers")
    targets = [PurePosixPath(t) for t in volumes]
    for staged in files:
        path = PurePosixPath(staged.path)
        if not path.is_absolute() or not any(t in path.parents for t in targets):
            raise ValueError(f"{name}: {staged.path} is not inside a staged volume ({sorted(volumes)})")
    uploads: list[dict[str, Any]] = [
        {
            "file": f.path,
            "content": pulumi.Output.secret(f.content) if f.secret else f.content,
            "permissions": f.mode,
            "owner": str(f.uid),
            "group": str(f.gid),
        }
        for f in sorted(files, key=lambda f: f.path)
    ]
    return docker.Container(
        name,
        image=image,
        start=False,
        must_run=False,
        restart="no",
        network_mode="none",
        entrypoints=[NEVER_STARTS],
        user=NONROOT_USER,
        # Not read-only, and never started: the provider uploads at "/", which the engine
        # refuses on a read-only root. No process runs in this container, ever.
        read_only=False,
        privileged=False,
        capabilities={"drops": ["ALL"]},
        security_opts=[NO_NEW_PRIVILEGES],
        stop_timeout=STOP_TIMEOUT_SECONDS,
        mounts=[
            {"type": "volume", "source": volumes[t], "target": t, "read_only": False} for t in sorted(volumes)
        ],
        uploads=uploads,
        labels=docker_labels({**stack_labels, "stockade:component": "stager"}),
        opts=opts,
    )


def stager_ids(*stagers: docker.Container) -> pulumi.Output[str]:
    """The value of a consumer's FILES_LABEL."""
    return pulumi.Output.all(*(s.id for s in stagers)).apply(lambda ids: ",".join(str(i) for i in ids))
