"""Optional sections (the providers', `aws`, `docker.tls`) are built the first time a stack sets one,
and read exactly as before."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from stockade.settings.load import read_stack_file, validate
from stockade.settings.platform import AwsSettings
from stockade.settings.problems import SettingsError
from stockade.settings.provider_bridged import DaytonaSettings

from .conftest import PROJECT_DIR


def _built_after_each(
    models: dict[str, tuple[str, ...]], stacks: tuple[tuple[str, ...], ...]
) -> list[list[str]]:
    """In a fresh interpreter, validate each group of `stacks` in turn; after each group, which
    of `models` (module -> class names) have been built."""
    names = [name for group in models.values() for name in group]
    probe = "\n".join(
        [
            "import json",
            "from pathlib import Path",
            "from stockade.settings.load import read_stack_file, validate",
            *(f"from {module} import {', '.join(group)}" for module, group in models.items()),
            f"models = ({', '.join(names)},)",
            f"for group in {stacks!r}:",
            "    for stack in group:",
            "        validate(stack, read_stack_file(Path('.'), stack).config)",
            "    print(json.dumps(sorted(m.__name__ for m in models if m.__pydantic_complete__)))",
        ]
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_a_stack_without_provider_sections_never_builds_them() -> None:
    providers = {
        "stockade.settings.provider_bridged": ("DaytonaSettings", "ModalSettings"),
        "stockade.settings.provider_cloudflare": ("CloudflareSettings",),
        "stockade.settings.provider_vercel": ("VercelSettings",),
    }
    built = _built_after_each(providers, (("local", "prod-use1"), ("daytona-dev",)))
    assert built == [[], ["DaytonaSettings"]]


def test_a_set_section_is_validated_as_its_model() -> None:
    settings = validate("daytona-dev", read_stack_file(PROJECT_DIR, "daytona-dev").config)
    assert isinstance(settings.sandboxes.daytona, DaytonaSettings)
    assert settings.sandboxes.modal is None


@pytest.mark.parametrize(
    ("value", "message"),
    [(7, "valid dictionary or instance of DaytonaSettings"), ({"maxConcurrentSessions": "lots"}, "integer")],
)
def test_a_bad_section_is_reported_at_its_own_path(value: object, message: str) -> None:
    config = copy.deepcopy(read_stack_file(PROJECT_DIR, "daytona-dev").config)
    section = config["stockade:sandboxes"]
    section["daytona"] = value if not isinstance(value, dict) else {**section["daytona"], **value}
    with pytest.raises(SettingsError) as raised:
        validate("daytona-dev", config)
    rendered = raised.value.render()
    assert "stockade:sandboxes.daytona" in rendered
    assert message in rendered


def test_the_aws_and_docker_tls_sections_are_built_only_by_stacks_that_set_them() -> None:
    platform = {"stockade.settings.platform": ("AwsSettings", "DockerTlsSettings")}
    assert _built_after_each(platform, (("local",), ("prod-use1",))) == [[], ["AwsSettings"]]


def test_the_aws_section_is_validated_as_its_model_and_reported_at_its_paths() -> None:
    settings = validate("prod-use1", read_stack_file(PROJECT_DIR, "prod-use1").config)
    assert isinstance(settings.aws, AwsSettings)
    config = copy.deepcopy(read_stack_file(PROJECT_DIR, "prod-use1").config)
    config["stockade:aws"] = {**config["stockade:aws"], "accountId": "12"}
    with pytest.raises(SettingsError) as raised:
        validate("prod-use1", config)
    assert "stockade:aws.accountId" in raised.value.render()
    assert "12-digit" in raised.value.render()
