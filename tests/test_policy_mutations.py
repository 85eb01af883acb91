"""Mutation tests: weaken exactly what one rule guards, and only that rule fails.

Each case starts from the compliant baseline (tests/test_policy_support.py),
changes one property of one resource, and checks that the expected rule - and
no other - reports it, against the resource that was changed.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from stockade.engine import SynthResource
from stockade.guardrails.report import FindingKind, Status
from stockade.guardrails.rules import RULES

from .test_policy_support import (
    base_resources,
    edit,
    edit_containers,
    failing,
    run_rules,
    without,
)

Mutation = Callable[[list[SynthResource]], list[SynthResource]]


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(inputs: dict[str, Any]) -> None:
        node = inputs
        *parents, leaf = path.split(".")
        for key in parents:
            node = node[key]
        node[leaf] = value

    return change


def _delete(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs.pop(key)


def _container_field(container: str, key: str, value: Any) -> Callable[[list[dict[str, Any]]], None]:
    def change(definitions: list[dict[str, Any]]) -> None:
        (target,) = [d for d in definitions if d["name"] == container]
        target[key] = value

    return change


def _tls_condition_true(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"][0]["Condition"]["Bool"]["aws:SecureTransport"] = "true"
    inputs["policy"] = json.dumps(document)


def _wildcard_policy(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    document["Statement"][1]["Action"] = "cloudwatch:*"
    document["Statement"][1]["Resource"] = "*"
    inputs["policy"] = json.dumps(document)


def _write_every_task_prefix(inputs: dict[str, Any]) -> None:
    document = json.loads(inputs["policy"])
    (resource,) = [document["Statement"][0]["Resource"]]
    document["Statement"][0]["Resource"] = resource.replace("${aws:userid}", "*")
    inputs["policy"] = json.dumps(document)


def _write_anywhere_in_a_key(inputs: dict[str, Any]) -> None:
    # The scoped prefix, but after a wildcard: it would match inside another task's keys.
    document = json.loads(inputs["policy"])
    bucket, _, rest = document["Statement"][0]["Resource"].partition("/")
    document["Statement"][0]["Resource"] = f"{bucket}/*/{rest}"
    document["Statement"][0]["Action"] = ["s3:Put*"]
    inputs["policy"] = json.dumps(document)


def _widen_allowed_ips(inputs: dict[str, Any]) -> None:
    inputs["insecureValue"] = inputs["insecureValue"].replace(
        "- 10.20.100.10/32", "- 10.20.100.10/32\n  - 10.0.0.0/8"
    )


def _drop_on_work(definitions: list[dict[str, Any]]) -> None:
    definitions[0]["command"] = ["ant", "beta:worker", "poll", "--workdir", "/workspace"]


def _plain_secret(definitions: list[dict[str, Any]]) -> None:
    definitions[0]["environment"].append({"name": "TUNNEL_TOKEN", "value": "abc"})


def _org_key(definitions: list[dict[str, Any]]) -> None:
    definitions[0]["secrets"].append(
        {"name": "ANTHROPIC_API_KEY", "valueFrom": "arn:aws:secretsmanager:us-east-1:123456789012:secret:org"}
    )


def _root_init(labelled: bool) -> Callable[[list[dict[str, Any]]], None]:
    """Add an init container running as root that the proxy waits for (the Fargate-volume case)."""

    def change(definitions: list[dict[str, Any]]) -> None:
        init = {**definitions[0], "name": "files", "user": "0:0", "essential": False}
        if labelled:
            init["dockerLabels"] = {"stockade.root-reason": "fills root-owned Fargate volumes; exits first"}
        definitions[0]["dependsOn"] = [{"containerName": "files", "condition": "SUCCESS"}]
        definitions.append(init)

    return change


def _key_into_sandbox(definitions: list[dict[str, Any]]) -> None:
    (proxy,) = [d for d in definitions if d["name"] == "api-proxy"]
    (session,) = [d for d in definitions if d["name"] == "session"]
    session["secrets"] = list(proxy["secrets"])
    session["environment"] = [e for e in session["environment"] if e["name"] != "ANTHROPIC_ENVIRONMENT_KEY"]


def _remove_tag(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda inputs: inputs["tags"].pop(key)


# (rule expected to fail, resource the finding names, mutation)
CASES: list[tuple[str, str, Mutation]] = [
    ("no-ingress", "workload",
     lambda r: edit(r, "workload", _set("ingress", [{"protocol": "tcp", "fromPort": 22, "toPort": 22,
                                                     "cidrBlocks": ["10.0.0.0/8"]}]))),
    ("no-ingress", "endpoints-https", lambda r: edit(r, "endpoints-https", _set("cidrIpv4", "0.0.0.0/0"))),
    ("no-ingress", "local-proxy",
     lambda r: edit(r, "local-proxy", _set("ports", [{"internal": 8080, "external": 8080}]))),
    ("no-public-ip", "private-a", lambda r: edit(r, "private-a", _set("mapPublicIpOnLaunch", True))),
    ("no-public-ip", "gateway-service",
     lambda r: edit(r, "gateway-service", _set("networkConfiguration.assignPublicIp", True))),
    ("egress-declared-only", "workload-egress-edge",
     lambda r: edit(r, "workload-egress-edge", _set("cidrIpv4", "0.0.0.0/0"))),
    ("egress-declared-only", "workload-egress-https", lambda r: without(r, "dns-filter")),
    ("vpc-flow-logs", "vpc", lambda r: without(r, "vpc-flow")),
    ("kms-encryption-at-rest", "logs", lambda r: edit(r, "logs", _delete("kmsKeyId"))),
    ("kms-encryption-at-rest", "environment-key",
     lambda r: edit(r, "environment-key", _set("kmsKeyId", "alias/aws/secretsmanager"))),
    ("kms-key-rotation", "key", lambda r: edit(r, "key", _set("enableKeyRotation", False))),
    ("log-retention", "logs", lambda r: edit(r, "logs", _delete("retentionInDays"))),
    ("s3-encryption-kms", "artifacts",
     lambda r: edit(r, "artifacts-sse", _set("rules", [{"applyServerSideEncryptionByDefault":
                                                        {"sseAlgorithm": "AES256"}}]))),
    ("s3-public-access-blocked", "artifacts",
     lambda r: edit(r, "artifacts-pab", _set("restrictPublicBuckets", False))),
    ("s3-tls-only", "artifacts", lambda r: edit(r, "artifacts-tls", _tls_condition_true)),
    ("s3-versioning", "artifacts",
     lambda r: edit(r, "artifacts-versioning", _set("versioningConfiguration.status", "Suspended"))),
    ("container-read-only-root", "gateway-task",
     lambda r: edit_containers(r, "gateway-task",
                               _container_field("mcp-proxy", "readonlyRootFilesystem", False))),
    ("container-read-only-root", "local-proxy", lambda r: edit(r, "local-proxy", _set("readOnly", False))),
    ("container-non-root", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _container_field("cloudflared", "user", "0"))),
    ("container-non-root", "poller",
     lambda r: edit_containers(r, "poller", _container_field("poller", "user", ""))),
    ("container-non-root", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _root_init(labelled=False))),
    ("container-root-init", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _root_init(labelled=True))),
    ("container-not-privileged", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _container_field("mcp-proxy", "privileged", True))),
    ("container-drops-capabilities", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _container_field("mcp-proxy", "linuxParameters", {}))),
    ("container-drops-capabilities", "local-proxy",
     lambda r: edit(r, "local-proxy", _set("securityOpts", []))),
    ("container-stop-timeout", "gateway-task",
     lambda r: edit_containers(r, "gateway-task", _container_field("cloudflared", "stopTimeout", 10))),
    ("no-plaintext-secrets", "poller", lambda r: edit_containers(r, "poller", _plain_secret)),
    ("no-org-api-key", "poller", lambda r: edit_containers(r, "poller", _org_key)),
    ("sandbox-per-session", "poller", lambda r: edit_containers(r, "poller", _drop_on_work)),
    ("environment-key-only-in-proxy", "session-task",
     lambda r: edit_containers(r, "session-task", _key_into_sandbox)),
    ("images-pinned-by-digest", "gateway-task",
     lambda r: edit_containers(r, "gateway-task",
                               _container_field("mcp-proxy", "image", "ghcr.io/x/mcp-proxy:1.0"))),
    ("images-pinned-by-digest", "local-proxy-image",
     lambda r: edit(r, "local-proxy-image", _set("name", "ghcr.io/example/mcp-proxy:latest"))),
    ("no-ecs-exec", "gateway-service",
     lambda r: edit(r, "gateway-service", _set("enableExecuteCommand", True))),
    ("ecs-circuit-breaker", "poller-service",
     lambda r: edit(r, "poller-service", _set("deploymentCircuitBreaker.rollback", False))),
    ("prod-replicas", "poller-service", lambda r: edit(r, "poller-service", _set("desiredCount", 1))),
    ("iam-no-wildcards", "task-role-policy", lambda r: edit(r, "task-role-policy", _wildcard_policy)),
    ("sandbox-writes-only-its-own-artifacts", "task-role-policy",
     lambda r: edit(r, "task-role-policy", _write_every_task_prefix)),
    ("sandbox-writes-only-its-own-artifacts", "task-role-policy",
     lambda r: edit(r, "task-role-policy", _write_anywhere_in_a_key)),
    ("iam-permissions-boundary", "task-role",
     lambda r: edit(r, "task-role", _delete("permissionsBoundary"))),
    ("tunnel-allowed-ips", "gateway-proxy-config",
     lambda r: edit(r, "gateway-proxy-config", _widen_allowed_ips)),
    ("tunnel-allowed-ips", "gateway-proxy-config",
     lambda r: edit(r, "gateway-proxy-config",
                    _set("insecureValue", "listen_addr: ':8080'\nroutes: {wiki: 'http://10.20.100.10:8080'}\n"))),
    ("required-tags", "artifacts", lambda r: edit(r, "artifacts", _remove_tag("owner"))),
]  # fmt: skip


@pytest.mark.parametrize(("rule", "resource", "mutate"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_weakening_fails_exactly_its_rule(rule: str, resource: str, mutate: Mutation) -> None:
    report = run_rules(mutate(base_resources()))
    assert failing(report) == {rule}
    named = [f for f in report.of_kind(FindingKind.VIOLATION) if f.rule == rule]
    assert named, "the rule failed without a finding"
    assert all(f.resource and f.resource.startswith(f"{resource} (") for f in named), named


def test_every_rule_has_a_mutation_test() -> None:
    assert {c[0] for c in CASES} == {rule.name for rule in RULES}


def test_mandatory_violation_fails_the_report_and_advisory_does_not() -> None:
    mandatory = run_rules(edit(base_resources(), "key", _set("enableKeyRotation", False)))
    advisory = run_rules(edit(base_resources(), "poller-service", _set("desiredCount", 1)))
    assert (mandatory.passed, mandatory.exit_code) == (False, 3)
    assert (advisory.passed, advisory.exit_code) == (True, 0)
    assert {o.rule: o.status for o in advisory.outcomes}["prod-replicas"] is Status.WARN
