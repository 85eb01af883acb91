"""Test images for the Docker end-to-end tests, built locally and cached by content.

Nothing is pulled: the base is a Debian root filesystem made with debootstrap and imported,
the production Dockerfiles (images/poller, images/session) are built on it with a stand-in
`ant`, and the third-party images the stack pins (Squid, the socket proxy, the vendor's
mcp-proxy and cloudflared) are replaced by Debian's packages or stand-ins (docs/testing.md).

Each image's tag carries a hash of everything that goes into it, so a rerun on the same
engine rebuilds only what changed.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IMAGES = HERE / "images"
STANDINS = HERE / "standins"
SUITE = "bookworm"
ROOTFS_PACKAGES = "python3,python3-pip,python3-yaml,ca-certificates,bash"
BUILD_TIMEOUT_SECONDS = 900


class BuildUnavailableError(Exception):
    """This machine cannot build the test images; the message says what is missing."""


def _digest(parts: Iterable[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def _files(paths: Iterable[Path]) -> list[bytes]:
    out: list[bytes] = []
    for path in paths:
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            out += [str(file.relative_to(REPO)).encode(), file.read_bytes()]
    return out


def buildkit_command() -> tuple[list[str], dict[str, str]]:
    """A `docker build` that uses BuildKit (the production Dockerfiles need it: COPY --chmod).

    `docker buildx` where installed; otherwise a classic CLI (Debian's docker.io, 20.10) with
    DOCKER_BUILDKIT=1, which has BuildKit built in.
    """
    env = dict(os.environ)
    for cli in dict.fromkeys(filter(None, [shutil.which("docker"), "/usr/bin/docker"])):
        if not Path(cli).exists():
            continue
        if subprocess.run([cli, "buildx", "version"], capture_output=True, check=False).returncode == 0:
            return [cli, "buildx", "build", "--load"], env
        version = subprocess.run(
            [cli, "version", "--format", "{{.Client.Version}}"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if version and int(version.split(".")[0]) < 23:
            return [cli, "build"], env | {"DOCKER_BUILDKIT": "1"}
    raise BuildUnavailableError(
        "no docker CLI with BuildKit (docker buildx, or the 20.10 CLI from Debian's docker.io)"
    )


@dataclass
class Builder:
    client: docker.DockerClient
    log: list[str]

    def exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
            return True
        except docker.errors.ImageNotFound:
            return False

    def build(
        self,
        tag: str,
        dockerfile: Path,
        context: Path,
        *,
        args: Mapping[str, str] | None = None,
        target: str | None = None,
    ) -> str:
        if self.exists(tag):
            return tag
        command, env = buildkit_command()
        command = [*command, "-q", "-f", str(dockerfile), "-t", tag]
        for key, value in sorted((args or {}).items()):
            command += ["--build-arg", f"{key}={value}"]
        if target:
            command += ["--target", target]
        result = subprocess.run(
            [*command, str(context)],
            capture_output=True,
            text=True,
            env=env,
            timeout=BUILD_TIMEOUT_SECONDS,
            check=False,
        )
        self.log.append(f"built {tag}: exit {result.returncode}")
        if result.returncode != 0:
            raise RuntimeError(f"building {tag} failed:\n{result.stdout[-3000:]}\n{result.stderr[-6000:]}")
        return tag

    def rootfs(self) -> str:
        tag = f"stockade-e2e/rootfs:{SUITE}-{_digest([ROOTFS_PACKAGES.encode()])}"
        if self.exists(tag):
            return tag
        debootstrap = shutil.which("debootstrap")
        if debootstrap is None or os.geteuid() != 0:
            raise BuildUnavailableError(
                "the test base needs debootstrap, run as root (apt-get install debootstrap)"
            )
        with tempfile.TemporaryDirectory(prefix="stockade-rootfs-") as tmp:
            target = Path(tmp) / "rootfs"
            subprocess.run(
                [debootstrap, "--variant=minbase", f"--include={ROOTFS_PACKAGES}", SUITE, str(target)],
                check=True,
                capture_output=True,
                timeout=BUILD_TIMEOUT_SECONDS,
            )
            tar = subprocess.Popen(["tar", "-C", str(target), "-c", "."], stdout=subprocess.PIPE)
            assert tar.stdout is not None
            repository, _, version = tag.partition(":")
            self.client.api.import_image_from_stream(tar.stdout, repository=repository, tag=version)
            tar.wait()
        self.log.append(f"imported {tag}")
        return tag


@dataclass(frozen=True)
class TestImages:
    """The locally built images, by the role they play."""

    poller: str
    session: str
    squid: str
    socket_proxy: str
    mcp_proxy: str
    cloudflared: str
    vendor_api: str
    testhost: str


def build_all(client: docker.DockerClient, ca_pem: str) -> tuple[TestImages, list[str]]:
    builder = Builder(client, [])
    rootfs = builder.rootfs()
    host_ca = Path("/etc/ssl/certs/ca-certificates.crt")
    # The machine's roots (for package downloads during builds) plus the test CA, so that
    # programs using the system roots, such as the session image's API proxy, trust the
    # stand-in vendor API, as a corporate image trusts its own CA.
    ca_bundle = (host_ca.read_bytes() if host_ca.is_file() else b"") + b"\n" + ca_pem.encode()
    with tempfile.TemporaryDirectory(prefix="stockade-base-") as tmp:
        context = Path(tmp)
        shutil.copy(IMAGES / "base.Dockerfile", context / "Dockerfile")
        (context / "host-ca-certificates.crt").write_bytes(ca_bundle)
        base = builder.build(
            f"stockade-e2e/base:{_digest([rootfs.encode(), ca_bundle, *_files([IMAGES / 'base.Dockerfile'])])}",  # noqa: E501
            context / "Dockerfile",
            context,
            args={"ROOTFS": rootfs},
        )
    standin_inputs = [base.encode(), ca_pem.encode(), *_files([IMAGES / "standins.Dockerfile", STANDINS])]
    standin_digest = _digest(standin_inputs)
    with tempfile.TemporaryDirectory(prefix="stockade-standins-") as tmp:
        context = Path(tmp)
        shutil.copytree(STANDINS, context / "standins", ignore=shutil.ignore_patterns("__pycache__"))
        ant = (STANDINS / "ant.py").read_text(encoding="utf-8")
        (context / "ant").write_text(ant.replace('STANDIN_CA_PEM = ""', f"STANDIN_CA_PEM = {ca_pem!r}", 1))

        def standin(target: str) -> str:
            return builder.build(
                f"stockade-e2e/{target}:{standin_digest}",
                IMAGES / "standins.Dockerfile",
                context,
                args={"BASE": base},
                target=target,
            )

        ant_image = standin("ant")
        vendor_api, testhost = standin("vendor-api"), standin("testhost")
        mcp_proxy, cloudflared = standin("mcp-proxy"), standin("cloudflared")

    def production(name: str) -> str:
        dockerfile = REPO / "images" / name / "Dockerfile"
        ignore = dockerfile.with_name("Dockerfile.dockerignore")
        # The build context is exactly what the .dockerignore lets in (`!path` lines).
        allowed = [
            REPO / line[1:].strip().rstrip("/")
            for line in ignore.read_text(encoding="utf-8").splitlines()
            if line.startswith("!")
        ]
        inputs = [base.encode(), ant_image.encode(), *_files([dockerfile, ignore, *allowed])]
        return builder.build(
            f"stockade-e2e/{name}:{_digest(inputs)}",
            dockerfile,
            REPO,
            args={"BASE_IMAGE": base, "ANT_SOURCE": ant_image},
        )

    def own(name: str, *extra: str) -> str:
        """An image from a Dockerfile of the tests' own, on the test base."""
        dockerfile = IMAGES / f"{name}.Dockerfile"
        inputs = [base.encode(), *_files([dockerfile, *(IMAGES / e for e in extra)])]
        return builder.build(
            f"stockade-e2e/{name}:{_digest(inputs)}", dockerfile, IMAGES, args={"BASE": base}
        )

    images = TestImages(
        poller=production("poller"),
        session=production("session"),
        squid=own("squid"),
        socket_proxy=own("socket-proxy", "socket-proxy.cfg"),
        mcp_proxy=mcp_proxy,
        cloudflared=cloudflared,
        vendor_api=vendor_api,
        testhost=testhost,
    )
    return images, builder.log
