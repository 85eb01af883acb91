"""Whole-process timing for the benchmarks: paired, interleaved runs, medians and ratios.

Both commands run in turn (A B A B ...) after a warm-up, so drift in the
machine's speed lands on both sides of each ratio. Only the median is quoted.

Each run is measured twice: wall time, and CPU time (user + system) of the
process and every child it waited for, from the kernel's own accounting
(`getrusage(RUSAGE_CHILDREN)`). On a shared machine CPU time is the steadier
figure: waiting for a core another process holds counts in wall time only.
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

FLOOR_PRELUDE = "import gc; gc.disable()\n"
FLOOR_EPILOGUE = "\nimport os, sys; sys.stdout.flush(); sys.stderr.flush(); os._exit(0)\n"


def floor_script(code: str) -> str:
    """A floor's Python source: `code`, run the way Stockade's short commands run.

    Stockade's short commands and the diff's synth workers run with the cyclic collector off
    and end without the interpreter's teardown (stockade.gc_schedule), so a floor that paid
    collections or a teardown they skip would not be the cheapest way to do its work.
    """
    return FLOOR_PRELUDE + code + FLOOR_EPILOGUE


@dataclass(frozen=True)
class Measurement:
    wall: float
    cpu: float


@dataclass(frozen=True)
class Pairing:
    a_seconds: list[float]
    b_seconds: list[float]
    a_cpu: list[float] = field(default_factory=list)
    b_cpu: list[float] = field(default_factory=list)

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_seconds, self.b_seconds, strict=True)]

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.ratios)

    @property
    def cpu_ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_cpu, self.b_cpu, strict=True)]

    @property
    def median_cpu_ratio(self) -> float:
        return statistics.median(self.cpu_ratios)

    def describe(self, a_name: str, b_name: str) -> str:
        """Wall time, as before; `describe_cpu` gives the same for CPU time."""
        return _describe(a_name, b_name, self.a_seconds, self.b_seconds, self.ratios, "wall")

    def describe_cpu(self, a_name: str, b_name: str) -> str:
        return _describe(a_name, b_name, self.a_cpu, self.b_cpu, self.cpu_ratios, "cpu")


def _describe(
    a_name: str, b_name: str, a: list[float], b: list[float], ratios: list[float], what: str
) -> str:
    return (
        f"{a_name} {what}: median {statistics.median(a):.3f}s (min {min(a):.3f}, max {max(a):.3f})\n"
        f"{b_name} {what}: median {statistics.median(b):.3f}s (min {min(b):.3f}, max {max(b):.3f})\n"
        f"ratio {a_name}/{b_name} {what}: median {statistics.median(ratios):.2f} "
        f"(min {min(ratios):.2f}, max {max(ratios):.2f}, {len(ratios)} pairs)"
    )


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    command: Sequence[str], cwd: str | None = None, env: Mapping[str, str] | None = None
) -> Measurement:
    """Run `command` to completion; its wall time and the CPU time it and its children used."""
    cpu_before = _children_cpu()
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    return Measurement(wall=wall, cpu=_children_cpu() - cpu_before)


def run_once(command: Sequence[str], cwd: str | None = None) -> float:
    return measure(command, cwd).wall


def paired(
    a: Sequence[str],
    b: Sequence[str],
    runs: int = 7,
    warmup: int = 1,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Pairing:
    for _ in range(warmup):
        measure(a, cwd, env)
        measure(b, cwd, env)
    a_runs, b_runs = [], []
    for _ in range(runs):
        a_runs.append(measure(a, cwd, env))
        b_runs.append(measure(b, cwd, env))
    return Pairing(
        [m.wall for m in a_runs],
        [m.wall for m in b_runs],
        [m.cpu for m in a_runs],
        [m.cpu for m in b_runs],
    )
