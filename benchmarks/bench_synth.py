"""Time `stockade synth` against its physical floor, in the same run.

The floor is a bare interpreter that imports pulumi and every provider submodule
the stack's resources come from: no program can synthesize those resources for
less. Target (issue 2): synth of a ~100-resource stack within 2x the floor.

    .venv/bin/python benchmarks/bench_synth.py [--stack prod-use1] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0


def provider_modules(stack: str) -> list[str]:
    """The Python modules that define the stack's resource types (aws:ec2/... -> pulumi_aws.ec2)."""
    out = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", stack, "--format", "json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    modules = {"pulumi"}
    for resource in json.loads(out)["resources"]:
        package, _, rest = resource["type"].partition(":")
        if package in ("stockade", "pulumi"):
            continue
        module = rest.split("/")[0] if "/" in rest else ""
        python_package = "pulumiverse_vercel" if package == "vercel" else f"pulumi_{package}"
        modules.add(f"{python_package}.{module}" if module and module != "index" else python_package)
    return sorted(modules), len(json.loads(out)["resources"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack", default="prod-use1")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    modules, count = provider_modules(args.stack)
    floor = [sys.executable, "-c", "; ".join(f"import {m}" for m in modules)]
    synth = [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", args.stack, "--format", "json"]
    result = paired(synth, floor, runs=args.runs, cwd=str(ROOT))
    print(f"stack {args.stack}: {count} resources; floor imports {', '.join(modules)}")
    print(result.describe("synth", "floor"))
    verdict = "within" if result.median_ratio <= TARGET else "OVER"
    print(f"target <= {TARGET:.1f}x: {verdict}")


if __name__ == "__main__":
    main()
