"""The Docker end-to-end tests: skip, saying why, where no Docker engine can run them.

All of them share one deployment of the `local` stack, so they live in one module, which
`scripts/check` (`--dist loadfile`) keeps on one xdist worker, in file order. A lock around
the deployment makes a second worker wait rather than collide, should that ever change.
They never pass silently: without an engine each one is reported as skipped with the reason.
Where an engine was started for them (`.ci/run` sets STOCKADE_E2E_REQUIRED=1 once
`scripts/docker-engine` succeeds), a reason to skip is a failure instead: CI must not go
green on an end-to-end proof that never ran.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .build import BuildUnavailableError

E2E = [pytest.mark.e2e]
REQUIRED = "STOCKADE_E2E_REQUIRED"


def _cannot_run(reason: str) -> None:
    if os.environ.get(REQUIRED) == "1":
        pytest.fail(f"{reason} (and {REQUIRED}=1 says the end-to-end tests must run here)", pytrace=False)
    pytest.skip(reason)


def _engine_or_reason() -> tuple[object | None, str]:
    try:
        import docker
    except ImportError:
        return None, "the Docker SDK for Python is not installed (pip install -e '.[dev]')"
    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except Exception as exc:  # the SDK raises several unrelated types for "no engine"
        return None, f"no Docker engine reachable ({type(exc).__name__}); .ci/run installs and starts one"
    if os.geteuid() != 0:
        return None, "the test base image is made with debootstrap, which needs root"
    return client, ""


@pytest.fixture(scope="session")
def docker_client() -> object:
    client, reason = _engine_or_reason()
    if client is None:
        _cannot_run(reason)
    return client


@pytest.fixture(scope="session")
def local_stack(docker_client: object) -> Iterator[object]:
    import fcntl

    from .harness import CACHE, deploy

    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / "deploy.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            with deploy(docker_client) as stack:  # type: ignore[arg-type]
                yield stack
        except BuildUnavailableError as exc:
            _cannot_run(str(exc))
