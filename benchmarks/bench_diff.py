"""Time `stockade diff` after a one-stack change against the synths that change needs, in the same run.

    .venv/bin/python benchmarks/bench_diff.py [--base HEAD] [--stack staging] [--runs 5]

The head is a temporary worktree of `--base` with one stack file changed (a
domain added to `--stack`'s egress allowlist), so the run never touches your
working tree. `stockade diff --base BASE` runs in that worktree.

Floor: the synths the change needs and nothing else: the changed stack at the
base and at the head, one process per revision, both at once, each calling the
engine's public `synthesize` in-process. The diff additionally pays for finding
the changed files, the git worktree, the CLI process, the diff and the rendering.
Both run with Python's cyclic collector off and end without the interpreter's
teardown, as the diff's synth workers do.
Target (issue 18): diff <= 1.3x that floor, on wall time, because the point of running both
revisions at once is the wait. CPU time (user + system of every process) is printed as well:
on a shared machine it is the steadier figure, and it shows the work beyond the synths.

For comparison the run also times `stockade diff --all-stacks` (every stack at
both revisions: what the diff did before it followed the change) against the
same floor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import floor_script, paired

ROOT = Path(__file__).resolve().parents[1]
TARGET = 1.3
SYNTH_ALL = floor_script(
    "import sys\n"
    "from pathlib import Path\n"
    "from stockade.engine import synthesize\n"
    "project = Path(sys.argv[1])\n"
    "for stack in sys.argv[2:]:\n"
    "    synthesize(stack, project)\n"
)


def stacks_in(project: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in (project / "stacks").glob("Pulumi.*.yaml"))


def synth_command(project: Path, stacks: list[str]) -> tuple[list[str], dict[str, str]]:
    env = {**os.environ, "PYTHONPATH": str(project / "components")}
    return [sys.executable, "-P", "-c", SYNTH_ALL, str(project), *stacks], env


def floor_run(base: Path, head: Path, stack: str) -> None:
    """The floor itself (run as a child of this script): the changed stack at both revisions, at once."""
    processes = []
    for project in (base, head):
        command, env = synth_command(project, [stack])
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        processes.append(subprocess.Popen(command, cwd=project, env=env, **quiet))
    codes = [p.wait() for p in processes]
    if any(codes):
        raise SystemExit(f"floor synth failed: exit codes {codes}")


def change_one_stack(project: Path, stack: str) -> None:
    """Add a domain to the stack's egress allowlist: a change only that stack's synth can see."""
    path = project / "stacks" / f"Pulumi.{stack}.yaml"
    text = path.read_text()
    marker = "      allowedDomains:\n"
    if marker not in text:
        raise SystemExit(
            f"{path} has no network.egress.allowedDomains list to extend; choose another --stack"
        )
    path.write_text(text.replace(marker, marker + "        - bench-change.example.com\n", 1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--base", default="HEAD")
    parser.add_argument("--stack", default="staging", help="the stack whose file the change edits")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--floor-run", nargs=3, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.floor_run:
        floor_run(Path(args.floor_run[0]), Path(args.floor_run[1]), args.floor_run[2])
        return

    holder = Path(tempfile.mkdtemp(prefix="bench-diff-"))
    base, head = holder / "base", holder / "head"
    for path in (base, head):
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", "--quiet", str(path), args.base],
            check=True,
        )
    try:
        change_one_stack(head, args.stack)
        commit = subprocess.run(
            ["git", "-C", str(head), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        diff = [sys.executable, "-m", "stockade.cli.app", "diff", "--base", commit, "--format", "markdown"]
        floor = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--floor-run",
            str(base),
            str(head),
            args.stack,
        ]
        print(f"change: one domain added to {args.stack}'s allowlist; stacks: {', '.join(stacks_in(head))}")
        print(f"floor: synthesize {args.stack} at base and head, one process each, both at once")
        result = paired(diff, floor, runs=args.runs, cwd=str(head))
        print(result.describe("diff", "floor"))
        print(result.describe_cpu("diff", "floor"))
        verdict = "within" if result.median_ratio <= TARGET else "OVER"
        print(f"target diff <= {TARGET:.1f}x floor: median ratio {result.median_ratio:.2f}, {verdict}")
        everything = paired([*diff, "--all-stacks"], floor, runs=max(1, args.runs // 2), cwd=str(head))
        print("before (every stack at both revisions, `--all-stacks`):")
        print(everything.describe("diff --all-stacks", "floor"))
    finally:
        for path in (base, head):
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)], check=False)
        shutil.rmtree(holder, ignore_errors=True)


if __name__ == "__main__":
    main()
