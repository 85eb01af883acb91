"""The slice of the Docker Engine API the broker uses, over plain HTTP to the socket proxy.

Five container operations and nothing else: create, upload an archive, start, list, remove
(plus inspect for diagnostics). The socket proxy in front of the daemon passes the container
endpoints only, so a request outside this list fails there as well as here.

Request bodies are never logged or put in an error: a create body carries labels and
environment, an archive carries the session's secrets.
"""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from stockade.docker_dispatcher.errors import EngineError
from stockade.workqueue.errors import ConfigError

# Engine 20.10 and newer speak 1.41; everything used here exists there.
API_VERSION = "v1.41"
_ENDPOINT = re.compile(r"^(?P<host>[A-Za-z0-9.-]{1,253}):(?P<port>\d{1,5})$")
_CONTAINER_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$")
_MAX_ERROR_CHARS = 300


def parse_endpoint(value: str) -> tuple[str, int]:
    """`host:port` of the socket proxy (no scheme: it is plain HTTP on an internal network)."""
    match = _ENDPOINT.fullmatch(value.strip())
    if not match or not 1 <= int(match["port"]) <= 65535:
        raise ConfigError("STOCKADE_DOCKER_ENDPOINT is not host:port (e.g. socket-proxy:2375)")
    return match["host"], int(match["port"])


def _ref(container: str) -> str:
    if not _CONTAINER_REF.fullmatch(container):
        raise ValueError("not a container ID or name")
    return quote(container, safe="")


class EngineClient:
    """A synchronous client; one connection per request, so no state survives a failure."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host = host
        self.port = port
        self.timeout = timeout

    def _request(
        self,
        operation: str,
        method: str,
        path: str,
        *,
        query: Mapping[str, str] | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        ok: Sequence[int] = (200,),
    ) -> tuple[int, bytes]:
        url = f"/{API_VERSION}{path}"
        if query:
            url += "?" + urlencode(query)
        headers = {"Host": "docker"}
        if content_type:
            headers["Content-Type"] = content_type
        connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            connection.request(method, url, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as exc:
            problem = f"no answer from {self.host}:{self.port} ({type(exc).__name__})"
            raise EngineError(operation, 0, problem) from None
        finally:
            connection.close()
        if status not in ok:
            raise EngineError(operation, status, _error_message(payload))
        return status, payload

    def create(self, name: str, spec: Mapping[str, Any]) -> str:
        """Create (not start) a container; returns its ID."""
        _, payload = self._request(
            "create",
            "POST",
            "/containers/create",
            query={"name": name},
            body=json.dumps(spec).encode("utf-8"),
            content_type="application/json",
            ok=(201,),
        )
        answer = _decode("create", payload)
        container_id = answer.get("Id") if isinstance(answer, dict) else None
        if not isinstance(container_id, str) or not container_id:
            raise EngineError("create", 201, "the answer has no container Id")
        return container_id

    def put_archive(self, container: str, path: str, archive: bytes) -> None:
        """Extract a tar archive into `path` (which must be a writable volume in a read-only container)."""
        self._request(
            "upload",
            "PUT",
            f"/containers/{_ref(container)}/archive",
            query={"path": path, "noOverwriteDirNonDir": "true"},
            body=archive,
            content_type="application/x-tar",
        )

    def start(self, container: str) -> None:
        # 304: already started (a retried request); that is success.
        self._request("start", "POST", f"/containers/{_ref(container)}/start", ok=(204, 304))

    def list_containers(self, labels: Mapping[str, str]) -> list[dict[str, Any]]:
        """Every container (running or not) carrying all of `labels`."""
        filters = {"label": [f"{k}={v}" for k, v in sorted(labels.items())]}
        _, payload = self._request(
            "list", "GET", "/containers/json", query={"all": "1", "filters": json.dumps(filters)}
        )
        found = _decode("list", payload)
        if not isinstance(found, list):
            raise EngineError("list", 200, "the answer is not a list")
        return [c for c in found if isinstance(c, dict)]

    def remove(self, container: str, *, volumes: bool) -> None:
        """Remove a container (forced), with its anonymous volumes when `volumes`; gone is success."""
        self._request(
            "remove",
            "DELETE",
            f"/containers/{_ref(container)}",
            query={"force": "1", "v": "1" if volumes else "0"},
            ok=(204, 404),
        )

    def inspect(self, container: str) -> dict[str, Any]:
        _, payload = self._request("inspect", "GET", f"/containers/{_ref(container)}/json")
        found = _decode("inspect", payload)
        if not isinstance(found, dict):
            raise EngineError("inspect", 200, "the answer is not an object")
        return found


def _decode(operation: str, payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise EngineError(operation, 200, "the answer is not JSON") from None


def _error_message(payload: bytes) -> str:
    try:
        message = json.loads(payload).get("message")
    except (ValueError, AttributeError):
        message = None
    if not isinstance(message, str):
        message = payload.decode("utf-8", "replace").strip() or "(empty answer)"
    message = " ".join(message.split())
    return message if len(message) <= _MAX_ERROR_CHARS else message[: _MAX_ERROR_CHARS - 3] + "..."
