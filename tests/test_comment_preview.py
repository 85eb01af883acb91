"""`stockade comment` and `render_previews`: real `pulumi preview --json` documents, secrets redacted.

The fixtures in tests/fixtures/previews/ follow Pulumi's PreviewDigest schema
(sdk/go/common/display/json.go): steps with op/urn/oldState/newState/diffReasons/
replaceReasons/detailedDiff, changeSummary, diagnostics and config. dev-risky.json
holds distinctive secret strings in the old state, in the new state, in both
(marked only by additionalSecretOutputs), inside JSON text and in a diagnostic.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.review.markdown import render_json, render_markdown
from stockade.review.model import ChangeKind
from stockade.review.preview import PreviewFormatError, render_previews, review_preview, review_previews

FIXTURES = Path(__file__).parent / "fixtures" / "previews"
SECRETS_IN_FIXTURE = (
    # In clear in the old state ("[secret]" in the new), in the old JSON text and in a diagnostic.
    "sk-ant-oat01-OLDVALUE-Zx81-distinctive",
    "tunnel-token-OLD-Qm42-distinctive",  # both states in clear, secret by additionalSecretOutputs
    "tunnel-token-NEW-Qm42-distinctive",
    "tunnel-NEW-sentinel-Pp07-distinctive",  # inside a sentinel object's plaintext
    "AAABAKk3cmV0LWNpcGhlcnRleHQtZm9yLXRoZS1vbGQtdG9rZW4=",  # sentinel ciphertext
)


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture(scope="module")
def dev() -> dict[str, Any]:
    return load("dev-risky.json")


def test_the_fixture_really_holds_the_secrets_in_both_states(dev: dict[str, Any]) -> None:
    text = json.dumps(dev)
    for secret in SECRETS_IN_FIXTURE:
        assert secret in text
    param = next(s for s in dev["steps"] if s["urn"].endswith("::stockade-tunnel-token"))
    assert param["oldState"]["inputs"]["value"] == "tunnel-token-OLD-Qm42-distinctive"
    assert param["newState"]["inputs"]["value"] == "tunnel-token-NEW-Qm42-distinctive"


@pytest.mark.parametrize("max_chars", [60_000, 4_000, 1_000])
def test_no_secret_value_appears_in_any_output(dev: dict[str, Any], max_chars: int) -> None:
    review = review_previews({"dev": dev, "prod-use1": load("prod-use1-no-changes.json")})
    outputs = [
        render_markdown(review, max_chars=max_chars),
        render_json(review),
        json.dumps(review.as_json()),
    ]
    for text in outputs:
        for secret in SECRETS_IN_FIXTURE:
            assert secret not in text
    if max_chars == 60_000:  # with room for values, the secret properties are there, marked
        assert "🔒 secret, value not shown" in outputs[0]


def test_changes_are_classified(dev: dict[str, Any]) -> None:
    stack = review_preview(dev, source="dev-risky.json")
    assert stack.stack == "dev"  # from the URNs
    by_name = {c.name: c for c in stack.changes}
    rules = {name: {r.rule for r in change.risks} for name, change in by_name.items()}
    assert rules["stockade-tunnel-debug-ssh"] == {"ingress-opened"}
    assert rules["stockade-encryption-key"] == {"protection-weakened"}
    assert rules["stockade-network-flow-log"] == {"protection-weakened"}
    assert rules["stockade-fleet-poller-run-task"] == {"iam-widened"}
    assert rules["stockade-audit"] == {"urn-changed-no-alias", "stateful-lost"}
    for secret_holder in ("stockade-fleet-env-key", "stockade-tunnel-token", "stockade-tunnel-token-version"):
        assert rules[secret_holder] == {"secret-changed"}
    assert by_name["stockade-audit"].kind is ChangeKind.RENAME_REPLACE
    assert by_name["stockade-vpc"].kind is ChangeKind.RENAME_ALIASED and not by_name["stockade-vpc"].risks
    # Two resources share that name: the service's desiredCount change is risk-free.
    [service] = [c for c in stack.changes if c.type == "aws:ecs/service:Service"]
    assert service.risks == () and [p.path for p in service.properties] == ["desiredCount"]


def test_a_replacement_spread_over_three_steps_is_one_change(dev: dict[str, Any]) -> None:
    stack = review_preview(dev)
    [task] = [c for c in stack.changes if c.type == "aws:ecs/taskDefinition:TaskDefinition"]
    assert task.kind is ChangeKind.REPLACE
    assert all(p.replaces for p in task.properties)
    moved = {p.path for p in task.properties if not p.secret}
    key = "containerDefinitions(json)[name=poller].secrets[name=ANTHROPIC_ENVIRONMENT_KEY].valueFrom"
    assert key in moved


def test_reads_and_sames_are_counted_not_listed(dev: dict[str, Any]) -> None:
    stack = review_preview(dev)
    assert stack.unchanged == dev["changeSummary"]["same"]
    assert all(c.kind is not ChangeKind.READ for c in stack.changes)
    assert any("1 resource read" in n for n in stack.notes)
    assert all(c.type != "pulumi:pulumi:Stack" for c in stack.changes)


def test_weakening_warnings_and_diagnostics_become_scrubbed_notes(dev: dict[str, Any]) -> None:
    notes = review_preview(dev).notes
    assert any("weakened setting in effect" in n and "network.egress.mode=open" in n for n in notes)
    warning = next(n for n in notes if n.startswith("warning:"))
    assert "[secret]" in warning and "OLDVALUE" not in warning


def test_render_previews_is_the_same_markdown_as_the_command(dev: dict[str, Any]) -> None:
    previews = {"dev": dev, "prod-use1": load("prod-use1-no-changes.json")}
    text = render_previews(previews)
    assert text.startswith("<!-- stockade-review:preview -->\n")
    assert text == render_markdown(review_previews(previews))
    table = text.split("\n\n")[2]
    assert table.index("`dev`") < table.index("`prod-use1`")  # risky stacks first


def test_unknown_and_state_only_ops_do_not_break_rendering(dev: dict[str, Any]) -> None:
    doc = copy.deepcopy(dev)
    doc["steps"].append(
        {
            "op": "discard-replaced",
            "urn": "urn:pulumi:dev::stockade::aws:s3/bucket:Bucket::old",
            "detailedDiff": None,
        }
    )
    doc["steps"].append({"op": "some-future-op", "urn": "urn:pulumi:dev::stockade::aws:sqs/queue:Queue::q"})
    stack = review_preview(doc)
    others = [c for c in stack.changes if c.kind is ChangeKind.OTHER]
    assert {c.name for c in others} == {"old", "q"}
    assert "state-only step" in others[0].note


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "top level: expected a JSON object"),
        ({"resources": []}, "top level: none of the keys"),
        ({"steps": {}}, "steps: expected a list"),
        ({"steps": [{"urn": "urn:pulumi:dev::p::t::n"}]}, r"steps\[0\]\.op: expected a step op string"),
        ({"steps": [{"op": "create", "urn": "not-a-urn"}]}, r"steps\[0\]\.urn: not a Pulumi URN"),
        (
            {"steps": [{"op": "update", "urn": "urn:pulumi:dev::p::t::n", "detailedDiff": {"x": 1}}]},
            r"steps\[0\]\.detailedDiff\['x'\]: expected an object with a `kind`",
        ),
        (
            {"steps": [{"op": "update", "urn": "urn:pulumi:dev::p::t::n", "oldState": {"inputs": []}}]},
            r"steps\[0\]\.oldState\.inputs: expected an object",
        ),
        ({"changeSummary": {"same": "many"}}, "changeSummary: expected an object of op -> count"),
    ],
)
def test_malformed_documents_name_the_place(document: Any, message: str) -> None:
    with pytest.raises(PreviewFormatError, match=f"^my.json: {message}"):
        review_preview(document, source="my.json")


# Secret markers at arbitrary depths: the clear value on the other side never survives.
_keys = st.text(alphabet="abcdefgh", min_size=1, max_size=4)
_leaf = st.one_of(st.integers(-5, 5), st.booleans(), st.text(alphabet="xyz", max_size=5))
_tree = st.recursive(_leaf, lambda inner: st.dictionaries(_keys, inner, max_size=3), max_leaves=8)


@settings(max_examples=60, deadline=None)
@given(
    inputs=st.dictionaries(_keys, _tree, min_size=1, max_size=3),
    path=st.lists(_keys, min_size=1, max_size=3),
    secret_on_old_side=st.booleans(),
    sentinel=st.booleans(),
)
def test_a_value_secret_on_either_side_never_shows(
    inputs: dict[str, Any], path: list[str], secret_on_old_side: bool, sentinel: bool
) -> None:
    clear = "Hyp0thesis-Secret-Value-42"
    marker: Any = (
        {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270"} if sentinel else "[secret]"
    )

    def place(value: Any) -> dict[str, Any]:
        tree = copy.deepcopy(inputs)
        node = tree
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value
        return tree

    old, new = (place(marker), place(clear)) if secret_on_old_side else (place(clear), place(marker))
    urn = "urn:pulumi:dev::stockade::aws:ssm/parameter:Parameter::p"
    document = {
        "steps": [
            {
                "op": "update",
                "urn": urn,
                "oldState": {
                    "urn": urn,
                    "type": "aws:ssm/parameter:Parameter",
                    "custom": True,
                    "inputs": old,
                },
                "newState": {
                    "urn": urn,
                    "type": "aws:ssm/parameter:Parameter",
                    "custom": True,
                    "inputs": new,
                },
                "diffReasons": [path[0]],
                "detailedDiff": None,
            }
        ],
        "changeSummary": {"update": 1},
        "diagnostics": [{"message": f"echo {clear}", "severity": "warning"}],
    }
    review = review_previews({"dev": document})
    for text in (render_markdown(review), render_json(review)):
        assert clear not in text
