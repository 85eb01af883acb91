"""Where a stack's state lives and which key encrypts its secrets, as the plan names them.

One shape serves both layouts the state model supports (docs/rollouts.md, "State and
identity"):

- **per-account backends** (the default `stockade bootstrap` makes): the bucket and the
  `awskms://` key are in the stack's own account, so the stack's deployer role needs no
  grant from anyone else;
- **a central backend**: one bucket and key in a management account, shared through the
  grants `stockade bootstrap --grant-account` writes. The key must then be named by its ARN:
  an alias only ever resolves in the caller's own account.

The parsing here is shared by plan validation, the rollout's pre-flight identity check and
`stockade bootstrap`, so the three cannot disagree on what a URL means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from pydantic import Field, model_validator

from stockade.settings.base import SettingsModel
from stockade.settings.problems import invalid
from stockade.settings.types import AwsAccountId

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_KEY_ARN = re.compile(
    r"^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)/.+$"
)
_BACKEND_SCHEMES = ("s3", "file", "https", "gs", "azblob")


@dataclass(frozen=True)
class S3Backend:
    bucket: str
    region: str | None


@dataclass(frozen=True)
class KmsKey:
    key_id: str
    """What `DescribeKey` accepts: an alias (`alias/x`), a key ID or a key/alias ARN."""
    region: str | None
    account_id: str | None
    """From an ARN; None for an alias or bare ID, which resolve in the caller's account."""


def parse_s3_backend(url: str) -> S3Backend | None:
    """The bucket and region of an `s3://` backend URL; None for any other scheme."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        return None
    region = parse_qs(parts.query).get("region", [None])[0]
    return S3Backend(bucket=parts.netloc, region=region)


def parse_awskms(provider: str) -> KmsKey | None:
    """The key of an `awskms://` secrets provider; None for any other provider."""
    if not provider.startswith("awskms://"):
        return None
    rest = provider[len("awskms://") :]
    key, _, query = rest.partition("?")
    key = key.lstrip("/")  # `awskms:///arn:...` is the documented form for ARNs
    region = parse_qs(query).get("region", [None])[0]
    arn = _KEY_ARN.match(key)
    if arn:
        return KmsKey(key_id=key, region=region or arn.group(2), account_id=arn.group(3))
    return KmsKey(key_id=key, region=region, account_id=None)


def s3_backend_url(bucket: str, region: str) -> str:
    return f"s3://{bucket}?region={region}&awssdk=v2"


def awskms_provider(key: str, region: str) -> str:
    # An ARN needs the triple slash: the gocloud URL's host part cannot hold colons.
    return f"awskms:///{key}?region={region}" if key.startswith("arn:") else f"awskms://{key}?region={region}"


class Backend(SettingsModel):
    """A Pulumi state backend and the secrets provider for stacks created in it."""

    url: Annotated[str, Field(min_length=3, max_length=2048)]
    """`pulumi login` URL, e.g. `s3://stockade-state-111111111111-us-east-1?region=us-east-1&awssdk=v2`.
    Passed to each stack's Pulumi CLI as `PULUMI_BACKEND_URL`."""

    secrets_provider: Annotated[str, Field(min_length=10, max_length=2048)] | None = None
    """`--secrets-provider` for stacks the rollout creates, e.g.
    `awskms://alias/stockade-state?region=us-east-1`. Required for `s3://` and `file://` backends:
    without it Pulumi falls back to a passphrase no rollout can type."""

    account_id: AwsAccountId | None = None
    """The account that owns the `s3://` bucket (and the key). Unset: the stack's own account.
    Each stack's assumed role must reach the bucket as owned by this account, or the stack stops."""

    @model_validator(mode="after")
    def _coherent(self) -> Backend:
        scheme = urlsplit(self.url).scheme
        if scheme not in _BACKEND_SCHEMES:
            raise invalid(
                f"unsupported backend scheme '{scheme or '(none)'}'",
                "use s3://BUCKET?region=R&awssdk=v2 (what `stockade bootstrap` prints), file://, or https://",
                field="url",
            )
        s3 = parse_s3_backend(self.url)
        if s3 is not None:
            if not _BUCKET.match(s3.bucket):
                raise invalid("not an S3 bucket name", "use s3://BUCKET?region=REGION&awssdk=v2", field="url")
            if s3.region is None:
                raise invalid(
                    "the s3:// URL names no region",
                    f"append ?region=<bucket region>&awssdk=v2 (e.g. s3://{s3.bucket}?region=us-east-1&awssdk=v2)",
                    field="url",
                )
        if self.secrets_provider is None:
            if scheme in ("s3", "file", "gs", "azblob"):
                raise invalid(
                    "a self-managed backend needs a secrets provider",
                    "set secretsProvider: awskms://alias/stockade-state?region=REGION "
                    "(`stockade bootstrap` prints it)",
                    field="secretsProvider",
                )
            return self
        if self.secrets_provider.startswith("passphrase"):
            raise invalid(
                "a passphrase provider needs a person to type it",
                "use the account's KMS key: awskms://alias/stockade-state?region=REGION",
                field="secretsProvider",
            )
        key = parse_awskms(self.secrets_provider)
        if key is None:
            return self  # hashivault://, gcpkms://, azurekeyvault://: Pulumi checks those itself
        if key.region is None:
            raise invalid(
                "the awskms:// provider names no region",
                "append ?region=<key region>",
                field="secretsProvider",
            )
        if self.account_id is not None and key.account_id is None:
            raise invalid(
                f"the key is named by alias or ID, which resolves in each stack's own account, "
                f"not the backend's account {self.account_id}",
                f"name the key by ARN: awskms:///arn:aws:kms:{key.region}:{self.account_id}:key/<key-id>"
                f"?region={key.region}",
                field="secretsProvider",
            )
        if self.account_id is not None and key.account_id not in (None, self.account_id):
            raise invalid(
                f"the key is in account {key.account_id}, not the backend's account {self.account_id}",
                "keep the key next to the state it encrypts, or correct accountId",
                field="secretsProvider",
            )
        return self

    def owner(self, stack_account: str) -> str:
        """The account the bucket and key must belong to."""
        return self.account_id or stack_account

    def environment(self) -> dict[str, str]:
        return {"PULUMI_BACKEND_URL": self.url}
