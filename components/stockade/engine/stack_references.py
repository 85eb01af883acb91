"""Offline answers to `pulumi:pulumi:StackReference` reads (`stockade:shared`).

Synth never reads another stack's state: that would need the backend and credentials.
A StackReference is answered with stable placeholders, derived from the referenced
stack's name, for the outputs a Stockade stack exports and another stack may read. They
have the shape of the real values (an ARN, a `vpc-` ID, one subnet per AZ), so every
resource that uses them renders and policy can check it; reviewers recognise them by the
`0ff11e` ("offline") prefix. A name outside this table is not answered, and the synth
fails naming it, as `require_output` would on a stack that does not export it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stockade.engine.context import OfflineContext

STACK_REFERENCE = "pulumi:pulumi:StackReference"


def _hex(stack: str, what: str, length: int) -> str:
    return "0ff11e" + hashlib.sha256(f"{stack}/{what}".encode()).hexdigest()[: length - 6]


def _outputs(stack: str, ctx: OfflineContext) -> dict[str, Any]:
    account, region, partition = ctx.account_id, ctx.region, ctx.partition
    zones = ctx.availability_zones()
    short = stack.rsplit("/", 1)[-1]
    answers: dict[str, Callable[[], Any]] = {
        "kmsKeyArn": lambda: f"arn:{partition}:kms:{region}:{account}:key/{_hex(stack, 'key', 32)}",
        "alarmTopicArn": lambda: f"arn:{partition}:sns:{region}:{account}:stockade-{short}-alarms",
        "vpcId": lambda: f"vpc-{_hex(stack, 'vpc', 17)}",
        "vpcCidr": lambda: "10.0.0.0/16",
        "privateSubnetIds": lambda: [f"subnet-{_hex(stack, zone, 17)}" for zone in zones],
        "publicInternetPrefixListId": lambda: f"pl-{_hex(stack, 'internet', 17)}",
        "endpointsSecurityGroupId": lambda: f"sg-{_hex(stack, 'endpoints', 17)}",
        "s3PrefixListId": lambda: f"pl-{_hex(stack, 's3', 8)}",
    }
    return {name: answer() for name, answer in answers.items()}


def answer_stack_reference(inputs: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    """The state of a StackReference read: its name and the referenced stack's outputs."""
    stack = str(inputs.get("name") or "")
    return {"name": stack, "outputs": _outputs(stack, ctx), "secretOutputNames": []}
