"""Simulate a many-stack rollout and compare its wall time with the ideal makespan for its caps.

Every stack goes through the real path: STS in the rollout process (answered by in-process
moto), a reused worker process on the real Automation API, and the stand-in `pulumi`
(tests/standin; NOT the real CLI). A stand-in operation lives `--delay` seconds from exec to
exit, its interpreter start-up included, as `time pulumi up` counts a real one; its `version`
and `stack select` take the real CLI's estimated time (see MODELED_SECONDS there). The ideal
makespan is what the caps allow if nothing but the operations took time: sum over waves of
ceil(stacks / cap) * delay.

Targets (issue 16): wall / ideal <= 1.10 with a 2 s operation and <= 1.25 with 0.2 s, at 500
stacks in 5 waves; orchestration CPU (the rollout process and its workers, not the CLI)
<= 50 ms per stack.

The plan is synthetic: stack files are generated into a scratch directory and the plan is
checked against them with load_plan(..., stacks_dir=...), the same override as
`stockade rollout --stacks-dir`.

    .venv/bin/python benchmarks/bench_rollout.py [--stacks 500] [--waves 5] [--caps 2] [--delay 0.2]
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "components"))

from stockade.rollout.credentials import RoleAssumer  # noqa: E402
from stockade.rollout.operations import Operation  # noqa: E402
from stockade.rollout.plan import load_plan  # noqa: E402
from stockade.rollout.protocol import StackStatus  # noqa: E402
from stockade.rollout.runner import Rollout, RunOptions  # noqa: E402
from tests.standin import StandIn, install  # noqa: E402
from tests.standin.project import WaveSpec, plan_document, write_stack_files  # noqa: E402

CPU_TARGET_MS = 50.0


def ratio_target(delay: float) -> float:
    return 1.10 if delay >= 2.0 else 1.25


PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


class TreeMemory:
    """Peak resident memory of this process and all its descendants, sampled from /proc."""

    def __init__(self, interval: float = 0.25) -> None:
        self._interval = interval
        self._stop = threading.Event()
        self.peak_bytes = 0
        self.peak_processes = 0
        self.worker_cpu: dict[int, float] = {}
        """Per direct child (the workers): its own CPU seconds when last sampled, not its children's."""
        self.cpu_seconds = 0.0
        """CPU this sampler itself used; subtracted from the rollout process's CPU."""
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            self._sample_until_stopped()
        finally:
            self.cpu_seconds = time.thread_time()

    def _sample_until_stopped(self) -> None:
        root = os.getpid()
        while not self._stop.wait(self._interval):
            parents: dict[int, int] = {}
            rss: dict[int, int] = {}
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    stat = (entry / "stat").read_text()
                    pages = int((entry / "statm").read_text().split()[1])
                except (OSError, ValueError, IndexError):
                    continue  # the process ended while we looked
                fields = stat.rsplit(")", 1)[1].split()
                parents[int(entry.name)] = int(fields[1])
                rss[int(entry.name)] = pages * PAGE
                if int(fields[1]) == os.getpid():  # utime and stime: fields 14 and 15 of stat
                    self.worker_cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / TICKS
            tree = {root}
            changed = True
            while changed:
                changed = False
                for pid, ppid in parents.items():
                    if ppid in tree and pid not in tree:
                        tree.add(pid)
                        changed = True
            self.peak_bytes = max(self.peak_bytes, sum(rss.get(pid, 0) for pid in tree))
            self.peak_processes = max(self.peak_processes, len(tree))


@dataclass(frozen=True)
class Setup:
    waves: list[WaveSpec]
    delay: float

    @property
    def ideal(self) -> float:
        return sum(math.ceil(len(w.stacks) / (w.max_concurrency or 1)) * self.delay for w in self.waves)


