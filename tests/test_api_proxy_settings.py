"""`sandboxes.apiProxy`: on by default, a reported weakening when off, per-session mode only."""

from __future__ import annotations

from typing import Any

import pytest

from stockade.settings import SettingsError
from stockade.settings.load import validate

DIGEST = "@sha256:" + "a" * 64
PER_SESSION = {
    "environmentId": "env_01Example",
    "environmentKey": "arn:aws:secretsmanager:us-east-1:123456789012:secret:stockade/env-key-AbCdEf",
    "sessionImage": "registry.example.com/session" + DIGEST,
    "workerImage": "registry.example.com/poller" + DIGEST,
}


def _config(**sandboxes: Any) -> dict[str, Any]:
    return {
        "aws:region": "us-east-1",
        "stockade:target": "aws",
        "stockade:environment": "dev",
        "stockade:aws": {"accountId": "123456789012"},
        "stockade:sandboxes": {**PER_SESSION, **sandboxes},
    }


def test_the_proxy_is_on_by_default_and_not_a_weakening() -> None:
    settings = validate("t", _config())
    assert settings.sandboxes.api_proxy.enabled is True
    assert not any("apiProxy" in w for w in settings.weakenings())


def test_turning_the_proxy_off_is_reported_as_a_weakening() -> None:
    settings = validate("t", _config(apiProxy={"enabled": False}))
    (weakening,) = [w for w in settings.weakenings() if "apiProxy" in w]
    assert "holds the environment key" in weakening


def test_the_proxy_setting_is_refused_in_pool_mode() -> None:
    config = _config(mode="pool", apiProxy={"enabled": False})
    del config["stockade:sandboxes"]["sessionImage"]
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    (problem,) = caught.value.problems
    assert problem.key == "stockade:sandboxes.apiProxy"
    assert "not read in pool mode" in problem.message


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_a_non_boolean_is_refused_with_the_field_named(value: object) -> None:
    with pytest.raises(SettingsError) as caught:
        validate("t", _config(apiProxy={"enabled": value}))
    assert "stockade:sandboxes.apiProxy.enabled" in {p.key for p in caught.value.problems}


def test_unknown_proxy_keys_are_refused() -> None:
    with pytest.raises(SettingsError) as caught:
        validate("t", _config(apiProxy={"enable": False}))
    assert any("apiProxy" in p.key for p in caught.value.problems)


# --- sandboxes.taskScopedAccess: artifacts and work secrets per task, a sibling guard -----------


def test_task_scoped_access_is_on_by_default_and_not_a_weakening() -> None:
    settings = validate("t", _config())
    assert settings.sandboxes.task_scoped_access is True
    assert not any("taskScopedAccess" in w for w in settings.weakenings())


def test_turning_task_scoped_access_off_is_reported_as_a_weakening() -> None:
    settings = validate("t", _config(taskScopedAccess=False))
    (weakening,) = [w for w in settings.weakenings() if "taskScopedAccess" in w]
    assert "every other session's artifact prefix" in weakening and "work secret" in weakening


@pytest.mark.parametrize("value", ["maybe", 2, None])
def test_a_non_boolean_task_scope_is_refused_with_the_field_named(value: object) -> None:
    with pytest.raises(SettingsError) as caught:
        validate("t", _config(taskScopedAccess=value))
    assert "stockade:sandboxes.taskScopedAccess" in {p.key for p in caught.value.problems}


def test_task_scoped_access_is_refused_in_pool_mode() -> None:
    config = _config(mode="pool", taskScopedAccess=False)
    del config["stockade:sandboxes"]["sessionImage"]
    with pytest.raises(SettingsError) as caught:
        validate("t", config)
    (problem,) = caught.value.problems
    assert problem.key == "stockade:sandboxes.taskScopedAccess"
    assert "not read in pool mode" in problem.message
