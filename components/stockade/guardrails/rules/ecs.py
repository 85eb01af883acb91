"""ECS service rules: no ECS Exec unless declared, rollback on failed deploys, replicas in prod."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stockade.guardrails.props import UNKNOWN, as_bool, as_int, get
from stockade.guardrails.rule import Level, Rule, allowed, facts
from stockade.guardrails.rules import tokens

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs

PROD_MIN_REPLICAS = 2


def check_no_ecs_exec(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.ECS_SERVICE:
        return
    if as_bool(get(args.props, "enableExecuteCommand")) is not True:
        return
    message = "enableExecuteCommand is true: operators can open a shell in its tasks"
    # sandboxes.enableExec speaks for the sandbox fleet only, never for the tunnel gateway.
    if facts(args).ecs_exec_allowed and tokens.under_component(args.urn, tokens.SANDBOX_FLEET_COMPONENTS):
        allowed(report, f"{message} (sandboxes.enableExec is true)")
    else:
        report(message, None)


NO_ECS_EXEC = Rule(
    name="no-ecs-exec",
    description="No ECS service allows ECS Exec, except the sandbox fleet when the stack declares it.",
    level=Level.MANDATORY,
    remediation="Set enableExecuteCommand: false; to debug sandboxes, declare sandboxes.enableExec: true.",
    resource_check=check_no_ecs_exec,
    facts=("ecs_exec_allowed",),
    allowed_by="sandboxes.enableExec: true",
)


def check_circuit_breaker(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.ECS_SERVICE:
        return
    breaker = get(args.props, "deploymentCircuitBreaker")
    if breaker is UNKNOWN:
        return
    if as_bool(get(breaker, "enable")) is not True or as_bool(get(breaker, "rollback")) is not True:
        report("deploymentCircuitBreaker is not enabled with rollback", None)


CIRCUIT_BREAKER = Rule(
    name="ecs-circuit-breaker",
    description="ECS services roll back a deployment whose tasks fail to start.",
    level=Level.ADVISORY,
    remediation="Set deploymentCircuitBreaker: {enable: true, rollback: true}.",
    resource_check=check_circuit_breaker,
)


def check_prod_replicas(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.ECS_SERVICE:
        return
    if not facts(args).production:
        args.not_applicable("replica counts are checked in prod stacks only")
    desired = as_int(get(args.props, "desiredCount"))
    if desired is not None and desired < PROD_MIN_REPLICAS:
        report(f"desiredCount is {desired}; a prod service runs at least {PROD_MIN_REPLICAS} tasks", None)


PROD_REPLICAS = Rule(
    name="prod-replicas",
    description="In prod, ECS services run at least two tasks (spread over availability zones).",
    level=Level.ADVISORY,
    remediation="Raise tunnel.replicas / sandboxes.pollerReplicas to 2 or more.",
    resource_check=check_prod_replicas,
    facts=("production",),
)

RULES = (NO_ECS_EXEC, CIRCUIT_BREAKER, PROD_REPLICAS)
