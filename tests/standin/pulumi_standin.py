"""STOCKADE-PULUMI-STANDIN: a recording stand-in for the `pulumi` CLI, for tests only.

It is NOT the Pulumi CLI and deploys nothing. It answers the commands the Python
Automation API sends (version, whoami, stack select/init, config, preview --json,
up/refresh/destroy with --event-log, stack output/history, cancel) in the shapes the SDK
parses, streams engine events (apitype.EngineEvent JSON) over the SDK's gRPC Events
service or into an event-log file, and records every invocation: argv, cwd, the NAMES of
the AWS_* variables it saw (never their values), PULUMI_HOME, PULUMI_BACKEND_URL and its own CPU time.

Behaviour per stack comes from a JSON control file (STANDIN_CONTROL):
    {"default": {...}, "stacks": {"<stack>": {...}}}
with keys: delay (seconds an operation takes, measured from process start), fail (bool),
hang (bool: wait for SIGINT or `pulumi cancel`), ignore_sigint / ignore_cancel (bool: a hang
that only SIGTERM ends), missing (bool: the
stack does not exist until `stack init`), changes ({op: count}).

Like a DIY backend, it refuses a second concurrent operation on one stack ("the stack is
currently locked"), and records that as a conflict, so tests can prove it never happens.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, NoReturn


def _exec_time() -> float:
    # The wrapper (see tests/standin/__init__.py) stamps the moment it was exec'd, so the
    # modeled times below count from the process's start, interpreter start-up included, the
    # way a real CLI's run time does.
    stamp = os.environ.pop("STANDIN_EXEC_TIME", "")
    try:
        return float(stamp.replace(",", "."))  # bash prints the locale's decimal separator
    except ValueError:
        return time.time()


STARTED = _exec_time()
MARKER = "STOCKADE-PULUMI-STANDIN"
OPERATIONS = ("preview", "up", "refresh", "destroy")
HANG_LIMIT = 120.0  # a hung stand-in gives up eventually, so a broken test cannot hang CI forever
_PARENT_TYPE = "stockade:aws:SandboxFleet"


def _env_path(name: str) -> Path:
    return Path(os.environ[name])


def _now_iso() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"


class Recorder:
    def __init__(self) -> None:
        self.path = Path(os.environ["STANDIN_LOG"])

    def write(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line)  # one write per line: O_APPEND keeps concurrent writers whole
        finally:
            os.close(fd)


def _parse(argv: list[str]) -> tuple[list[str], dict[str, str], set[str]]:
    words: list[str] = []
    options: dict[str, str] = {}
    flags: set[str] = set()
    valued = {
        "--stack",
        "--event-log",
        "--color",
        "--exec-kind",
        "--page-size",
        "--page",
        "--secrets-provider",
        "--parallel",
        "--message",
        "--client",
    }
    index = 0
    while index < len(argv):
        arg = argv[index]
        if arg == "--":
            words.extend(argv[index + 1 :])
            break
        if arg.startswith("--") and "=" in arg:
            key, value = arg.split("=", 1)
            options[key] = value
        elif arg in valued and index + 1 < len(argv):
            options[arg] = argv[index + 1]
            index += 1
        elif arg.startswith("-"):
            flags.add(arg)
        else:
            words.append(arg)
        index += 1
    return words, options, flags


def _behaviour(stack: str | None) -> dict[str, Any]:
    control = os.environ.get("STANDIN_CONTROL")
    if not control or not Path(control).is_file():
        return {}
    data = json.loads(Path(control).read_text(encoding="utf-8"))
    merged = dict(data.get("default", {}))
    merged.update(data.get("stacks", {}).get(stack or "", {}))
    return merged


class Events:
    """Engine events to wherever --event-log points: the SDK's gRPC Events server or a file.

    Over gRPC the events stream as they happen (a display sees "creating ..." while the
    operation runs), like the real CLI's.
    """

    _END = None

    def __init__(self, target: str | None) -> None:
        self._target = target
        self._sequence = 0
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._future: Any = None
        self._channel: Any = None
        self._grpc_target = target[len("tcp://") :] if target and target.startswith("tcp://") else None
        if self._grpc_target:
            # Importing grpc costs more than the rest of the stand-in; overlap it with the
            # operation instead of adding it on top.
            self._opener = threading.Thread(target=self._open_stream, daemon=True)
            self._opener.start()

    def _open_stream(self) -> None:
        import grpc

        self._channel = grpc.insecure_channel(self._grpc_target)
        call = self._channel.stream_unary(
            "/pulumirpc.Events/StreamEvents",
            request_serializer=_event_request,
            response_deserializer=bytes,
        )
        self._future = call.future(iter(self._queue.get, self._END), timeout=HANG_LIMIT + 30)

    def emit(self, **event: Any) -> None:
        self._sequence += 1
        line = json.dumps({"sequence": self._sequence, "timestamp": int(time.time()), **event})
        if self._grpc_target:
            self._queue.put(line)
        elif self._target:
            with Path(self._target).open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")

    def close(self) -> None:
        """End the stream and wait until the SDK's server has taken every event."""
        if not self._grpc_target:
            return
        self._queue.put(self._END)
        self._opener.join()
        self._future.result(timeout=30)
        self._channel.close()


