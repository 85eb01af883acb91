"""IAM building blocks: roles under the permissions boundary, policies that refuse wildcards."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from stockade.json_input import json_input

Statement = Mapping[str, Any]


class WildcardPolicyError(ValueError):
    """A policy statement would allow every action (or every action on everything)."""


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def check_statements(statements: Sequence[Statement]) -> None:
    """Refuse `Action: "*"` anywhere, and any wildcard action (`s3:*`, `s3:Get*`, `iam:Pass?ole`)
    on `Resource: "*"`, before anything is sent.

    Actions are literals in Stockade's code, so this runs at program time, not
    inside an apply, and a bad policy fails `synth` and every test.
    """
    for statement in statements:
        if statement.get("Effect", "Allow") != "Allow":
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        resources = _as_list(statement.get("Resource", []))
        if "NotAction" in statement:
            raise WildcardPolicyError(f"statement {statement.get('Sid')!r} uses NotAction in an Allow")
        for action in actions:
            if action == "*" or (("*" in action or "?" in action) and "*" in resources):
                raise WildcardPolicyError(
                    f"statement {statement.get('Sid')!r} allows {action!r} on {resources!r}"
                )


def policy_document(statements: Sequence[Statement]) -> pulumi.Input[str]:
    """A policy JSON string; statements may hold Outputs (ARNs), resolved deterministically."""
    check_statements(statements)
    document = {"Version": "2012-10-17", "Statement": list(statements)}
    return json_input(document, sort_keys=True)


def service_trust_policy(service: str, account_id: str, source_arn: str | None = None) -> str:
    """Trust one AWS service acting for this account only (confused-deputy guard), and, when
    given, only for sources matching `source_arn`."""
    condition: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": account_id}}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": condition,
                }
            ],
        },
        sort_keys=True,
    )


def ecs_tasks_trust_policy(account_id: str, partition: str, region: str) -> str:
    """Trust ECS tasks of this account only."""
    return service_trust_policy(
        "ecs-tasks.amazonaws.com", account_id, f"arn:{partition}:ecs:{region}:{account_id}:*"
    )


def role_with_policy(
    name: str,
    *,
    trust_policy: str,
    statements: Sequence[Statement],
    permissions_boundary_arn: str | None,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    description: str,
) -> aws.iam.Role:
    """A role with one inline policy; the boundary, when configured, always applies."""
    role = aws.iam.Role(
        name,
        description=description,
        assume_role_policy=trust_policy,
        permissions_boundary=permissions_boundary_arn,
        max_session_duration=3600,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
    if statements:
        aws.iam.RolePolicy(
            f"{name}-policy",
            role=role.id,
            policy=policy_document(statements),
            opts=pulumi.ResourceOptions(parent=role),
        )
    return role
