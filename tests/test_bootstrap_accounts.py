"""Bootstrap across a two-account plan against moto: deployer roles, their trust and permissions,
per-account backends and a central backend's cross-account grants; second runs change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.guardrails.bootstrap import GRANT_SID, BootstrapPlan, assume_role_session, bootstrap
from stockade.guardrails.deployer import (
    DeployerError,
    DeployerRequest,
    GitHubTrust,
    services_for_types,
)
from stockade.rollout.backend import Backend
from stockade.rollout.credentials import IdentityMismatchError, verify_backend
from stockade.rollout.plan import StackTarget

REPO = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
ACCOUNT_A, ACCOUNT_B, CENTRAL = "111111111111", "222222222222", "333333333333"
MANAGER = "arn:aws:iam::123456789012:role/platform-deployer"
MUTATING_PREFIXES = (
    "Create",
    "Put",
    "Enable",
    "Disable",
    "Delete",
    "Update",
    "Tag",
    "Untag",
    "Add",
    "Attach",
)
# A slice of what `stockade synth` reports for the dev stack, enough to exercise the mapping.
DESIRED_TYPES = [
    "aws:ec2/vpc:Vpc",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    "aws:cloudwatch/logGroup:LogGroup",
    "aws:cloudwatch/metricAlarm:MetricAlarm",
    "aws:ecs/service:Service",
    "aws:iam/role:Role",
    "aws:kms/key:Key",
    "aws:route53/resolverFirewallRule:ResolverFirewallRule",
    "aws:s3/bucket:Bucket",
    "tls:index/privateKey:PrivateKey",
    "stockade:aws:Network",
]
GITHUB = GitHubTrust("acme/infra", branches=("main",), environments=("production",))


@pytest.fixture
def base(monkeypatch: pytest.MonkeyPatch) -> Iterator[boto3.Session]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.Session(region_name=REGION)


def _into(base: boto3.Session, account: str) -> Any:
    return assume_role_session(base, f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole", REGION)


def _request(**overrides: Any) -> DeployerRequest:
    values: dict[str, Any] = {
        "services": services_for_types(DESIRED_TYPES),
        "github": GITHUB,
        "management_principals": (MANAGER,),
    }
    values.update(overrides)
    return DeployerRequest(**values)


def _plan(account: str, **overrides: Any) -> BootstrapPlan:
    values: dict[str, Any] = {
        "account_id": account,
        "region": REGION,
        "bucket_name": BootstrapPlan.default_bucket_name(account, REGION),
        "deployer": _request(),
    }
    values.update(overrides)
    return BootstrapPlan(**values)


def _mutations(session: Any) -> list[str]:
    calls: list[str] = []
    session.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    return calls


def _default_document(iam: Any, arn: str) -> dict[str, Any]:
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document: dict[str, Any] = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"][
        "Document"
    ]
    return document


def _role_policy(session: Any, name: str = "stockade-deployer") -> dict[str, Any]:
    document = session.client("iam").get_role_policy(RoleName=name, PolicyName="stockade-deploy")
    return document["PolicyDocument"]


def test_services_come_from_the_desired_state_not_a_wildcard() -> None:
    services = services_for_types(DESIRED_TYPES)
    assert services == ("cloudwatch", "ec2", "ecs", "iam", "kms", "logs", "route53resolver", "s3")
    assert services_for_types(["tls:index/privateKey:PrivateKey", "stockade:aws:Network"]) == ()


def test_a_deployer_needs_trust_services_and_exact_subjects() -> None:
    with pytest.raises(DeployerError, match="needs someone to trust"):
        _request(github=None, management_principals=())
    with pytest.raises(DeployerError, match="no AWS resources"):
        _request(services=())
    with pytest.raises(DeployerError, match="bare wildcard"):
        GitHubTrust("acme/infra", branches=("*",))
    with pytest.raises(DeployerError, match="OWNER/REPO"):
        GitHubTrust("not-a-repo")
    with pytest.raises(DeployerError, match="not an IAM role"):
        _request(management_principals=("arn:aws:s3:::bucket",))


def test_two_accounts_get_their_own_backend_and_a_bounded_deployer(base: boto3.Session) -> None:
    sessions = {account: _into(base, account) for account in (ACCOUNT_A, ACCOUNT_B)}
    results = {account: bootstrap(sessions[account], _plan(account)) for account in sessions}

    for account, session in sessions.items():
        iam = session.client("iam")
        role = iam.get_role(RoleName="stockade-deployer")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/stockade-deployer"
        boundary = f"arn:aws:iam::{account}:policy/stockade-deployer-boundary"
        assert role["PermissionsBoundary"]["PermissionsBoundaryArn"] == boundary
        assert iam.list_attached_role_policies(RoleName="stockade-deployer")["AttachedPolicies"] == []

        trust = role["AssumeRolePolicyDocument"]["Statement"]
        github, manager = trust
        assert github["Principal"]["Federated"].endswith(
            f"{account}:oidc-provider/token.actions.githubusercontent.com"
        )
        assert github["Condition"]["StringEquals"] == {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com"
        }
        assert github["Condition"]["StringLike"]["token.actions.githubusercontent.com:sub"] == [
            "repo:acme/infra:ref:refs/heads/main",
            "repo:acme/infra:environment:production",
        ]
        assert manager["Principal"]["AWS"] == [MANAGER]
        providers = iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]
        assert [p["Arn"] for p in providers] == [github["Principal"]["Federated"]]

        policy = _role_policy(session)
        actions = [
            a
            for s in policy["Statement"]
            for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
        ]
        assert "*" not in actions and "ec2:*" in actions and "ecs:*" in actions
        assert not any(a.startswith(("lambda:", "rds:", "organizations:")) for a in actions)
        (bucket_statement,) = [s for s in policy["Statement"] if s["Sid"] == "StateObjects"]
        assert bucket_statement["Resource"] == [f"arn:aws:s3:::stockade-state-{account}-{REGION}/*"]
        (key_statement,) = [s for s in policy["Statement"] if s["Sid"] == "StateKey"]
        assert key_statement["Resource"] == [results[account].key_arn]
        assert results[account].key_arn.split(":")[4] == account

        bounded = _default_document(iam, boundary)
        denies = {s["Sid"]: s for s in bounded["Statement"] if s["Effect"] == "Deny"}
        assert denies["NoSelfEscalation"]["Resource"] == role["Arn"]
        assert denies["NoAdministratorAccess"]["Condition"] == {
            "ArnLike": {"iam:PolicyARN": "arn:*:iam::aws:policy/AdministratorAccess"}
        }
        assert results[account].plan_entry() == {
            "url": f"s3://stockade-state-{account}-{REGION}?region={REGION}&awssdk=v2",
            "secretsProvider": f"awskms://alias/stockade-state?region={REGION}",
        }

    # The second run reads everything and changes nothing, in either account.
    for account, session in sessions.items():
        calls = _mutations(session)
        again = bootstrap(session, _plan(account))
        assert not again.changed, [i for i in again.items if i.status.value != "unchanged"]
        assert calls and not [c for c in calls if c.startswith(MUTATING_PREFIXES)]


def test_the_deployer_creates_roles_only_under_the_workload_boundary(base: boto3.Session) -> None:
    session = _into(base, ACCOUNT_A)
    request = _request(workload_services=("ssmmessages",))
    result = bootstrap(session, _plan(ACCOUNT_A, deployer=request))
    assert {i.item: i.status.value for i in result.items}["workload boundary"] == "created"
    iam = session.client("iam")
    workload_arn = f"arn:aws:iam::{ACCOUNT_A}:policy/stockade-boundary"
    deployer_arn = f"arn:aws:iam::{ACCOUNT_A}:policy/stockade-deployer-boundary"
    workload = _default_document(iam, workload_arn)
    deployer = _default_document(iam, deployer_arn)

    allowed = workload["Statement"][0]
    assert allowed["Sid"] == "WorkloadServices" and allowed["Resource"] == "*"
    # The desired state's services, plus one only its own policies name; nothing wider.
    assert {"ec2:*", "ecs:*", "iam:*", "ssmmessages:*"} <= set(allowed["Action"])
    assert "*" not in allowed["Action"] and not any(a.startswith("organizations:") for a in allowed["Action"])

    for document in (workload, deployer):
        denies = {s["Sid"]: s for s in document["Statement"] if s["Effect"] == "Deny"}
        only_bounded = denies["OnlyBoundedPrincipals"]
        assert set(only_bounded["Action"]) == {
            "iam:CreateRole",
            "iam:CreateUser",
            "iam:PutRolePermissionsBoundary",
            "iam:PutUserPermissionsBoundary",
        }
        assert only_bounded["Condition"] == {"StringNotEquals": {"iam:PermissionsBoundary": workload_arn}}
        assert set(denies["BoundariesStay"]["Action"]) == {
            "iam:DeleteRolePermissionsBoundary",
            "iam:DeleteUserPermissionsBoundary",
        }
        assert set(denies["NoBoundaryEdits"]["Resource"]) == {workload_arn, deployer_arn}
        assert "NoAdministratorAccess" in denies and "KeepTheState" in denies

    calls = _mutations(session)
    again = bootstrap(session, _plan(ACCOUNT_A, deployer=request))
    assert not again.changed and not [c for c in calls if c.startswith(MUTATING_PREFIXES)]


def test_the_desired_state_names_its_principals_boundaries_and_policy_services() -> None:
    from types import SimpleNamespace

    from stockade.guardrails.deployer import DesiredState

    def resource(type_: str, name: str, **inputs: Any) -> Any:
        return SimpleNamespace(type=type_, name=name, inputs=inputs)

    boundary = f"arn:aws:iam::{ACCOUNT_A}:policy/stockade-boundary"
    state = DesiredState()
    state.add(
        "dev",
        [
            resource("aws:iam/role:Role", "bounded", permissionsBoundary=boundary),
            resource("aws:iam/role:Role", "bare"),
            resource("aws:iam/user:User", "other", permissionsBoundary=f"arn:aws:iam::{ACCOUNT_A}:policy/x"),
            resource(
                "aws:iam/rolePolicy:RolePolicy",
                "p",
                policy=json.dumps(
                    {"Statement": [{"Action": ["SSMMessages:Open*", "logs:PutLogEvents", "*"]}]}
                ),
            ),
            resource("aws:iam/policy:Policy", "unknown", policy="[unknown]"),
        ],
    )
    assert state.policy_services == {"ssmmessages", "logs"}
    assert state.unbounded(ACCOUNT_A, "stockade-boundary") == [
        "stack 'dev': bare has no permissions boundary",
        f"stack 'dev': other has the boundary arn:aws:iam::{ACCOUNT_A}:policy/x",
    ]
    assert len(state.unbounded(ACCOUNT_B, "stockade-boundary")) == 3  # another account's boundary


def test_the_cli_refuses_stacks_whose_roles_skip_the_workload_boundary(base: boto3.Session) -> None:
    result = CliRunner().invoke(
        app,
        [
            "bootstrap",
            "--account",
            ACCOUNT_A,
            "--region",
            REGION,
            "--stack",
            "dev",
            "--management-principal",
            MANAGER,
            "--workload-boundary-name",
            "team-boundary",
            "--project-dir",
            str(REPO),
        ],
    )
    assert result.exit_code == 2
    assert f"arn:aws:iam::{ACCOUNT_A}:policy/team-boundary" in result.output
    assert "stack 'dev'" in result.output and "nothing was changed" in result.output
    session = _into(base, ACCOUNT_A)  # refused before any AWS call: no bucket, no role
    assert session.client("s3").list_buckets()["Buckets"] == []
    assert all(r["RoleName"] != "stockade-deployer" for r in session.client("iam").list_roles()["Roles"])


def test_a_changed_desired_state_updates_the_policy_and_boundary_in_place(base: boto3.Session) -> None:
    session = _into(base, ACCOUNT_A)
    bootstrap(session, _plan(ACCOUNT_A))
    wider = _plan(ACCOUNT_A, deployer=_request(services=(*services_for_types(DESIRED_TYPES), "sqs")))
    result = bootstrap(session, wider)
    changed = {i.item: i.status.value for i in result.items if i.status.value != "unchanged"}
    assert changed == {
        "workload boundary": "updated",
        "permissions boundary": "updated",
        "deployer permissions": "updated",
    }
    assert "sqs:*" in _role_policy(session)["Statement"][0]["Action"]


def test_a_central_backend_grants_each_accounts_deployer(base: boto3.Session) -> None:
    central = _into(base, CENTRAL)
    central_plan = _plan(CENTRAL, deployer=None, grant_accounts=(ACCOUNT_A, ACCOUNT_B))
    backend = bootstrap(central, central_plan)
    entry = backend.plan_entry()
    assert entry["accountId"] == CENTRAL
    assert entry["secretsProvider"] == f"awskms:///{backend.key_arn}?region={REGION}"
    Backend.model_validate(entry)  # what bootstrap prints is a valid plan entry

    policy = json.loads(central.client("s3").get_bucket_policy(Bucket=central_plan.bucket_name)["Policy"])
    (grant,) = [s for s in policy["Statement"] if s["Sid"] == GRANT_SID]
    assert grant["Principal"]["AWS"] == [f"arn:aws:iam::{a}:root" for a in (ACCOUNT_A, ACCOUNT_B)]
    assert grant["Condition"]["ArnEquals"]["aws:PrincipalArn"] == [
        f"arn:aws:iam::{a}:role/stockade-deployer" for a in (ACCOUNT_A, ACCOUNT_B)
    ]
    assert any(s["Sid"] == "DenyInsecureTransport" for s in policy["Statement"])
    key_policy = json.loads(
        central.client("kms").get_key_policy(KeyId=backend.key_arn, PolicyName="default")["Policy"]
    )
    (key_grant,) = [s for s in key_policy["Statement"] if s["Sid"] == GRANT_SID]
    assert key_grant["Condition"] == grant["Condition"]
    assert len(key_policy["Statement"]) == 2  # the account's own administration statement is kept

    central_bucket = f"arn:aws:s3:::{central_plan.bucket_name}"
    member = _into(base, ACCOUNT_A)
    member_plan = _plan(ACCOUNT_A, deployer=_request(extra_state=((central_bucket, backend.key_arn),)))
    bootstrap(member, member_plan)
    statements = {s["Sid"]: s for s in _role_policy(member)["Statement"]}
    assert central_bucket in statements["StateBucket"]["Resource"]
    assert backend.key_arn in statements["StateKey"]["Resource"]

    for session, plan in ((central, central_plan), (member, member_plan)):
        calls = _mutations(session)
        assert not bootstrap(session, plan).changed
        assert not [c for c in calls if c.startswith(MUTATING_PREFIXES)]


def _target(account: str) -> StackTarget:
    return StackTarget.model_validate(
        {
            "stack": f"stack-{account}",
            "accountId": account,
            "region": REGION,
            "roleArn": f"arn:aws:iam::{account}:role/stockade-deployer",
        }
    )


def test_the_rollout_check_accepts_the_accounts_own_backend_and_refuses_another(base: boto3.Session) -> None:
    results = {a: bootstrap(_into(base, a), _plan(a, deployer=None)) for a in (ACCOUNT_A, ACCOUNT_B)}
    as_a = _into(base, ACCOUNT_A)
    sent: list[dict[str, Any]] = []
    as_a.events.register("provide-client-params.s3.HeadBucket", lambda params, **_: sent.append(dict(params)))
    own = Backend.model_validate(results[ACCOUNT_A].plan_entry())
    verify_backend(_target(ACCOUNT_A), own, as_a)
    # S3 itself refuses a bucket owned by anyone else; moto does not enforce the header, so the
    # test checks that it is sent with the planned owner.
    assert sent == [{"Bucket": f"stockade-state-{ACCOUNT_A}-{REGION}", "ExpectedBucketOwner": ACCOUNT_A}]

    # Stack in A, planned onto B's backend: B's key is not A's to use.
    foreign = Backend(
        url=results[ACCOUNT_B].login_url,
        secrets_provider=f"awskms:///{results[ACCOUNT_B].key_arn}?region={REGION}",
        account_id=ACCOUNT_B,
    )
    with pytest.raises(IdentityMismatchError, match="no Pulumi command was run"):
        verify_backend(_target(ACCOUNT_A), foreign, as_a)


def test_the_cli_derives_the_deployer_from_a_synthesized_stack(base: boto3.Session, tmp_path: Any) -> None:
    # stacks/Pulumi.dev.yaml deploys into 111111111111; its real program runs offline.
    result = CliRunner().invoke(
        app,
        [
            "bootstrap",
            "--account",
            ACCOUNT_A,
            "--region",
            REGION,
            "--role-arn",
            f"arn:aws:iam::{ACCOUNT_A}:role/OrganizationAccountAccessRole",
            "--stack",
            "dev",
            "--github-repo",
            "acme/infra",
            "--github-environment",
            "dev",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout[result.stdout.index("{") :])
    assert report["deployerRole"] == f"arn:aws:iam::{ACCOUNT_A}:role/stockade-deployer"
    policy = _role_policy(_into(base, ACCOUNT_A))
    actions = policy["Statement"][0]["Action"]
    assert {"ec2:*", "ecs:*", "logs:*", "route53resolver:*", "secretsmanager:*"} <= set(actions)


def test_the_cli_refuses_a_deployer_without_stacks_or_with_a_bad_grant(base: boto3.Session) -> None:
    runner = CliRunner()
    no_stacks = runner.invoke(
        app, ["bootstrap", "--account", ACCOUNT_A, "--region", REGION, "--github-repo", "acme/infra"]
    )
    assert no_stacks.exit_code == 2 and "--plan" in no_stacks.output
    self_grant = runner.invoke(
        app, ["bootstrap", "--account", ACCOUNT_A, "--region", REGION, "--grant-account", ACCOUNT_A]
    )
    assert self_grant.exit_code == 2 and "another 12-digit account" in self_grant.output


def test_bootstrap_follows_a_two_account_plan(base: boto3.Session, tmp_path: Any) -> None:
    """dev (111111111111) keeps state centrally, staging (222222222222) in its own account."""
    central = bootstrap(_into(base, CENTRAL), _plan(CENTRAL, deployer=None, grant_accounts=(ACCOUNT_A,)))
    plan = yaml.safe_load((REPO / "stacks" / "rollout.yaml").read_text(encoding="utf-8"))
    plan["waves"] = plan["waves"][:2]  # dev and staging
    staging_bucket = "stockade-staging-state-222222222222"
    plan["backends"] = {
        ACCOUNT_A: central.plan_entry(),
        ACCOUNT_B: {
            "url": f"s3://{staging_bucket}?region={REGION}&awssdk=v2",
            "secretsProvider": f"awskms://alias/staging-state?region={REGION}",
        },
    }
    path = tmp_path / "rollout.yaml"
    path.write_text(yaml.safe_dump(plan), encoding="utf-8")
    runner = CliRunner()
    for account in (ACCOUNT_A, ACCOUNT_B):
        result = runner.invoke(
            app,
            [
                "bootstrap",
                *("--account", account, "--region", REGION, "--plan", str(path)),
                *("--role-arn", f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"),
                *("--management-principal", MANAGER, "--project-dir", str(REPO), "--format", "json"),
            ],
        )
        assert result.exit_code == 0, result.output

    dev_policy = {s["Sid"]: s for s in _role_policy(_into(base, ACCOUNT_A))["Statement"]}
    central_bucket = f"arn:aws:s3:::{BootstrapPlan.default_bucket_name(CENTRAL, REGION)}"
    assert central_bucket in dev_policy["StateBucket"]["Resource"]
    assert central.key_arn in dev_policy["StateKey"]["Resource"]
    staging = _into(base, ACCOUNT_B)
    staging_policy = {s["Sid"]: s for s in _role_policy(staging)["Statement"]}
    assert staging_policy["StateBucket"]["Resource"] == [f"arn:aws:s3:::{staging_bucket}"]
    assert staging.client("kms").describe_key(KeyId="alias/staging-state")["KeyMetadata"]["Enabled"]
    # Both deployers may deploy what their stacks declare, and nothing is a wildcard.
    for policy in (dev_policy, staging_policy):
        actions = policy["DesiredStateServices"]["Action"]
        assert "ecs:*" in actions and "*" not in actions