def _event_request(event_json: str) -> bytes:
    # pulumirpc.EventRequest has one field: `string event = 1`. Encoding it by hand keeps
    # the stand-in from importing all of pulumi to build one message.
    payload = event_json.encode("utf-8")
    length = len(payload)
    varint = bytearray()
    while True:
        byte = length & 0x7F
        length >>= 7
        if length:
            varint.append(byte | 0x80)
        else:
            varint.append(byte)
            break
    return b"\x0a" + bytes(varint) + payload


class Operation:
    def __init__(self, command: str, stack: str, options: dict[str, str], flags: set[str]) -> None:
        self.command = command
        self.stack = stack
        self.options = options
        self.flags = flags
        self.behaviour = _behaviour(stack)
        self.state = _env_path("STANDIN_STATE")
        self.interrupted = False
        self.events = Events(options.get("--event-log"))

    @property
    def preview_only(self) -> bool:
        return self.command == "preview" or "--preview-only" in self.flags

    def changes(self) -> dict[str, int]:
        configured = self.behaviour.get("changes")
        if configured:
            return {str(k): int(v) for k, v in configured.items()}
        if self.command == "destroy":
            return {"delete": 3}
        if self.command == "refresh":
            return {"same": 4, "update": 1}
        return {"create": 3, "same": 2}

    def resources(self) -> list[dict[str, Any]]:
        steps = []
        for op, count in sorted(self.changes().items()):
            for index in range(count):
                name = f"{self.stack}-{op}-{index}"
                steps.append(
                    {
                        "op": op,
                        "urn": f"urn:pulumi:{self.stack}::stockade::{_PARENT_TYPE}$aws:ec2/securityGroup:"
                        f"SecurityGroup::{name}",
                        "type": "aws:ec2/securityGroup:SecurityGroup",
                        "name": name,
                    }
                )
        return steps

    def run(self) -> int:
        lock = self.state / "locks" / self.stack
        lock.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            RECORDER.write(
                {"event": "conflict", "pid": os.getpid(), "stack": self.stack, "command": self.command}
            )
            print(
                f"error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
                f"to end or delete the lock file with `pulumi cancel`.\n  {lock}",
                file=sys.stderr,
            )
            return 255
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        try:
            return self._operate()
        finally:
            lock.unlink(missing_ok=True)

    def _operate(self) -> int:
        signal.signal(signal.SIGINT, self._on_sigint)
        self.events.emit(preludeEvent={"config": {}})
        if self.behaviour.get("hang"):
            return self._hang()
        delay = float(self.behaviour.get("delay", 0.0))
        steps = self.resources()
        for step in steps:
            self.events.emit(resourcePreEvent={"metadata": _metadata(step), "planning": self.preview_only})
        remaining = delay - (time.time() - STARTED)
        while remaining > 0 and not self.interrupted:
            time.sleep(min(0.05, remaining))
            remaining = delay - (time.time() - STARTED)
        if self.interrupted:
            return self._cancelled()
        if self.behaviour.get("fail"):
            return self._fail()
        for step in steps:
            self.events.emit(resOutputsEvent={"metadata": _metadata(step), "planning": self.preview_only})
        self._summary()
        if not self.preview_only:
            self._record_update("succeeded")
        if self.command == "preview" and "--json" in self.flags:
            print(json.dumps(self._digest()))
        else:
            print(f"{self.command} of {self.stack}: {self.changes()}")
        return 0

    def _on_sigint(self, signum: int, frame: object) -> None:
        if not self.behaviour.get("ignore_sigint"):
            self.interrupted = True

    def _hang(self) -> int:
        cancel_marker = self.state / "cancel" / self.stack
        deadline = time.monotonic() + HANG_LIMIT
        ignore_cancel = bool(self.behaviour.get("ignore_cancel"))
        while time.monotonic() < deadline and not self.interrupted:
            if cancel_marker.exists() and not ignore_cancel:
                break
            time.sleep(0.02)
        cancel_marker.unlink(missing_ok=True)
        return self._cancelled()

    def _cancelled(self) -> int:
        self.events.emit(
            diagnosticEvent={"message": "update canceled\n", "color": "never", "severity": "error"}
        )
        self.events.emit(cancelEvent={})
        self.events.close()
        if not self.preview_only:
            self._record_update("failed")
        print("error: update canceled", file=sys.stderr)
        return 255

    def _fail(self) -> int:
        message = f"stand-in failure requested for stack {self.stack}"
        self.events.emit(diagnosticEvent={"message": message + "\n", "color": "never", "severity": "error"})
        self._summary()
        if not self.preview_only:
            self._record_update("failed")
        if self.command == "preview" and "--json" in self.flags:
            print(json.dumps({"diagnostics": [{"message": message, "severity": "error"}]}))
        print(f"error: {message}", file=sys.stderr)
        return 255

    def _summary(self) -> None:
        self.events.emit(
            summaryEvent={
                "maybeCorrupt": False,
                "durationSeconds": int(time.time() - STARTED),
                "resourceChanges": self.changes(),
                "PolicyPacks": {},
            }
        )
        self.events.emit(cancelEvent={})  # the engine ends every event log with one
        self.events.close()

    def _digest(self) -> dict[str, Any]:
        steps = []
        for step in self.resources():
            entry: dict[str, Any] = {
                "op": step["op"],
                "urn": step["urn"],
                "provider": "",
                "detailedDiff": None,
            }
            state = {
                "urn": step["urn"],
                "type": step["type"],
                "custom": True,
                "inputs": {"name": step["name"]},
            }
            if step["op"] in ("create", "update", "same"):
                entry["newState"] = state
            if step["op"] in ("delete", "update", "same"):
                entry["oldState"] = state
            steps.append(entry)
        return {
            "config": {},
            "steps": steps,
            "changeSummary": self.changes(),
            "duration": int((time.time() - STARTED) * 1e9),
        }

    def _record_update(self, result: str) -> None:
        history = _history(self.state, self.stack)
        kind = {"up": "update", "refresh": "refresh", "destroy": "destroy"}[self.command]
        history.insert(
            0,
            {
                "kind": kind,
                "startTime": _now_iso(),
                "endTime": _now_iso(),
                "message": "",
                "environment": {},
                "config": {},
                "result": result,
                "version": len(history) + 1,
                "resourceChanges": self.changes(),
            },
        )
        _stack_file(self.state, self.stack).write_text(json.dumps(history), encoding="utf-8")


