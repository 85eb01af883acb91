"""The fleet's switches: pool mode, ECS Exec, alarms and the artifacts bucket."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pulumi

from stockade.aws.fleet.from_settings import fleet_args, fleet_images, network_args
from stockade.aws.fleet.sandbox_fleet import SandboxFleet
from stockade.aws.network.vpc import Network
from stockade.engine import SynthResult
from stockade.program import load_settings

from .test_sandbox_fleet import (
    REQUIRED_VOLUMES,
    TASK_DEFINITION,
    container,
    environment,
    fleet,
    in_fleet,
    named,
    secrets,
)

Config = Callable[[str], dict[str, Any]]


def pool_config(example_config: Config, **sandboxes: Any) -> dict[str, Any]:
    config = example_config("dev")
    current = config["stockade:sandboxes"]
    for key in ("sessionImage", "maxConcurrentSessions"):
        current.pop(key)
    current.update({"mode": "pool", "poolSize": 3, **sandboxes})
    return config


def test_pool_mode_runs_in_process_workers_and_is_reported(synth_config, example_config) -> None:
    result = synth_config("dev", pool_config(example_config))
    assert {t.name for t in fleet(result, TASK_DEFINITION)} == {"stockade-sandboxes-worker-task"}
    worker = container(result, "stockade-sandboxes-worker-task", "worker")
    assert worker["entryPoint"] == [
        "ant", "beta:worker", "poll", "--workdir", "/workspace", "--log-format", "json", "--max-idle", "60s",
    ]  # fmt: skip
    assert "--on-work" not in worker["entryPoint"]
    assert environment(worker) == {"ANTHROPIC_ENVIRONMENT_ID": "env_01DevExample"}
    assert set(secrets(worker)) == {"ANTHROPIC_ENVIRONMENT_KEY"}
    assert {m["containerPath"] for m in worker["mountPoints"]} == REQUIRED_VOLUMES
    assert worker["user"] == "65532:65532" and worker["readonlyRootFilesystem"] is True
    service = named(result, "aws:ecs/service:Service", "stockade-sandboxes-worker-service").inputs
    assert service["desiredCount"] == 3
    assert service["networkConfiguration"]["assignPublicIp"] is False
    task_role = json.loads(
        named(result, "aws:iam/rolePolicy:RolePolicy", "stockade-sandboxes-worker-task-role-policy").inputs[
            "policy"
        ]
    )
    assert [s["Sid"] for s in task_role["Statement"]] == ["PublishQueueMetrics"]
    assert any("sandboxes.mode is 'pool'" in w for w in result.weakenings)
    assert result.outputs["poolServiceName"] and "pollerServiceName" not in result.outputs


def test_pool_mode_alarms_watch_the_worker_service(synth_config, example_config) -> None:
    result = synth_config("dev", pool_config(example_config))
    alarm = named(
        result, "aws:cloudwatch/metricAlarm:MetricAlarm", "stockade-sandboxes-alarm-no-poller"
    ).inputs
    assert alarm["dimensions"]["ServiceName"] == result.outputs["poolServiceName"]


def test_exec_is_off_by_default_and_when_enabled_adds_the_channel_and_is_reported(
    synth_stack, synth_config, example_config
) -> None:
    default = synth_stack("dev")
    assert not [e for e in default.by_type("aws:ec2/vpcEndpoint:VpcEndpoint") if "ssmmessages" in e.name]
    config = example_config("dev")
    config["stockade:sandboxes"]["enableExec"] = True
    result = synth_config("dev", config)
    service = named(result, "aws:ecs/service:Service", "stockade-sandboxes-poller-service").inputs
    assert service["enableExecuteCommand"] is True
    (cluster,) = fleet(result, "aws:ecs/cluster:Cluster")
    assert (
        cluster.inputs["configuration"]["executeCommandConfiguration"]["kmsKeyId"]
        == result.outputs["kmsKeyArn"]
    )
    policy = json.loads(
        named(result, "aws:iam/rolePolicy:RolePolicy", "stockade-sandboxes-poller-task-role-policy").inputs[
            "policy"
        ]
    )
    assert "EcsExecChannel" in {s["Sid"] for s in policy["Statement"]}
    sandbox = json.loads(
        named(result, "aws:iam/rolePolicy:RolePolicy", "stockade-sandboxes-sandbox-task-role-policy").inputs[
            "policy"
        ]
    )
    assert "EcsExecChannel" not in {s["Sid"] for s in sandbox["Statement"]}
    assert [e for e in result.by_type("aws:ec2/vpcEndpoint:VpcEndpoint") if "ssmmessages" in e.name]
    assert any("enableExec is true" in w for w in result.weakenings)


def _alarms(result: SynthResult) -> dict[str, dict[str, Any]]:
    prefix = "stockade-sandboxes-alarm-"
    return {a.name[len(prefix) :]: a.inputs for a in fleet(result, "aws:cloudwatch/metricAlarm:MetricAlarm")}


def test_alarms_watch_pollers_and_the_queue_and_notify_an_encrypted_topic(synth_stack) -> None:
    result = synth_stack("prod-use1")
    alarms = _alarms(result)
    assert set(alarms) == {"no-poller", "queue-depth", "no-worker-polling", "stalled-work"}
    poller = alarms["no-poller"]
    assert (poller["namespace"], poller["metricName"]) == ("ECS/ContainerInsights", "RunningTaskCount")
    assert poller["dimensions"] == {
        "ClusterName": result.outputs["sandboxClusterName"],
        "ServiceName": result.outputs["pollerServiceName"],
    }
    assert poller["comparisonOperator"] == "LessThanThreshold" and poller["threshold"] == 1
    assert poller["treatMissingData"] == "breaching"
    depth = alarms["queue-depth"]
    assert (depth["namespace"], depth["metricName"]) == ("Stockade/Sandboxes", "QueueDepth")
    assert depth["dimensions"] == {"Stack": "prod-use1"} and depth["threshold"] == 50
    assert alarms["no-worker-polling"]["treatMissingData"] == "breaching"
    # The stack's one alarm topic, made by the perimeter and shared with the tunnel gateway.
    topic_arn = result.outputs["sandboxAlarmTopicArn"]
    assert topic_arn == result.outputs["alarmTopicArn"] == result.outputs["tunnelAlarmTopicArn"]
    assert all(a["alarmActions"] == a["okActions"] == [topic_arn] for a in alarms.values())
    assert not fleet(result, "aws:sns/topic:Topic")  # the fleet makes no topic of its own
    (topic,) = result.by_type("aws:sns/topic:Topic")
    assert topic.name == "stockade-alarms-topic" and topic.inputs["name"] == "stockade-prod-use1-alarms"
    assert topic.inputs["kmsMasterKeyId"].startswith("arn:aws:kms:")
    (key,) = [k for k in result.by_type("aws:kms/key:Key") if k.name == "stockade-alarms-key"]
    assert key.inputs["enableKeyRotation"] is True
    (statement,) = [
        s
        for s in json.loads(key.inputs["policy"])["Statement"]
        if s["Sid"] == "CloudWatchAlarmsOfThisAccountPublish"
    ]
    assert statement["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": "333333333333"}


def test_alarm_subscriptions_and_threshold_come_from_settings(synth_config, example_config) -> None:
    config = example_config("dev")
    config["stockade:sandboxes"]["queueDepthAlarm"] = 7
    config["stockade:sandboxes"]["alarms"] = {
        "subscriptions": [
            {"protocol": "email", "endpoint": "oncall@example.com"},
            {"protocol": "sqs", "endpoint": "arn:aws:sqs:us-east-2:111111111111:alarms"},
        ]
    }
    result = synth_config("dev", config)
    assert _alarms(result)["queue-depth"]["threshold"] == 7
    subscriptions = result.by_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("sqs", "arn:aws:sqs:us-east-2:111111111111:alarms"),
    ]


def test_artifacts_bucket_is_private_kms_encrypted_versioned_expiring_and_tls_only(synth_stack) -> None:
    result = synth_stack("prod-use1")
    (bucket,) = fleet(result, "aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is False
    (encryption,) = fleet(
        result, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    (rule,) = encryption.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": result.outputs["kmsKeyArn"],
    }
    assert rule["bucketKeyEnabled"] is True
    (block,) = fleet(result, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock")
    assert all(
        block.inputs[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    (ownership,) = fleet(result, "aws:s3/bucketOwnershipControls:BucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (versioning,) = fleet(result, "aws:s3/bucketVersioning:BucketVersioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    (lifecycle,) = fleet(result, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration")
    expiry = lifecycle.inputs["rules"][0]
    assert (
        expiry["expiration"]["days"] == 90 and expiry["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    )
    (policy,) = fleet(result, "aws:s3/bucketPolicy:BucketPolicy")
    statements = json.loads(policy.inputs["policy"])["Statement"]
    tls = [s for s in statements if s["Condition"].get("Bool") == {"aws:SecureTransport": "false"}]
    assert tls and tls[0]["Effect"] == "Deny"


def test_log_groups_are_encrypted_and_keep_the_configured_retention(synth_stack) -> None:
    for stack, days in (("dev", 30), ("prod-use1", 365)):
        result = synth_stack(stack)
        groups = fleet(result, "aws:cloudwatch/logGroup:LogGroup")
        assert {g.name for g in groups} == {
            "stockade-sandboxes-sandbox-logs",
            "stockade-sandboxes-poller-logs",
        }
        assert all(g.inputs["kmsKeyId"] == result.outputs["kmsKeyArn"] for g in groups)
        assert all(g.inputs["retentionInDays"] == days for g in groups)


def test_every_taggable_fleet_resource_carries_the_component_tag(synth_stack) -> None:
    result = synth_stack("prod-use1")
    tagged = [r for r in result.resources if in_fleet(r) and "tags" in r.inputs]
    assert len(tagged) > 15
    for resource in tagged:
        tags = resource.inputs["tags"]
        assert tags["stockade:component"] == "sandbox-fleet", resource.name
        assert tags["stockade:stack"] == "prod-use1" and tags["owner"] == "platform-team"


def test_the_stack_topic_delivers_to_fleet_and_tunnel_subscribers_once_each(
    synth_config, example_config
) -> None:
    config = example_config("prod-use1")
    oncall = {"protocol": "email", "endpoint": "oncall@example.com"}
    config["stockade:sandboxes"]["alarms"] = {"subscriptions": [oncall]}
    config["stockade:tunnel"]["alarms"] = {
        "subscriptions": [oncall, {"protocol": "https", "endpoint": "https://pager.example.com/hook"}]
    }
    result = synth_config("prod-use1", config)
    assert len(result.by_type("aws:sns/topic:Topic")) == 1
    subscriptions = result.by_type("aws:sns/topicSubscription:TopicSubscription")
    assert sorted((s.inputs["protocol"], s.inputs["endpoint"]) for s in subscriptions) == [
        ("email", "oncall@example.com"),
        ("https", "https://pager.example.com/hook"),
    ]


def test_a_fleet_used_alone_makes_its_own_topic(synth_config, example_config) -> None:
    key = "arn:aws:kms:us-east-2:111111111111:key/11111111-2222-3333-4444-555555555555"

    def program() -> None:
        settings = load_settings()
        tags = {"stockade:stack": pulumi.get_stack()}
        network = Network("net", network_args(settings, kms_key_arn=key, partition="aws", tags=tags))
        session, worker = fleet_images(settings, kms_key_arn=key, partition="aws", tags=tags)
        fleet_alone = SandboxFleet(
            "fleet",
            fleet_args(
                settings,
                network=network,
                session=session,
                worker=worker,
                kms_key_arn=key,
                partition="aws",
                tags=tags,
            ),
        )
        pulumi.export("topic", fleet_alone.alarm_topic_arn)

    config = example_config("dev")
    config["stockade:sandboxes"]["alarms"] = {
        "subscriptions": [{"protocol": "email", "endpoint": "a@example.com"}]
    }
    result = synth_config("dev", config, program)
    (topic,) = fleet(result, "aws:sns/topic:Topic")
    # Named after the fleet ("fleet", not the stack's "stockade-sandboxes") and the stack.
    assert topic.name == "fleet-alarms-topic" and topic.inputs["name"] == "fleet-dev-fleet-alarms"
    (subscription,) = fleet(result, "aws:sns/topicSubscription:TopicSubscription")
    assert subscription.inputs["endpoint"] == "a@example.com"
    alarms = fleet(result, "aws:cloudwatch/metricAlarm:MetricAlarm")
    assert len(alarms) == 4 and all(a.inputs["alarmActions"] == [result.outputs["topic"]] for a in alarms)
