"""Perimeter diagrams: drawn from the desired state, embedded in docs/perimeters.md without drift, and
shown in a diff comment exactly when a change moves the perimeter."""

from __future__ import annotations

import copy
import subprocess
import sys
from collections.abc import Callable
from typing import Any

from stockade.diagram import docs
from stockade.diagram.perimeter import perimeter_mermaid, perimeter_of
from stockade.engine.model import SynthResult
from stockade.review.diff import changed_perimeter
from stockade.review.markdown import render_markdown
from stockade.review.model import Review, StackReview
from stockade.review.stackfiles import list_stacks

from .conftest import PROJECT_DIR


def test_docs_perimeters_md_is_up_to_date(synth_stack: Callable[[str], SynthResult]) -> None:
    synths = {stack: synth_stack(stack).as_json() for stack in list_stacks(PROJECT_DIR)}
    expected = docs.render(synths)
    actual = (PROJECT_DIR / docs.DOC).read_text(encoding="utf-8")
    assert actual == expected, (
        "docs/perimeters.md is out of date: run `python -m stockade.diagram.docs --write`"
    )


def test_the_staging_picture_shows_filter_allowlist_tunnel_and_nothing_inbound(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    text = perimeter_of(synth_stack("staging").as_json())
    assert text.startswith("flowchart LR\n")
    assert "AWS Network Firewall: TLS SNI allowlist" in text
    assert "pypi.org" in text and "registry.npmjs.org" in text
    assert 'route1["wiki: http://10.41.100.10:8080"]' in text
    assert "nothing inbound" in text and "INBOUND OPEN" not in text


def test_public_ingress_is_drawn_as_open() -> None:
    sg = {
        "type": "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "name": "web-in",
        "inputs": {"cidrIpv4": "0.0.0.0/0", "ipProtocol": "tcp", "fromPort": 443, "toPort": 443},
    }
    text = perimeter_mermaid("x", [sg])
    assert "INBOUND OPEN" in text and "web-in: tcp 443 from 0.0.0.0/0" in text
    assert "nothing inbound" not in text


def test_labels_cannot_break_out_of_the_diagram() -> None:
    domains = {
        "type": "aws:route53/resolverFirewallDomainList:ResolverFirewallDomainList",
        "inputs": {"domains": ['evil"]; click x "https://e']},
    }
    association = {
        "type": "aws:route53/resolverFirewallRuleGroupAssociation:ResolverFirewallRuleGroupAssociation"
    }
    fleet = {"type": "stockade:aws:SandboxFleet"}
    text = perimeter_mermaid("x", [domains, association, fleet])
    assert "evil#quot;]; click x #quot;https://e" in text
    assert 'evil"' not in text


def test_the_diff_comment_shows_the_picture_only_when_the_perimeter_moved(
    synth_stack: Callable[[str], SynthResult],
) -> None:
    old = synth_stack("staging").as_json()
    assert changed_perimeter(old, copy.deepcopy(old)) is None
    new: dict[str, Any] = copy.deepcopy(old)
    for resource in new["resources"]:
        if resource["name"] == "stockade-network-dns-allowed":
            resource["inputs"]["domains"].append("pastebin.com")
    picture = changed_perimeter(old, new)
    assert picture is not None and "pastebin.com" in picture
    text = render_markdown(
        Review(source="diff", stacks=(StackReview("staging", "present", (), perimeter=picture),))
    )
    assert "Perimeter at the head revision (it changed)" in text
    assert "```mermaid\nflowchart LR" in text


def test_synth_format_mermaid_prints_the_picture() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", "local", "--format", "mermaid"],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("flowchart LR\n")
    assert "Egress proxy (squid): domain allowlist" in done.stdout
