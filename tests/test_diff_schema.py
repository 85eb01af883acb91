"""The JSON both review commands write matches docs/diff.schema.json; the schema refuses what it should."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from stockade.engine import redact as engine_redact
from stockade.review import secrets
from stockade.review.desired import DesiredState, diff_states
from stockade.review.model import Review, RevisionInfo
from stockade.review.preview import review_previews
from stockade.review.risk import RULES, SECRET_CONFIG_RULE, WEAKENING_RULE

from .conftest import PROJECT_DIR

SCHEMA = json.loads((PROJECT_DIR / "docs" / "diff.schema.json").read_text())
FIXTURES = Path(__file__).parent / "fixtures" / "previews"


def validate(document: Any) -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    jsonschema.validate(document, SCHEMA, cls=jsonschema.Draft202012Validator)


def _diff_review() -> Review:
    urn = "urn:pulumi:dev::stockade::aws:ssm/parameter:Parameter::p"
    old = {
        "resources": [
            {
                "urn": urn,
                "type": "aws:ssm/parameter:Parameter",
                "name": "p",
                "inputs": {"value": "[secret]", "tier": "Standard"},
            }
        ]
    }
    new = {
        "resources": [
            {
                "urn": urn,
                "type": "aws:ssm/parameter:Parameter",
                "name": "p",
                "inputs": {"value": "x", "tier": "Advanced"},
            }
        ],
        "weakenings": ["open egress"],
    }
    stack = diff_states(
        "dev",
        DesiredState.from_json(old),
        DesiredState.from_json(new),
        [("stockade:tunnel.token", "changed")],
    )
    return Review(
        source="diff",
        stacks=(stack,),
        base=RevisionInfo("main (1a2b3c4)", "main", "1a2b3c4d" * 5),
        head=RevisionInfo("working tree"),
    )


def test_diff_output_matches_the_schema() -> None:
    document = _diff_review().as_json()
    validate(document)
    assert document["stacks"][0]["resources"][0]["risks"]


def test_preview_output_matches_the_schema() -> None:
    previews = {p.stem: json.loads(p.read_text()) for p in FIXTURES.glob("*.json")}
    validate(review_previews(previews).as_json())


def test_every_rule_id_is_in_the_schema() -> None:
    ids = {r.id for r in (*RULES, WEAKENING_RULE, SECRET_CONFIG_RULE)}
    assert ids == set(SCHEMA["$defs"]["risk"]["properties"]["rule"]["enum"])


def test_the_schema_refuses_a_secret_with_a_value() -> None:
    document = _diff_review().as_json()
    document["stacks"][0]["resources"][0]["properties"].append(
        {"path": "value", "kind": "update", "secret": True, "old": "leak"}
    )
    with pytest.raises(jsonschema.ValidationError):
        validate(document)


def test_sentinels_match_the_engine() -> None:
    # stockade.review keeps its own copy so `stockade comment` does not load the Pulumi SDK.
    assert (secrets.SECRET_SIG_KEY, secrets.SECRET_SIG, secrets.UNKNOWN, secrets.REDACTED) == (
        engine_redact.SECRET_SIG_KEY,
        engine_redact.SECRET_SIG,
        engine_redact.UNKNOWN,
        engine_redact.REDACTED,
    )
