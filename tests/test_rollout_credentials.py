"""Per-stack credentials (moto STS) and the environment a worker starts with."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest

from stockade.rollout.credentials import (
    CredentialError,
    IdentityMismatchError,
    RoleAssumer,
    session_name,
    verify_identity,
)
from stockade.rollout.environment import pulumi_home_for, worker_environment
from stockade.rollout.plan import StackTarget

TARGET = StackTarget(
    stack="prod-use1",
    account_id="333333333333",
    region="us-east-1",
    role_arn="arn:aws:iam::333333333333:role/stockade-deployer",
)


@pytest.fixture
def sts(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOPERATOR000000000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "operator-secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield


def test_assumed_credentials_act_in_the_planned_account_under_a_stack_named_session(sts: None) -> None:
    credentials = RoleAssumer(profile=None, duration_seconds=900).credentials_for(TARGET)
    identity = boto3.client(
        "sts",
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        aws_session_token=credentials.session_token,
    ).get_caller_identity()
    assert identity["Account"] == "333333333333"
    assert identity["Arn"].endswith("assumed-role/stockade-deployer/stockade-rollout-prod-use1")
    env = credentials.environment("us-east-1")
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_SESSION_TOKEN"] == credentials.session_token


def test_a_role_resolving_to_another_account_is_refused(sts: None) -> None:
    # moto answers for the role ARN's account; planning another account is the mismatch.
    misplanned = TARGET.model_copy(update={"account_id": "444444444444"})
    with pytest.raises(IdentityMismatchError) as caught:
        RoleAssumer(profile=None, duration_seconds=900).credentials_for(misplanned)
    message = str(caught.value)
    assert "act in account 333333333333" in message and "into 444444444444" in message
    assert "no Pulumi command was run" in message


def test_verify_identity_accepts_only_the_planned_account() -> None:
    verify_identity(TARGET, "333333333333")
    with pytest.raises(IdentityMismatchError):
        verify_identity(TARGET, "333333333334")


def test_an_unknown_profile_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    with pytest.raises(CredentialError, match="profile 'nobody' is not configured"):
        RoleAssumer(profile="nobody", duration_seconds=900)


def test_sts_refusal_names_the_role(sts: None) -> None:
    with pytest.raises(
        CredentialError, match="cannot assume arn:aws:iam::333333333333:role/stockade-deployer"
    ):
        RoleAssumer(profile=None, duration_seconds=10).credentials_for(TARGET)  # below STS's 900s minimum


def test_credentials_never_show_in_repr(sts: None) -> None:
    credentials = RoleAssumer(profile=None, duration_seconds=900).credentials_for(TARGET)
    for secret in credentials.secrets():
        assert secret not in repr(credentials)


def test_session_names_fit_sts_rules() -> None:
    assert session_name("prod-use1") == "stockade-rollout-prod-use1"
    long = session_name("x" * 100 + " weird/name")
    assert len(long) == 64 and " " not in long and "/" not in long


def test_workers_start_without_any_aws_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ):
        monkeypatch.setenv(name, "operator-value")
    monkeypatch.setenv("AWS_CA_BUNDLE", "/etc/ssl/bundle.pem")
    monkeypatch.setenv("PULUMI_HOME", "/shared/home")
    env = worker_environment({"EXTRA": "1"})
    assert not [k for k, v in env.items() if v == "operator-value"]
    assert env["AWS_CA_BUNDLE"] == "/etc/ssl/bundle.pem"
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == env["AWS_CONFIG_FILE"] == os.devnull
    assert env["AWS_EC2_METADATA_DISABLED"] == "true"
    assert "PULUMI_HOME" not in env and env["EXTRA"] == "1" and env["PATH"] == os.environ["PATH"]


def test_each_stack_gets_its_own_pulumi_home_sharing_login_and_plugins(tmp_path: Path) -> None:
    source = tmp_path / "operator-home"
    (source / "plugins").mkdir(parents=True)
    (source / "credentials.json").write_text("{}", encoding="utf-8")
    dev = pulumi_home_for(tmp_path / "state", "dev", source)
    prod = pulumi_home_for(tmp_path / "state", "prod", source)
    assert dev != prod
    for home in (dev, prod):
        assert (home / "workspaces").is_dir() and not (home / "workspaces").is_symlink()
        assert (home / "plugins").resolve() == (source / "plugins").resolve()
        assert (home / "credentials.json").resolve() == (source / "credentials.json").resolve()
    assert pulumi_home_for(tmp_path / "state", "dev", source) == dev  # idempotent
