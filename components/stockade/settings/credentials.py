"""Recognise credentials by their published formats, so none reaches a tag, a diff or a message.

A value shaped like a known credential is refused in every field of a stack file,
secret-typed or not: in a tag or a provider's environment it would be copied into
every resource and every preview. The patterns are the issuers' documented prefixes;
they match real keys, not every random string.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

CREDENTIAL_FORMATS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("an Anthropic API or environment key", re.compile(r"sk-ant-[A-Za-z0-9]{2,}-[A-Za-z0-9_-]{8,}")),
    ("a webhook signing secret", re.compile(r"whsec_[A-Za-z0-9+/=_-]{16,}")),
    ("an AWS access key ID", re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}\b")),
    ("a GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("a Slack token", re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{10,}")),
    ("a Slack webhook URL", re.compile(r"hooks\.slack\.com/services/[A-Za-z0-9/]{20,}")),
    ("a PEM private key", re.compile(r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")),
)
# userinfo password in a URL (scheme://user:password@host) and credential-named query values.
_URL_PASSWORD = re.compile(r"(?P<head>[A-Za-z][A-Za-z0-9+.-]*://[^/@:\s]*:)[^/@\s]+(?P<tail>@)")
_QUERY_SECRET = re.compile(
    r"(?P<head>[?&](?:[A-Za-z0-9_.-]*(?:token|secret|password|passwd|signature|key|sig|auth)[A-Za-z0-9_.-]*)=)"
    r"[^&#\s]+",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def credential_kind(text: str) -> str | None:
    """What kind of credential `text` contains, or None."""
    for kind, pattern in CREDENTIAL_FORMATS:
        if pattern.search(text):
            return kind
    return None


def redact(text: str) -> str:
    """`text` with every recognised credential and URL password replaced by `[redacted]`."""
    for _, pattern in CREDENTIAL_FORMATS:
        text = pattern.sub(REDACTED, text)
    text = _URL_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}{m['tail']}", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{REDACTED}", text)


def credential_leaves(
    node: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """(path, kind) of every key or string value under `node` shaped like a credential.

    `secure:` leaves are ciphertext and are checked by the secret type instead.
    The walk is iterative: input depth is already bounded, but this costs nothing.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, node)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            if set(value) == {"secure"}:
                continue
            for key, child in value.items():
                kind = credential_kind(str(key))
                if kind is not None:
                    yield (*where, REDACTED), kind
                    continue
                stack.append(((*where, str(key)), child))
        elif isinstance(value, list):
            stack.extend(((*where, index), child) for index, child in enumerate(value))
        elif isinstance(value, str):
            kind = credential_kind(value)
            if kind is not None:
                yield where, kind
