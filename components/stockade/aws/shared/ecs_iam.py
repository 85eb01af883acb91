"""What an ECS execution role needs, written once for every Stockade task.

ECS itself (not the code in the task) pulls the image, opens the log stream and
resolves the task's `secrets`. Each task's execution role gets exactly those
grants, scoped to its own log group, secrets and repositories; the stack key is
usable only through Secrets Manager.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi

from stockade.aws.shared.arns import arn_concat
from stockade.aws.shared.iam import Statement

_ECR_IMAGE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/"
    r"(?P<repository>[a-z0-9._/-]+?)(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?$"
)


def ecr_repository_arn(image: str, partition: str) -> str | None:
    """The ECR repository an image reference pulls from, or None when it is not ECR."""
    match = _ECR_IMAGE.match(image)
    if match is None:
        return None
    return f"arn:{partition}:ecr:{match['region']}:{match['account']}:repository/{match['repository']}"


def via_service(service: str, region: str) -> dict[str, dict[str, str]]:
    """Condition: a KMS grant usable only when `service` calls KMS on the caller's behalf."""
    return {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}


def ecr_pull_statements(repository_arns: Sequence[pulumi.Input[str]]) -> list[Statement]:
    """Log in to ECR and pull from exactly `repository_arns` (nothing for other registries)."""
    if not repository_arns:
        return []
    return [
        {
            # GetAuthorizationToken has no resource type; it only mints a registry login.
            "Sid": "EcrLogin",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
        {
            "Sid": "PullTheImage",
            "Effect": "Allow",
            "Action": ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"],
            "Resource": list(repository_arns),
        },
    ]


def execution_statements(
    *,
    region: str,
    log_group_arn: pulumi.Input[str],
    secret_arns: Sequence[pulumi.Input[str]] = (),
    kms_key_arn: pulumi.Input[str] | None = None,
    repository_arns: Sequence[pulumi.Input[str]] = (),
) -> list[Statement]:
    """Write the task's log group, read its secrets (decrypting through Secrets Manager only),
    pull its images."""
    statements: list[Statement] = [
        {
            "Sid": "WriteTaskLogs",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [arn_concat(log_group_arn, ":*")],
        }
    ]
    if secret_arns:
        if kms_key_arn is None:
            raise ValueError("reading secrets needs the key they are encrypted with")
        statements += [
            {
                "Sid": "ReadTaskSecrets",
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                "Resource": list(secret_arns),
            },
            {
                "Sid": "DecryptTaskSecrets",
                "Effect": "Allow",
                "Action": ["kms:Decrypt"],
                "Resource": [kms_key_arn],
                "Condition": via_service("secretsmanager", region),
            },
        ]
    return statements + ecr_pull_statements(repository_arns)
