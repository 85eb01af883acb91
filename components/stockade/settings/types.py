"""Constrained value types shared by every settings section.

Each type fails with a message and a fix, so a report can say what to write
instead, not just that something is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from stockade.settings.problems import invalid

_DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
_IMAGE = re.compile(
    r"^(?:[a-z0-9.-]+(?::\d+)?/)?[a-z0-9]+(?:[._/-][a-z0-9]+)*(?::[\w][\w.-]{0,127})?(?:@sha256:[0-9a-f]{64})?$"
)
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _cidr(value: Any) -> ipaddress.IPv4Network:
    if isinstance(value, ipaddress.IPv4Network):
        return value
    text = str(value).strip()
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        raise invalid(
            "not a valid IPv4 CIDR",
            "write a network address with a prefix length, like 10.40.0.0/16 (host bits zero)",
        ) from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise invalid("IPv6 is not supported here", "use an IPv4 CIDR such as 10.40.0.0/16")
    return network


Ipv4Cidr = Annotated[
    ipaddress.IPv4Network,
    BeforeValidator(_cidr),
    WithJsonSchema({"type": "string", "format": "ipv4-cidr", "examples": ["10.40.0.0/16"]}),
]
"""An IPv4 network in CIDR form, host bits zero."""


def _account(value: Any) -> str:
    text = str(value)
    if not re.fullmatch(r"\d{12}", text):
        raise invalid("not a 12-digit AWS account ID", "quote the ID in YAML, e.g. '012345678901'")
    return text


AwsAccountId = Annotated[
    str, BeforeValidator(_account), WithJsonSchema({"type": "string", "pattern": r"^\d{12}$"})
]


def _region(value: str) -> str:
    if not re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", value):
        raise invalid("not an AWS region name", "use a region code such as us-east-1 or eu-west-1")
    return value


AwsRegion = Annotated[str, AfterValidator(_region)]


def _image(value: str) -> str:
    if not _IMAGE.match(value):
        raise invalid(
            "not a container image reference",
            "use registry/repository:tag or registry/repository@sha256:<64 hex digits>",
        )
    return value


ImageRef = Annotated[str, AfterValidator(_image)]
"""A container image reference; pinned when it ends in @sha256:<digest>."""


def is_pinned(image: str) -> bool:
    """True when an image reference names an immutable digest."""
    return bool(_DIGEST.search(image))


def _domain(value: str) -> str:
    lowered = value.lower().rstrip(".")
    if not _DOMAIN.match(lowered):
        raise invalid("not a DNS name", "use a name such as api.example.com or *.example.com")
    return lowered


DomainName = Annotated[str, AfterValidator(_domain)]


def _role_arn(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|policy)/[\w+=,.@/-]+", value):
        raise invalid("not an IAM role or policy ARN", "use arn:aws:iam::<account>:policy/<name>")
    return value


IamArn = Annotated[str, AfterValidator(_role_arn)]


def _kms_arn(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+", value):
        raise invalid("not a KMS key ARN", "use arn:aws:kms:<region>:<account>:key/<key-id>")
    return value


KmsKeyArn = Annotated[str, AfterValidator(_kms_arn)]

TagKey = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\w .:/=+@-]+$")]
TagValue = Annotated[str, Field(max_length=256, pattern=r"^[\w .:/=+@-]*$")]
Tags = dict[TagKey, TagValue]

# CloudWatch Logs accepts only these retention periods; anything else fails at apply time.
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
    2922, 3288, 3653,
)  # fmt: skip


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise invalid(
            "CloudWatch Logs does not accept this retention period",
            "pick one of " + ", ".join(str(d) for d in LOG_RETENTION_DAYS),
        )
    return value


LogRetentionDays = Annotated[
    int,
    AfterValidator(_retention),
    WithJsonSchema({"type": "integer", "enum": list(LOG_RETENTION_DAYS)}),
]
