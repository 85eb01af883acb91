"""`stockade audit`: the deployed account against the perimeter's invariants (read-only)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from stockade.cli.common import EXIT_INVALID, ProjectOption, StackOption, fail, reported_errors


class AuditFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def audit(
    stack: StackOption,
    project_dir: ProjectOption = None,
    profile: Annotated[str | None, typer.Option("--profile", help="AWS profile to read with.")] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region (default: the stack's aws:region).")
    ] = None,
    output_format: Annotated[
        AuditFormat, typer.Option("--format", help="Output format.")
    ] = AuditFormat.TABLE,
) -> None:
    """Check ingress, public IPs, buckets, log groups, KMS rotation and replicas; exit 1 on findings."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from stockade.engine.project import find_project_dir
    from stockade.guardrails.audit.discovery import expectations_from_settings
    from stockade.guardrails.audit.model import render_table
    from stockade.guardrails.audit.runner import AuditError, run_audit
    from stockade.settings.load import read_stack_file, settings_from_stack_file

    with reported_errors():
        root = find_project_dir(project_dir)
        settings = settings_from_stack_file(read_stack_file(root, stack))
        try:
            expected = expectations_from_settings(stack, settings, region)
            session = boto3.Session(profile_name=profile, region_name=expected.region or None)
            report = run_audit(session, expected)
        except (AuditError, ValueError) as exc:
            fail(str(exc), EXIT_INVALID)
        except (BotoCoreError, ClientError) as exc:
            fail(f"AWS refused or failed a read: {exc}", EXIT_INVALID)
        typer.echo(report.to_json() if output_format is AuditFormat.JSON else render_table(report), nl=False)
        raise typer.Exit(report.exit_code)
