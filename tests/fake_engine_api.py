"""A tiny stand-in for the slice of the Docker Engine API the dispatch broker calls.

It is test scaffolding on 127.0.0.1, not a Docker engine: it keeps containers as dicts
and runs nothing. It does enforce the engine rules the broker's design leans on, as moby's
daemon/archive.go states them, so a change that breaks them fails here:

* an archive upload into a container with a read-only root filesystem is refused unless
  the destination is a writable volume mount ("container rootfs is marked read-only");
* an upload into a read-only volume is refused ("mounted volume is marked read-only").
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

API_PREFIX = "/v1.41"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: bytes


@dataclass
class FakeEngineState:
    containers: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, tuple[bytes, int, int, int]]] = field(default_factory=dict)
    """container id -> path -> (content, mode, uid, gid)."""
    requests: list[Recorded] = field(default_factory=list)
    removed: list[tuple[str, bool]] = field(default_factory=list)
    fail_start: bool = False
    exit_on_start: str | None = None
    """A name fragment: containers named with it exit (code 2) as soon as they start."""
    clock: float = 1_000_000.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    counter: int = 0

    def add(self, *, labels: dict[str, str], state: str, created: float | None = None) -> str:
        """A container that already exists (left by an earlier broker, say)."""
        with self.lock:
            self.counter += 1
            cid = f"{self.counter:064x}"
            self.containers[cid] = {
                "Id": cid,
                "Name": f"/pre-{self.counter}",
                "State": state,
                "Created": self.clock if created is None else created,
                "Config": {"Labels": labels},
                "HostConfig": {"ReadonlyRootfs": True, "Mounts": []},
            }
            return cid


def _mount_for(container: dict[str, Any], path: str) -> dict[str, Any] | None:
    for mount in container["HostConfig"].get("Mounts") or []:
        target = mount["Target"].rstrip("/")
        if path == target or path.startswith(target + "/"):
            return mount
    return None


class _Handler(BaseHTTPRequestHandler):
    state: FakeEngineState

    def log_message(self, format: str, *args: Any) -> None:
        return  # keep test output clean

    def _reply(self, status: int, body: Any = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _parse(self) -> tuple[list[str], dict[str, str], bytes]:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        self.state.requests.append(Recorded(self.command, parts.path, query, body))
        if not parts.path.startswith(API_PREFIX + "/"):
            return [], query, body
        return parts.path[len(API_PREFIX) + 1 :].split("/"), query, body

    def _container(self, ref: str) -> dict[str, Any] | None:
        for cid, container in self.state.containers.items():
            if ref in (cid, container["Name"].lstrip("/")):
                return container
        return None

    def _joins_a_stopped_namespace(self, container: dict[str, Any]) -> bool:
        """As the engine does: `container:<id>` network mode needs that container running."""
        mode = str(container["HostConfig"].get("NetworkMode", ""))
        if not mode.startswith("container:"):
            return False
        target = self._container(mode.split(":", 1)[1])
        return target is None or target["State"] != "running"

    def do_POST(self) -> None:
        segments, query, body = self._parse()
        state = self.state
        if segments == ["containers", "create"]:
            spec = json.loads(body)
            name = query.get("name", "")
            with state.lock:
                if any(c["Name"] == f"/{name}" for c in state.containers.values()):
                    self._reply(409, {"message": f'Conflict. The container name "/{name}" is already in use'})
                    return
                state.counter += 1
                cid = f"{state.counter:064x}"
                state.containers[cid] = {
                    "Id": cid,
                    "Name": f"/{name}",
                    "State": "created",
                    "Created": state.clock,
                    "Config": {k: v for k, v in spec.items() if k != "HostConfig"},
                    "HostConfig": spec.get("HostConfig", {}),
                }
            self._reply(201, {"Id": cid, "Warnings": []})
            return
        if len(segments) == 3 and segments[0] == "containers" and segments[2] == "start":
            container = self._container(segments[1])
            if container is None:
                self._reply(404, {"message": "No such container"})
            elif state.fail_start:
                self._reply(500, {"message": "OCI runtime create failed: runtime not found"})
            elif self._joins_a_stopped_namespace(container):
                self._reply(409, {"message": "cannot join network of a non running container"})
            elif container["State"] == "running":
                self._reply(304)
            else:
                exits = state.exit_on_start is not None and state.exit_on_start in container["Name"]
                container["State"] = "exited" if exits else "running"
                if exits:
                    container["ExitCode"] = 2
                self._reply(204)
            return
        self._reply(404, {"message": "page not found"})

    def do_PUT(self) -> None:
        segments, query, body = self._parse()
        if len(segments) == 3 and segments[0] == "containers" and segments[2] == "archive":
            container = self._container(segments[1])
            if container is None:
                self._reply(404, {"message": "No such container"})
                return
            path = query.get("path", "")
            mount = _mount_for(container, path)
            if mount is not None and mount.get("Type") != "volume":
                mount = None  # a tmpfs is not a volume to the archive API
            if mount is None and container["HostConfig"].get("ReadonlyRootfs"):
                self._reply(400, {"message": "container rootfs is marked read-only"})
                return
            if mount is not None and mount.get("ReadOnly"):
                self._reply(400, {"message": "mounted volume is marked read-only"})
                return
            files = self.state.files.setdefault(container["Id"], {})
            with tarfile.open(fileobj=io.BytesIO(body)) as archive:
                for member in archive.getmembers():
                    data = archive.extractfile(member)
                    content = data.read() if data is not None else b""
                    files[f"{path.rstrip('/')}/{member.name}"] = (
                        content,
                        member.mode,
                        member.uid,
                        member.gid,
                    )
            self._reply(200)
            return
        self._reply(404, {"message": "page not found"})

    def do_GET(self) -> None:
        segments, query, _ = self._parse()
        if segments == ["containers", "json"]:
            wanted = json.loads(query.get("filters", "{}")).get("label", [])
            found = []
            for container in self.state.containers.values():
                labels = container["Config"].get("Labels") or {}
                if all(labels.get(w.split("=", 1)[0]) == w.split("=", 1)[1] for w in wanted):
                    found.append(
                        {
                            "Id": container["Id"],
                            "Names": [container["Name"]],
                            "State": container["State"],
                            "Created": container["Created"],
                            "Labels": labels,
                        }
                    )
            self._reply(200, found)
            return
        if len(segments) == 3 and segments[0] == "containers" and segments[2] == "json":
            inspected = self._container(segments[1])
            if inspected is None:
                self._reply(404, {"message": "No such container"})
            else:
                # The Engine's inspect shape: State is an object (the list endpoint's is a string).
                status = inspected["State"]
                exit_code = inspected.get("ExitCode", 0)
                state = {"Status": status, "Running": status == "running", "ExitCode": exit_code}
                self._reply(200, {**inspected, "State": state})
            return
        self._reply(404, {"message": "page not found"})

    def do_DELETE(self) -> None:
        segments, query, _ = self._parse()
        if len(segments) == 2 and segments[0] == "containers":
            container = self._container(segments[1])
            if container is None:
                self._reply(404, {"message": "No such container"})
                return
            with self.state.lock:
                del self.state.containers[container["Id"]]
                self.state.removed.append((container["Id"], query.get("v") == "1"))
            self._reply(204)
            return
        self._reply(404, {"message": "page not found"})


class FakeEngineApi:
    """Serve the stand-in on 127.0.0.1 (an ephemeral port) in a background thread."""

    def __init__(self) -> None:
        self.state = FakeEngineState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def __enter__(self) -> FakeEngineApi:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
