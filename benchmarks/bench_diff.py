"""Time `stockade diff` over every example stack against the plain synths it needs, in the same run.

    .venv/bin/python benchmarks/bench_diff.py [--base HEAD] [--runs 5]

`stockade diff --base HEAD` (head = the working tree) must synthesize every stack
at each revision that has it. Its floor is the same synths done as cheaply as
possible: one process per revision, each synthesizing its stacks in-process through the
engine's public `synthesize`, both revisions at once (the diff runs them at once
too, so parallelism favours neither side). The diff additionally pays for the
git worktree, the CLI process, the diff itself and the rendering.
Target (issue 7): diff <= 1.3x that floor.

For scale, the run also times the naive way: one `stockade synth` process per
stack per revision, one after another.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3
SYNTH_ALL = (
    "import sys\n"
    "from pathlib import Path\n"
    "from stockade.engine import synthesize\n"
    "project = Path(sys.argv[1])\n"
    "for stack in sys.argv[2:]:\n"
    "    synthesize(stack, project)\n"
)


def stacks_in(project: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (project / "stacks").glob("Pulumi.*.yaml"))


def synth_all_command(project: Path, stacks: list[str]) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(project / "components")}
    return [sys.executable, "-P", "-c", SYNTH_ALL, str(project), *stacks], env


def floor_run(base: Path, head: Path) -> None:
    """The floor itself (run as a child of this script): each revision's stacks, both revisions at once."""
    processes = []
    for project in (base, head):
        command, env = synth_all_command(project, stacks_in(project))
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(subprocess.Popen(command, cwd=project, env=env, **quiet))
    codes = [p.wait() for p in processes]
    if any(codes):
        raise SystemExit(f"floor synth failed: exit codes {codes}")


def sequential_floor(base: Path, head: Path) -> float:
    start = time.perf_counter()
    for project in (base, head):
        command, env = synth_all_command(project, stacks_in(project))
        subprocess.run(command, cwd=project, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def per_stack_cli(base: Path, head: Path) -> float:
    start = time.perf_counter()
    for project in (base, head):
        env = {**os.environ, "PYTHONPATH": str(project / "components")}
        for stack in stacks_in(project):
            subprocess.run(
                [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", stack, "--format", "json"],
                cwd=project,
                env=env,
                check=True,
                capture_output=True,
            )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--floor-run", nargs=2, metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_run:
        floor_run(Path(args.floor_run[0]), Path(args.floor_run[1]))
        return

    head = ROOT
    holder = Path(tempfile.mkdtemp(prefix="bench-diff-"))
    base = holder / "base"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(base), args.base], check=True
    )
    try:
        diff = [sys.executable, "-m", "stockade.cli.app", "diff", "--base", args.base, "--format", "markdown"]
        floor = [sys.executable, str(Path(__file__).resolve()), "--floor-run", str(base), str(head)]
        result = paired(diff, floor, runs=args.runs, cwd=str(ROOT))
        sequential = sequential_floor(base, head)
        naive = per_stack_cli(base, head)
        diff_median = sorted(result.a_seconds)[len(result.a_seconds) // 2]
        print(f"base {args.base}: {', '.join(stacks_in(base))}")
        print(f"head (working tree): {', '.join(stacks_in(head))}")
        print(result.describe("diff", "floor"))
        seq_ratio, naive_ratio = diff_median / sequential, diff_median / naive
        print(f"floor, revisions one after the other: {sequential:.3f}s (diff/that {seq_ratio:.2f})")
        print(f"naive, `stockade synth` per stack per revision: {naive:.3f}s (diff/that {naive_ratio:.2f})")
        verdict = "within" if result.median_ratio <= TARGET else "OVER"
        print(f"target diff <= {TARGET:.1f}x floor: median ratio {result.median_ratio:.2f}, {verdict}")
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base)], check=False)
        shutil.rmtree(holder, ignore_errors=True)


if __name__ == "__main__":
    main()
