"""The comment's size budget: detail goes before risk lines, and the comment says what went."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stockade.review.desired import DesiredState, diff_states
from stockade.review.markdown import DEFAULT_MAX_CHARS, render_markdown
from stockade.review.model import Review

SG_RULE = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TASK = "aws:ecs/taskDefinition:TaskDefinition"


def _resource(type_: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return {
        "urn": f"urn:pulumi:dev::stockade::{type_}::{name}",
        "type": type_,
        "name": name,
        "custom": True,
        "inputs": inputs,
        "options": {},
    }


def _task(index: int, revision: int) -> dict[str, Any]:
    environment = [{"name": f"SETTING_{i}", "value": f"value-{revision}-{i}-" + "x" * 90} for i in range(8)]
    return _resource(
        TASK,
        f"task-{index:03d}",
        {
            "family": f"task-{index:03d}",
            "containerDefinitions": json.dumps(
                [
                    {
                        "name": "app",
                        "image": f"registry.example.com/app@sha256:{revision:064d}",
                        "environment": environment,
                    }
                ]
            ),
        },
    )


def _ingress(index: int, stack: int) -> dict[str, Any]:
    port = 1000 * (stack + 1) + index  # distinct per stack, so each risk line is unique text
    return _resource(
        SG_RULE,
        f"open-{index:03d}",
        {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "cidrIpv4": "0.0.0.0/0"},
    )


def review(changed: int, risky: int, stacks: int = 1) -> Review:
    """`changed` task definitions with new image and settings, plus `risky` new world-open ingress rules."""
    reviews = []
    for stack in range(stacks):
        old = DesiredState.from_json({"resources": [_task(i, 1) for i in range(changed)]})
        new = DesiredState.from_json(
            {"resources": [_task(i, 2) for i in range(changed)] + [_ingress(i, stack) for i in range(risky)]}
        )
        reviews.append(diff_states(f"stack-{stack}", old, new))
    return Review(source="diff", stacks=tuple(reviews))


def risk_lines(r: Review) -> list[str]:
    return [f"**{risk.title}**: {risk.reason}" for s in r.stacks for c in s.changes for risk in c.risks]


def test_200_changed_resources_stay_under_the_cap_and_keep_every_risk_line() -> None:
    r = review(changed=180, risky=20)
    assert sum(len(s.changes) for s in r.stacks) == 200
    full = render_markdown(r, max_chars=10**9)
    assert len(full) > DEFAULT_MAX_CHARS, "the case must overflow the default budget, or it tests nothing"
    text = render_markdown(r)
    assert len(text) <= DEFAULT_MAX_CHARS
    lines = risk_lines(r)
    assert len(lines) == 20
    for line in lines:
        assert line in text
    assert "✂️ Shortened to fit 60,000 characters" in text
    assert "more risk lines did not fit" not in text


def test_values_go_before_paths() -> None:
    r = review(changed=40, risky=3)
    full = render_markdown(r, max_chars=10**9)
    text = render_markdown(r, max_chars=len(full) - 1)
    assert "left out property values of risk-free changes" in text
    # paths still there
    assert "containerDefinitions(json)[name=app].environment[name=SETTING_0].value" in text
    assert "value-2-0-" not in text  # values gone


def test_risk_free_changes_collapse_into_counts() -> None:
    r = review(changed=180, risky=20)
    text = render_markdown(r, max_chars=15_000)
    assert len(text) <= 15_000
    assert (
        "180 risk-free changes, collapsed: 180 update; by type: `aws:ecs/taskDefinition:TaskDefinition` (180)"
        in text
    )


def test_when_risk_lines_alone_overflow_the_rest_are_counted() -> None:
    r = review(changed=0, risky=600, stacks=2)
    text = render_markdown(r, max_chars=20_000)
    assert len(text) <= 20_000
    shown = [line for line in risk_lines(r) if line in text]
    assert 0 < len(shown) < 1200
    assert f"⚠️ {1200 - len(shown)} more risk lines did not fit in 20,000 characters" in text
    assert text.startswith("<!-- stockade-review:diff -->")


@settings(max_examples=25, deadline=None)
@given(
    changed=st.integers(0, 120),
    risky=st.integers(0, 60),
    stacks=st.integers(1, 3),
    max_chars=st.integers(1_000, 80_000),
)
def test_the_budget_always_holds(changed: int, risky: int, stacks: int, max_chars: int) -> None:
    r = review(changed, risky, stacks)
    text = render_markdown(r, max_chars=max_chars)
    assert len(text) <= max_chars
    assert text.startswith("<!-- stockade-review:diff -->\n")
    lines = risk_lines(r)
    missing = [line for line in lines if line not in text]
    if missing:
        assert "more risk lines did not fit" in text
