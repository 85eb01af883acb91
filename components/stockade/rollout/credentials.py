"""Per-stack credentials: assume the planned role, then prove the account before Pulumi runs.

This runs in the rollout's parent process (boto3 is imported here, never at CLI import
time). The credentials it returns are handed to exactly one worker process and are never
written to `os.environ`, a file or a log; their repr is masked.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from stockade.rollout.backend import Backend, parse_awskms, parse_s3_backend

if TYPE_CHECKING:
    from stockade.rollout.plan import StackTarget


class CredentialError(Exception):
    """The stack's role could not be assumed; the message says which role and why."""


class IdentityMismatchError(CredentialError):
    """The assumed credentials belong to another account than the plan says."""


@dataclass(frozen=True)
class StackCredentials:
    """Temporary credentials for one stack's account."""

    account_id: str
    role_arn: str
    access_key_id: str = field(repr=False)
    secret_access_key: str = field(repr=False)
    session_token: str = field(repr=False)
    expiration: datetime | None = None

    def environment(self, region: str) -> dict[str, str]:
        """The variables the Pulumi CLI and its AWS provider read."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_SESSION_TOKEN": self.session_token,
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
        }

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in output; workers scrub them from everything they relay."""
        return (self.access_key_id, self.secret_access_key, self.session_token)


class CredentialSource(Protocol):
    def credentials_for(self, target: StackTarget, backend: Backend | None = None) -> StackCredentials: ...


def session_name(stack: str) -> str:
    """`stockade-rollout-<stack>`, within STS's alphabet and 64-character limit.

    CloudTrail shows it in every call the stack makes, so an auditor can tell which stack's
    rollout did what.
    """
    cleaned = re.sub(r"[^\w+=,.@-]", "-", stack)
    return f"stockade-rollout-{cleaned}"[:64]


class RoleAssumer:
    """Assumes each stack's role with the source credentials (a profile or the default chain)."""

    def __init__(self, *, profile: str | None, duration_seconds: int) -> None:
        import boto3
        from botocore.exceptions import ProfileNotFound

        try:
            self._session = boto3.Session(profile_name=profile)
        except ProfileNotFound:
            raise CredentialError(
                f"AWS profile '{profile}' is not configured; run `aws configure --profile {profile}` "
                "or pass another --profile"
            ) from None
        self._duration = duration_seconds
        # boto3 sessions are not thread-safe for creating clients; clients are.
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        # A role that reached a backend once in this rollout reaches it again: checking every
        # stack of an account would double the STS-side cost per stack for no new fact.
        self._backends_checked: set[tuple[str, str, str | None]] = set()

    def _sts(self, region: str, **credentials: str) -> Any:
        with self._lock:
            if credentials:
                return self._session.client("sts", region_name=region, **credentials)
            if region not in self._clients:
                self._clients[region] = self._session.client("sts", region_name=region)
            return self._clients[region]

    def credentials_for(self, target: StackTarget, backend: Backend | None = None) -> StackCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        request: dict[str, Any] = {
            "RoleArn": target.role_arn,
            "RoleSessionName": session_name(target.stack),
            "DurationSeconds": self._duration,
        }
        if target.external_id:
            request["ExternalId"] = target.external_id
        try:
            response = self._sts(target.region).assume_role(**request)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            reason = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
            raise CredentialError(f"cannot assume {target.role_arn}: {reason}") from None
        except BotoCoreError as exc:
            raise CredentialError(f"cannot assume {target.role_arn}: {exc}") from None
        issued = response["Credentials"]
        credentials = StackCredentials(
            account_id=target.account_id,
            role_arn=target.role_arn,
            access_key_id=issued["AccessKeyId"],
            secret_access_key=issued["SecretAccessKey"],
            session_token=issued["SessionToken"],
            expiration=issued.get("Expiration"),
        )
        # STS names the session it issued (`arn:aws:sts::<account>:assumed-role/<role>/<session>`),
        # which is exactly what GetCallerIdentity with these credentials would answer; reading it
        # here saves a client and a round trip per stack.
        session_arn = str(response.get("AssumedRoleUser", {}).get("Arn", ""))
        verify_identity(target, _account_of(session_arn) or self._caller_account(target.region, credentials))
        if session_arn:
            verify_role(target, session_arn)
        if backend is not None:
            checked = (target.role_arn, backend.url, backend.secrets_provider)
            if checked not in self._backends_checked:
                verify_backend(target, backend, self._session_for(credentials, target.region))
                with self._lock:
                    self._backends_checked.add(checked)
        return credentials

    def _session_for(self, credentials: StackCredentials, region: str) -> Any:
        import boto3

        return boto3.Session(
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
            region_name=region,
        )

    def _caller_account(self, region: str, credentials: StackCredentials) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        client = self._sts(
            region,
            aws_access_key_id=credentials.access_key_id,
            aws_secret_access_key=credentials.secret_access_key,
            aws_session_token=credentials.session_token,
        )
        try:
            return str(client.get_caller_identity()["Account"])
        except (ClientError, BotoCoreError) as exc:
            raise CredentialError(
                f"assumed {credentials.role_arn} but cannot confirm its identity: {exc}"
            ) from None


