"""The deployer role `stockade bootstrap` creates: who may assume it, and what it may do.

Its permissions are derived from the resource types in the stacks' desired state (the
offline synth), one IAM service per Pulumi module, instead of `AdministratorAccess`. A
permissions boundary caps the role at the same services and forbids editing the role or its
boundary, attaching AdministratorAccess, and deleting the state it writes.

Every Stockade AWS stack creates IAM roles, and a role is a way out: a deployer that could
create one without limits could run code as it with any permission. So the deployer may
create roles and users only under the **workload boundary** (`iam:PermissionsBoundary` on
`iam:CreateRole`, `iam:CreateUser` and the `Put*PermissionsBoundary` calls), may never remove
a boundary, and may not edit either boundary policy. The workload boundary allows the same
services (and any service the desired state's own IAM policies name) and carries the same
denials, so a role the deployer made cannot make an unbounded one either. Stacks attach it
through `aws.permissionsBoundaryArn`; `stockade bootstrap` refuses a desired state whose roles
name another boundary, or none, before it changes anything.

Trust is either GitHub Actions' OIDC identity, narrowed by repository, branch and
environment, or named principals in a management account, or both.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from botocore.exceptions import ClientError

from stockade.guardrails.bootstrap_model import ItemResult, Status, client_code

GITHUB_OIDC_HOST = "token.actions.githubusercontent.com"
GITHUB_AUDIENCE = "sts.amazonaws.com"
# GitHub's OIDC issuer certificate thumbprint. IAM no longer checks it for this provider
# (it trusts the issuer's CA itself) but the API still requires one to be sent.
GITHUB_THUMBPRINT = "6938fd4d98bab03faadb97b34396831e3780aea1"
DEFAULT_ROLE_NAME = "stockade-deployer"
DEFAULT_WORKLOAD_BOUNDARY = "stockade-boundary"
"""The boundary every role and user a stack creates must carry (`aws.permissionsBoundaryArn`)."""
POLICY_NAME = "stockade-deploy"
ADMIN_POLICY_SUFFIX = ":iam::aws:policy/AdministratorAccess"

_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_REF = re.compile(r"^[A-Za-z0-9_./*-]{1,255}$")
_PRINCIPAL = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov):(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$"
)

# Pulumi module -> IAM service prefixes, where they differ. `cloudwatch` holds log, event and
# metric resources, which IAM splits into three services (see _services_for).
_MODULE_SERVICES: dict[str, tuple[str, ...]] = {
    "vpc": ("ec2",),
    "ec2transitgateway": ("ec2",),
    "lb": ("elasticloadbalancing",),
    "alb": ("elasticloadbalancing",),
    "efs": ("elasticfilesystem",),
    "cloudtrail": ("cloudtrail",),
    "networkfirewall": ("network-firewall",),
    "appautoscaling": ("application-autoscaling",),
    "servicediscovery": ("servicediscovery", "route53"),
    "cfg": ("config",),
}
# Read-only calls the AWS provider makes whatever the program declares.
_PROVIDER_BASELINE = ("sts:GetCallerIdentity", "ec2:DescribeRegions", "ec2:DescribeAvailabilityZones")


class DeployerError(Exception):
    """The deployer's inputs cannot make a safe role (no trust, bad repository name, ...)."""


def services_for_types(types: Iterable[str]) -> tuple[str, ...]:
    """IAM service prefixes for the AWS resource types in a desired state (other providers add none)."""
    services: set[str] = set()
    for token in types:
        provider, _, rest = token.partition(":")
        if provider != "aws" or not rest:
            continue  # tls:, random:, stockade: components: nothing in AWS
        module_path = rest.partition(":")[0]
        module, _, type_name = module_path.partition("/")
        if module == "cloudwatch":
            if type_name.startswith("log"):
                services.add("logs")
            elif type_name.startswith("event"):
                services.add("events")
            else:
                services.add("cloudwatch")
        elif module == "route53" and type_name.startswith("resolver"):
            services.add("route53resolver")
        else:
            services.update(_MODULE_SERVICES.get(module, (module,)))
    return tuple(sorted(services))