def _metadata(step: dict[str, Any]) -> dict[str, Any]:
    new = {"type": step["type"], "urn": step["urn"], "custom": True, "inputs": {"name": step["name"]}}
    return {"op": step["op"], "urn": step["urn"], "type": step["type"], "provider": "", "new": new}


def _stack_file(state: Path, stack: str) -> Path:
    return state / "stacks" / f"{stack}.json"


def _history(state: Path, stack: str) -> list[dict[str, Any]]:
    path = _stack_file(state, stack)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else []


def _stack_exists(state: Path, stack: str) -> bool:
    return _stack_file(state, stack).is_file() or not _behaviour(stack).get("missing")


# What the real CLI's `version` and `stack select` take, estimated (not measured: there is
# no Pulumi CLI on the development machine). `version` is a start of a ~290 MB Go binary
# (pulumi/pulumi#23357 lists its size); `stack select` is that plus one backend read, about
# 0.2 s against Pulumi Cloud by pulumi/pulumi#3671's breakdown ("400ms: talking to
# api.pulumi.com", twice per update). The control file's `version_seconds` and
# `select_seconds` override them.
MODELED_SECONDS = {"version": 0.1, "select": 0.3}


def _cost(command: str) -> None:
    """Take at least the modeled wall time (from process start), mostly asleep, like the Go CLI."""
    seconds = float(_behaviour(None).get(f"{command}_seconds", MODELED_SECONDS[command]))
    remaining = seconds - (time.time() - STARTED)
    if remaining > 0:
        time.sleep(remaining)