def _account_of(arn: str) -> str | None:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() else None


def verify_identity(target: StackTarget, caller_account: str) -> None:
    """Stop the stack unless the credentials act in the planned account."""
    if caller_account != target.account_id:
        raise IdentityMismatchError(
            f"credentials from {target.role_arn} act in account {caller_account}, but the plan deploys "
            f"stack '{target.stack}' into {target.account_id}; no Pulumi command was run for this stack"
        )


def verify_backend(target: StackTarget, backend: Backend, session: Any) -> None:
    """Stop the stack unless its credentials reach the planned backend, owned by the planned account.

    The bucket check is S3's own `ExpectedBucketOwner`: S3 answers 403 when the bucket belongs
    to anyone else, so a typo that names another team's bucket cannot receive this stack's
    state. The key check reads the key's ARN, which names its account.
    """
    from botocore.exceptions import BotoCoreError, ClientError

    owner = backend.owner(target.account_id)
    where = f"stack '{target.stack}' (role {target.role_arn})"
    s3 = parse_s3_backend(backend.url)
    if s3 is not None:
        client = session.client("s3", region_name=s3.region or target.region)
        try:
            client.head_bucket(Bucket=s3.bucket, ExpectedBucketOwner=owner)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            reason = (
                "does not exist; run `stockade bootstrap` for that account"
                if code in ("404", "NoSuchBucket")
                else f"is not owned by account {owner} or this role may not use it (HTTP {code})"
            )
            raise IdentityMismatchError(
                f"{where}: backend bucket {s3.bucket} {reason}; no Pulumi command was run for this stack"
            ) from None
        except BotoCoreError as exc:
            raise CredentialError(f"{where}: cannot reach backend bucket {s3.bucket}: {exc}") from None
    key = parse_awskms(backend.secrets_provider or "")
    if key is None:
        return
    client = session.client("kms", region_name=key.region or target.region)
    try:
        metadata = client.describe_key(KeyId=key.key_id)["KeyMetadata"]
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise IdentityMismatchError(
            f"{where}: cannot use secrets key {key.key_id}: {error.get('Code', 'error')}; "
            "no Pulumi command was run for this stack"
        ) from None
    except BotoCoreError as exc:
        raise CredentialError(f"{where}: cannot reach KMS for {key.key_id}: {exc}") from None
    key_account = str(metadata.get("Arn", "")).split(":")[4:5]
    if key_account != [owner]:
        found = key_account[0] if key_account else "unknown"
        raise IdentityMismatchError(
            f"{where}: secrets key {key.key_id} is in account {found}, but the plan puts this stack's "
            f"state in account {owner}; no Pulumi command was run for this stack"
        )
    if metadata.get("KeyState") != "Enabled":
        raise IdentityMismatchError(
            f"{where}: secrets key {metadata.get('Arn')} is {metadata.get('KeyState')}, not Enabled; "
            "no Pulumi command was run for this stack"
        )


class AmbientCredentials:
    """CI: the job already holds the stack's role (GitHub OIDC); prove it is the planned one.

    Nothing is assumed here. The same checks as `RoleAssumer` run on whatever the default
    credential chain holds: the caller's account must be the plan's, the caller must be the
    plan's role (its assumed-role session), and the backend must be reachable and owned as
    planned. Any mismatch stops the stack before Pulumi runs.
    """

    def __init__(self) -> None:
        import boto3

        self._session = boto3.Session()

    def credentials_for(self, target: StackTarget, backend: Backend | None = None) -> StackCredentials:
        from botocore.exceptions import BotoCoreError, ClientError

        credentials = self._session.get_credentials()
        frozen = credentials.get_frozen_credentials() if credentials is not None else None
        if frozen is None or not frozen.access_key or not frozen.secret_key:
            raise CredentialError(
                f"no AWS credentials in the environment for stack '{target.stack}'; the workflow's "
                "configure-aws-credentials step should have assumed its role"
            )
        try:
            identity = self._session.client("sts", region_name=target.region).get_caller_identity()
        except (ClientError, BotoCoreError) as exc:
            raise CredentialError(f"cannot confirm the ambient identity: {exc}") from None
        verify_identity(target, str(identity["Account"]))
        verify_role(target, str(identity["Arn"]))
        if backend is not None:
            verify_backend(target, backend, self._session)
        return StackCredentials(
            account_id=target.account_id,
            role_arn=target.role_arn,
            access_key_id=frozen.access_key,
            secret_access_key=frozen.secret_key,
            session_token=frozen.token or "",
        )


def verify_role(target: StackTarget, caller_arn: str) -> None:
    """The caller must be a session of the planned role (`assumed-role/<name>/...`)."""
    planned = target.role_arn.rsplit("/", 1)[-1]
    match = re.match(r"^arn:[\w-]+:sts::\d{12}:assumed-role/([^/]+)/", caller_arn)
    if match is None or match.group(1) != planned:
        raise IdentityMismatchError(
            f"the ambient identity is {caller_arn}, not a session of {target.role_arn}; "
            f"no Pulumi command was run for stack '{target.stack}'"
        )
