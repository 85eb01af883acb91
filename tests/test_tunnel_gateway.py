"""stockade:aws:TunnelGateway on the synth: outbound only, hardened, replicated, exact allowed_ips.

Two ways in: the gateway alone through a small program with literal network IDs
(`gateway_synth`), and the whole prod-use1 stack (`synth_stack`). The must-show
properties are asserted on both.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import yaml

from stockade.aws.gateway.args import tunnel_args
from stockade.aws.gateway.tunnel_gateway import TunnelGateway
from stockade.engine import SynthResource, SynthResult, synthesize_config
from stockade.program import load_settings
from stockade.settings.load import read_stack_file

from .conftest import PROJECT_DIR

SG = "aws:ec2/securityGroup:SecurityGroup"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
TASK = "aws:ecs/taskDefinition:TaskDefinition"
SERVICE = "aws:ecs/service:Service"
GATEWAY = "stockade:aws:TunnelGateway"
ENDPOINTS_SG = "sg-0e0e0e0e0e0e0e0e0"
S3_PREFIX_LIST = "pl-0123abcd"
SUBNETS = ["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb", "subnet-0cccccccccccccccc"]
PIN = "@sha256:" + "2" * 64

# prod-use1's routes: wiki 10.50.100.10:8080, search 10.50.100.11:8443, tickets 10.50.101.0/28:443.
# Collapsed: the two adjacent /32 routes render as one /31.
EXPECTED_ALLOWED_IPS = ["10.50.100.10/31", "10.50.101.0/28"]
EDGE = ("198.41.192.0/19", 7844)


def _program(**extra_args: Any) -> Callable[[], None]:
    def program() -> None:
        settings = load_settings()
        assert settings.aws is not None and settings.aws_region is not None
        gateway = TunnelGateway(
            "stockade-tunnel",
            {
                "tunnel": tunnel_args(settings.tunnel),
                "vpc_id": "vpc-0123456789abcdef0",
                "subnet_ids": SUBNETS,
                "endpoints_security_group_id": ENDPOINTS_SG,
                "s3_prefix_list_id": S3_PREFIX_LIST,
                "kms_key_arn": "arn:aws:kms:us-east-1:333333333333:key/11111111-2222-3333-4444-555555555555",
                "account_id": settings.aws.account_id,
                "region": settings.aws_region,
                "permissions_boundary_arn": settings.aws.permissions_boundary_arn,
                "log_retention_days": settings.aws.log_retention_days,
                "tags": {"stockade:stack": pulumi.get_stack()},
                **extra_args,
            },
        )
        for key, value in gateway.stack_outputs().items():
            pulumi.export(key, value)

    return program


@pytest.fixture(scope="module")
def gateway_synth() -> Callable[..., SynthResult]:
    """The gateway alone on prod-use1's settings, with `tunnel` changes applied (cached)."""
    cache: dict[str, SynthResult] = {}

    def run(tunnel_changes: dict[str, Any] | None = None, **extra_args: Any) -> SynthResult:
        key = json.dumps([tunnel_changes, sorted(extra_args)], sort_keys=True, default=str)
        if key not in cache:
            config = copy.deepcopy(read_stack_file(PROJECT_DIR, "prod-use1").config)
            for name, value in (tunnel_changes or {}).items():
                if value is None:
                    config["stockade:tunnel"].pop(name, None)
                else:
                    config["stockade:tunnel"][name] = value
            cache[key] = synthesize_config("prod-use1", config, _program(**extra_args))
        return cache[key]

    return run


def _gateway(result: SynthResult) -> SynthResource:
    return result.one(GATEWAY)


def _under(result: SynthResult, root: SynthResource) -> list[SynthResource]:
    """Every resource below `root` in the parent chain."""
    by_urn = result.by_urn()
    found = []
    for resource in result.resources:
        parent = resource.parent
        while parent is not None and parent != root.urn:
            parent = by_urn[parent].parent if parent in by_urn else None
        if parent == root.urn:
            found.append(resource)
    return found


