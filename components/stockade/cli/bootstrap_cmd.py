"""`stockade bootstrap`: a per-account Pulumi state bucket and secrets key, idempotently."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated

import typer

from stockade.cli.common import EXIT_INVALID, fail


class BootstrapFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def bootstrap(
    account: Annotated[str, typer.Option("--account", help="12-digit account the state backend belongs to.")],
    region: Annotated[str, typer.Option("--region", help="Region of the bucket and the key.")],
    role_arn: Annotated[
        str | None, typer.Option("--role-arn", help="Role in the target account to assume first.")
    ] = None,
    bucket_name: Annotated[
        str | None,
        typer.Option("--bucket-name", help="State bucket name (default: stockade-state-ACCOUNT-REGION)."),
    ] = None,
    key_alias: Annotated[str, typer.Option("--key-alias", help="KMS alias for the secrets key.")] = "",
    profile: Annotated[
        str | None, typer.Option("--profile", help="AWS profile for the base credentials.")
    ] = None,
    output_format: Annotated[BootstrapFormat, typer.Option("--format")] = BootstrapFormat.TABLE,
) -> None:
    """Create (or finish) the state bucket and KMS key; print login and secrets-provider values."""
    import re

    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from stockade.guardrails.bootstrap import (
        DEFAULT_KEY_ALIAS,
        BootstrapError,
        BootstrapPlan,
        assume_role_session,
    )
    from stockade.guardrails.bootstrap import bootstrap as run_bootstrap

    if not re.fullmatch(r"\d{12}", account):
        fail(f"--account {account!r} is not a 12-digit AWS account ID", EXIT_INVALID)
    alias = key_alias or DEFAULT_KEY_ALIAS
    if not alias.startswith("alias/") or alias.startswith("alias/aws/"):
        fail(f"--key-alias {alias!r} must start with alias/ and not alias/aws/", EXIT_INVALID)
    plan = BootstrapPlan(
        account_id=account,
        region=region,
        bucket_name=bucket_name or BootstrapPlan.default_bucket_name(account, region),
        key_alias=alias,
    )
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        if role_arn:
            session = assume_role_session(session, role_arn, region)
        result = run_bootstrap(session, plan)
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
    typer.echo(f"  e.g. pulumi stack init <stack> --secrets-provider='{result.secrets_provider}'")
