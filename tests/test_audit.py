"""`stockade audit` against moto's in-process AWS: a compliant account passes, a drifted one is caught."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.guardrails.audit import checks
from stockade.guardrails.audit.discovery import Expectations, expectations_from_settings
from stockade.guardrails.audit.runner import OPERATION_ACTIONS, READ_ONLY_POLICY, AuditError, run_audit
from stockade.settings.load import read_stack_file, settings_from_stack_file

from .conftest import PROJECT_DIR

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
STACK = "audit-test"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
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


def _tags(component: str | None = None, key: str = "Key", value: str = "Value") -> list[dict[str, str]]:
    tags = {"stockade:stack": STACK, "stockade:environment": "prod"}
    if component:
        tags["stockade:component"] = component
    return [{key: k, value: v} for k, v in tags.items()]


def _tls_policy(bucket: str) -> str:
    arn = f"arn:aws:s3:::{bucket}"
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def seed(session: boto3.Session) -> dict[str, Any]:
    """A compliant deployment of STACK: what the components create, with the invariants intact."""
    ec2, s3, logs, kms, ecs = (session.client(n) for n in ("ec2", "s3", "logs", "kms", "ecs"))
    vpc = ec2.create_vpc(CidrBlock="10.50.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.50.1.0/24")["Subnet"]["SubnetId"]
    sg_tags = [{"ResourceType": "security-group", "Tags": _tags()}]
    workload = ec2.create_security_group(
        GroupName="workload", Description="workload", VpcId=vpc, TagSpecifications=sg_tags
    )["GroupId"]
    endpoints = ec2.create_security_group(
        GroupName="endpoints", Description="endpoints", VpcId=vpc, TagSpecifications=sg_tags
    )["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=endpoints,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.50.0.0/16"}]}
        ],
    )
    ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.secretsmanager",
        VpcEndpointType="Interface",
        SubnetIds=[subnet],
        SecurityGroupIds=[endpoints],
    )
    task_eni = ec2.create_network_interface(SubnetId=subnet, Groups=[workload], Description="fargate task")[
        "NetworkInterface"
    ]["NetworkInterfaceId"]

    key = kms.create_key(Tags=_tags(key="TagKey", value="TagValue"))["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])

    bucket = "stockade-audit-artifacts"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": _tags()})
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key["Arn"],
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_policy(Bucket=bucket, Policy=_tls_policy(bucket))

    log_group = "/stockade/audit-test/gateway"
    logs.create_log_group(
        logGroupName=log_group, kmsKeyId=key["Arn"], tags=dict((t["Key"], t["Value"]) for t in _tags())
    )
    logs.put_retention_policy(logGroupName=log_group, retentionInDays=365)

    cluster = ecs.create_cluster(clusterName="stockade-audit")["cluster"]["clusterArn"]
    ecs.register_task_definition(
        family="gateway", containerDefinitions=[{"name": "proxy", "image": "x", "memory": 512}]
    )
    network = {
        "awsvpcConfiguration": {
            "subnets": [subnet],
            "securityGroups": [workload],
            "assignPublicIp": "DISABLED",
        }
    }
    services = {}
    for name, component in (("gateway", "tunnel-gateway"), ("poller", "sandbox-fleet")):
        ecs.create_service(
            cluster=cluster,
            serviceName=name,
            taskDefinition="gateway",
            desiredCount=0,
            networkConfiguration=network,
            tags=_tags(component, key="key", value="value"),
        )
        # moto reports a service's running count as its desired count once updated.
        ecs.update_service(cluster=cluster, service=name, desiredCount=2)
        services[name] = name
    return {
        "vpc": vpc,
        "subnet": subnet,
        "workload": workload,
        "endpoints": endpoints,
        "task_eni": task_eni,
        "key": key,
        "bucket": bucket,
        "log_group": log_group,
        "cluster": cluster,
    }


EXPECTED = Expectations(stack=STACK, account_id=ACCOUNT, region=REGION, gateway_replicas=2, poller_replicas=2)


def test_a_compliant_account_is_clean(aws: boto3.Session) -> None:
    seed(aws)
    report = run_audit(aws, EXPECTED)
    assert report.findings == ()
    assert report.exit_code == 0
    # Each check looked at something: a clean report is not a vacuous one.
    assert all(count > 0 for count in report.checked.values()), report.checked


def drift(session: boto3.Session, seeded: dict[str, Any]) -> None:
    """What drifts after deploy: a console click here, a hand-made change there."""
    ec2, s3, logs, kms, ecs = (session.client(n) for n in ("ec2", "s3", "logs", "kms", "ecs"))
    ec2.authorize_security_group_ingress(
        GroupId=seeded["workload"],
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
        ],
    )
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=seeded["task_eni"])
    s3.put_bucket_encryption(
        Bucket=seeded["bucket"],
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.delete_public_access_block(Bucket=seeded["bucket"])
    s3.delete_bucket_policy(Bucket=seeded["bucket"])
    logs.delete_retention_policy(logGroupName=seeded["log_group"])
    # A log group added by hand, without the stack's key or a retention.
    logs.create_log_group(logGroupName="/stockade/audit-test/manual", tags={"stockade:stack": STACK})
    kms.disable_key_rotation(KeyId=seeded["key"]["KeyId"])
    ecs.update_service(cluster=seeded["cluster"], service="gateway", desiredCount=1)


def test_a_drifted_account_is_caught(aws: boto3.Session) -> None:
    seeded = seed(aws)
    drift(aws, seeded)
    report = run_audit(aws, EXPECTED)
    found = {(f.check, f.resource.split(" ")[0]) for f in report.findings}
    assert (checks.SECURITY_GROUPS, seeded["workload"]) in found
    assert (checks.PUBLIC_IPS, seeded["task_eni"]) in found
    assert (checks.KEY_ROTATION, seeded["key"]["Arn"]) in found
    assert (checks.SERVICES, "gateway") in found
    bucket = {f.message for f in report.findings if f.resource == seeded["bucket"]}
    assert any("not SSE-KMS" in m for m in bucket)
    assert any("public access block" in m for m in bucket)
    assert any("TLS" in m for m in bucket)
    log_group = {f.message for f in report.findings if f.resource == seeded["log_group"]}
    assert log_group == {"no retention: logs are kept forever"}
    manual = {f.message for f in report.findings if f.resource == "/stockade/audit-test/manual"}
    assert manual == {"not encrypted with a KMS key", "no retention: logs are kept forever"}
    # The endpoint group's private HTTPS ingress is the one allowed ingress, drift or not.
    assert not any(f.resource.startswith(seeded["endpoints"]) for f in report.findings)
    assert report.exit_code == 3


def test_a_missing_service_is_a_finding(aws: boto3.Session) -> None:
    seed(aws)
    expected = Expectations(STACK, ACCOUNT, REGION, gateway_replicas=2, poller_replicas=2)
    report = run_audit(aws, expected)
    assert report.clean
    renamed = Expectations("other-stack", ACCOUNT, REGION, gateway_replicas=2, poller_replicas=None)
    missing = run_audit(aws, renamed)
    assert [(f.check, f.resource) for f in missing.findings] == [(checks.SERVICES, "(gateway)")]


def test_credentials_for_another_account_are_refused(aws: boto3.Session) -> None:
    seed(aws)
    with pytest.raises(AuditError, match="credentials are for account 123456789012"):
        run_audit(aws, Expectations(STACK, "999999999999", REGION, None, None))


def test_the_audit_only_reads_and_only_needs_its_documented_policy(aws: boto3.Session) -> None:
    seeded = seed(aws)
    drift(aws, seeded)
    calls: list[str] = []
    aws.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    run_audit(aws, EXPECTED)
    assert calls, "no calls recorded; the hook is not wired"
    assert set(calls) <= set(OPERATION_ACTIONS), set(calls) - set(OPERATION_ACTIONS)
    granted = set(READ_ONLY_POLICY["Statement"][0]["Action"])
    needed = {OPERATION_ACTIONS[c] for c in calls} - {"sts:GetCallerIdentity"}
    assert needed <= granted
    assert all(a.split(":")[1].startswith(("Get", "Describe", "List")) for a in granted)


def test_expectations_come_from_the_stack_file() -> None:
    settings = settings_from_stack_file(read_stack_file(PROJECT_DIR, "prod-use1"))
    expected = expectations_from_settings("prod-use1", settings)
    assert (expected.account_id, expected.region) == ("333333333333", "us-east-1")
    assert expected.gateway_replicas == settings.tunnel.replicas
    assert expected.poller_replicas == settings.sandboxes.poller_replicas


def test_cli_reports_json_and_exits_non_zero_on_findings(
    aws: boto3.Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI reads prod-use1's stack file, so the moto account must be that stack's account.
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "333333333333")
    session = boto3.Session(region_name=REGION)
    session.client("ec2").create_security_group(
        GroupName="open",
        Description="drifted",
        TagSpecifications=[
            {"ResourceType": "security-group", "Tags": [{"Key": "stockade:stack", "Value": "prod-use1"}]}
        ],
    )
    result = CliRunner().invoke(
        app, ["audit", "--stack", "prod-use1", "--project-dir", str(PROJECT_DIR), "--format", "json"]
    )
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert report["account"] == "333333333333" and report["clean"] is False
    assert {f["check"] for f in report["findings"]} == {checks.SERVICES}


def test_cli_refuses_a_stack_without_an_account() -> None:
    result = CliRunner().invoke(app, ["audit", "--stack", "local", "--project-dir", str(PROJECT_DIR)])
    assert result.exit_code == 2
    assert "does not target AWS" in result.output
