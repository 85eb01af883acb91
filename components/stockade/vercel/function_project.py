"""`stockade:vercel:FunctionProject`: the Vercel project that hosts the integration's webhook Function.

Vercel's pattern (docs/vendor-interface.md §3): a Function receives Anthropic's
`session.status_run_started` webhook and starts one Vercel Sandbox microVM per
session; the environment key stays in the Function and reaches the Sandbox only as a
header injected by the Sandbox's `networkPolicy`. Stockade provisions the project and
its variables and, given the Function's files (stockade.vercel.deployment), a production
deployment of them (providers/vercel-function is Stockade's Function). It cannot subscribe the
Anthropic webhook (not a Vercel resource): a manual step in docs/providers.md.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import NotRequired, TypedDict

import pulumi

from stockade.vercel.sdk import vercel_sdk

# Production only: preview deployments build unreviewed branches and must not hold the key.
TARGETS = ["production"]


class GitRepository(TypedDict):
    """The repository Vercel deploys from."""

    type: str
    """`github`, `gitlab` or `bitbucket`."""

    repo: str
    """`owner/name`."""

    production_branch: str
    """Branch whose commits become production deployments."""


class FunctionProjectArgs(TypedDict):
    """Inputs of a FunctionProject."""

    project_name: str
    """Vercel project name."""

    team_id: str | None
    """Team owning the project, or None for the provider's default team."""

    framework: str
    """Framework preset."""

    node_version: str
    """Node.js runtime (22.x or later)."""

    root_directory: str | None
    """App directory inside the repository."""

    git_repository: GitRepository | None
    """Connected repository, or None to deploy with the Vercel CLI."""

    function_region: str | None
    """Function region, or None for Vercel's default."""

    production_domain: str | None
    """Custom production hostname, or None."""

    webhook_url: str
    """Where Anthropic's webhook must point (exported for the manual subscription step)."""

    plain_environment: Mapping[str, str]
    """Non-secret variables (IDs, the egress allowlist)."""

    sensitive_environment: Mapping[str, pulumi.Input[str]]
    """Secret variables; stored as Vercel *sensitive* variables and wrapped as Pulumi secrets."""

    function_directory: NotRequired[str | None]
    """Project-relative directory of the Function's sources, deployed to production; None
    deploys nothing (a connected repository or `vercel deploy` does)."""

    function_files: NotRequired[Mapping[str, str] | None]
    """`{path: "<size>~<sha1>"}` of the files under `function_directory`."""


def _resource_key(variable: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", variable.lower()).strip("-")


class FunctionProject(pulumi.ComponentResource):
    """A Vercel project with the Function's variables, deployment protection and OIDC on."""

    project_id: pulumi.Output[str]
    webhook_url: pulumi.Output[str]

    def __init__(
        self, name: str, args: FunctionProjectArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        vercel = vercel_sdk()
        super().__init__("stockade:vercel:FunctionProject", name, None, opts)
        team = args["team_id"]
        repository = args["git_repository"]
        project = vercel.Project(
            f"{name}-project",
            name=args["project_name"],
            team_id=team,
            framework=args["framework"],
            node_version=args["node_version"],
            root_directory=args["root_directory"],
            serverless_function_region=args["function_region"],
            git_repository=dict(repository) if repository is not None else None,
            # @vercel/sandbox authenticates with the Function's VERCEL_OIDC_TOKEN, so no
            # long-lived Vercel token is stored anywhere.
            oidc_token_config={"issuer_mode": "team"},
            # Previews sit behind Vercel login; production must stay reachable by
            # Anthropic's webhook, which authenticates with its signature instead.
            vercel_authentication={"deployment_type": "standard_protection_new"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        child = pulumi.ResourceOptions(parent=project)
        variables = []
        for key, value in sorted(args["plain_environment"].items()):
            variable = vercel.ProjectEnvironmentVariable(
                f"{name}-env-{_resource_key(key)}",
                project_id=project.id,
                team_id=team,
                key=key,
                value=value,
                sensitive=False,
                targets=TARGETS,
                opts=child,
            )
            variables.append(variable)
        for key, secret in sorted(args["sensitive_environment"].items()):
            variable = vercel.ProjectEnvironmentVariable(
                f"{name}-env-{_resource_key(key)}",
                project_id=project.id,
                team_id=team,
                key=key,
                value=pulumi.Output.secret(secret),
                # Sensitive: Vercel never shows or returns the value after it is written.
                sensitive=True,
                targets=TARGETS,
                opts=child,
            )
            variables.append(variable)
        directory, files = args.get("function_directory"), args.get("function_files")
        if directory is not None and files:
            # After the variables, so the first build already sees them.
            vercel.Deployment(
                f"{name}-deployment",
                project_id=project.id,
                team_id=team,
                files=dict(files),
                path_prefix=directory,
                production=True,
                opts=pulumi.ResourceOptions(parent=project, depends_on=variables),
            )
        if args["production_domain"] is not None:
            vercel.ProjectDomain(
                f"{name}-domain",
                project_id=project.id,
                team_id=team,
                domain=args["production_domain"],
                opts=child,
            )
        self.project_id = project.id
        self.webhook_url = pulumi.Output.from_input(args["webhook_url"])
        self.register_outputs({"project_id": self.project_id, "webhook_url": self.webhook_url})