def _gateway_sg(result: SynthResult) -> SynthResource:
    groups = [r for r in _under(result, _gateway(result)) if r.type == SG and r.name.endswith("tunnel-sg")]
    assert len(groups) == 1, [g.name for g in groups]
    return groups[0]


def _rules_of(result: SynthResult, group: SynthResource, rule_type: str) -> list[SynthResource]:
    return [r for r in result.by_type(rule_type) if r.parent == group.urn]


def _containers(result: SynthResult) -> list[dict[str, Any]]:
    tasks = [r for r in _under(result, _gateway(result)) if r.type == TASK and r.name.endswith("tunnel-task")]
    assert len(tasks) == 1
    return list(json.loads(tasks[0].inputs["containerDefinitions"]))


def _assert_outbound_only(
    result: SynthResult, *, endpoints_sg: str | None, s3_prefix_list: str | None
) -> None:
    """Zero ingress; egress exactly the edge, the route targets and the two named AWS-endpoint rules."""
    group = _gateway_sg(result)
    assert not group.inputs.get("ingress")
    assert [r.name for r in result.by_type(INGRESS) if r.parent == group.urn] == []
    egress = {
        r.name.removeprefix(f"{group.name}-egress-"): r.inputs for r in _rules_of(result, group, EGRESS)
    }
    expected = {
        "cloudflared-edge-198-41-192-0-19-tcp": ("tcp", EDGE),
        "cloudflared-edge-198-41-192-0-19-udp": ("udp", EDGE),
        "upstream-10-50-100-10-32-8080": ("tcp", ("10.50.100.10/32", 8080)),
        "upstream-10-50-100-11-32-8443": ("tcp", ("10.50.100.11/32", 8443)),
        "upstream-10-50-101-0-28-443": ("tcp", ("10.50.101.0/28", 443)),
    }
    # The AWS-endpoint rules, named: HTTPS to the interface endpoints' group and to S3's prefix list.
    aws_rules = {"aws-endpoints": "referencedSecurityGroupId", "s3-gateway": "prefixListId"}
    assert set(egress) == set(expected) | set(aws_rules), sorted(egress)
    for key, (protocol, (cidr, port)) in expected.items():
        rule = egress[key]
        assert (rule["ipProtocol"], rule["cidrIpv4"], rule["fromPort"], rule["toPort"]) == (
            protocol,
            cidr,
            port,
            port,
        )
    for key, field in aws_rules.items():
        rule = egress[key]
        assert (rule["ipProtocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 443, 443)
        assert "cidrIpv4" not in rule and rule[field]
    if endpoints_sg is not None:
        assert egress["aws-endpoints"]["referencedSecurityGroupId"] == endpoints_sg
    if s3_prefix_list is not None:
        assert egress["s3-gateway"]["prefixListId"] == s3_prefix_list


def test_gateway_group_has_no_ingress_and_exactly_the_documented_egress(gateway_synth) -> None:
    _assert_outbound_only(gateway_synth(), endpoints_sg=ENDPOINTS_SG, s3_prefix_list=S3_PREFIX_LIST)


def test_two_hardened_containers_plus_an_init_that_exits_first(gateway_synth) -> None:
    containers = {c["name"]: c for c in _containers(gateway_synth())}
    assert set(containers) == {"mcp-proxy", "cloudflared", "tunnel-files"}
    for name in ("mcp-proxy", "cloudflared"):
        container = containers[name]
        assert container["user"] == "65532:65532"
        assert container["readonlyRootFilesystem"] is True
        assert container["privileged"] is False
        assert container["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
        assert container["stopTimeout"] == 30
        assert container["essential"] is True
        assert all(m["readOnly"] for m in container["mountPoints"])
    init = containers["tunnel-files"]
    assert init["essential"] is False
    assert init["readonlyRootFilesystem"] is True
    assert init["linuxParameters"]["capabilities"]["drop"] == ["ALL"]
    assert "root-owned" in init["dockerLabels"]["stockade.root-reason"]
    assert containers["mcp-proxy"]["dependsOn"] == [{"condition": "SUCCESS", "containerName": "tunnel-files"}]
    proxy_paths = {m["containerPath"]: m["readOnly"] for m in containers["mcp-proxy"]["mountPoints"]}
    assert proxy_paths == {"/etc/mcp-gateway": True, "/data": True}


def test_cloudflared_runs_the_vendor_command_with_the_token_as_an_ecs_secret(gateway_synth) -> None:
    containers = {c["name"]: c for c in _containers(gateway_synth())}
    cloudflared = containers["cloudflared"]
    assert cloudflared["command"][:2] == ["tunnel", "--no-autoupdate"]
    assert cloudflared["command"][-3:] == ["run", "--url", "http://localhost:8080"]
    assert [s["name"] for s in cloudflared["secrets"]] == ["TUNNEL_TOKEN"]
    assert all(s["valueFrom"].startswith("arn:aws:secretsmanager:") for s in cloudflared["secrets"])
    plain = {e["name"]: e["value"] for e in cloudflared["environment"]}
    assert "TUNNEL_TOKEN" not in plain
    assert plain == {"STOCKADE_TOKEN_VERSION": "1"}
    # Off by default: `tunnel ready` is not verified in the pinned digest, and a missing command
    # would make ECS replace every task forever.
    assert "healthCheck" not in cloudflared and "--metrics" not in cloudflared["command"]
    checked = {c["name"]: c for c in _containers(gateway_synth({"healthCheck": True}))}["cloudflared"]
    assert checked["healthCheck"]["command"][0] == "CMD"  # no shell in the distroless image
    assert checked["healthCheck"]["command"][-1] == "ready"
    init = containers["tunnel-files"]
    assert {s["name"] for s in init["secrets"]} == {"PROXY_CONFIG", "TLS_CERT", "TLS_KEY"}
    text = json.dumps(containers)
    assert "-----BEGIN" not in text and "allowed_ips" not in text  # no PEM, no config in the definition


def test_images_are_pinned_and_pulled_from_the_stack_mirrors(gateway_synth) -> None:
    result = gateway_synth()
    images = {c["name"]: c["image"] for c in _containers(result)}
    for image in images.values():
        assert "@sha256:" in image
        assert ".dkr.ecr.us-east-1.amazonaws.com/stockade-prod-use1/" in image
    assert images["mcp-proxy"].endswith("efb27b299d627e4134815663cb8896641eeaee025d734c0f695582b4df38f013")
    mirrors = result.outputs["tunnelImageMirrors"]
    assert set(mirrors) == {
        "us-docker.pkg.dev/anthropic-public-registry/images/mcp-proxy@sha256:"
        "efb27b299d627e4134815663cb8896641eeaee025d734c0f695582b4df38f013",
        "cloudflare/cloudflared@sha256:6b599ca3e974349ead3286d178da61d291961182ec3fe9c505e1dd02c8ac31b0",
        "busybox@sha256:73aaf090f3d85aa34ee199857f03fa3a95c8ede2ffd4cc2cdb5b94e566b11662",
    }
    for repository in result.by_type("aws:ecr/repository:Repository"):
        assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
        assert repository.inputs["encryptionConfigurations"][0]["encryptionType"] == "KMS"


def test_public_pulls_open_https_and_are_reported(gateway_synth) -> None:
    result = gateway_synth({"images": {"mirror": False}})
    group = _gateway_sg(result)
    internet = [r for r in _rules_of(result, group, EGRESS) if r.name.endswith("internet-https")]
    assert len(internet) == 1 and internet[0].inputs["cidrIpv4"] == "0.0.0.0/0"
    assert result.by_type("aws:ecr/repository:Repository") == []
    assert any("tunnel.images.mirror" in w for w in result.weakenings)
    narrowed = gateway_synth({"images": {"mirror": False}}, internet_prefix_list_id="pl-0ffffffffffffffff")
    rule = next(
        r for r in _rules_of(narrowed, _gateway_sg(narrowed), EGRESS) if r.name.endswith("internet-https")
    )
    assert rule.inputs["prefixListId"] == "pl-0ffffffffffffffff" and "cidrIpv4" not in rule.inputs


def test_replicas_spread_over_private_subnets_with_rollback_and_no_exec(gateway_synth) -> None:
    service = next(r for r in _under(gateway_synth(), _gateway(gateway_synth())) if r.type == SERVICE)
    inputs = service.inputs
    assert inputs["desiredCount"] == 3
    assert inputs["networkConfiguration"]["subnets"] == SUBNETS
    assert inputs["networkConfiguration"]["assignPublicIp"] is False
    assert inputs["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert inputs["deploymentMinimumHealthyPercent"] == 100
    assert inputs["enableExecuteCommand"] is False
    assert inputs["launchType"] == "FARGATE"


def test_allowed_ips_equal_the_route_targets(gateway_synth) -> None:
    config = yaml.safe_load(gateway_synth().outputs["tunnelProxyConfig"])
    assert config["upstream"]["allowed_ips"] == EXPECTED_ALLOWED_IPS
    assert config["tls"] == {"cert_file": "/data/tls.crt", "key_file": "/data/tls.key"}
    assert config["listen_addr"] == ":8080"


def test_token_version_rolls_the_task_definition(gateway_synth) -> None:
    first = {c["name"]: c for c in _containers(gateway_synth())}["cloudflared"]
    bumped = {c["name"]: c for c in _containers(gateway_synth({"tokenVersion": 2}))}["cloudflared"]
    assert {"name": "STOCKADE_TOKEN_VERSION", "value": "2"} in bumped["environment"]
    assert first["environment"] != bumped["environment"]


def test_execution_role_reads_only_its_own_secrets(gateway_synth) -> None:
    result = gateway_synth()
    gateway = _gateway(result)
    policies = [r for r in _under(result, gateway) if r.type == "aws:iam/rolePolicy:RolePolicy"]
    assert len(policies) == 1
    statements = json.loads(policies[0].inputs["policy"])["Statement"]
    actions = {
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert "*" not in actions and not any(a.endswith(":*") for a in actions)
    wildcard = [s for s in statements if s["Resource"] == "*"]
    assert [s["Action"] for s in wildcard] == [["ecr:GetAuthorizationToken"]]
    by_sid = {s["Sid"]: s for s in statements}
    assert by_sid["ReadTaskSecrets"]["Action"] == ["secretsmanager:GetSecretValue"]
    assert len(by_sid["ReadTaskSecrets"]["Resource"]) == 4  # config, cert, key, token
    # The stack key decrypts the secrets only through Secrets Manager.
    assert by_sid["DecryptTaskSecrets"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "secretsmanager.us-east-1.amazonaws.com"}
    }
    role = next(r for r in _under(result, gateway) if r.type == "aws:iam/role:Role")
    assert role.inputs["permissionsBoundary"] == "arn:aws:iam::333333333333:policy/stockade-boundary"


def test_health_alarms_watch_tasks_and_ip_validation_failures(gateway_synth) -> None:
    result = gateway_synth()
    filters = {r.inputs["pattern"] for r in result.by_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")}
    assert filters == {
        '"Registered tunnel connection"',
        '"no route for host"',
        '"IP validation failed"',
        '"tls handshake failed"',
    }
    alarms = {r.name: r.inputs for r in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    no_tasks = alarms["stockade-tunnel-health-no-running-tasks"]
    assert no_tasks["metricName"] == "RunningTaskCount" and no_tasks["treatMissingData"] == "breaching"
    probe = alarms["stockade-tunnel-health-ip-validation-failed"]
    assert probe["metricName"] == "IpValidationFailed"
    assert probe["evaluationPeriods"] == 3 and probe["datapointsToAlarm"] == 3
    # Used alone, the gateway makes a topic of its own (with its own small key).
    topic = result.one("aws:sns/topic:Topic")
    assert topic.name == "stockade-tunnel-alarms-topic"
    assert topic.inputs["name"] == "stockade-prod-use1-tunnel-alarms" and topic.inputs["kmsMasterKeyId"]
    assert no_tasks["alarmActions"] == probe["alarmActions"] == [result.outputs["tunnelAlarmTopicArn"]]


def test_a_given_alarm_topic_is_used_and_none_is_made(gateway_synth) -> None:
    shared = "arn:aws:sns:us-east-1:333333333333:stockade-prod-use1-alarms"
    result = gateway_synth(alarm_topic_arn=shared)
    assert result.by_type("aws:sns/topic:Topic") == []
    assert result.by_type("aws:kms/key:Key") == []
    alarms = result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 2 and all(a.inputs["alarmActions"] == [shared] for a in alarms)
    assert result.outputs["tunnelAlarmTopicArn"] == shared


def test_disabled_alarms_make_no_alarm_and_no_topic(gateway_synth) -> None:
    result = gateway_synth({"alarms": {"enabled": False}})
    assert result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm") == []
    assert result.by_type("aws:sns/topic:Topic") == []
    assert "tunnelAlarmTopicArn" not in result.outputs
    assert len(result.by_type("aws:cloudwatch/logMetricFilter:LogMetricFilter")) == 4  # metrics stay


def test_setup_tasks_reach_only_the_api_and_aws(gateway_synth) -> None:
    result = gateway_synth(
        {
            "token": None,
            "certificates": {"source": "setup"},
            "setup": {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"},
            "images": {"awsCli": f"public.ecr.aws/aws-cli/aws-cli{PIN}"},
        }
    )
    groups = {r.name: r for r in result.by_type(SG)}
    setup_group = groups["stockade-tunnel-setup-sg"]
    prefix = "stockade-tunnel-setup-sg-egress-"
    rules = {r.name.removeprefix(prefix): r.inputs for r in _rules_of(result, setup_group, EGRESS)}
    assert set(rules) == {"aws-endpoints", "s3-gateway", "anthropic-api-160-79-104-0-23"}
    assert rules["anthropic-api-160-79-104-0-23"]["toPort"] == 443
    tasks = {r.name: json.loads(r.inputs["containerDefinitions"]) for r in result.by_type(TASK)}
    init = {c["name"]: c for c in tasks["stockade-tunnel-setup-init"]}
    assert init["setup"]["entryPoint"] == ["/setup"]
    assert init["setup"]["command"][:3] == ["init", "--output", "dir:/setup/data"]
    renew = {c["name"]: c for c in tasks["stockade-tunnel-setup-renew"]}
    assert renew["setup"]["command"][-2:] == ["--renew-before", "720h"]
    assert all(c["user"] == "65532:65532" for c in init.values() if c["name"] != "prepare")
    policies = {
        r.name: json.loads(r.inputs["policy"]) for r in result.by_type("aws:iam/rolePolicy:RolePolicy")
    }
    init_actions = {
        s["Action"] if isinstance(s["Action"], str) else tuple(s["Action"])
        for s in policies["stockade-tunnel-setup-init-role-policy"]["Statement"]
    }
    assert "sts:GetWebIdentityToken" in init_actions
    renew_actions = json.dumps(policies["stockade-tunnel-setup-renew-role-policy"])
    assert "GetWebIdentityToken" not in renew_actions
    schedule = result.one("aws:scheduler/schedule:Schedule")
    assert schedule.inputs["target"]["ecsParameters"]["networkConfiguration"]["assignPublicIp"] is False
    # The schedule is under the stack CMK, so its role decrypts it, for this schedule only.
    assert schedule.inputs["kmsKeyArn"].startswith("arn:aws:kms:")
    scheduler = {s["Sid"]: s for s in policies["stockade-tunnel-setup-scheduler-policy"]["Statement"]}
    decrypt = scheduler["DecryptTheRenewSchedule"]
    assert decrypt["Action"] == "kms:Decrypt" and decrypt["Resource"] == schedule.inputs["kmsKeyArn"]
    assert decrypt["Condition"] == {
        "ArnLike": {
            "kms:EncryptionContext:aws:scheduler:schedule:arn": (
                "arn:aws:scheduler:us-east-1:333333333333:schedule/default/stockade-tunnel-setup-renew-schedule-*"
            )
        }
    }
    assert result.outputs["tunnelSetupRunTaskCommand"].startswith("aws ecs run-task ")


# --- the whole prod-use1 stack ----------------------------------------------------------------


def test_prod_use1_gateway_is_outbound_only(synth_stack) -> None:
    _assert_outbound_only(synth_stack("prod-use1"), endpoints_sg=None, s3_prefix_list=None)


def test_prod_use1_gateway_runs_two_hardened_containers_on_three_replicas(synth_stack) -> None:
    result = synth_stack("prod-use1")
    containers = {c["name"]: c for c in _containers(result)}
    workload = [c for name, c in containers.items() if name != "tunnel-files"]
    assert sorted(c["name"] for c in workload) == ["cloudflared", "mcp-proxy"]
    assert all(c["readonlyRootFilesystem"] and c["user"] == "65532:65532" for c in workload)
    service = next(r for r in _under(result, _gateway(result)) if r.type == SERVICE)
    assert service.inputs["desiredCount"] >= 2
    subnets = service.inputs["networkConfiguration"]["subnets"]
    assert len(set(subnets)) >= 2


def test_prod_use1_allowed_ips_are_the_route_targets(synth_stack) -> None:
    config = yaml.safe_load(synth_stack("prod-use1").outputs["tunnelProxyConfig"])
    assert config["upstream"]["allowed_ips"] == EXPECTED_ALLOWED_IPS


SETUP_FIRST_RUN = {
    "token": None,
    "tunnelDomain": None,
    "certificates": {"source": "setup"},
    "setup": {"enabled": True, "federationRuleId": "fdrl_01abc", "organizationId": "org-0123456789"},
    "images": {"awsCli": f"public.ecr.aws/aws-cli/aws-cli{PIN}"},
}


def test_setup_first_run_needs_no_tunnel_domain_and_waits_at_zero_tasks(gateway_synth) -> None:
    result = gateway_synth(SETUP_FIRST_RUN)
    service = result.one("aws:ecs/service:Service")
    assert service.inputs["desiredCount"] == 0
    alarms = {r.name for r in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert not any("no-running-tasks" in name for name in alarms), alarms
    assert "tunnelDomain" in result.outputs["tunnelSetupNextStep"]
    assert result.outputs["tunnelSetupRunTaskCommand"]


def test_once_the_domain_is_set_the_gateway_runs_its_replicas(gateway_synth) -> None:
    result = gateway_synth({**SETUP_FIRST_RUN, "tunnelDomain": "abcd1234.tunnel.anthropic.com"})
    service = result.one("aws:ecs/service:Service")
    assert service.inputs["desiredCount"] >= 2
    assert "tunnelSetupNextStep" not in result.outputs
    alarms = {r.name for r in result.by_type("aws:cloudwatch/metricAlarm:MetricAlarm")}
    assert any("no-running-tasks" in name for name in alarms)


def test_without_setup_bare_routes_still_need_the_domain() -> None:
    from stockade.settings.tunnel import TunnelSettings

    from .test_settings_hostile import CIPHERTEXT

    with pytest.raises(ValueError, match="bare route names need the tunnel domain"):
        TunnelSettings.model_validate(
            {"enabled": True, "routes": {"wiki": "http://10.1.2.3:8080"}, "token": {"secure": CIPHERTEXT}}
        )
