"""Install the stand-in `pulumi` (tests/standin/pulumi_standin.py) and read what it recorded.

The stand-in is test scaffolding, not the Pulumi CLI: it lets tests drive the real
Automation API code across the real process boundary and observe every command it sends.
"""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("pulumi_standin.py")
MARKER = "STOCKADE-PULUMI-STANDIN"
OPERATIONS = ("preview", "up", "refresh", "destroy")


def is_standin(executable: str | Path) -> bool:
    """True for this stand-in (so an integration test never mistakes it for a real CLI)."""
    try:
        head = Path(executable).read_bytes()[:4096]
    except OSError:
        return False
    return MARKER.encode() in head


@dataclass(frozen=True)
class Invocation:
    pid: int
    ppid: int
    argv: list[str]
    cwd: str
    command: str
    stack: str | None
    aws_env: list[str]
    pulumi_home: str | None
    started: float
    ended: float | None
    code: int | None
    backend_url: str | None = None
    key_fingerprint: str | None = None
    """sha256 prefix of the AWS_ACCESS_KEY_ID the CLI saw (the value itself is never recorded)."""
    cpu_seconds: float | None = None
    """User + system CPU the stand-in process itself used (for the benchmark's split)."""

    @property
    def is_operation(self) -> bool:
        return self.command in OPERATIONS


@dataclass(frozen=True)
class StandIn:
    root: Path

    @property
    def bin_dir(self) -> Path:
        return self.root / "bin"

    @property
    def log(self) -> Path:
        return self.root / "invocations.jsonl"

    @property
    def control(self) -> Path:
        return self.root / "control.json"

    @property
    def state(self) -> Path:
        return self.root / "state"

    def env(self) -> dict[str, str]:
        """What a worker needs to find and drive the stand-in."""
        return {
            "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            "STANDIN_LOG": str(self.log),
            "STANDIN_CONTROL": str(self.control),
            "STANDIN_STATE": str(self.state),
        }

    def configure(self, default: dict[str, Any] | None = None, **stacks: dict[str, Any]) -> None:
        self.control.write_text(json.dumps({"default": default or {}, "stacks": stacks}), encoding="utf-8")

    def entries(self) -> list[dict[str, Any]]:
        if not self.log.is_file():
            return []
        return [
            json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()
        ]

    def invocations(self) -> list[Invocation]:
        ends = {e["pid"]: e for e in self.entries() if e["event"] == "end"}
        calls = []
        for entry in self.entries():
            if entry["event"] != "start":
                continue
            end = ends.get(entry["pid"])
            calls.append(
                Invocation(
                    pid=entry["pid"],
                    ppid=entry["ppid"],
                    argv=entry["argv"],
                    cwd=entry["cwd"],
                    command=entry["command"],
                    stack=entry["stack"],
                    aws_env=entry["aws_env"],
                    pulumi_home=entry["pulumi_home"],
                    started=entry.get("exec_t", entry["t"]),
                    ended=end["t"] if end else None,
                    code=end["code"] if end else None,
                    backend_url=entry.get("backend_url"),
                    key_fingerprint=entry.get("key_fingerprint"),
                    cpu_seconds=end.get("cpu") if end else None,
                )
            )
        return sorted(calls, key=lambda call: call.started)

    def operations(self, stack: str | None = None) -> list[Invocation]:
        return [c for c in self.invocations() if c.is_operation and (stack is None or c.stack == stack)]

    def conflicts(self) -> list[dict[str, Any]]:
        return [e for e in self.entries() if e["event"] == "conflict"]

    def peak_concurrency(self, stacks: set[str] | None = None) -> int:
        """Most operations (preview/up/refresh/destroy) running at one instant."""
        edges: list[tuple[float, int]] = []
        for call in self.operations():
            if stacks is not None and call.stack not in stacks:
                continue
            edges.append((call.started, 1))
            edges.append((call.ended if call.ended is not None else float("inf"), -1))
        peak = current = 0
        for _, step in sorted(edges, key=lambda edge: (edge[0], edge[1])):  # ends sort before starts
            current += step
            peak = max(peak, current)
        return peak


def install(root: Path, *, version: str | None = None) -> StandIn:
    """Put a `pulumi` that runs the stand-in in root/bin (prepend StandIn.env()['PATH'])."""
    standin = StandIn(root)
    standin.bin_dir.mkdir(parents=True, exist_ok=True)
    standin.state.mkdir(parents=True, exist_ok=True)
    # The stand-in's entry point, a Python file imported rather than run, so its bytecode is cached.
    entry = standin.root / "standin_entry.py"
    entry.write_text(
        "\n".join(
            [
                "import sys",
                f"sys.path.insert(0, {str(SCRIPT.parent)!r})",
                f"sys.argv[0] = {str(SCRIPT)!r}",
                f"import {SCRIPT.stem}",
                f"{SCRIPT.stem}.exit_now({SCRIPT.stem}.main())",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    # `pulumi` itself is a bash script so that it can stamp the moment it was exec'd
    # ($EPOCHREALTIME needs no fork) before Python starts: the stand-in's modeled times
    # count from there, interpreter start-up included.
    lines = [
        "#!/bin/bash",
        f"# {MARKER}: a recording stand-in for tests, not the Pulumi CLI",
        "export STANDIN_EXEC_TIME=$EPOCHREALTIME",
    ]
    if version:
        lines.append(f"export STANDIN_VERSION={shlex.quote(version)}")
    lines.append(f'exec {shlex.quote(sys.executable)} {shlex.quote(str(entry))} "$@"')
    wrapper = standin.bin_dir / "pulumi"
    wrapper.write_text("\n".join(lines) + "\n", encoding="utf-8")
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP)
    standin.configure()
    return standin
