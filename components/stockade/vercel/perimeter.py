"""Compose a `target: vercel` stack: the project hosting the integration's webhook Function.

The provider reads `vercel:apiToken` (`pulumi config set --secret vercel:apiToken ...`).
"""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.settings import StackSettings
from stockade.settings.secrets import PulumiSecret, SecretReference

BASE_NAME = "stockade"


def _secret_value(key: str, setting: PulumiSecret | SecretReference | None) -> str:
    if not isinstance(setting, PulumiSecret) or setting.value is None:
        raise pulumi.RunError(f"stockade:{key}: the secret's value is not available to the program")
    return setting.value


def build_vercel_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.vercel.deployment import FunctionDirectoryError, function_files
    from stockade.vercel.function_project import FunctionProject
    from stockade.vercel.sdk import VercelExtraMissingError

    vercel = settings.sandboxes.vercel
    assert vercel is not None and settings.sandboxes.environment_id is not None  # enforced by validation
    names = vercel.env_names
    repository = vercel.git_repository
    plain = {names.environment_id: settings.sandboxes.environment_id}
    if vercel.sandbox_allowed_domains:
        plain[names.sandbox_allowed_domains] = ",".join(sorted(vercel.sandbox_allowed_domains))
    if vercel.sandbox_image:
        plain[names.sandbox_image] = vercel.sandbox_image
    sensitive = {
        names.environment_key: _secret_value("sandboxes.environmentKey", settings.sandboxes.environment_key),
        names.webhook_signing_key: _secret_value(
            "sandboxes.vercel.webhookSigningKey", vercel.webhook_signing_key
        ),
    }
    try:
        project = FunctionProject(
            f"{BASE_NAME}-vercel",
            {
                "project_name": vercel.project_name,
                "team_id": vercel.team_id,
                "framework": vercel.framework,
                "node_version": vercel.node_version,
                "root_directory": vercel.root_directory,
                "git_repository": (
                    {
                        "type": repository.type.value,
                        "repo": repository.repo,
                        "production_branch": repository.production_branch,
                    }
                    if repository is not None
                    else None
                ),
                "function_region": vercel.function_region,
                "production_domain": vercel.production_domain,
                "webhook_url": vercel.webhook_url,
                "plain_environment": plain,
                "sensitive_environment": sensitive,
                "function_directory": vercel.function_directory,
                "function_files": (
                    function_files(vercel.function_directory) if vercel.function_directory else None
                ),
            },
        )
    except (VercelExtraMissingError, FunctionDirectoryError) as exc:
        raise pulumi.RunError(str(exc)) from None
    return {
        "sandboxProvider": "vercel",
        "vercelProjectId": project.project_id,
        "webhookUrl": project.webhook_url,
    }
