"""The few AWS API calls this package makes, typed as Protocols so tests can pass any client.

boto3 is imported only when a real client is built. Clients retry throttling and 5xx
responses themselves (botocore "standard" mode, same request and idempotency token each
time); callers add their own bounded retries only where a whole operation must be repeated.
"""

from __future__ import annotations

from typing import Any, Protocol, cast


class EcsApi(Protocol):
    def run_task(self, **kwargs: Any) -> dict[str, Any]: ...
    def list_tasks(self, **kwargs: Any) -> dict[str, Any]: ...
    def describe_tasks(self, **kwargs: Any) -> dict[str, Any]: ...
    def tag_resource(self, **kwargs: Any) -> dict[str, Any]: ...


class SecretsApi(Protocol):
    def create_secret(self, **kwargs: Any) -> dict[str, Any]: ...
    def delete_secret(self, **kwargs: Any) -> dict[str, Any]: ...
    def get_secret_value(self, **kwargs: Any) -> dict[str, Any]: ...
    def put_resource_policy(self, **kwargs: Any) -> dict[str, Any]: ...


class MetricsApi(Protocol):
    def put_metric_data(self, **kwargs: Any) -> dict[str, Any]: ...


def client(service: str, region: str | None) -> Any:
    """A boto3 client with bounded timeouts and botocore's standard retry mode."""
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 5},
        connect_timeout=5,
        read_timeout=30,
        user_agent_extra="stockade-dispatcher",
    )
    return boto3.client(service, region_name=region, config=config)


def ecs_client(region: str | None) -> EcsApi:
    return cast(EcsApi, client("ecs", region))


def secrets_client(region: str | None) -> SecretsApi:
    return cast(SecretsApi, client("secretsmanager", region))


def metrics_client(region: str | None) -> MetricsApi:
    return cast(MetricsApi, client("cloudwatch", region))


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ClientError, or the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if isinstance(code, str) and code:
            return code
    return type(exc).__name__


def error_message(exc: BaseException) -> str:
    """AWS's own error message (never the request's parameters), cut to a log-friendly length."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        message = response.get("Error", {}).get("Message")
        if isinstance(message, str):
            return message[:300]
    return type(exc).__name__
