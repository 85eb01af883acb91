"""Risk rules and resource matching on synthetic desired states (SynthResult JSON), no processes.

Each rule gets a case that must fire and a close neighbour that must not, so a
rule that fires on everything (or nothing) fails here.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from stockade.review.desired import DesiredState, diff_states
from stockade.review.markdown import render_json, render_markdown
from stockade.review.model import ChangeKind, Review, StackReview

SG = "aws:ec2/securityGroup:SecurityGroup"
SG_RULE = "aws:ec2/securityGroupRule:SecurityGroupRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
BUCKET = "aws:s3/bucket:Bucket"
POLICY = "aws:iam/policy:Policy"
ROLE = "aws:iam/role:Role"


def resource(
    type_: str,
    name: str,
    inputs: dict[str, Any] | None = None,
    *,
    parent_type: str | None = None,
    aliases: tuple[str, ...] = (),
    custom: bool = True,
    **options: Any,
) -> dict[str, Any]:
    qualified = f"{parent_type}${type_}" if parent_type else type_
    return {
        "urn": f"urn:pulumi:dev::stockade::{qualified}::{name}",
        "type": type_,
        "name": name,
        "parent": None,
        "provider": None,
        "custom": custom,
        "inputs": inputs or {},
        "dependsOn": [],
        "options": {"aliases": list(aliases), **options},
    }


def state(*resources: dict[str, Any], weakenings: tuple[str, ...] = ()) -> DesiredState:
    return DesiredState.from_json({"resources": list(resources), "weakenings": list(weakenings)})


def diff(old: list[dict[str, Any]], new: list[dict[str, Any]], **kwargs: Any) -> StackReview:
    return diff_states("dev", state(*old), state(*new), **kwargs)


def rules_for(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for change in diff(old, new).changes:
        for risk in change.risks:
            found.setdefault(risk.rule, []).append(risk.reason)
    return found


def sg(
    ingress: list[dict[str, Any]] | None = None, egress: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return resource(SG, "sg", {"ingress": ingress or [], "egress": egress or []})


def block(cidr: str, port: int | tuple[int, int] = 443, protocol: str = "tcp") -> dict[str, Any]:
    low, high = (port, port) if isinstance(port, int) else port
    return {"protocol": protocol, "fromPort": float(low), "toPort": float(high), "cidrBlocks": [cidr]}


# --- ingress and public IPs ----------------------------------------------------------------------


def test_inline_ingress_block_added_is_a_new_path() -> None:
    found = rules_for([sg()], [sg(ingress=[block("10.0.0.0/8", 22)])])
    assert found["ingress-opened"] == ["new ingress: `tcp 22 from 10.0.0.0/8`"]


def test_narrowing_ingress_is_not_a_new_path() -> None:
    assert "ingress-opened" not in rules_for(
        [sg(ingress=[block("10.0.0.0/8")])], [sg(ingress=[block("10.1.0.0/16")])]
    )


def test_widening_ingress_cidr_is_a_new_path() -> None:
    found = rules_for([sg(ingress=[block("10.1.0.0/16")])], [sg(ingress=[block("10.0.0.0/8")])])
    assert "ingress-opened" in found


def test_security_group_rule_resources_by_direction() -> None:
    rule = resource(
        SG_RULE,
        "r",
        {
            "type": "ingress",
            "protocol": "tcp",
            "fromPort": 5432.0,
            "toPort": 5432.0,
            "cidrBlocks": ["0.0.0.0/0"],
        },
    )
    found = rules_for([], [rule])
    assert found["ingress-opened"] == ["new ingress: `tcp 5432 from 0.0.0.0/0 (anywhere)`"]
    assert "egress-widened" not in found


def test_vpc_ingress_rule_resource_is_a_new_path() -> None:
    rule = resource(INGRESS, "in", {"ipProtocol": "-1", "cidrIpv6": "::/0"})
    assert rules_for([], [rule])["ingress-opened"] == ["new ingress: `all traffic from ::/0 (anywhere)`"]


@pytest.mark.parametrize(
    ("type_", "old", "new"),
    [
        (
            "aws:ecs/service:Service",
            {"networkConfiguration": {"assignPublicIp": False}},
            {"networkConfiguration": {"assignPublicIp": True}},
        ),
        ("aws:ec2/subnet:Subnet", {}, {"mapPublicIpOnLaunch": True}),
        (
            "aws:ec2/launchTemplate:LaunchTemplate",
            {"networkInterfaces": [{"associatePublicIpAddress": "false"}]},
            {"networkInterfaces": [{"associatePublicIpAddress": "true"}]},
        ),
    ],
)
def test_public_ip_flags(type_: str, old: dict[str, Any], new: dict[str, Any]) -> None:
    found = rules_for([resource(type_, "x", old)], [resource(type_, "x", new)])
    assert any("turns on a public IP address" in r for r in found["ingress-opened"])


def test_public_ip_flag_already_on_is_not_new() -> None:
    inputs = {"networkConfiguration": {"assignPublicIp": True, "subnets": ["a"]}}
    changed = {"networkConfiguration": {"assignPublicIp": True, "subnets": ["b"]}}
    assert (
        rules_for(
            [resource("aws:ecs/service:Service", "s", inputs)],
            [resource("aws:ecs/service:Service", "s", changed)],
        )
        == {}
    )


def test_elastic_ip_and_internet_facing_load_balancer() -> None:
    found = rules_for(
        [], [resource("aws:ec2/eip:Eip", "ip"), resource("aws:lb/loadBalancer:LoadBalancer", "lb")]
    )
    assert len(found["ingress-opened"]) == 2
    internal = resource("aws:lb/loadBalancer:LoadBalancer", "lb", {"internal": True})
    assert rules_for([], [internal]) == {}


def test_docker_published_ports() -> None:
    container = "docker:index/container:Container"
    public = resource(container, "c", {"ports": [{"internal": 8080.0, "external": 80.0}]})
    loopback = resource(
        container, "c", {"ports": [{"internal": 8080.0, "external": 80.0, "ip": "127.0.0.1"}]}
    )
    assert "publishes container port `8080`" in rules_for([], [public])["ingress-opened"][0]
    assert rules_for([], [loopback]) == {}


# --- egress ---------------------------------------------------------------------------------------


def test_egress_to_anywhere() -> None:
    found = rules_for([sg(egress=[block("10.0.0.0/16")])], [sg(egress=[block("0.0.0.0/0")])])
    assert found["egress-widened"] == ["new egress: `tcp 443 to 0.0.0.0/0 (anywhere)`"]


def test_egress_port_range_and_protocol_widened() -> None:
    wider_ports = rules_for(
        [sg(egress=[block("10.0.0.0/16")])], [sg(egress=[block("10.0.0.0/16", (0, 65535))])]
    )
    assert wider_ports["egress-widened"] == ["new egress: `tcp all ports to 10.0.0.0/16`"]
    all_traffic = rules_for([sg(egress=[block("10.0.0.0/16")])], [sg(egress=[block("10.0.0.0/16", 0, "-1")])])
    assert all_traffic["egress-widened"] == ["new egress: `all traffic to 10.0.0.0/16`"]


def test_removing_egress_is_not_widening() -> None:
    assert (
        rules_for(
            [sg(egress=[block("10.0.0.0/16"), block("10.2.0.0/16")])], [sg(egress=[block("10.0.0.0/16")])]
        )
        == {}
    )


# --- encryption, logging, deletion protection --------------------------------------------------------


@pytest.mark.parametrize(
    ("type_", "old", "new", "expected"),
    [
        (
            LOG_GROUP,
            {"kmsKeyId": "arn:aws:kms:k", "retentionInDays": 30.0},
            {"retentionInDays": 30.0},
            "customer-managed KMS key removed from `kmsKeyId`",
        ),
        (LOG_GROUP, {"retentionInDays": 365}, {"retentionInDays": 30}, "log retention shortened"),
        # As synth reports it: every number a double.
        (LOG_GROUP, {"retentionInDays": 365.0}, {"retentionInDays": 30.0}, "from 365 to 30 days"),
        (LOG_GROUP, {"retentionInDays": 365}, {}, "log retention setting removed"),
        (
            "aws:kms/key:Key",
            {"enableKeyRotation": True},
            {"enableKeyRotation": False},
            "KMS key rotation turned off",
        ),
        ("aws:rds/instance:Instance", {"deletionProtection": True}, {}, "deletion protection turned off"),
        (BUCKET, {"forceDestroy": False}, {"forceDestroy": True}, "`forceDestroy` turned on"),
        (
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]},
            {"rules": [{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}]},
            "downgraded from `aws:kms` to `AES256`",
        ),
        (
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            {"blockPublicPolicy": True},
            {"blockPublicPolicy": False},
            "public access block loosened",
        ),
        (
            "aws:ecs/taskDefinition:TaskDefinition",
            {
                "containerDefinitions": json.dumps(
                    [{"name": "a", "logConfiguration": {"logDriver": "awslogs"}}]
                )
            },
            {"containerDefinitions": json.dumps([{"name": "a"}])},
            "logging configuration removed at `containerDefinitions(json)[name=a].logConfiguration`",
        ),
    ],
)
def test_protection_weakened(type_: str, old: dict[str, Any], new: dict[str, Any], expected: str) -> None:
    found = rules_for([resource(type_, "x", old)], [resource(type_, "x", new)])
    assert any(expected in reason for reason in found["protection-weakened"]), found


def test_strengthening_protection_is_quiet() -> None:
    old = resource(LOG_GROUP, "x", {"retentionInDays": 30})
    new = resource(LOG_GROUP, "x", {"retentionInDays": 365, "kmsKeyId": "arn:aws:kms:k"})
    assert rules_for([old], [new]) == {}


def test_protective_resources_removed() -> None:
    flow_log = resource("aws:ec2/flowLog:FlowLog", "flow", {"vpcId": "vpc-1"})
    assert "VPC flow log removed" in rules_for([flow_log], [])["protection-weakened"][0]


def test_protect_option_dropped() -> None:
    found = rules_for([resource(BUCKET, "b", protect=True)], [resource(BUCKET, "b", protect=False)])
    assert found["protection-weakened"] == ["`protect` dropped: a destroy or a replacement can now delete it"]


# --- IAM --------------------------------------------------------------------------------------


def policy(*statements: dict[str, Any]) -> dict[str, Any]:
    return resource(
        POLICY, "p", {"policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}
    )


def allow(
    action: str | list[str], resource_arn: str | list[str] = "arn:aws:s3:::b/*", **extra: Any
) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource_arn, **extra}


def test_new_actions_are_named() -> None:
    found = rules_for([policy(allow("s3:GetObject"))], [policy(allow(["s3:GetObject", "s3:DeleteObject"]))])
    [reason] = found["iam-widened"]
    assert "`s3:DeleteObject`" in reason and "`s3:GetObject`" not in reason


def test_wildcards_are_called_out() -> None:
    [reason] = rules_for([policy(allow("s3:GetObject"))], [policy(allow("s3:*", "*"))])["iam-widened"]
    assert "wildcard action" in reason and "wildcard resource" in reason


def test_grants_covered_by_an_old_wildcard_are_not_widening() -> None:
    assert rules_for([policy(allow("s3:*"))], [policy(allow(["s3:GetObject", "s3:PutObject"]))]) == {}


def test_dropped_condition_and_removed_deny() -> None:
    tls_only = {
        "Effect": "Deny",
        "Action": "s3:*",
        "Resource": "*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    conditional = allow("s3:GetObject", Condition={"StringEquals": {"aws:PrincipalAccount": "111111111111"}})
    found = rules_for([policy(conditional, tls_only)], [policy(allow("s3:GetObject"))])
    reasons = " ".join(found["iam-widened"])
    assert "condition dropped" in reasons
    assert "Deny statements removed" in reasons


def test_trust_policy_opened_to_any_principal() -> None:
    def role(principal: Any) -> dict[str, Any]:
        trust = {"Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": principal}]}
        return resource(ROLE, "r", {"assumeRolePolicy": json.dumps(trust)})

    found = rules_for([role({"Service": "ecs-tasks.amazonaws.com"})], [role({"AWS": "*"})])
    assert "any principal" in found["iam-widened"][0]


def test_managed_policy_attachment_and_boundary_removal() -> None:
    attachment = resource(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "a",
        {"role": "r", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"},
    )
    assert rules_for([], [attachment])["iam-widened"] == [
        "attaches managed policy `arn:aws:iam::aws:policy/AdministratorAccess`"
    ]
    bounded = resource(ROLE, "r", {"permissionsBoundary": "arn:aws:iam::1:policy/b"})
    assert rules_for([bounded], [resource(ROLE, "r", {})])["iam-widened"] == ["permissions boundary removed"]


# --- stateful resources, URNs, secrets -------------------------------------------------------------


def test_stateful_resource_deleted() -> None:
    found = rules_for([resource("aws:kms/key:Key", "k")], [])
    assert found["stateful-lost"] == [
        "KMS key deleted: data encrypted under it becomes unreadable once the deletion window ends"
    ]
    assert rules_for([resource("aws:sqs/queue:Queue", "q")], []) == {}


def test_retain_on_delete_is_mentioned() -> None:
    found = rules_for([resource(BUCKET, "b", retainOnDelete=True)], [])
    assert "`retainOnDelete` is set" in found["stateful-lost"][0]


def test_rename_matching_by_urn_alias_and_type_name() -> None:
    old = [resource(BUCKET, "data"), resource(LOG_GROUP, "logs"), resource("aws:sqs/queue:Queue", "q")]
    new = [
        resource(BUCKET, "data", parent_type="stockade:x:Store"),
        resource(
            LOG_GROUP,
            "logs",
            parent_type="stockade:x:Logs",
            aliases=("urn:pulumi:dev::stockade::" + LOG_GROUP + "::logs",),
        ),
        resource("aws:sqs/queue:Queue", "q"),
    ]
    review = diff(old, new)
    kinds = {c.name: c.kind for c in review.changes}
    assert kinds == {"data": ChangeKind.RENAME_REPLACE, "logs": ChangeKind.RENAME_ALIASED}
    assert review.unchanged == 1
    data = next(c for c in review.changes if c.name == "data")
    assert {r.rule for r in data.risks} == {"urn-changed-no-alias", "stateful-lost"}


def test_renamed_resource_with_similar_inputs_is_paired() -> None:
    inputs = {
        "cidrBlock": "10.0.1.0/24",
        "vpcId": "vpc-1",
        "availabilityZone": "us-east-1a",
        "tags": {"a": "b"},
    }
    review = diff(
        [resource("aws:ec2/subnet:Subnet", "private-a", inputs)],
        [resource("aws:ec2/subnet:Subnet", "private-1", inputs)],
    )
    [change] = review.changes
    assert change.kind is ChangeKind.RENAME_REPLACE
    assert "looks like `private-a` renamed" in change.note


def test_unrelated_resources_of_one_type_are_not_paired() -> None:
    review = diff(
        [
            resource(
                "aws:ec2/subnet:Subnet", "a", {"cidrBlock": "10.0.1.0/24", "availabilityZone": "us-east-1a"}
            )
        ],
        [
            resource(
                "aws:ec2/subnet:Subnet", "b", {"cidrBlock": "10.0.9.0/24", "availabilityZone": "us-east-1c"}
            )
        ],
    )
    assert sorted(c.kind for c in review.changes) == [ChangeKind.ADD, ChangeKind.REMOVE]


def test_component_rename_is_not_a_risk_itself() -> None:
    review = diff(
        [resource("stockade:x:Old", "c", custom=False)],
        [resource("stockade:x:Old", "c", parent_type="stockade:x:Outer", custom=False)],
    )
    [change] = review.changes
    assert change.kind is ChangeKind.RENAME_REPLACE and change.risks == ()


def test_secret_inputs_changed_never_show_values() -> None:
    old = resource("aws:ssm/parameter:Parameter", "p", {"value": "[secret]", "type": "SecureString"})
    new = resource(
        "aws:ssm/parameter:Parameter", "p", {"value": "plain-now-visible-xyz", "type": "SecureString"}
    )
    review = diff([old], [new])
    [change] = review.changes
    assert [r.rule for r in change.risks] == ["secret-changed"]
    [prop] = change.properties
    assert prop.secret and prop.old is None and prop.new is None
    # The new value is not secret in this (contrived) input, yet the path was secret on one side: never shown.
    whole = Review(source="diff", stacks=(review,))
    for text in (render_markdown(whole), render_json(whole)):
        assert "plain-now-visible-xyz" not in text


def test_additional_secret_outputs_mark_inputs_secret() -> None:
    old = resource(
        "aws:rds/instance:Instance",
        "db",
        {"password": "old-pass-123456"},
        additionalSecretOutputs=["password"],
    )
    new = resource(
        "aws:rds/instance:Instance",
        "db",
        {"password": "new-pass-654321"},
        additionalSecretOutputs=["password"],
    )
    [change] = diff([old], [new]).changes
    assert change.properties[0].secret
    assert "old-pass" not in json.dumps(change.as_json())


# --- stack level --------------------------------------------------------------------------------


def test_new_weakenings_are_risks_and_removed_ones_notes() -> None:
    review = diff_states("dev", state(weakenings=("open egress",)), state(weakenings=("pool mode",)))
    assert [r.rule for r in review.stack_risks] == ["new-weakening"]
    assert "pool mode" in review.stack_risks[0].reason
    assert any("open egress" in n for n in review.notes)


def test_secret_config_risk_only_for_stacks_on_both_sides() -> None:
    changed = [("stockade:tunnel.token", "changed")]
    assert [r.rule for r in diff_states("dev", state(), state(), changed).stack_risks] == ["secret-changed"]
    assert diff_states("dev", None, state(), changed).stack_risks == ()


def test_property_paths_use_pulumi_notation() -> None:
    old = resource(BUCKET, "b", {"tags": {"cost-center": "1", "owner": "a"}})
    new = resource(BUCKET, "b", {"tags": {"cost-center": "2", "owner": "a"}})
    [change] = diff([old], [new]).changes
    assert [p.path for p in change.properties] == ['tags["cost-center"]']
    assert (change.properties[0].old, change.properties[0].new) == ("1", "2")


def test_no_change_means_no_entries() -> None:
    same = [resource(BUCKET, "b", {"bucket": "x"}), sg(egress=[block("10.0.0.0/16")])]
    review = diff(same, same)
    assert review.changes == () and review.unchanged == 2
    assert "No resource changes (2 unchanged)" in render_markdown(Review(source="diff", stacks=(review,)))