_PRINCIPAL_TYPES = ("aws:iam/role:Role", "aws:iam/user:User")
_POLICY_TYPES = (
    "aws:iam/policy:Policy",
    "aws:iam/rolePolicy:RolePolicy",
    "aws:iam/userPolicy:UserPolicy",
    "aws:iam/groupPolicy:GroupPolicy",
)


@dataclass
class DesiredState:
    """What bootstrap needs from the stacks' offline synth: resource types, the services their own
    IAM policies name, and every role or user with the boundary it asks for."""

    types: set[str] = field(default_factory=set)
    policy_services: set[str] = field(default_factory=set)
    principals: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(stack, resource name, its `permissionsBoundary` or None)."""

    def add(self, stack: str, resources: Iterable[Any]) -> None:
        for resource in resources:
            self.types.add(resource.type)
            inputs = resource.inputs if isinstance(resource.inputs, dict) else {}
            if resource.type in _PRINCIPAL_TYPES:
                boundary = inputs.get("permissionsBoundary")
                boundary = boundary if isinstance(boundary, str) and boundary else None
                self.principals.append((stack, resource.name, boundary))
                for inline in inputs.get("inlinePolicies") or []:
                    if isinstance(inline, dict):
                        self.policy_services |= _action_services(inline.get("policy"))
            elif resource.type in _POLICY_TYPES:
                self.policy_services |= _action_services(inputs.get("policy"))

    def unbounded(self, account_id: str, boundary_name: str) -> list[str]:
        """Roles and users whose boundary is not the account's workload boundary, described."""
        wanted = re.compile(rf"arn:[a-z-]+:iam::{account_id}:policy/{re.escape(boundary_name)}")
        return [
            f"stack '{stack}': {name} has "
            + (f"the boundary {boundary}" if boundary else "no permissions boundary")
            for stack, name, boundary in self.principals
            if boundary is None or not wanted.fullmatch(boundary)
        ]


def _action_services(document: Any) -> set[str]:
    """Service prefixes of the actions an IAM policy document allows or denies."""
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return set()  # an unknown value offline: its services come from the resource types
    statements = document.get("Statement", []) if isinstance(document, dict) else []
    services: set[str] = set()
    for statement in statements if isinstance(statements, list) else [statements]:
        actions = statement.get("Action", []) if isinstance(statement, dict) else []
        for action in [actions] if isinstance(actions, str) else actions:
            if isinstance(action, str) and ":" in action:
                service = action.split(":", 1)[0].lower()
                if re.fullmatch(r"[a-z0-9-]+", service):
                    services.add(service)
    return services


@dataclass(frozen=True)
class GitHubTrust:
    """Which GitHub Actions runs may assume the role (the `sub` claim of their OIDC token)."""

    repository: str
    branches: tuple[str, ...] = ("main",)
    environments: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not _REPO.match(self.repository):
            raise DeployerError(f"--github-repo {self.repository!r} is not OWNER/REPO")
        for ref in (*self.branches, *self.environments):
            if not _REF.match(ref) or ref in ("*", "**"):
                raise DeployerError(
                    f"{ref!r} is not a branch or environment name (a bare wildcard would trust every run)"
                )
        if not self.branches and not self.environments:
            raise DeployerError("--github-repo needs at least one --github-branch or --github-environment")

    def subjects(self) -> list[str]:
        # A job that names an environment gets `environment:` as its subject instead of the
        # branch; the environment's deployment-branch rules then decide which branches reach it.
        return [f"repo:{self.repository}:ref:refs/heads/{b}" for b in self.branches] + [
            f"repo:{self.repository}:environment:{e}" for e in self.environments
        ]


