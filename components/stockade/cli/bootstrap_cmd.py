"""`stockade bootstrap`: an account's state bucket, secrets key and deployer role, idempotently."""

from __future__ import annotations

import json
import re
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockade.cli.common import EXIT_INVALID, ProjectOption, fail, reported_errors

if TYPE_CHECKING:
    from stockade.guardrails.deployer import DeployerRequest, DesiredState
    from stockade.rollout.plan import LoadedPlan


class BootstrapFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


_ACCOUNT = re.compile(r"\d{12}")


def bootstrap(
    account: Annotated[str, typer.Option("--account", help="12-digit account the state backend belongs to.")],
    region: Annotated[str, typer.Option("--region", help="Region of the bucket and the key.")],
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="Role in the target account to assume first.")
    ] = None,
    bucket_name: Annotated[
        str | None,
        typer.Option(
            "--bucket-name",
            help="State bucket name (default: the plan's, else stockade-state-ACCOUNT-REGION).",
        ),
    ] = None,
    key_alias: Annotated[str, typer.Option("--key-alias", help="KMS alias for the secrets key.")] = "",
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile for the base credentials.")
    ] = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--plan",
            help="Rollout plan: the deployer's permissions come from this account's stacks in it, "
            "and its backend entry decides bucket, key and any central backend.",
            dir_okay=False,
        ),
    ] = None,
    stacks: Annotated[
        list[str] | None,
        typer.Option(
            "--stack", help="Stack whose desired state the deployer must be able to deploy (repeat)."
        ),
    ] = None,
    github_repo: Annotated[
        str | None,
        typer.Option("--github-repo", help="OWNER/REPO whose Actions runs may assume the deployer."),
    ] = None,
    github_branch: Annotated[
        list[str] | None, typer.Option("--github-branch", help="Branch allowed to assume it (repeat).")
    ] = None,
    github_environment: Annotated[
        list[str] | None,
        typer.Option("--github-environment", help="GitHub environment allowed to assume it (repeat)."),
    ] = None,
    management_principal: Annotated[
        list[str] | None,
        typer.Option("--management-principal", help="IAM role/user ARN allowed to assume it (repeat)."),
    ] = None,
    grant_account: Annotated[
        list[str] | None,
        typer.Option(
            "--grant-account",
            help="Central backend: let this account's deployer role use the bucket and key.",
        ),
    ] = None,
    deployer_role_name: Annotated[
        str,
        typer.Option("--deployer-role-name", help="Name of the deployer role here and in granted accounts."),
    ] = "stockade-deployer",
    workload_boundary_name: Annotated[
        str,
        typer.Option(
            "--workload-boundary-name",
            help="Managed policy every role and user the stacks create must carry as its permissions "
            "boundary (their aws.permissionsBoundaryArn).",
        ),
    ] = "stockade-boundary",
    project_dir: ProjectOption = None,
    output_format: Annotated[BootstrapFormat, typer.Option("--format")] = BootstrapFormat.TABLE,
) -> None:
    """Create (or finish) the state bucket, KMS key and deployer role; print the plan's backend entry."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from stockade.guardrails.bootstrap import (
        DEFAULT_KEY_ALIAS,
        BootstrapError,
        BootstrapPlan,
        assume_role_session,
    )
    from stockade.guardrails.bootstrap import bootstrap as run_bootstrap

    if not _ACCOUNT.fullmatch(account):
        fail(f"--account {account!r} is not a 12-digit AWS account ID", EXIT_INVALID)
    grants = tuple(grant_account or ())
    for grantee in grants:
        if not _ACCOUNT.fullmatch(grantee) or grantee == account:
            fail(
                f"--grant-account {grantee!r} must be another 12-digit account ID "
                "(the backend's own account needs no grant)",
                EXIT_INVALID,
            )
    loaded = _load_plan(plan, project_dir) if plan is not None else None
    planned_bucket, planned_alias, central = _planned_backend(loaded, account, region)
    alias = key_alias or planned_alias or DEFAULT_KEY_ALIAS
    if not alias.startswith("alias/") or alias.startswith("alias/aws/"):
        fail(f"--key-alias {alias!r} must start with alias/ and not alias/aws/", EXIT_INVALID)
    deployer = _deployer_request(
        loaded,
        account,
        stacks or [],
        project_dir,
        github_repo=github_repo,
        branches=github_branch,
        environments=github_environment or [],
        principals=management_principal or [],
        role_name=deployer_role_name,
        workload_boundary_name=workload_boundary_name,
        central=central,
    )
    bootstrap_plan = BootstrapPlan(
        account_id=account,
        region=region,
        bucket_name=bucket_name or planned_bucket or BootstrapPlan.default_bucket_name(account, region),
        key_alias=alias,
        grant_accounts=grants,
        grant_role_name=deployer_role_name,
        deployer=deployer,
    )
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        if role_arn:
            session = assume_role_session(session, role_arn, region)
        result = run_bootstrap(session, bootstrap_plan)
    except BootstrapError as exc:
        fail(str(exc), EXIT_INVALID)
    except (BotoCoreError, ClientError) as exc:
        fail(f"AWS refused a call: {exc}")
    if output_format is BootstrapFormat.JSON:
        typer.echo(json.dumps(result.as_json(), indent=2, sort_keys=True))
        return
    width = max(len(i.item) for i in result.items)
    for item in result.items:
        typer.echo(f"  {item.item:<{width}}  {item.status.value:<9}  {item.detail}")
    typer.echo("")
    typer.echo("State backend:    " + result.login_command)
    typer.echo(f"Secrets provider: --secrets-provider='{result.secrets_provider}'")
    typer.echo("Rollout plan entry (stacks/rollout.yaml):")
    typer.echo("  backends:")
    typer.echo(f'    "{account}":')
    for key, value in result.plan_entry().items():
        typer.echo(f'      {key}: "{value}"')
    if deployer is None:
        typer.echo("No deployer role: pass --github-repo and/or --management-principal to create one.")


def _load_plan(path: Path, project_dir: Path | None) -> LoadedPlan:
    from stockade.rollout.plan import load_plan

    root = (project_dir or Path.cwd()).resolve()
    for candidate in (root, *root.parents):
        if (candidate / "Pulumi.yaml").is_file():
            root = candidate
            break
    with reported_errors():
        return load_plan(path, root)
    raise AssertionError("unreachable")  # reported_errors exits on failure


def _planned_backend(
    loaded: LoadedPlan | None, account: str, region: str
) -> tuple[str | None, str | None, tuple[tuple[str, str], ...]]:
    """(bucket, key alias) of this account's own planned backend, and any central backend it writes."""
    from stockade.rollout.backend import parse_awskms, parse_s3_backend

    if loaded is None:
        return None, None, ()
    bucket = alias = None
    central: set[tuple[str, str]] = set()
    for _, _, target in loaded.plan.targets():
        if target.account_id != account:
            continue
        backend = loaded.plan.backend_for(target)
        if backend is None:
            continue
        s3 = parse_s3_backend(backend.url)
        key = parse_awskms(backend.secrets_provider or "")
        if backend.owner(account) != account:
            if s3 is None or key is None or key.account_id is None:
                fail(
                    f"stack '{target.stack}': a central backend must be s3:// with an awskms:// key ARN "
                    "for bootstrap to grant it",
                    EXIT_INVALID,
                )
            partition = key.key_id.split(":")[1]
            central.add((f"arn:{partition}:s3:::{s3.bucket}", key.key_id))
            continue
        if s3 is not None:
            if s3.region not in (None, region):
                fail(
                    f"stack '{target.stack}': the plan's bucket {s3.bucket} is in {s3.region}, "
                    f"not --region {region}",
                    EXIT_INVALID,
                )
            bucket = s3.bucket
        if key is not None and key.key_id.startswith("alias/"):
            alias = key.key_id
    return bucket, alias, tuple(sorted(central))


