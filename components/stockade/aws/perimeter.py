"""Compose the AWS perimeter from a stack's settings.

The order is the dependency order: key, network, sandboxes, tunnel. Each block
only maps settings onto one component's args; the components do the work.
"""

from __future__ import annotations

from typing import Any

import pulumi

from stockade.aws.shared.arns import partition_for
from stockade.aws.shared.references import ReferencedNetwork, StackReferences
from stockade.settings import StackSettings
from stockade.settings.providers import BRIDGED_PROVIDERS
from stockade.settings.sandboxes import SandboxProvider
from stockade.tags import stack_tags

BASE_NAME = "stockade"


def build_aws_perimeter(settings: StackSettings) -> dict[str, Any]:
    from stockade.aws.shared.encryption_key import EncryptionKey

    assert settings.aws is not None and settings.aws_region is not None  # enforced by validation
    account = settings.aws
    region = settings.aws_region
    partition = partition_for(region)
    tags = stack_tags(settings)
    outputs: dict[str, Any] = {}
    protect = account.protect_stateful_resources
    shared = settings.shared
    references = StackReferences()

    # --- encryption: one customer-managed key for logs, secrets and artifacts ---
    key_arn: pulumi.Input[str]
    if account.kms_key_arn:
        key_arn = account.kms_key_arn
    elif shared.kms_key is not None:
        key_arn = references.output(shared.kms_key.from_stack, "kmsKeyArn")
    else:
        key = EncryptionKey(
            f"{BASE_NAME}-encryption",
            {
                "account_id": account.account_id,
                "region": region,
                "partition": partition,
                "tags": tags,
                "protect": protect,
            },
        )
        key_arn = key.key_arn
    outputs["kmsKeyArn"] = key_arn

    # --- network (stockade:aws:Network) ---
    from stockade.aws.fleet.from_settings import network_args
    from stockade.aws.network.vpc import Network

    network: Network | ReferencedNetwork
    if shared.network is not None:
        network = ReferencedNetwork.read(
            references, shared.network.from_stack, vpc_endpoints=shared.network.vpc_endpoints
        )
    else:
        network = Network(
            f"{BASE_NAME}-network",
            network_args(settings, kms_key_arn=key_arn, partition=partition, tags=tags),
        )
    outputs.update(network.stack_outputs())

    # --- alarms (stockade:aws:AlarmTopic): one topic for every component's alarms ---
    from stockade.aws.shared.alarm_topic import AlarmTopic, stack_alarm_subscriptions

    alarm_topic_arn: pulumi.Input[str] | None = None
    subscriptions = stack_alarm_subscriptions(settings)
    if shared.alarm_topic is not None:
        alarm_topic_arn = references.output(shared.alarm_topic.from_stack, "alarmTopicArn")
        outputs["alarmTopicArn"] = alarm_topic_arn
    elif subscriptions is not None:
        alarm_topic_arn = AlarmTopic(
            f"{BASE_NAME}-alarms",
            {
                "account_id": account.account_id,
                "region": region,
                "partition": partition,
                "purpose": "alarms",
                "subscriptions": subscriptions,
                "tags": tags,
            },
        ).topic_arn
        outputs["alarmTopicArn"] = alarm_topic_arn

    # --- sandboxes (stockade:aws:SandboxFleet / stockade:aws:ProviderBridge) ---
    if settings.sandboxes.provider is SandboxProvider.SELF_HOSTED:
        from stockade.aws.fleet.from_settings import fleet_args, fleet_images
        from stockade.aws.fleet.sandbox_fleet import SandboxFleet

        session, worker = fleet_images(settings, kms_key_arn=key_arn, partition=partition, tags=tags)
        fleet = SandboxFleet(
            f"{BASE_NAME}-sandboxes",
            fleet_args(
                settings,
                network=network,
                session=session,
                worker=worker,
                alarm_topic_arn=alarm_topic_arn,
                kms_key_arn=key_arn,
                partition=partition,
                tags=tags,
            ),
        )
        outputs.update(fleet.stack_outputs())
    if settings.sandboxes.provider.value in BRIDGED_PROVIDERS:
        from stockade.aws.bridge.provider_bridge import ProviderBridge, bridge_args

        bridge = ProviderBridge(
            f"{BASE_NAME}-{settings.sandboxes.provider.value}-bridge",
            bridge_args(
                settings,
                vpc_id=network.vpc_id,
                subnet_ids=network.private_subnet_ids,
                endpoints_security_group_id=network.endpoints_security_group_id,
                s3_prefix_list_id=network.s3_prefix_list_id,
                internet_prefix_list_id=network.public_internet_prefix_list_id,
                kms_key_arn=key_arn,
                tags=tags,
            ),
        )
        outputs["providerBridgeService"] = bridge.service_name
        outputs["providerBridgeApiHosts"] = bridge.api_hosts

    # --- tunnel (stockade:aws:TunnelGateway) ---
    if settings.tunnel.enabled:
        from stockade.aws.gateway.args import tunnel_args
        from stockade.aws.gateway.tunnel_gateway import TunnelGateway

        gateway = TunnelGateway(
            f"{BASE_NAME}-tunnel",
            {
                "tunnel": tunnel_args(settings.tunnel),
                "vpc_id": network.vpc_id,
                "subnet_ids": network.private_subnet_ids,
                "endpoints_security_group_id": network.endpoints_security_group_id,
                "s3_prefix_list_id": network.s3_prefix_list_id,
                "internet_prefix_list_id": network.public_internet_prefix_list_id,
                "kms_key_arn": key_arn,
                "account_id": account.account_id,
                "region": region,
                "permissions_boundary_arn": account.permissions_boundary_arn,
                "log_retention_days": account.log_retention_days,
                "tags": tags,
                "alarm_topic_arn": alarm_topic_arn,
                "protect": protect,
            },
        )
        outputs.update(gateway.stack_outputs())

    return outputs
