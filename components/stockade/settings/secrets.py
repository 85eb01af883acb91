"""Secret-bearing settings: Pulumi secrets or references to existing secrets, never plaintext.

A stack file may hold a secret in two ways:

* ``{secure: v1:...}``, written by ``pulumi config set --secret``. Offline tools
  (validate, synth, diff, policy) never decrypt it; under the real engine the
  program receives the decrypted value and keeps it wrapped as a Pulumi secret.
* an ARN of an existing AWS Secrets Manager secret, for fields that accept a
  reference. Stockade then grants read access to it instead of storing a copy.

Anything else (a bare string) is refused: it would sit in git in clear.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

from stockade.settings.credentials import credential_kind

SECRET_ARN = re.compile(
    r"^arn:aws[a-z-]*:secretsmanager:[a-z]{2}(-[a-z]+)+-\d:\d{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}$"
)
PLAINTEXT_ERROR = "plaintext_secret"
# What `pulumi config set --secret` writes under `secure:`:
# * passphrase provider: `v1:<base64 12-byte nonce>:<base64 AES-GCM ciphertext and 16-byte tag>`;
# * awskms, gcpkms, azurekeyvault, hashivault and the Pulumi Cloud service: the provider's
#   ciphertext blob in standard base64, no prefix (tens to hundreds of bytes).
_PASSPHRASE_CIPHERTEXT = re.compile(r"^v1:[A-Za-z0-9+/]{16}:(?P<body>[A-Za-z0-9+/]+={0,2})$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")
_MIN_BLOB_BYTES = 24
MAX_CIPHERTEXT_CHARS = 65_536


def looks_like_ciphertext(text: str) -> bool:
    """True when `text` has the shape of a Pulumi secrets provider's ciphertext.

    It cannot prove the value is encrypted (only the provider can decrypt it), but it
    refuses what is certainly not: an empty string, a pasted key, a password.
    """
    if not text or len(text) > MAX_CIPHERTEXT_CHARS or credential_kind(text) is not None:
        return False
    match = _PASSPHRASE_CIPHERTEXT.match(text)
    body = match["body"] if match else text
    if not _BASE64.match(body) or len(body) % 4:
        return False
    try:
        decoded = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        return False
    # AES-GCM output is at least its 16-byte tag; KMS and service blobs are far longer.
    return len(decoded) >= (16 if match else _MIN_BLOB_BYTES)


@dataclass(frozen=True)
class PulumiSecret:
    """A value from a ``secure:`` config entry.

    ``value`` is None wherever it cannot or must not be decrypted (validate,
    synth); under ``pulumi up`` it holds the decrypted value, which the program
    only ever hands to Pulumi wrapped with ``Output.secret``.
    """

    value: str | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return "PulumiSecret([secret])"

    def __str__(self) -> str:
        return "[secret]"


@dataclass(frozen=True)
class SecretReference:
    """The ARN of an existing Secrets Manager secret that Stockade reads but does not own."""

    arn: str


def _plaintext_error(allow_reference: bool) -> PydanticCustomError:
    where = (
        "or reference an existing secret by its Secrets Manager ARN"
        if allow_reference
        else "(this field does not accept a secret reference)"
    )
    return PydanticCustomError(
        PLAINTEXT_ERROR,
        "a plaintext secret is not allowed in a stack file",
        {"fix": f"store it with `pulumi config set --secret --path '{{key}}' <value>` {where}"},
    )


def _coerce(value: Any, allow_reference: bool) -> PulumiSecret | SecretReference:
    if isinstance(value, PulumiSecret | SecretReference):
        if isinstance(value, SecretReference) and not allow_reference:
            raise _plaintext_error(allow_reference)
        return value
    if isinstance(value, dict) and set(value) == {"secure"}:
        if isinstance(value["secure"], str) and looks_like_ciphertext(value["secure"]):
            return PulumiSecret()
        raise PydanticCustomError(
            PLAINTEXT_ERROR,
            "the `secure:` value is not Pulumi ciphertext (it may be the secret itself)",
            {
                "fix": "remove it and run `pulumi config set --secret --path '{key}' <value>`, which "
                "writes v1:<nonce>:<ciphertext> (passphrase) or the KMS/service ciphertext"
            },
        )
    if isinstance(value, str):
        if allow_reference and value.startswith("arn:"):
            if not SECRET_ARN.match(value):
                raise PydanticCustomError(
                    "stockade",
                    "not a Secrets Manager secret ARN",
                    {"fix": "use arn:aws:secretsmanager:<region>:<account>:secret:<name>"},
                )
            return SecretReference(value)
        raise _plaintext_error(allow_reference)
    raise PydanticCustomError(
        "stockade",
        "expected a `secure:` value" + (" or a secret ARN" if allow_reference else ""),
        {"fix": "set it with `pulumi config set --secret --path '{key}' <value>`"},
    )


class _SecretSchema:
    def __init__(self, allow_reference: bool) -> None:
        self.allow_reference = allow_reference

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        allow = self.allow_reference
        return core_schema.no_info_plain_validator_function(lambda v: _coerce(v, allow))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        secure: dict[str, Any] = {
            "type": "object",
            "properties": {"secure": {"type": "string"}},
            "required": ["secure"],
            "additionalProperties": False,
            "description": "Encrypted value written by `pulumi config set --secret`.",
        }
        if not self.allow_reference:
            return secure
        arn = {
            "type": "string",
            "pattern": SECRET_ARN.pattern,
            "description": "ARN of an existing Secrets Manager secret.",
        }
        return {"oneOf": [secure, arn]}


SecretInput = Annotated[PulumiSecret | SecretReference, _SecretSchema(allow_reference=True)]
"""A secret given as a Pulumi secret or as the ARN of an existing Secrets Manager secret."""

PulumiSecretInput = Annotated[PulumiSecret, _SecretSchema(allow_reference=False)]
"""A secret that must be a Pulumi secret (targets without Secrets Manager)."""


def is_secret_annotation(annotation: Any) -> bool:
    """True for the annotated secret types above, however they are nested in Optional."""
    metadata = getattr(annotation, "__metadata__", ())
    return any(isinstance(m, _SecretSchema) for m in metadata)
