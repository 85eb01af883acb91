"""The Docker end-to-end tests: skip, saying why, where no Docker engine can run them.

All of them share one deployment of the `local` stack and run in one xdist worker
(`xdist_group`), in file order. They never pass silently: without an engine each one is
reported as skipped with the reason.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from .build import BuildUnavailableError


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


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/e2e/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.xdist_group("docker-e2e"))


@pytest.fixture(scope="session")
def docker_client() -> object:
    client, reason = _engine_or_reason()
    if client is None:
        pytest.skip(reason)
    return client


@pytest.fixture(scope="session")
def local_stack(docker_client: object) -> Iterator[object]:
    from .harness import deploy

    try:
        with deploy(docker_client) as stack:  # type: ignore[arg-type]
            yield stack
    except BuildUnavailableError as exc:
        pytest.skip(str(exc))