@dataclass(frozen=True)
class DeployerRequest:
    """What the operator asked for; checked before any AWS call."""

    services: tuple[str, ...]
    github: GitHubTrust | None = None
    management_principals: tuple[str, ...] = ()
    role_name: str = DEFAULT_ROLE_NAME
    max_session_seconds: int = 3600
    extra_state: tuple[tuple[str, str], ...] = field(default=())
    """(bucket ARN, key ARN) of a central backend in another account this role also writes."""
    workload_services: tuple[str, ...] = ()
    """IAM services the desired state's own policies name (what its roles do at run time)."""
    workload_boundary_name: str = DEFAULT_WORKLOAD_BOUNDARY

    def __post_init__(self) -> None:
        if self.github is None and not self.management_principals:
            raise DeployerError(
                "the deployer role needs someone to trust: pass --github-repo (with --github-branch or "
                "--github-environment) and/or --management-principal ARN"
            )
        for principal in self.management_principals:
            if not _PRINCIPAL.match(principal):
                raise DeployerError(
                    f"--management-principal {principal!r} is not an IAM role, user or account-root ARN"
                )
        if not self.services:
            raise DeployerError(
                "the desired state has no AWS resources, so the deployer would get no permissions; "
                "check that --stack names this account's AWS stacks"
            )
        if not re.fullmatch(r"[\w+=,.@-]{1,64}", self.role_name):
            raise DeployerError(f"--deployer-role-name {self.role_name!r} is not a valid IAM role name")
        if not re.fullmatch(r"[\w+=,.@-]{1,128}", self.workload_boundary_name) or (
            self.workload_boundary_name == f"{self.role_name}-boundary"
        ):
            raise DeployerError(
                f"--workload-boundary-name {self.workload_boundary_name!r} is not a valid IAM policy name "
                "distinct from the deployer's own boundary"
            )

    def spec(
        self, account_id: str, partition: str, state_bucket_arn: str, state_key_arn: str
    ) -> DeployerSpec:
        return DeployerSpec(self, account_id, partition, state_bucket_arn, state_key_arn)


