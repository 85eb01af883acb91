"""Whole-process timing for the benchmarks: paired, interleaved runs, medians and ratios.

Both commands run in turn (A B A B ...) after a warm-up, so drift in the
machine's speed lands on both sides of each ratio. Only the median is quoted.
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Pairing:
    a_seconds: list[float]
    b_seconds: list[float]

    @property
    def ratios(self) -> list[float]:
        return [a / b for a, b in zip(self.a_seconds, self.b_seconds, strict=True)]

    @property
    def median_ratio(self) -> float:
        return statistics.median(self.ratios)

    def describe(self, a_name: str, b_name: str) -> str:
        med_a, med_b = statistics.median(self.a_seconds), statistics.median(self.b_seconds)
        return (
            f"{a_name}: median {med_a:.3f}s "
            f"(min {min(self.a_seconds):.3f}, max {max(self.a_seconds):.3f})\n"
            f"{b_name}: median {med_b:.3f}s "
            f"(min {min(self.b_seconds):.3f}, max {max(self.b_seconds):.3f})\n"
            f"ratio {a_name}/{b_name}: median {self.median_ratio:.2f} "
            f"(min {min(self.ratios):.2f}, max {max(self.ratios):.2f}, {len(self.ratios)} pairs)"
        )


def run_once(command: Sequence[str], cwd: str | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def paired(
    a: Sequence[str], b: Sequence[str], runs: int = 7, warmup: int = 1, cwd: str | None = None
) -> Pairing:
    for _ in range(warmup):
        run_once(a, cwd)
        run_once(b, cwd)
    a_times, b_times = [], []
    for _ in range(runs):
        a_times.append(run_once(a, cwd))
        b_times.append(run_once(b, cwd))
    return Pairing(a_times, b_times)