def _answer(words: list[str], options: dict[str, str], flags: set[str]) -> int:
    state = _env_path("STANDIN_STATE")
    (state / "stacks").mkdir(parents=True, exist_ok=True)
    stack = options.get("--stack")
    head = words[0] if words else ""
    if head == "version":
        _cost("version")
        print("v" + os.environ.get("STANDIN_VERSION", "3.272.0"))
        return 0
    if head == "whoami":
        print(json.dumps({"user": "standin", "url": f"file://{state}", "organizations": []}))
        return 0
    if words[:2] == ["stack", "select"] and stack:
        _cost("select")
        if not _stack_exists(state, stack):
            print(f"error: no stack named '{stack}' found", file=sys.stderr)
            return 255
        return 0
    if words[:2] == ["stack", "init"] and len(words) > 2:
        path = _stack_file(state, words[2])
        if path.is_file():
            print(f"error: stack '{words[2]}' already exists", file=sys.stderr)
            return 255
        path.write_text("[]", encoding="utf-8")
        return 0
    if words[:2] == ["stack", "output"]:
        print("{}")
        return 0
    if words[:2] == ["stack", "history"] and stack:
        page_size = int(options.get("--page-size", "0") or 0)
        history = _history(state, stack)
        print(json.dumps(history[:page_size] if page_size else history))
        return 0
    if head == "config":
        return 0
    if head == "cancel" and stack:
        marker = state / "cancel" / stack
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
        return 0
    if head in OPERATIONS and stack:
        if not _stack_exists(state, stack):
            print(f"error: no stack named '{stack}' found", file=sys.stderr)
            return 255
        return Operation(head, stack, options, flags).run()
    print(f"stand-in pulumi: unsupported command {words!r}", file=sys.stderr)
    return 2


RECORDER = Recorder()


def _fingerprint(value: str | None) -> str | None:
    if not value:
        return None
    import hashlib

    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:12]


def main() -> int:
    argv = [arg for arg in sys.argv[1:] if arg != "--non-interactive"]
    words, options, flags = _parse(argv)
    entry = {
        "event": "start",
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "t": time.time(),
        "exec_t": STARTED,
        "argv": argv,
        "cwd": str(Path.cwd()),
        "command": " ".join(words[:2])
        if words[:1] in (["stack"], ["config"])
        else (words[0] if words else ""),
        "stack": options.get("--stack")
        or (words[2] if words[:2] == ["stack", "init"] and len(words) > 2 else None),
        "aws_env": sorted(name for name in os.environ if name.startswith("AWS_")),
        "pulumi_home": os.environ.get("PULUMI_HOME"),
        "backend_url": os.environ.get("PULUMI_BACKEND_URL"),
        # A fingerprint, never the value: lets tests tell whose credentials a CLI saw.
        "key_fingerprint": _fingerprint(os.environ.get("AWS_ACCESS_KEY_ID")),
    }
    RECORDER.write(entry)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(143))
    code = 1
    try:
        code = _answer(words, options, flags)
    finally:
        times = os.times()
        cpu = round(times.user + times.system, 4)
        RECORDER.write({"event": "end", "pid": os.getpid(), "t": time.time(), "code": code, "cpu": cpu})
    return code


def exit_now(code: int) -> NoReturn:
    """Exit the way a compiled CLI does: at once, once the output is flushed.

    Every operation has closed its event stream by now (Events.close waits until the SDK's
    server has taken every event), so the interpreter's teardown, mostly gRPC's threads
    winding down, has nothing left to do that the Automation API could observe.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    exit_now(main())