def build(stacks: int, waves: int, caps: list[int], delay: float) -> Setup:
    per_wave = [stacks // waves + (1 if i < stacks % waves else 0) for i in range(waves)]
    specs, start = [], 0
    for index, count in enumerate(per_wave):
        cap = caps[min(index, len(caps) - 1)]
        names = [f"bench-{start + i:04d}" for i in range(count)]
        specs.append(WaveSpec(f"wave-{index + 1}", names, max_concurrency=cap))
        start += count
    return Setup(specs, delay)


def peak_per_wave(standin: StandIn, setup: Setup) -> list[int]:
    return [standin.peak_concurrency(set(w.stacks)) for w in setup.waves]


def time_split(standin: StandIn, setup: Setup, wall: float) -> str:
    """Where the wall time went, from the stand-in's own log: inside an operation (from the
    wrapper's exec to the stand-in's last line, which it exits right after), between one
    operation and the next in the same slot, and between waves."""
    inside: list[float] = []
    slot_gaps = 0.0
    spans = 0.0
    for wave in setup.waves:
        calls = [c for c in standin.operations() if c.stack in set(wave.stacks) and c.ended is not None]
        if not calls:
            continue
        span = max(c.ended or 0.0 for c in calls) - min(c.started for c in calls)
        walls = [(c.ended or 0.0) - c.started for c in calls]
        inside += walls
        spans += span
        slots = min(wave.max_concurrency or 1, len(calls))
        slot_gaps += max(0.0, span * slots - sum(walls))
    if not inside:
        return "time split: no completed operations in the stand-in's log"
    inside.sort()
    median = inside[len(inside) // 2]
    return (
        f"time split: an operation took {median * 1000:.0f} ms median inside the stand-in "
        f"(delay {setup.delay * 1000:.0f} ms); between operations in a slot "
        f"{slot_gaps / len(inside) * 1000:.0f} ms per operation (rollout and worker hand-off, "
        f"STS, Automation API, fork and exec of the CLI); outside the waves {max(0.0, wall - spans):.2f} s "
        f"(worker start, STS, first and last hand-off)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stacks", type=int, default=500)
    parser.add_argument("--waves", type=int, default=5)
    parser.add_argument("--caps", default="2", help="Per-wave caps, comma-separated (the last one repeats).")
    parser.add_argument("--delay", type=float, default=0.2, help="Seconds the stand-in takes per operation.")
    parser.add_argument(
        "--no-prewarm", action="store_true", help="Start each worker only when its stack starts."
    )
    args = parser.parse_args()
    caps = [int(c) for c in args.caps.split(",")]
    setup = build(args.stacks, args.waves, caps, args.delay)

    scratch = Path(tempfile.mkdtemp(prefix="bench-rollout-"))
    try:
        project = scratch / "project"
        project.mkdir()
        shutil.copy(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
        document = plan_document(setup.waves, max_concurrency=max(caps))
        write_stack_files(scratch / "synthetic-stacks", document)
        plan_path = scratch / "plan.yaml"
        import yaml

        plan_path.write_text(yaml.safe_dump(document), encoding="utf-8")
        loaded = load_plan(plan_path, project, stacks_dir=scratch / "synthetic-stacks")
        standin = install(scratch / "standin")
        standin.configure(default={"delay": args.delay})

        os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIABENCHMARK0000000")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "benchmark-only")
        from moto import mock_aws

        with mock_aws():
            options = RunOptions(
                operation=Operation.PREVIEW,
                state_path=project / ".stockade" / "rollout-state.json",
                prewarm=not args.no_prewarm,
                worker_env=standin.env(),
                commit="benchmark",
            )
            rollout = Rollout(loaded, options, RoleAssumer(profile=None, duration_seconds=3600))
            before = resource.getrusage(resource.RUSAGE_SELF)
            with TreeMemory() as memory:
                start = time.perf_counter()
                view = rollout.run()
                wall = time.perf_counter() - start

        succeeded = view.count(StackStatus.SUCCEEDED)
        own = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        ratio = wall / setup.ideal
        target = ratio_target(args.delay)
        cpu_children = children.ru_utime + children.ru_stime
        # Workers are sampled from /proc (their own CPU, to within the last interval); the rest
        # of the children's CPU is the stand-in CLI's, its interpreter teardown included.
        cpu_workers = sum(memory.worker_cpu.values())
        cpu_cli = max(0.0, cpu_children - cpu_workers)
        workers_started = len(memory.worker_cpu)
        cpu_parent = own.ru_utime + own.ru_stime - before.ru_utime - before.ru_stime - memory.cpu_seconds
        operations = len(standin.operations())
        calls = len(standin.invocations())
        print(
            f"stacks {args.stacks} in {args.waves} waves, caps {[w.max_concurrency for w in setup.waves]}, "
            f"delay {args.delay}s, prewarm {'off' if args.no_prewarm else 'on'}"
        )
        print(f"succeeded {succeeded}/{args.stacks}; stand-in calls {calls} ({operations} operations)")
        print(f"peak concurrency per wave (stand-in log): {peak_per_wave(standin, setup)}")
        print(time_split(standin, setup, wall))
        per_stack_ms = (cpu_parent + cpu_workers) / args.stacks * 1000
        print(
            f"wall {wall:.2f}s, ideal {setup.ideal:.2f}s, wall/ideal {ratio:.2f} (target <= {target:.2f}: "
            f"{'met' if ratio <= target else 'NOT met'}); orchestration cpu per stack {per_stack_ms:.0f} ms "
            f"(target <= {CPU_TARGET_MS:.0f}: {'met' if per_stack_ms <= CPU_TARGET_MS else 'NOT met'})"
        )
        print(
            f"cpu during the run: rollout process {cpu_parent:.1f}s "
            f"(+{memory.cpu_seconds:.1f}s memory sampling), {workers_started} workers {cpu_workers:.1f}s, "
            f"stand-in CLI {cpu_cli:.1f}s ({cpu_cli / args.stacks * 1000:.0f} ms per stack); "
            f"{os.cpu_count()} cores, load average before/after {LOAD_BEFORE} / {os.getloadavg()[0]:.1f}"
        )
        floor = (cpu_parent + cpu_children) / (os.cpu_count() or 1)
        print(
            f"cpu floor (all cpu / cores) {floor:.1f}s = {floor / setup.ideal:.2f} x ideal: "
            + ("CPU-bound, the ratio cannot beat this here" if floor > setup.ideal else "not CPU-bound")
        )
        print(
            f"memory: peak of rollout + all children {memory.peak_bytes / 2**20:.0f} MiB "
            f"({memory.peak_processes} processes at most); "
            f"rollout process maxrss {own.ru_maxrss / 1024:.0f} MiB; "
            f"largest child maxrss {children.ru_maxrss / 1024:.0f} MiB"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


LOAD_BEFORE = f"{os.getloadavg()[0]:.1f}"

if __name__ == "__main__":
    main()
