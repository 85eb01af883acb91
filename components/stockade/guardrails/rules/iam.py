"""IAM rules: no admin wildcards, no anonymous trust, the permissions boundary on every role."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, get, is_set, items, parse_json
from stockade.guardrails.rule import Level, Rule, facts
from stockade.guardrails.rules import tokens

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs

ADMIN_POLICY_NAMES = frozenset({"AdministratorAccess", "PowerUserAccess", "IAMFullAccess"})


def _list(value: Any) -> list[Any]:
    return [v for v in items(value) if v is not MISSING]


def statement_problems(document: Any, where: str) -> Iterator[str]:
    """What is too broad in one identity policy document."""
    try:
        parsed = parse_json(document)
    except ValueError:
        yield f"{where}: not readable JSON, so it cannot be checked"
        return
    for index, statement in enumerate(_list(get(parsed, "Statement"))):
        if get(statement, "Effect") != "Allow":
            continue
        sid = get(statement, "Sid")
        name = f"{where} statement {sid if isinstance(sid, str) else index}"
        if get(statement, "NotAction") is not MISSING:
            yield f"{name}: NotAction in an Allow grants everything not listed"
        actions = [a for a in _list(get(statement, "Action")) if isinstance(a, str)]
        resources = _list(get(statement, "Resource"))
        any_resource = "*" in resources or get(statement, "NotResource") is not MISSING
        for action in actions:
            if action in ("*", "*:*"):
                yield f"{name}: allows every action ({action})"
            elif "*" in action and any_resource:
                yield f"{name}: allows wildcard action {action} on every resource"


def trust_problems(document: Any) -> Iterator[str]:
    """An assume-role policy that lets anyone assume the role."""
    try:
        parsed = parse_json(document)
    except ValueError:
        yield "assumeRolePolicy is not readable JSON"
        return
    for statement in _list(get(parsed, "Statement")):
        if get(statement, "Effect") != "Allow" or get(statement, "Condition") is not MISSING:
            continue
        principal = get(statement, "Principal")
        if principal == "*" or "*" in _list(get(principal, "AWS")):
            yield "assumeRolePolicy lets any principal assume the role without a condition"


def check_least_privilege(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    if kind in tokens.IAM_POLICY_DOCUMENTS:
        # Mapping.get reads through the engine's proxy: an unknown document raises, as it should.
        document = props.get(tokens.IAM_POLICY_DOCUMENTS[kind], "{}")
        for problem in statement_problems(document, "policy"):
            report(problem, None)
    elif kind == tokens.IAM_ROLE:
        for inline in items(get(props, "inlinePolicies")):
            document = get(inline, "policy")
            if document in (MISSING, UNKNOWN):
                continue
            for problem in statement_problems(document, f"inline policy {get(inline, 'name')}"):
                report(problem, None)
        if "assumeRolePolicy" in props:
            for problem in trust_problems(props["assumeRolePolicy"]):
                report(problem, None)
        for arn in items(get(props, "managedPolicyArns")):
            _attachment(arn, report)
    elif kind in tokens.IAM_ATTACHMENTS:
        _attachment(get(props, "policyArn"), report)


def _attachment(arn: Any, report: ReportViolation) -> None:
    if isinstance(arn, str) and ":iam::aws:policy/" in arn:
        name = arn.rsplit("/", 1)[-1]
        if name in ADMIN_POLICY_NAMES or name.endswith("FullAccess"):
            report(f"attaches the AWS-managed policy {name}", None)


LEAST_PRIVILEGE = Rule(
    name="iam-no-wildcards",
    description=(
        "IAM policies never allow `*` (or `*:*`), never a wildcard action on every resource, never "
        "NotAction; roles trust no anonymous principal and attach no admin or *FullAccess policy."
    ),
    level=Level.MANDATORY,
    remediation=(
        'List the exact actions and scope Resource to ARNs; actions that only accept Resource "*" '
        "(e.g. cloudwatch:PutMetricData) must be named exactly, ideally with a condition."
    ),
    resource_check=check_least_privilege,
)


def check_permissions_boundary(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != tokens.IAM_ROLE:
        return
    boundary = facts(args).permissions_boundary_arn
    if boundary is None:
        args.not_applicable("the stack configures no permissions boundary (aws.permissionsBoundaryArn)")
    actual = get(args.props, "permissionsBoundary")
    if actual is UNKNOWN:
        return
    if not is_set(actual):
        report(f"role has no permissions boundary; the stack requires {boundary}", None)
    elif actual != boundary:
        report(f"role's permissions boundary is {actual}, not the stack's {boundary}", None)


PERMISSIONS_BOUNDARY = Rule(
    name="iam-permissions-boundary",
    description="When the stack configures a permissions boundary, every role carries exactly that boundary.",
    level=Level.MANDATORY,
    remediation="Pass aws.permissionsBoundaryArn as each role's permissionsBoundary (shared/iam.py does).",
    resource_check=check_permissions_boundary,
    facts=("permissions_boundary_arn",),
)

RULES = (LEAST_PRIVILEGE, PERMISSIONS_BOUNDARY)
