"""`stockade:aws:AlarmTopic`: the one SNS topic a stack's CloudWatch alarms publish to.

The perimeter creates it once and hands its ARN to the fleet and the tunnel
gateway (`alarm_topic_arn`); a component used on its own makes one for itself.

The topic has its own small key: CloudWatch can publish to an encrypted topic
only when the key policy lets the CloudWatch service use the key, and the
stack's key may be the customer's (`kmsKeyArn`), whose policy Stockade does not
own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, NotRequired, TypedDict

import pulumi
import pulumi_aws as aws

from stockade.aws.shared.naming import naming_for
from stockade.settings.sandboxes import AlarmSubscription

if TYPE_CHECKING:
    from stockade.settings import StackSettings


AlarmProtocolName = Literal["email", "https", "sqs", "lambda"]


class AlarmSubscriptionArgs(TypedDict):
    """One delivery of an alarm topic (built from settings by `subscription_args`)."""

    protocol: AlarmProtocolName
    """SNS protocol: `email`, `https`, `sqs` or `lambda`."""

    endpoint: str
    """The address, URL or ARN for that protocol (validated by the settings)."""


def subscription_args(subscription: AlarmSubscription) -> AlarmSubscriptionArgs:
    """A validated settings subscription as plain component args."""
    return {
        "protocol": subscription.protocol.value,
        "endpoint": subscription.endpoint,
    }


class AlarmTopicArgs(TypedDict):
    """Inputs of an AlarmTopic."""

    account_id: str
    """Account whose CloudWatch alarms may publish (and whose root administers the key)."""

    region: str
    """Region of the alarms and the topic."""

    partition: str
    """AWS partition (`aws`, `aws-cn`, `aws-us-gov`)."""

    purpose: str
    """Suffix of the topic's name, `<name_base>-<stack>-<purpose>` (e.g. `alarms`)."""

    subscriptions: Sequence[AlarmSubscriptionArgs]
    """Where the topic delivers."""

    tags: dict[str, str]
    """Tags of the key and the topic."""

    name_base: NotRequired[str]
    """First part of the topic's name; default: derived from the component's name
    (aws/shared/naming.py). A component's own topic takes its parent's."""


DEFAULT_NAME = "stockade-alarms"


@dataclass(frozen=True)
class AccountScope:
    """Who may publish: CloudWatch alarms of this account and region only."""

    account_id: str
    partition: str
    region: str

    def condition(self) -> dict[str, dict[str, str]]:
        alarms = f"arn:{self.partition}:cloudwatch:{self.region}:{self.account_id}:alarm:*"
        return {
            "StringEquals": {"aws:SourceAccount": self.account_id},
            "ArnLike": {"aws:SourceArn": alarms},
        }


def key_policy(account: AccountScope) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministersThroughIam",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{account.partition}:iam::{account.account_id}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                },
                {
                    "Sid": "CloudWatchAlarmsOfThisAccountPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
                    "Resource": "*",
                    "Condition": account.condition(),
                },
            ],
        },
        sort_keys=True,
    )


def topic_policy(topic_arn: str, account: AccountScope) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "CloudWatchAlarmsOfThisAccount",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudwatch.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": account.condition(),
                },
                {
                    "Sid": "DenyPlaintextTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "sns:Publish",
                    "Resource": topic_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
            ],
        },
        sort_keys=True,
    )


class AlarmTopic(pulumi.ComponentResource):
    """A KMS-encrypted SNS topic that only this account's CloudWatch alarms may publish to."""

    topic_arn: pulumi.Output[str]
    """ARN of the topic: what the fleet's and gateway's `alarm_topic_arn` take."""

    def __init__(self, name: str, args: AlarmTopicArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("stockade:aws:AlarmTopic", name, None, opts)
        account = AccountScope(args["account_id"], args["partition"], args["region"])
        naming = naming_for(name, DEFAULT_NAME, args.get("name_base"))
        tags = dict(args["tags"])
        child = pulumi.ResourceOptions(parent=self)
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Stockade {naming.scope}: {args['purpose']} topic",
            enable_key_rotation=True,
            rotation_period_in_days=365,
            deletion_window_in_days=30,
            policy=key_policy(account),
            tags=tags,
            opts=child,
        )
        topic = aws.sns.Topic(
            f"{name}-topic",
            name=naming.name(args["purpose"]),
            kms_master_key_id=key.arn,
            tags=tags,
            opts=child,
        )
        on_topic = pulumi.ResourceOptions(parent=topic)
        aws.sns.TopicPolicy(
            f"{name}-topic-policy",
            arn=topic.arn,
            policy=topic.arn.apply(lambda arn: topic_policy(arn, account)),
            opts=on_topic,
        )
        for index, subscription in enumerate(args["subscriptions"], start=1):
            aws.sns.TopicSubscription(
                f"{name}-subscription-{index}",
                topic=topic.arn,
                protocol=subscription["protocol"],
                endpoint=subscription["endpoint"],
                opts=on_topic,
            )
        self.topic_arn = topic.arn
        self.register_outputs({"topic_arn": self.topic_arn})


def stack_alarm_subscriptions(settings: StackSettings) -> list[AlarmSubscriptionArgs] | None:
    """Everyone who should hear of the stack's alarms, or None when nothing on the stack alarms.

    The fleet always alarms; the tunnel gateway when `stockade:tunnel.alarms.enabled`. Both
    settings' subscribers share the one topic, so each hears of every alarm of the stack.
    """
    from stockade.settings.sandboxes import SandboxProvider

    lists: list[list[AlarmSubscription]] = []
    if settings.sandboxes.provider is SandboxProvider.SELF_HOSTED:
        lists.append(list(settings.sandboxes.alarms.subscriptions))
    if settings.tunnel.enabled and settings.tunnel.alarms.enabled:
        lists.append(list(settings.tunnel.alarms.subscriptions))
    if not lists:
        return None
    merged: dict[tuple[str, str], AlarmSubscription] = {}
    for subscription in (s for subscriptions in lists for s in subscriptions):
        merged.setdefault((subscription.protocol.value, subscription.endpoint), subscription)
    return [subscription_args(s) for s in merged.values()]
