"""Clusters, task definitions and services on Fargate, built the same way for every workload.

What never varies lives here: Linux on Fargate with awsvpc networking, hardened
container definitions (containers.py), Container Insights on every cluster (the
no-running-tasks alarms read it), and services in private subnets without a
public IP whose failed deployments roll back on their own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.containers import Container, container_definitions


def insights_cluster(
    name: str,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    cluster_name: str | None = None,
    configuration: Mapping[str, Any] | None = None,
) -> aws.ecs.Cluster:
    """An ECS cluster with Container Insights on."""
    return aws.ecs.Cluster(
        name,
        name=cluster_name,
        settings=[{"name": "containerInsights", "value": "enabled"}],
        configuration=dict(configuration) if configuration is not None else None,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class TaskSpec:
    """What differs between Stockade's Fargate task definitions."""

    family: str
    cpu: int
    memory_mib: int
    containers: Sequence[Container]
    volumes: Sequence[str]
    """Task-scoped volumes (they vanish with the task)."""
    ephemeral_storage_gib: int | None = None
    """None keeps Fargate's default (20 GiB)."""


@dataclass(frozen=True)
class TaskRuntime:
    """Where a task definition's containers run and log, and which roles they use."""

    execution_role_arn: pulumi.Input[str]
    log_group_name: pulumi.Input[str]
    region: str
    cpu_architecture: str = "X86_64"
    task_role_arn: pulumi.Input[str] | None = None
    """None: the task's code gets no AWS credentials at all."""


def task_definition(
    name: str,
    spec: TaskSpec,
    runtime: TaskRuntime,
    *,
    tags: Mapping[str, str],
    parent: pulumi.Resource,
) -> aws.ecs.TaskDefinition:
    return aws.ecs.TaskDefinition(
        name,
        family=spec.family,
        requires_compatibilities=["FARGATE"],
        network_mode="awsvpc",
        cpu=str(spec.cpu),
        memory=str(spec.memory_mib),
        runtime_platform={"operating_system_family": "LINUX", "cpu_architecture": runtime.cpu_architecture},
        ephemeral_storage=(
            {"size_in_gib": spec.ephemeral_storage_gib} if spec.ephemeral_storage_gib is not None else None
        ),
        execution_role_arn=runtime.execution_role_arn,
        task_role_arn=runtime.task_role_arn,
        volumes=[{"name": volume} for volume in spec.volumes],
        container_definitions=container_definitions(
            spec.containers, log_group=runtime.log_group_name, region=runtime.region
        ),
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )


def private_service(
    name: str,
    *,
    cluster_arn: pulumi.Input[str],
    task_definition_arn: pulumi.Input[str],
    desired_count: int,
    subnet_ids: pulumi.Input[Sequence[pulumi.Input[str]]],
    security_group_id: pulumi.Input[str],
    tags: Mapping[str, str],
    parent: pulumi.Resource,
    enable_exec: bool = False,
    single_instance: bool = False,
) -> aws.ecs.Service:
    """A Fargate service in private subnets, no public IP, rolling back a failed deployment.

    By default a deployment starts the new tasks before stopping the old ones (never
    below the running count) and rebalances across AZs. `single_instance` is for a
    program that must never run twice: the old task stops before the new one starts.
    """
    if single_instance:
        rollout: dict[str, Any] = {"deployment_minimum_healthy_percent": 0, "deployment_maximum_percent": 100}
    else:
        rollout = {
            "deployment_minimum_healthy_percent": 100,
            "deployment_maximum_percent": 200,
            "availability_zone_rebalancing": "ENABLED",
        }
    return aws.ecs.Service(
        name,
        cluster=cluster_arn,
        task_definition=task_definition_arn,
        desired_count=desired_count,
        launch_type="FARGATE",
        platform_version="LATEST",
        network_configuration={
            "subnets": subnet_ids,
            "security_groups": [security_group_id],
            "assign_public_ip": False,
        },
        deployment_circuit_breaker={"enable": True, "rollback": True},
        **rollout,
        enable_execute_command=enable_exec,
        enable_ecs_managed_tags=True,
        propagate_tags="SERVICE",
        wait_for_steady_state=False,
        tags=dict(tags),
        opts=pulumi.ResourceOptions(parent=parent),
    )
