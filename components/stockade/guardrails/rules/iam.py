"""IAM rules: no admin wildcards, no anonymous trust, the permissions boundary on every role,
and no object writes outside the writer's own task prefix."""

from __future__ import annotations

import re
from collections.abc import Iterator
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, get, is_set, items, parse_json
from stockade.guardrails.rule import Level, Rule, allowed, facts
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

# Actions that create or overwrite objects, matched the way IAM matches an Action pattern.
_OBJECT_WRITES = ("s3:PutObject", "s3:CopyObject", "s3:RestoreObject")
# The only object-write grant a stack's roles need: a sandbox writing under its own task, in
# one named bucket (a wildcard before the prefix would match it anywhere in a key).
OWN_TASK_OBJECTS = re.compile(r"^arn:[a-z-]+:s3:::[a-z0-9.-]+/tasks/\$\{aws:userid\}/")


def _writes_objects(action: str) -> bool:
    pattern = action.lower()
    return any(fnmatchcase(write.lower(), pattern) for write in _OBJECT_WRITES)


def shared_write_problems(document: Any, where: str) -> Iterator[str]:
    """Object writes a policy allows outside the caller's own `tasks/${aws:userid}/` prefix."""
    try:
        parsed = parse_json(document)
    except ValueError:
        return  # LEAST_PRIVILEGE already reports an unreadable document
    for index, statement in enumerate(_list(get(parsed, "Statement"))):
        if get(statement, "Effect") != "Allow":
            continue
        actions = [a for a in _list(get(statement, "Action")) if isinstance(a, str)]
        if not any(_writes_objects(a) for a in actions):
            continue
        sid = get(statement, "Sid")
        name = f"{where} statement {sid if isinstance(sid, str) else index}"
        if get(statement, "NotResource") is not MISSING:
            yield f"{name}: allows object writes with NotResource, which covers every prefix"
        for resource in _list(get(statement, "Resource")):
            if isinstance(resource, str) and not OWN_TASK_OBJECTS.match(resource):
                yield f"{name}: allows object writes on {resource}, outside the writer's own task prefix"


def check_own_writes_only(args: ResourceValidationArgs, report: ReportViolation) -> None:
    props, kind = args.props, args.resource_type
    documents: list[tuple[Any, str]] = []
    if kind in tokens.IAM_POLICY_DOCUMENTS:
        document = get(props, tokens.IAM_POLICY_DOCUMENTS[kind])
        documents.append((document, "policy"))
    elif kind == tokens.IAM_ROLE:
        documents += [
            (get(inline, "policy"), f"inline policy {get(inline, 'name')}")
            for inline in items(get(props, "inlinePolicies"))
        ]
    shared_allowed = facts(args).task_scoping_off_allowed
    for document, where in documents:
        if document in (MISSING, UNKNOWN):
            continue
        for problem in shared_write_problems(document, where):
            if shared_allowed:
                allowed(report, f"{problem} (sandboxes.taskScopedAccess is false)")
            else:
                report(problem, None)


OWN_WRITES_ONLY = Rule(
    name="sandbox-writes-only-its-own-artifacts",
    description=(
        "No role may create or overwrite S3 objects outside its own task's prefix "
        "(`tasks/${aws:userid}/`), so no session can write another session's artifacts."
    ),
    level=Level.MANDATORY,
    remediation=(
        "Keep sandboxes.taskScopedAccess: true (the default), which scopes the sandbox task "
        "role's s3:PutObject to tasks/${aws:userid}/*; or declare sandboxes.taskScopedAccess: false."
    ),
    resource_check=check_own_writes_only,
    facts=("task_scoping_off_allowed",),
    allowed_by="sandboxes.taskScopedAccess: false",
)

RULES = (LEAST_PRIVILEGE, PERMISSIONS_BOUNDARY, OWN_WRITES_ONLY)