def _deployer_request(
    loaded: LoadedPlan | None,
    account: str,
    stacks: list[str],
    project_dir: Path | None,
    *,
    github_repo: str | None,
    branches: list[str] | None,
    environments: list[str],
    principals: list[str],
    role_name: str,
    workload_boundary_name: str,
    central: tuple[tuple[str, str], ...],
) -> DeployerRequest | None:
    from stockade.guardrails.deployer import DeployerError, DeployerRequest, GitHubTrust, services_for_types

    if github_repo is None and not principals:
        if branches or environments:
            fail("--github-branch/--github-environment need --github-repo", EXIT_INVALID)
        return None
    names = list(stacks)
    if loaded is not None:
        names += [
            t.stack for _, _, t in loaded.plan.targets() if t.account_id == account and t.stack not in names
        ]
    if not names:
        fail(
            "the deployer's permissions come from the stacks it deploys: pass --plan (this account's stacks "
            "in it) or --stack NAME",
            EXIT_INVALID,
        )
    try:
        github = (
            GitHubTrust(
                github_repo,
                branches=tuple(branches if branches is not None else (["main"] if not environments else [])),
                environments=tuple(environments),
            )
            if github_repo
            else None
        )
        state = _desired_state(names, project_dir)
        request = DeployerRequest(
            services=services_for_types(state.types),
            github=github,
            management_principals=tuple(principals),
            role_name=role_name,
            extra_state=central,
            workload_services=tuple(sorted(state.policy_services)),
            workload_boundary_name=workload_boundary_name,
        )
    except DeployerError as exc:
        fail(str(exc), EXIT_INVALID)
    unbounded = state.unbounded(account, request.workload_boundary_name)
    if unbounded:
        shown = "; ".join(unbounded[:5]) + (f"; and {len(unbounded) - 5} more" if len(unbounded) > 5 else "")
        fail(
            f"the deployer may create roles and users only under the workload boundary "
            f"arn:aws:iam::{account}:policy/{request.workload_boundary_name}, but {shown}. Set "
            f"`stockade:aws` -> permissionsBoundaryArn to that ARN in those stacks (or pass "
            "--workload-boundary-name with the policy name they use); nothing was changed",
            EXIT_INVALID,
        )
    return request


def _desired_state(stacks: list[str], project_dir: Path | None) -> DesiredState:
    """Types, policy services and principals of the stacks' desired state (offline synth)."""
    from stockade import gc_schedule
    from stockade.engine import synthesize
    from stockade.guardrails.deployer import DesiredState

    state = DesiredState()
    with reported_errors():
        for stack in stacks:
            state.add(stack, synthesize(stack, project_dir).resources)
            gc_schedule.between_stacks()
    return state