@dataclass(frozen=True)
class DeployerSpec:
    """The request, placed in an account next to its state bucket and key."""

    request: DeployerRequest
    account_id: str
    partition: str
    state_bucket_arn: str
    state_key_arn: str

    @property
    def services(self) -> tuple[str, ...]:
        return self.request.services

    @property
    def github(self) -> GitHubTrust | None:
        return self.request.github

    @property
    def management_principals(self) -> tuple[str, ...]:
        return self.request.management_principals

    @property
    def role_name(self) -> str:
        return self.request.role_name

    @property
    def max_session_seconds(self) -> int:
        return self.request.max_session_seconds

    @property
    def extra_state(self) -> tuple[tuple[str, str], ...]:
        return self.request.extra_state

    @property
    def role_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.role_name}"

    @property
    def boundary_name(self) -> str:
        return f"{self.role_name}-boundary"

    @property
    def boundary_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.boundary_name}"

    @property
    def workload_boundary_name(self) -> str:
        return self.request.workload_boundary_name

    @property
    def workload_boundary_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:policy/{self.workload_boundary_name}"

    @property
    def workload_services(self) -> tuple[str, ...]:
        return tuple(sorted({*self.services, *self.request.workload_services}))

    @property
    def oidc_provider_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:oidc-provider/{GITHUB_OIDC_HOST}"

    def trust_policy(self) -> dict[str, Any]:
        statements: list[dict[str, Any]] = []
        if self.github is not None:
            statements.append(
                {
                    "Sid": "GitHubActions",
                    "Effect": "Allow",
                    "Principal": {"Federated": self.oidc_provider_arn},
                    "Action": "sts:AssumeRoleWithWebIdentity",
                    "Condition": {
                        "StringEquals": {f"{GITHUB_OIDC_HOST}:aud": GITHUB_AUDIENCE},
                        "StringLike": {f"{GITHUB_OIDC_HOST}:sub": self.github.subjects()},
                    },
                }
            )
        if self.management_principals:
            statements.append(
                {
                    "Sid": "ManagementPrincipals",
                    "Effect": "Allow",
                    "Principal": {"AWS": list(self.management_principals)},
                    "Action": "sts:AssumeRole",
                }
            )
        return {"Version": "2012-10-17", "Statement": statements}

    def _state_statements(self) -> list[dict[str, Any]]:
        buckets = [self.state_bucket_arn, *(bucket for bucket, _ in self.extra_state)]
        keys = [self.state_key_arn, *(key for _, key in self.extra_state)]
        return [
            {
                "Sid": "StateBucket",
                "Effect": "Allow",
                "Action": ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetBucketVersioning"],
                "Resource": buckets,
            },
            {
                "Sid": "StateObjects",
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                "Resource": [f"{bucket}/*" for bucket in buckets],
            },
            {
                "Sid": "StateKey",
                "Effect": "Allow",
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                "Resource": keys,
            },
        ]

    def permissions_policy(self) -> dict[str, Any]:
        return {
            "Version": "2012-10-17",
            "Statement": [
                _allow_services("DesiredStateServices", self.services),
                {
                    "Sid": "ProviderBaseline",
                    "Effect": "Allow",
                    "Action": list(_PROVIDER_BASELINE),
                    "Resource": "*",
                },
                *self._state_statements(),
            ],
        }

    def boundary_policy(self) -> dict[str, Any]:
        allowed = self.permissions_policy()["Statement"]
        return {
            "Version": "2012-10-17",
            "Statement": [
                *allowed,
                {
                    "Sid": "NoSelfEscalation",
                    "Effect": "Deny",
                    "Action": [
                        "iam:AttachRolePolicy",
                        "iam:DeleteRole",
                        "iam:DeleteRolePermissionsBoundary",
                        "iam:DeleteRolePolicy",
                        "iam:DetachRolePolicy",
                        "iam:PutRolePermissionsBoundary",
                        "iam:PutRolePolicy",
                        "iam:UpdateAssumeRolePolicy",
                        "iam:UpdateRole",
                    ],
                    "Resource": self.role_arn,
                },
                *self._escalation_denials(),
            ],
        }

    def workload_boundary_policy(self) -> dict[str, Any]:
        """The ceiling of every role and user the stacks create (their `permissionsBoundary`)."""
        return {
            "Version": "2012-10-17",
            "Statement": [
                _allow_services("WorkloadServices", self.workload_services),
                *self._escalation_denials(),
            ],
        }

    def _escalation_denials(self) -> list[dict[str, Any]]:
        """Denials both boundaries carry: no principal without the workload boundary, no boundary
        removed or edited, no AdministratorAccess, and the state left alone."""
        return [
            {
                "Sid": "OnlyBoundedPrincipals",
                "Effect": "Deny",
                "Action": [
                    "iam:CreateRole",
                    "iam:CreateUser",
                    "iam:PutRolePermissionsBoundary",
                    "iam:PutUserPermissionsBoundary",
                ],
                "Resource": "*",
                # An absent key (no boundary given) also differs, so an unbounded create is denied.
                "Condition": {"StringNotEquals": {"iam:PermissionsBoundary": self.workload_boundary_arn}},
            },
            {
                "Sid": "BoundariesStay",
                "Effect": "Deny",
                "Action": ["iam:DeleteRolePermissionsBoundary", "iam:DeleteUserPermissionsBoundary"],
                "Resource": "*",
            },
            {
                "Sid": "NoBoundaryEdits",
                "Effect": "Deny",
                "Action": [
                    "iam:CreatePolicyVersion",
                    "iam:DeletePolicy",
                    "iam:DeletePolicyVersion",
                    "iam:SetDefaultPolicyVersion",
                ],
                "Resource": [self.boundary_arn, self.workload_boundary_arn],
            },
            {
                "Sid": "NoAdministratorAccess",
                "Effect": "Deny",
                "Action": ["iam:AttachRolePolicy", "iam:AttachUserPolicy", "iam:AttachGroupPolicy"],
                "Resource": "*",
                "Condition": {"ArnLike": {"iam:PolicyARN": f"arn:*{ADMIN_POLICY_SUFFIX}"}},
            },
            {
                "Sid": "KeepTheState",
                "Effect": "Deny",
                "Action": [
                    "s3:DeleteBucket",
                    "s3:DeleteBucketPolicy",
                    "s3:PutBucketPolicy",
                    "s3:PutBucketVersioning",
                    "s3:PutLifecycleConfiguration",
                    "kms:ScheduleKeyDeletion",
                    "kms:DisableKey",
                    "kms:PutKeyPolicy",
                ],
                "Resource": [self.state_bucket_arn, self.state_key_arn],
            },
        ]


