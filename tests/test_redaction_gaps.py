"""Redaction leaks issue 14 found in `stockade comment`, each closed and kept closed.

- a secret named only in `diffReasons` (no detailedDiff) is a secret, risky change;
- a sentinel inside JSON text (a container definition) is not decoded into the comment;
- a `secretString` with no marker on either side (old state, `--show-secrets`) is redacted;
- known secret values are scrubbed from JSON text and from base64 copies elsewhere.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from stockade.review.markdown import render_json, render_markdown
from stockade.review.preview import review_preview, review_stacks
from stockade.review.secrets import SECRET_SIG, SECRET_SIG_KEY, Scrubber

SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
CLEAR_OLD = "old-clear-secret-Vb71-distinctive"
CLEAR_NEW = "new-clear-secret-Vb72-distinctive"
IN_JSON = "sentinel-in-json-Kq33-distinctive"


def urn(type_: str, name: str) -> str:
    return f"urn:pulumi:dev::stockade::{type_}::{name}"


def step(type_: str, name: str, old: dict[str, Any], new: dict[str, Any], **extra: Any) -> dict[str, Any]:
    u = urn(type_, name)
    return {
        "op": "update",
        "urn": u,
        "oldState": {"urn": u, "type": type_, "inputs": old, "outputs": {}},
        "newState": {"urn": u, "type": type_, "inputs": new, "outputs": {}},
        **extra,
    }


def rendered(document: dict[str, Any]) -> tuple[str, str]:
    review = review_stacks([review_preview(document, stack="dev")])
    return render_markdown(review), render_json(review)


def test_a_secret_named_only_by_diff_reasons_is_secret_and_risky() -> None:
    document = {
        "steps": [
            step(
                SECRET_VERSION,
                "env-key",
                {"secretId": "s"},
                {"secretId": "s"},
                diffReasons=["secretString"],
            )
        ]
    }
    [change] = review_preview(document).changes
    [prop] = change.properties
    assert prop.secret and prop.path == "secretString"
    assert [r.rule for r in change.risks] == ["secret-changed"]


def test_a_secret_string_without_markers_is_never_printed() -> None:
    document = {
        "steps": [
            step(
                SECRET_VERSION,
                "env-key",
                {"secretId": "s", "secretString": CLEAR_OLD},
                {"secretId": "s", "secretString": CLEAR_NEW},
                diffReasons=["secretString"],
            ),
            # The same value copied into an unrelated resource travels too.
            step(
                "aws:ssm/parameter:Parameter",
                "copy",
                {"description": "x"},
                {"description": f"copy of {CLEAR_NEW}"},
            ),
        ]
    }
    markdown, as_json = rendered(document)
    for output in (markdown, as_json):
        assert CLEAR_OLD not in output and CLEAR_NEW not in output
    assert "secretString" in markdown and "🔒 secret" in markdown


def test_a_sentinel_inside_json_text_is_not_decoded() -> None:
    def definitions(value: Any) -> str:
        return json.dumps([{"name": "app", "environment": [{"name": "TOKEN_VALUE", "value": value}]}])

    sentinel = {SECRET_SIG_KEY: SECRET_SIG, "plaintext": json.dumps(IN_JSON)}
    document = {
        "steps": [
            step(
                TASK,
                "task",
                {"containerDefinitions": definitions("plain")},
                {"containerDefinitions": definitions(sentinel)},
            ),
            step("aws:ssm/parameter:Parameter", "copy", {"value": "a"}, {"value": f"x{IN_JSON}y"}),
        ]
    }
    markdown, as_json = rendered(document)
    for output in (markdown, as_json):
        assert IN_JSON not in output
        assert SECRET_SIG not in output
    review = review_preview(document)
    task = next(c for c in review.changes if c.type == TASK)
    assert any(p.secret for p in task.properties)


def test_known_secrets_are_scrubbed_from_base64_and_json_escaped_copies() -> None:
    secret = 'pa"ss-Wd9-distinctive'
    scrubber = Scrubber([secret])
    for offset in range(3):
        blob = base64.b64encode(b"#!/bin/sh\n"[: 7 + offset] + secret.encode() + b"\nexit 0\n").decode()
        scrubbed = scrubber.scrub(blob)
        assert "[secret]" in scrubbed, offset
        assert base64.b64encode(secret.encode()).decode()[4:12] not in scrubbed
    assert scrubber.scrub(json.dumps({"v": secret})) == '{"v": "[secret]"}'
    assert scrubber.scrub("nothing to see here") == "nothing to see here"


def test_the_longest_secret_wins_when_one_contains_another() -> None:
    scrubber = Scrubber(["abcdef-123", "abcdef-123-456789"])
    assert scrubber.scrub("x abcdef-123-456789 y abcdef-123 z") == "x [secret] y [secret] z"
