"""`stockade bootstrap`: an account's Pulumi state backend and deployer role, created idempotently.

Creates (or completes) an S3 state bucket (versioned, SSE-KMS with a bucket key,
all four public-access blocks, TLS-only policy, BucketOwnerEnforced), a KMS key with
rotation and an alias for the `awskms://` secrets provider, and (when asked) the
deployer role the rollout assumes (guardrails/deployer.py). For a central backend, the
bucket and key also grant the deployer roles of the accounts named by `grant_accounts`.

Every item is read first and changed only when it differs, so a second run
makes no mutating call, and a run interrupted half-way is finished by the next
one: each item is judged on its own, and a key created without its alias is
found again by its tag instead of being created twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from stockade.aws.shared.arns import partition_for
from stockade.guardrails.bootstrap_model import ItemResult, Status, client_code
from stockade.guardrails.deployer import DEFAULT_ROLE_NAME, DeployerRequest, ensure_deployer, same_policy
from stockade.rollout.backend import awskms_provider, s3_backend_url

DEFAULT_KEY_ALIAS = "alias/stockade-state"
TLS_SID = "DenyInsecureTransport"
PURPOSE_TAG = ("stockade:purpose", "pulumi-state")
ALIAS_TAG = "stockade:bootstrap-alias"
GRANT_SID = "StockadeDeployers"


class BootstrapError(Exception):
    """Bootstrap stopped before changing anything it should not (wrong account, name taken, ...)."""


@dataclass(frozen=True)
class BootstrapPlan:
    account_id: str
    region: str
    bucket_name: str
    key_alias: str = DEFAULT_KEY_ALIAS
    grant_accounts: tuple[str, ...] = ()
    """Accounts whose deployer roles may use this bucket and key (a central backend)."""
    grant_role_name: str = DEFAULT_ROLE_NAME
    deployer: DeployerRequest | None = None

    @staticmethod
    def default_bucket_name(account_id: str, region: str) -> str:
        # Bucket names are global: the account and region make the default unique.
        return f"stockade-state-{account_id}-{region}"

    @property
    def partition(self) -> str:
        return partition_for(self.region)

    @property
    def bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.bucket_name}"

    def grantee_condition(self) -> dict[str, Any]:
        # The account root as principal plus the role ARN as a condition: a policy naming a
        # role ARN directly is rejected until that role exists, and the member accounts'
        # roles are usually made after the central backend they point at.
        roles = [f"arn:{self.partition}:iam::{a}:role/{self.grant_role_name}" for a in self.grant_accounts]
        return {"ArnEquals": {"aws:PrincipalArn": roles}}

    def grantee_principal(self) -> dict[str, Any]:
        return {"AWS": [f"arn:{self.partition}:iam::{a}:root" for a in self.grant_accounts]}


@dataclass(frozen=True)
class BootstrapResult:
    plan: BootstrapPlan
    key_arn: str
    items: tuple[ItemResult, ...]

    @property
    def login_url(self) -> str:
        return s3_backend_url(self.plan.bucket_name, self.plan.region)

    @property
    def login_command(self) -> str:
        return f"pulumi login '{self.login_url}'"

    @property
    def secrets_provider(self) -> str:
        # Grantees reach the key from other accounts, where an alias would not resolve.
        key = self.key_arn if self.plan.grant_accounts else self.plan.key_alias
        return awskms_provider(key, self.plan.region)

    def plan_entry(self) -> dict[str, Any]:
        """The `backends:` entry a rollout plan uses for this account's stacks (docs/rollouts.md)."""
        entry: dict[str, Any] = {"url": self.login_url, "secretsProvider": self.secrets_provider}
        if self.plan.grant_accounts:
            entry["accountId"] = self.plan.account_id
        return entry

    @property
    def changed(self) -> bool:
        return any(i.status is not Status.UNCHANGED for i in self.items)

    def as_json(self) -> dict[str, Any]:
        return {
            "account": self.plan.account_id,
            "region": self.plan.region,
            "bucket": self.plan.bucket_name,
            "keyArn": self.key_arn,
            "keyAlias": self.plan.key_alias,
            "items": [i.as_json() for i in self.items],
            "login": self.login_command,
            "secretsProvider": f"--secrets-provider='{self.secrets_provider}'",
            "planBackend": self.plan_entry(),
            "grantAccounts": list(self.plan.grant_accounts),
            "deployerRole": (
                f"arn:{self.plan.partition}:iam::{self.plan.account_id}:role/{self.plan.deployer.role_name}"
                if self.plan.deployer
                else None
            ),
        }


_code = client_code


def assume_role_session(base: Any, role_arn: str, region: str) -> Any:
    """A session with the role's temporary credentials (nothing is cached on disk)."""
    import boto3

    credentials = base.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="stockade-bootstrap")[
        "Credentials"
    ]
    return boto3.Session(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        region_name=region,
    )


