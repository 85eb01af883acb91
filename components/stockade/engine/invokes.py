"""Offline answers to the provider functions Stockade's program calls.

An invoke with no answer here fails the synth with its token named: guessing a
cloud API's reply would make the desired state quietly wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stockade.engine.context import OfflineContext

InvokeAnswer = Callable[[dict[str, Any], OfflineContext], dict[str, Any]]


class OfflineInvokeError(RuntimeError):
    def __init__(self, token: str) -> None:
        self.token = token
        super().__init__(
            f"provider function {token} has no offline answer; synth never calls a cloud API. "
            "Pass the value through stack config instead, or add an answer in "
            "stockade/engine/invokes.py with a documented default."
        )


def _availability_zones(args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    names = ctx.availability_zones()
    return {
        "id": ctx.region,
        "names": names,
        "zoneIds": [f"{ctx.region[:3]}{ctx.region.split('-')[-1]}-az{i + 1}" for i in range(len(names))],
        "state": args.get("state", "available"),
        "groupNames": [ctx.region],
    }


def _caller_identity(args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {
        "id": ctx.account_id,
        "accountId": ctx.account_id,
        "arn": f"arn:{ctx.partition}:sts::{ctx.account_id}:assumed-role/stockade-offline/synth",
        "userId": "AROAOFFLINE:synth",
    }


def _region(args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {
        "id": ctx.region,
        "name": ctx.region,
        "region": ctx.region,
        "endpoint": f"ec2.{ctx.region}.{ctx.dns_suffix}",
        "description": ctx.region,
    }


def _partition(args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    return {
        "id": ctx.partition,
        "partition": ctx.partition,
        "dnsSuffix": ctx.dns_suffix,
        "reverseDnsPrefix": "com.amazonaws" if ctx.partition != "aws-cn" else "cn.com.amazonaws",
    }


def _ecr_authorization_token(args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    # Synth never pushes, so no credential is needed; this placeholder is not a token and is
    # passed on only wrapped as a secret (SandboxImage).
    registry = args.get("registryId") or ctx.account_id
    return {
        "id": ctx.region,
        "registryId": registry,
        "userName": "AWS",
        "password": "offline-placeholder-not-a-token",
        "authorizationToken": "offline-placeholder-not-a-token",
        "proxyEndpoint": f"https://{registry}.dkr.ecr.{ctx.region}.{ctx.dns_suffix}",
        "expiresAt": "1970-01-01T00:00:00Z",
    }


ANSWERS: dict[str, InvokeAnswer] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:index/getCallerIdentity:getCallerIdentity": _caller_identity,
    "aws:index/getRegion:getRegion": _region,
    "aws:index/getPartition:getPartition": _partition,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _ecr_authorization_token,
}


def answer(token: str, args: dict[str, Any], ctx: OfflineContext) -> dict[str, Any]:
    handler = ANSWERS.get(token)
    if handler is None:
        raise OfflineInvokeError(token)
    return handler(args, ctx)
