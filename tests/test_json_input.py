"""json_input: the same JSON text as Output.from_input(...).apply(json.dumps), from fewer Outputs."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pulumi_aws as aws

from stockade.engine import synthesize_config
from stockade.engine.redact import REDACTED
from stockade.json_input import json_input

from .conftest import minimal_aws_config


def _document(bucket: aws.s3.Bucket, extra: Any = None) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [bucket.arn, "arn:aws:s3:::fixed"]},
            {"Effect": "Deny", "Action": "s3:*", "Resource": (bucket.arn,), "Condition": {"n": 3, "b": True}},
        ],
        "Extra": extra,
    }


def _policies(make: Any) -> dict[str, Any]:
    def program() -> None:
        bucket = aws.s3.Bucket("data", bucket="stockade-data")
        for name, value in make(bucket).items():
            aws.iam.Policy(name, policy=value)

    result = synthesize_config("dev", minimal_aws_config(), program)
    return {p.name: p.inputs["policy"] for p in result.by_type("aws:iam/policy:Policy")}


def test_a_document_with_outputs_renders_as_the_sdk_would() -> None:
    policies = _policies(
        lambda bucket: {
            "ours": json_input(_document(bucket), sort_keys=True),
            "sdk": pulumi.Output.from_input(_document(bucket)).apply(lambda d: json.dumps(d, sort_keys=True)),
        }
    )
    assert policies["ours"] == policies["sdk"]
    statement = json.loads(policies["ours"])["Statement"]
    assert statement[0]["Resource"] == ["arn:aws:s3:::stockade-data", "arn:aws:s3:::fixed"]
    assert statement[1]["Resource"] == ["arn:aws:s3:::stockade-data"]


def test_a_plain_document_is_text_at_once() -> None:
    document = {"b": [1, 2.5, None, True], "a": "x"}
    assert json_input(document, sort_keys=True) == json.dumps(document, sort_keys=True)


def test_a_secret_anywhere_inside_makes_the_text_secret() -> None:
    policies = _policies(
        lambda bucket: {
            "secret": json_input(_document(bucket, [{"k": pulumi.Output.secret("s3cr3t-value")}]))
        }
    )
    assert policies["secret"] == REDACTED