def verify_account(session: Any, account_id: str) -> None:
    identity = session.client("sts").get_caller_identity()
    if identity["Account"] != account_id:
        raise BootstrapError(
            f"the credentials are for account {identity['Account']} ({identity['Arn']}), not {account_id}; "
            "nothing was created. Pass --role-arn for a role in the target account, or fix --account."
        )


# ---------------------------------------------------------------------------- KMS key


def _find_tagged_key(kms: Any, alias: str) -> str | None:
    """A key an interrupted run created but could not alias yet (found by its tag)."""
    for page in kms.get_paginator("list_keys").paginate():
        for key in page.get("Keys", []):
            try:
                tags = kms.list_resource_tags(KeyId=key["KeyId"]).get("Tags", [])
            except ClientError as error:
                if _code(error) == "AccessDeniedException":
                    continue  # keys of other teams may refuse tag reads; they are not ours
                raise
            if {"TagKey": ALIAS_TAG, "TagValue": alias} in tags:
                metadata = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]
                if metadata.get("KeyState") == "Enabled":
                    return str(metadata["KeyId"])
    return None


def ensure_key(kms: Any, plan: BootstrapPlan) -> tuple[str, list[ItemResult]]:
    items: list[ItemResult] = []
    key_id: str | None = None
    aliased = False
    try:
        metadata = kms.describe_key(KeyId=plan.key_alias)["KeyMetadata"]
        if metadata.get("KeyState") != "Enabled":
            raise BootstrapError(
                f"{plan.key_alias} points to key {metadata['KeyId']} in state {metadata.get('KeyState')}; "
                "re-enable it (or cancel its deletion) rather than create a new state key"
            )
        key_id, aliased = str(metadata["KeyId"]), True
        items.append(ItemResult("kms key", Status.UNCHANGED, str(metadata["Arn"])))
    except ClientError as error:
        if _code(error) != "NotFoundException":
            raise
    if key_id is None:
        key_id = _find_tagged_key(kms, plan.key_alias)
        if key_id is not None:
            items.append(
                ItemResult("kms key", Status.UNCHANGED, f"{key_id} (from an earlier, unfinished run)")
            )
    if key_id is None:
        created = kms.create_key(
            Description=f"Stockade: Pulumi state secrets for {plan.account_id}/{plan.region}",
            KeyUsage="ENCRYPT_DECRYPT",
            KeySpec="SYMMETRIC_DEFAULT",
            Tags=[
                {"TagKey": ALIAS_TAG, "TagValue": plan.key_alias},
                {"TagKey": PURPOSE_TAG[0], "TagValue": PURPOSE_TAG[1]},
            ],
        )["KeyMetadata"]
        key_id = str(created["KeyId"])
        items.append(ItemResult("kms key", Status.CREATED, str(created["Arn"])))
    if kms.get_key_rotation_status(KeyId=key_id).get("KeyRotationEnabled"):
        items.append(ItemResult("kms key rotation", Status.UNCHANGED, "enabled"))
    else:
        kms.enable_key_rotation(KeyId=key_id)
        items.append(ItemResult("kms key rotation", Status.UPDATED, "enabled"))
    if aliased:
        items.append(ItemResult("kms alias", Status.UNCHANGED, plan.key_alias))
    else:
        kms.create_alias(AliasName=plan.key_alias, TargetKeyId=key_id)
        items.append(ItemResult("kms alias", Status.CREATED, plan.key_alias))
    key_arn = str(kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"])
    return key_arn, items


# ---------------------------------------------------------------------------- S3 bucket


def _tls_statement(plan: BootstrapPlan) -> dict[str, Any]:
    return {
        "Sid": TLS_SID,
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [plan.bucket_arn, f"{plan.bucket_arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _same_tls(statement: Any, wanted: dict[str, Any]) -> bool:
    """Our TLS statement, allowing for how S3 may normalise a stored policy (lists vs strings)."""
    if not isinstance(statement, dict) or statement.get("Sid") != TLS_SID:
        return False
    principal = statement.get("Principal")
    flag = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
    return (
        statement.get("Effect") == "Deny"
        and (principal == "*" or principal == {"AWS": "*"})
        and _as_list(statement.get("Action")) == ["s3:*"]
        and sorted(_as_list(statement.get("Resource"))) == sorted(wanted["Resource"])
        and [str(v).lower() for v in _as_list(flag)] == ["false"]
    )


def _ensure_exists(s3: Any, plan: BootstrapPlan) -> ItemResult:
    try:
        s3.head_bucket(Bucket=plan.bucket_name, ExpectedBucketOwner=plan.account_id)
    except ClientError as error:
        if _code(error) not in ("404", "NoSuchBucket"):
            raise BootstrapError(
                f"bucket {plan.bucket_name} exists but is not readable by this account "
                f"(HTTP {_code(error)}): the name is taken or access is denied; pick --bucket-name"
            ) from None
    else:
        location = s3.get_bucket_location(Bucket=plan.bucket_name).get("LocationConstraint") or "us-east-1"
        if location != plan.region:
            raise BootstrapError(f"bucket {plan.bucket_name} is in {location}, not {plan.region}")
        return ItemResult("state bucket", Status.UNCHANGED, plan.bucket_name)
    request: dict[str, Any] = {"Bucket": plan.bucket_name, "ObjectOwnership": "BucketOwnerEnforced"}
    if plan.region != "us-east-1":
        request["CreateBucketConfiguration"] = {"LocationConstraint": plan.region}
    s3.create_bucket(**request)
    return ItemResult("state bucket", Status.CREATED, plan.bucket_name)


def _read(call: Any, missing: str, **kwargs: Any) -> Any:
    try:
        return call(**kwargs)
    except ClientError as error:
        if _code(error) == missing:
            return None
        raise


def _ensure_ownership(s3: Any, plan: BootstrapPlan) -> ItemResult:
    current = _read(
        s3.get_bucket_ownership_controls, "OwnershipControlsNotFoundError", Bucket=plan.bucket_name
    )
    rules = (current or {}).get("OwnershipControls", {}).get("Rules", [])
    if [r.get("ObjectOwnership") for r in rules] == ["BucketOwnerEnforced"]:
        return ItemResult("ownership controls", Status.UNCHANGED, "BucketOwnerEnforced")
    s3.put_bucket_ownership_controls(
        Bucket=plan.bucket_name, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    return ItemResult("ownership controls", Status.UPDATED, "BucketOwnerEnforced (ACLs disabled)")


def _ensure_public_access_block(s3: Any, plan: BootstrapPlan) -> ItemResult:
    wanted = {
        k: True for k in ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    }
    current = _read(
        s3.get_public_access_block, "NoSuchPublicAccessBlockConfiguration", Bucket=plan.bucket_name
    )
    if current and all(current["PublicAccessBlockConfiguration"].get(k) is True for k in wanted):
        return ItemResult("public access block", Status.UNCHANGED, "all four on")
    s3.put_public_access_block(Bucket=plan.bucket_name, PublicAccessBlockConfiguration=wanted)
    return ItemResult("public access block", Status.UPDATED, "all four on")


def _ensure_versioning(s3: Any, plan: BootstrapPlan) -> ItemResult:
    if s3.get_bucket_versioning(Bucket=plan.bucket_name).get("Status") == "Enabled":
        return ItemResult("versioning", Status.UNCHANGED, "Enabled")
    s3.put_bucket_versioning(Bucket=plan.bucket_name, VersioningConfiguration={"Status": "Enabled"})
    return ItemResult("versioning", Status.UPDATED, "Enabled")


def _ensure_encryption(s3: Any, plan: BootstrapPlan, key_arn: str) -> ItemResult:
    current = _read(
        s3.get_bucket_encryption, "ServerSideEncryptionConfigurationNotFoundError", Bucket=plan.bucket_name
    )
    key_id = key_arn.rsplit("/", 1)[-1]
    for rule in (current or {}).get("ServerSideEncryptionConfiguration", {}).get("Rules", []):
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if (
            default.get("SSEAlgorithm") == "aws:kms"
            and default.get("KMSMasterKeyID") in (key_arn, key_id)
            and rule.get("BucketKeyEnabled") is True
        ):
            return ItemResult("default encryption", Status.UNCHANGED, f"SSE-KMS {key_arn}, bucket key")
    s3.put_bucket_encryption(
        Bucket=plan.bucket_name,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": key_arn,
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    return ItemResult("default encryption", Status.UPDATED, f"SSE-KMS {key_arn}, bucket key")


def _grant_statement(plan: BootstrapPlan) -> dict[str, Any]:
    return {
        "Sid": GRANT_SID,
        "Effect": "Allow",
        "Principal": plan.grantee_principal(),
        "Action": [
            "s3:ListBucket",
            "s3:GetBucketLocation",
            "s3:GetBucketVersioning",
            "s3:GetObject",
            "s3:PutObject",
            "s3:DeleteObject",
        ],
        "Resource": [plan.bucket_arn, f"{plan.bucket_arn}/*"],
        "Condition": plan.grantee_condition(),
    }


def _ensure_bucket_policy(s3: Any, plan: BootstrapPlan) -> list[ItemResult]:
    """The TLS-only statement and, for a central backend, the grant to other accounts' deployers."""
    current = _read(s3.get_bucket_policy, "NoSuchBucketPolicy", Bucket=plan.bucket_name)
    document: dict[str, Any] = json.loads(current["Policy"]) if current else {"Version": "2012-10-17"}
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    wanted_tls = _tls_statement(plan)
    tls_ok = any(_same_tls(s, wanted_tls) for s in statements)
    grant = _grant_statement(plan) if plan.grant_accounts else None
    ours = [s for s in statements if s.get("Sid") == GRANT_SID]
    grant_ok = (grant is None and not ours) or (
        grant is not None and len(ours) == 1 and same_policy(ours[0], grant)
    )
    items = [ItemResult("TLS-only policy", Status.UNCHANGED if tls_ok else Status.UPDATED, TLS_SID)]
    detail = ", ".join(plan.grant_accounts) or "none (no --grant-account)"
    if grant is not None or ours:
        items.append(ItemResult("bucket grants", Status.UNCHANGED if grant_ok else Status.UPDATED, detail))
    if tls_ok and grant_ok:
        return items
    # Keep statements others added; replace only ours.
    kept = [s for s in statements if s.get("Sid") not in (TLS_SID, GRANT_SID)]
    document["Statement"] = kept + [wanted_tls] + ([grant] if grant else [])
    s3.put_bucket_policy(Bucket=plan.bucket_name, Policy=json.dumps(document))
    return items


def ensure_key_grants(kms: Any, plan: BootstrapPlan, key_arn: str) -> list[ItemResult]:
    """For a central backend: the key policy lets the granted accounts' deployers use the key."""
    document = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
    statements = document.get("Statement", [])
    statements = statements if isinstance(statements, list) else [statements]
    ours = [s for s in statements if s.get("Sid") == GRANT_SID]
    if not plan.grant_accounts and not ours:
        return []
    wanted = {
        "Sid": GRANT_SID,
        "Effect": "Allow",
        "Principal": plan.grantee_principal(),
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
        "Resource": "*",
        "Condition": plan.grantee_condition(),
    }
    detail = ", ".join(plan.grant_accounts) or "removed"
    if plan.grant_accounts and len(ours) == 1 and same_policy(ours[0], wanted):
        return [ItemResult("kms key grants", Status.UNCHANGED, detail)]
    kept = [s for s in statements if s.get("Sid") != GRANT_SID]
    document["Statement"] = kept + ([wanted] if plan.grant_accounts else [])
    kms.put_key_policy(KeyId=key_arn, PolicyName="default", Policy=json.dumps(document))
    return [ItemResult("kms key grants", Status.UPDATED, detail)]


def _ensure_tags(s3: Any, plan: BootstrapPlan) -> ItemResult:
    current = _read(s3.get_bucket_tagging, "NoSuchTagSet", Bucket=plan.bucket_name)
    tags = {t["Key"]: t["Value"] for t in (current or {}).get("TagSet", [])}
    if tags.get(PURPOSE_TAG[0]) == PURPOSE_TAG[1]:
        return ItemResult("bucket tags", Status.UNCHANGED, "=".join(PURPOSE_TAG))
    tags[PURPOSE_TAG[0]] = PURPOSE_TAG[1]
    s3.put_bucket_tagging(
        Bucket=plan.bucket_name, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in sorted(tags.items())]}
    )
    return ItemResult("bucket tags", Status.UPDATED, "=".join(PURPOSE_TAG))


def ensure_bucket(s3: Any, plan: BootstrapPlan, key_arn: str) -> list[ItemResult]:
    created = _ensure_exists(s3, plan)
    # Access is closed first, then encryption and the policy, so the bucket is never open in between.
    steps = [
        _ensure_ownership(s3, plan),
        _ensure_public_access_block(s3, plan),
        _ensure_versioning(s3, plan),
        _ensure_encryption(s3, plan, key_arn),
        *_ensure_bucket_policy(s3, plan),
        _ensure_tags(s3, plan),
    ]
    if created.status is Status.CREATED:
        # Settings applied with or right after creation are part of creating the bucket.
        steps = [ItemResult(s.item, Status.CREATED, s.detail) for s in steps]
    return [created, *steps]


def bootstrap(session: Any, plan: BootstrapPlan) -> BootstrapResult:
    """Verify the account, then create or complete the key, the bucket and the deployer role."""
    verify_account(session, plan.account_id)
    kms = session.client("kms", region_name=plan.region)
    key_arn, key_items = ensure_key(kms, plan)
    key_items.extend(ensure_key_grants(kms, plan, key_arn))
    bucket_items = ensure_bucket(session.client("s3", region_name=plan.region), plan, key_arn)
    role_items: list[ItemResult] = []
    if plan.deployer is not None:
        spec = plan.deployer.spec(plan.account_id, plan.partition, plan.bucket_arn, key_arn)
        role_items = ensure_deployer(session.client("iam", region_name=plan.region), spec)
    return BootstrapResult(plan=plan, key_arn=key_arn, items=(*key_items, *bucket_items, *role_items))
