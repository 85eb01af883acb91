"""Constrained value types shared by every settings section.

Each type fails with a message and a fix, so a report can say what to write
instead, not just that something is wrong.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, WithJsonSchema

from stockade.netplan.aws_limits import (
    MAX_TAG_KEY_CHARS,
    MAX_TAG_VALUE_CHARS,
    MAX_TAGS_PER_RESOURCE,
    RESERVED_TAG_PREFIX,
    aws_regions,
    suggest_regions,
)
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
    known = aws_regions()
    # botocore ships with boto3 (a dependency); the pattern only serves a broken install.
    if value in known or (not known and re.fullmatch(r"[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d", value)):
        return value
    close = suggest_regions(value)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    raise invalid(
        "not an AWS region (it is not in the partition data botocore ships)",
        f"{hint}use a region code such as us-east-1 or eu-west-1; a region newer than your "
        "installed boto3 needs `pip install -U boto3`",
    )


AwsRegion = Annotated[str, Field(max_length=32), AfterValidator(_region)]
"""A region AWS publishes (botocore's endpoints.json), so nothing downstream invents its AZs."""


def _image(value: str) -> str:
    if not _IMAGE.match(value):
        raise invalid(
            "not a container image reference",
            "use registry/repository:tag or registry/repository@sha256:<64 hex digits>",
        )
    return value


# Docker caps a repository name at 255 characters; a tag adds 129 and a digest 72.
MAX_IMAGE_REF_CHARS = 512
ImageRef = Annotated[str, Field(max_length=MAX_IMAGE_REF_CHARS), AfterValidator(_image)]
"""A container image reference; pinned when it ends in @sha256:<digest>."""


def is_pinned(image: str) -> bool:
    """True when an image reference names an immutable digest."""
    return bool(_DIGEST.search(image))


def _domain(value: str) -> str:
    lowered = value.lower().rstrip(".")
    if not _DOMAIN.match(lowered):
        raise invalid("not a DNS name", "use a name such as api.example.com or *.example.com")
    return lowered


DomainName = Annotated[str, Field(max_length=255), AfterValidator(_domain)]


def _role_arn(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:iam::\d{12}:(role|policy)/[\w+=,.@/-]+", value):
        raise invalid("not an IAM role or policy ARN", "use arn:aws:iam::<account>:policy/<name>")
    return value


IamArn = Annotated[str, Field(max_length=2048), AfterValidator(_role_arn)]


def _kms_arn(value: str) -> str:
    if not re.fullmatch(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)/[\w/-]+", value):
        raise invalid("not a KMS key ARN", "use arn:aws:kms:<region>:<account>:key/<key-id>")
    return value


KmsKeyArn = Annotated[str, Field(max_length=2048), AfterValidator(_kms_arn)]


def _tag_key(value: str) -> str:
    if value.lower().startswith(RESERVED_TAG_PREFIX):
        raise invalid(
            f"tag keys starting '{RESERVED_TAG_PREFIX}' are reserved for AWS", "pick another prefix"
        )
    if value.startswith("stockade:"):
        raise invalid(
            "tag keys starting 'stockade:' are Stockade's own (stack, environment, component)",
            "pick another prefix",
        )
    return value


TagKey = Annotated[
    str,
    Field(min_length=1, max_length=MAX_TAG_KEY_CHARS, pattern=r"^[\w .:/=+@-]+$"),
    AfterValidator(_tag_key),
]
TagValue = Annotated[str, Field(max_length=MAX_TAG_VALUE_CHARS, pattern=r"^[\w .:/=+@-]*$")]
COMPONENT_TAG_COUNT = 3
"""Tags Stockade adds to every resource: stockade:stack, stockade:environment, stockade:component."""
MAX_USER_TAGS = MAX_TAGS_PER_RESOURCE - COMPONENT_TAG_COUNT
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=MAX_USER_TAGS)]

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
