"""`python -m stockade.rollout.gate`: a wave's failure tolerance, applied to its legs' reports.

The emitted GitHub Actions workflow (github.py) runs one matrix leg per stack; each leg
writes the same JSON report `stockade rollout --report` writes. This gate reads them and
fails when more stacks failed than the wave tolerates. A stack with no report (its leg
never started, crashed or was cancelled) counts as failed: silence is not success.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

_PASSED = ("succeeded", "skipped")


def judge(directory: Path, stacks: list[str]) -> dict[str, str]:
    """Each planned stack's status from the reports in `directory` ('missing' when none says)."""
    found: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        try:
            report = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # an unreadable report proves nothing; its stack stays missing
        entries = report.get("stacks") if isinstance(report, dict) else None
        for name, entry in (entries or {}).items():
            if isinstance(entry, dict) and name in stacks:
                found[name] = str(entry.get("status", "missing"))
    return {stack: found.get(stack, "missing") for stack in stacks}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stockade.rollout.gate", description=__doc__)
    parser.add_argument("--wave", required=True)
    parser.add_argument("--tolerance", type=int, required=True)
    parser.add_argument("--stacks", required=True, help="Comma-separated stacks of the wave.")
    parser.add_argument("results", type=Path)
    args = parser.parse_args(argv)
    if args.tolerance < 0:
        parser.error("--tolerance must be 0 or more")
    stacks = [s for s in args.stacks.split(",") if s]
    statuses = judge(args.results, stacks)
    failed = sorted(stack for stack, status in statuses.items() if status not in _PASSED)
    for stack, status in statuses.items():
        print(f"{stack}: {status}")
    if len(failed) > args.tolerance:
        print(
            f"wave {args.wave}: {len(failed)} failure(s) ({', '.join(failed)}), tolerance {args.tolerance}; "
            "no further waves will start",
            file=sys.stderr,
        )
        return 1
    print(f"wave {args.wave}: {len(failed)} failure(s), tolerance {args.tolerance}: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
