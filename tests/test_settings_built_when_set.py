"""Optional sections (the providers', `aws`, `docker.tls`) are built the first time a stack sets one,
and read exactly as before."""

from __future__ import annotations

import copy
import subprocess
import sys
import textwrap

import pytest

from stockade.settings.load import read_stack_file, validate
from stockade.settings.platform import AwsSettings
from stockade.settings.problems import SettingsError
from stockade.settings.provider_bridged import DaytonaSettings

from .conftest import PROJECT_DIR


def test_a_stack_without_provider_sections_never_builds_them() -> None:
    probe = textwrap.dedent(
        """
        from pathlib import Path
        from stockade.settings.load import read_stack_file, validate
        from stockade.settings.provider_bridged import DaytonaSettings, ModalSettings
        from stockade.settings.provider_cloudflare import CloudflareSettings
        from stockade.settings.provider_vercel import VercelSettings

        for stack in ("local", "prod-use1"):
            validate(stack, read_stack_file(Path("."), stack).config)
        models = (CloudflareSettings, DaytonaSettings, ModalSettings, VercelSettings)
        print(sorted(m.__name__ for m in models if m.__pydantic_complete__))
        validate("daytona-dev", read_stack_file(Path("."), "daytona-dev").config)
        print(sorted(m.__name__ for m in models if m.__pydantic_complete__))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.splitlines() == ["[]", "['DaytonaSettings']"]


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
    probe = textwrap.dedent(
        """
        from pathlib import Path
        from stockade.settings.load import read_stack_file, validate
        from stockade.settings.platform import AwsSettings, DockerTlsSettings

        models = (AwsSettings, DockerTlsSettings)
        validate("local", read_stack_file(Path("."), "local").config)
        print(sorted(m.__name__ for m in models if m.__pydantic_complete__))
        validate("prod-use1", read_stack_file(Path("."), "prod-use1").config)
        print(sorted(m.__name__ for m in models if m.__pydantic_complete__))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout.splitlines() == ["[]", "['AwsSettings']"]


def test_the_aws_section_is_validated_as_its_model_and_reported_at_its_paths() -> None:
    settings = validate("prod-use1", read_stack_file(PROJECT_DIR, "prod-use1").config)
    assert isinstance(settings.aws, AwsSettings)
    config = copy.deepcopy(read_stack_file(PROJECT_DIR, "prod-use1").config)
    config["stockade:aws"] = {**config["stockade:aws"], "accountId": "12"}
    with pytest.raises(SettingsError) as raised:
        validate("prod-use1", config)
    assert "stockade:aws.accountId" in raised.value.render()
    assert "12-digit" in raised.value.render()
