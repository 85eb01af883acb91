"""`stockade bootstrap` against moto: creates everything once, changes nothing twice, resumes a half run."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.guardrails.bootstrap import (
    ALIAS_TAG,
    BootstrapError,
    BootstrapPlan,
    Status,
    assume_role_session,
    bootstrap,
)

REGION = "eu-west-1"
ACCOUNT = "123456789012"  # moto's default account
PLAN = BootstrapPlan(ACCOUNT, REGION, BootstrapPlan.default_bucket_name(ACCOUNT, REGION))
MUTATING_PREFIXES = ("Create", "Put", "Enable", "Disable", "Delete", "Update", "Tag", "Untag", "Schedule")


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def _record(session: boto3.Session) -> list[str]:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


def _assert_backend_is_complete(session: boto3.Session, key_arn: str) -> None:
    s3, kms = session.client("s3"), session.client("kms")
    bucket = PLAN.bucket_name
    assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key_arn,
    }
    assert rule["BucketKeyEnabled"] is True
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert sorted(statement["Resource"]) == [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    ownership = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] == REGION
    assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
    assert kms.describe_key(KeyId=PLAN.key_alias)["KeyMetadata"]["Arn"] == key_arn


def test_first_run_creates_everything(session: boto3.Session) -> None:
    result = bootstrap(session, PLAN)
    assert {i.item: i.status for i in result.items} == {
        "kms key": Status.CREATED,
        "kms key rotation": Status.UPDATED,
        "kms alias": Status.CREATED,
        "state bucket": Status.CREATED,
        "ownership controls": Status.CREATED,
        "public access block": Status.CREATED,
        "versioning": Status.CREATED,
        "default encryption": Status.CREATED,
        "TLS-only policy": Status.CREATED,
        "bucket tags": Status.CREATED,
    }
    _assert_backend_is_complete(session, result.key_arn)
    assert result.login_command == f"pulumi login 's3://{PLAN.bucket_name}?region={REGION}&awssdk=v2'"
    assert result.secrets_provider == f"awskms://alias/stockade-state?region={REGION}"


def test_second_run_changes_nothing_and_calls_no_mutating_api(session: boto3.Session) -> None:
    first = bootstrap(session, PLAN)
    calls = _record(session)
    second = bootstrap(session, PLAN)
    assert {i.status for i in second.items} == {Status.UNCHANGED}
    assert not second.changed
    assert second.key_arn == first.key_arn
    assert calls, "no calls recorded; the hook is not wired"
    assert [c for c in calls if c.startswith(MUTATING_PREFIXES)] == []


def test_an_interrupted_run_is_completed_by_the_next(session: boto3.Session) -> None:
    def fail_on_policy(model: object, **_: object) -> None:
        if getattr(model, "name", "") == "PutBucketPolicy":
            raise ConnectionError("network dropped before the policy was written")

    session.events.register("before-call.s3.PutBucketPolicy", fail_on_policy)
    with pytest.raises(ConnectionError):
        bootstrap(session, PLAN)
    session.events.unregister("before-call.s3.PutBucketPolicy", fail_on_policy)
    with pytest.raises(ClientError):
        session.client("s3").get_bucket_policy(Bucket=PLAN.bucket_name)

    resumed = bootstrap(session, PLAN)
    statuses = {i.item: i.status for i in resumed.items}
    assert statuses["TLS-only policy"] is Status.UPDATED
    assert statuses["state bucket"] is Status.UNCHANGED
    assert statuses["kms key"] is Status.UNCHANGED
    _assert_backend_is_complete(session, resumed.key_arn)


def test_a_key_created_without_its_alias_is_reused_not_duplicated(session: boto3.Session) -> None:
    def fail_on_alias(model: object, **_: object) -> None:
        raise ConnectionError("interrupted after CreateKey")

    session.events.register("before-call.kms.CreateAlias", fail_on_alias)
    with pytest.raises(ConnectionError):
        bootstrap(session, PLAN)
    session.events.unregister("before-call.kms.CreateAlias", fail_on_alias)

    resumed = bootstrap(session, PLAN)
    kms = session.client("kms")
    tagged = [
        k["KeyId"]
        for k in kms.list_keys()["Keys"]
        if {"TagKey": ALIAS_TAG, "TagValue": PLAN.key_alias}
        in kms.list_resource_tags(KeyId=k["KeyId"])["Tags"]
    ]
    assert len(tagged) == 1
    assert resumed.key_arn.endswith(tagged[0])
    assert {i.item: i.status for i in resumed.items}["kms alias"] is Status.CREATED
    _assert_backend_is_complete(session, resumed.key_arn)


def test_wrong_account_creates_nothing(session: boto3.Session) -> None:
    calls = _record(session)
    with pytest.raises(BootstrapError, match="credentials are for account 123456789012"):
        bootstrap(session, BootstrapPlan("999999999999", REGION, "stockade-state-x"))
    assert calls == ["GetCallerIdentity"]
    assert session.client("s3").list_buckets()["Buckets"] == []
    assert session.client("kms").list_keys()["Keys"] == []


def test_an_assumed_role_is_checked_against_the_target_account(session: boto3.Session) -> None:
    target = "210987654321"
    role_arn = f"arn:aws:iam::{target}:role/stockade-bootstrap"
    assumed = assume_role_session(session, role_arn, REGION)
    assert assumed.client("sts").get_caller_identity()["Account"] == target
    result = bootstrap(assumed, BootstrapPlan(target, REGION, f"stockade-state-{target}-{REGION}"))
    assert result.key_arn.split(":")[4] == target
    with pytest.raises(BootstrapError):
        bootstrap(assumed, PLAN)


def test_existing_bucket_policy_statements_are_kept(session: boto3.Session) -> None:
    s3 = session.client("s3")
    s3.create_bucket(Bucket=PLAN.bucket_name, CreateBucketConfiguration={"LocationConstraint": REGION})
    theirs = {
        "Sid": "AuditorsRead",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/auditor"},
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{PLAN.bucket_name}/*",
    }
    s3.put_bucket_policy(
        Bucket=PLAN.bucket_name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [theirs]})
    )
    result = bootstrap(session, PLAN)
    assert {i.item: i.status for i in result.items}["state bucket"] is Status.UNCHANGED
    sids = [
        s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=PLAN.bucket_name)["Policy"])["Statement"]
    ]
    assert sids == ["AuditorsRead", "DenyInsecureTransport"]


def test_cli_prints_the_login_and_secrets_provider_values(session: boto3.Session) -> None:
    args = ["bootstrap", "--account", ACCOUNT, "--region", REGION]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert f"pulumi login 's3://stockade-state-{ACCOUNT}-{REGION}?region={REGION}&awssdk=v2'" in first.output
    assert f"--secrets-provider='awskms://alias/stockade-state?region={REGION}'" in first.output
    second = CliRunner().invoke(app, [*args, "--format", "json"])
    assert second.exit_code == 0, second.output
    assert {i["status"] for i in json.loads(second.output)["items"]} == {"unchanged"}
    wrong = CliRunner().invoke(app, ["bootstrap", "--account", "999999999999", "--region", REGION])
    assert wrong.exit_code == 2
    assert "nothing was created" in wrong.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--account", "12345", "--region", REGION], "not a 12-digit AWS account ID"),
        (["--account", ACCOUNT, "--region", REGION, "--key-alias", "alias/aws/s3"], "must start with alias/"),
    ],
)
def test_cli_rejects_bad_arguments_before_calling_aws(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["bootstrap", *args])
    assert result.exit_code == 2
    assert message in result.output