def _allow_services(sid: str, services: Iterable[str]) -> dict[str, Any]:
    """`<service>:*` on every resource, for each service: the shape of both service allowances."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": [f"{service}:*" for service in services],
        "Resource": "*",
    }


# ---------------------------------------------------------------------------- idempotent IAM


def _document(value: Any) -> Any:
    """IAM returns policy documents URL-encoded as strings from some calls, decoded from others."""
    if isinstance(value, str):
        return json.loads(unquote(value))
    return value


def _canonical(document: Any) -> str:
    """Compare policies as IAM stores them: single-element lists and strings are the same."""

    def normalise(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: normalise(v) for k, v in sorted(node.items())}
        if isinstance(node, list):
            items = [normalise(v) for v in node]
            if len(items) == 1:
                return items[0]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True))
        return node

    return json.dumps(normalise(document), sort_keys=True)


def same_policy(a: Any, b: Any) -> bool:
    return _canonical(_document(a)) == _canonical(_document(b))


def ensure_github_oidc_provider(iam: Any, spec: DeployerSpec) -> ItemResult | None:
    if spec.github is None:
        return None
    for provider in iam.list_open_id_connect_providers().get("OpenIDConnectProviderList", []):
        if provider["Arn"] == spec.oidc_provider_arn:
            clients = iam.get_open_id_connect_provider(OpenIDConnectProviderArn=provider["Arn"]).get(
                "ClientIDList", []
            )
            if GITHUB_AUDIENCE in clients:
                return ItemResult("github oidc provider", Status.UNCHANGED, GITHUB_OIDC_HOST)
            iam.add_client_id_to_open_id_connect_provider(
                OpenIDConnectProviderArn=provider["Arn"], ClientID=GITHUB_AUDIENCE
            )
            return ItemResult("github oidc provider", Status.UPDATED, f"audience {GITHUB_AUDIENCE} added")
    iam.create_open_id_connect_provider(
        Url=f"https://{GITHUB_OIDC_HOST}", ClientIDList=[GITHUB_AUDIENCE], ThumbprintList=[GITHUB_THUMBPRINT]
    )
    return ItemResult("github oidc provider", Status.CREATED, GITHUB_OIDC_HOST)


def _ensure_managed_policy(
    iam: Any, item: str, name: str, arn: str, wanted: dict[str, Any], description: str, detail: str
) -> ItemResult:
    try:
        policy = iam.get_policy(PolicyArn=arn)["Policy"]
    except ClientError as error:
        if client_code(error) != "NoSuchEntity":
            raise
        iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(wanted), Description=description)
        return ItemResult(item, Status.CREATED, arn)
    current = iam.get_policy_version(PolicyArn=arn, VersionId=policy["DefaultVersionId"])
    if same_policy(current["PolicyVersion"]["Document"], wanted):
        return ItemResult(item, Status.UNCHANGED, arn)
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    old = [v for v in versions if not v["IsDefaultVersion"]]
    if len(versions) >= 5 and old:  # IAM keeps at most five versions
        oldest = min(old, key=lambda v: v["CreateDate"])
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wanted), SetAsDefault=True)
    return ItemResult(item, Status.UPDATED, detail)


def _ensure_boundary(iam: Any, spec: DeployerSpec) -> ItemResult:
    return _ensure_managed_policy(
        iam,
        "permissions boundary",
        spec.boundary_name,
        spec.boundary_arn,
        spec.boundary_policy(),
        "Stockade: the most any deploy through the deployer role may do",
        f"{spec.boundary_arn} ({len(spec.services)} services)",
    )


def _ensure_workload_boundary(iam: Any, spec: DeployerSpec) -> ItemResult:
    return _ensure_managed_policy(
        iam,
        "workload boundary",
        spec.workload_boundary_name,
        spec.workload_boundary_arn,
        spec.workload_boundary_policy(),
        "Stockade: the most any role or user the stacks create may do (aws.permissionsBoundaryArn)",
        f"{spec.workload_boundary_arn} ({len(spec.workload_services)} services)",
    )


def _ensure_role(iam: Any, spec: DeployerSpec) -> list[ItemResult]:
    trust = spec.trust_policy()
    try:
        role = iam.get_role(RoleName=spec.role_name)["Role"]
    except ClientError as error:
        if client_code(error) != "NoSuchEntity":
            raise
        iam.create_role(
            RoleName=spec.role_name,
            AssumeRolePolicyDocument=json.dumps(trust),
            PermissionsBoundary=spec.boundary_arn,
            MaxSessionDuration=spec.max_session_seconds,
            Description="Stockade: deploys this account's stacks (see docs/rollouts.md)",
            Tags=[{"Key": "stockade:purpose", "Value": "deployer"}],
        )
        role = None
        items = [ItemResult("deployer role", Status.CREATED, spec.role_arn)]
    else:
        items = [ItemResult("deployer role", Status.UNCHANGED, spec.role_arn)]
        if same_policy(role.get("AssumeRolePolicyDocument"), trust):
            items.append(ItemResult("deployer trust", Status.UNCHANGED, _trust_summary(spec)))
        else:
            iam.update_assume_role_policy(RoleName=spec.role_name, PolicyDocument=json.dumps(trust))
            items.append(ItemResult("deployer trust", Status.UPDATED, _trust_summary(spec)))
        boundary = (role.get("PermissionsBoundary") or {}).get("PermissionsBoundaryArn")
        if boundary == spec.boundary_arn:
            items.append(ItemResult("deployer boundary", Status.UNCHANGED, spec.boundary_name))
        else:
            iam.put_role_permissions_boundary(RoleName=spec.role_name, PermissionsBoundary=spec.boundary_arn)
            items.append(ItemResult("deployer boundary", Status.UPDATED, spec.boundary_name))
    wanted = spec.permissions_policy()
    try:
        current = iam.get_role_policy(RoleName=spec.role_name, PolicyName=POLICY_NAME)["PolicyDocument"]
    except ClientError as error:
        if client_code(error) != "NoSuchEntity":
            raise
        current = None
    detail = f"{POLICY_NAME}: {', '.join(spec.services)}"
    if current is not None and same_policy(current, wanted):
        items.append(ItemResult("deployer permissions", Status.UNCHANGED, detail))
    else:
        iam.put_role_policy(
            RoleName=spec.role_name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(wanted)
        )
        status = Status.CREATED if current is None else Status.UPDATED
        items.append(ItemResult("deployer permissions", status, detail))
    if role is None:  # trust and boundary came with the role
        items[1:1] = [
            ItemResult("deployer trust", Status.CREATED, _trust_summary(spec)),
            ItemResult("deployer boundary", Status.CREATED, spec.boundary_name),
        ]
    return items


def _trust_summary(spec: DeployerSpec) -> str:
    parts = list(spec.github.subjects()) if spec.github else []
    parts.extend(spec.management_principals)
    return "; ".join(parts)


def ensure_deployer(iam: Any, spec: DeployerSpec) -> list[ItemResult]:
    """Create or complete the OIDC provider, both boundaries, the role, its trust and its policy."""
    items: list[ItemResult] = []
    provider = ensure_github_oidc_provider(iam, spec)
    if provider is not None:
        items.append(provider)
    items.append(_ensure_workload_boundary(iam, spec))  # before the deployer can create roles under it
    items.append(_ensure_boundary(iam, spec))  # the boundary exists before the role that names it
    items.extend(_ensure_role(iam, spec))
    return items
