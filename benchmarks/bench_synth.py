"""Time `stockade synth` against its physical floor, in the same run.

The floor is a bare interpreter that imports pulumi and every provider class the
stack's resources are made of: no program can synthesize those resources for
less. Provider SDK submodules load lazily, so the floor touches each class, not
just its module (a bare `import pulumi_aws.ec2` loads almost nothing).
Target (issue 2): synth of a ~100-resource stack within 2x the floor.

    .venv/bin/python benchmarks/bench_synth.py [--stack prod-use1] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import paired

ROOT = Path(__file__).resolve().parents[1]
TARGET = 2.0


def provider_classes(stack: str) -> tuple[list[str], int]:
    """`module.Class` for each provider resource type in the stack (aws:ec2/vpc:Vpc -> pulumi_aws.ec2.Vpc)."""
    out = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", stack, "--format", "json"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    resources = json.loads(out)["resources"]
    classes = set()
    for resource in resources:
        package, _, rest = resource["type"].partition(":")
        if package in ("stockade", "pulumi"):
            continue
        module, _, class_name = rest.partition(":")
        module = module.split("/")[0]
        python_package = "pulumiverse_vercel" if package == "vercel" else f"pulumi_{package}"
        prefix = python_package if module == "index" else f"{python_package}.{module}"
        classes.add(f"{prefix}.{class_name}")
    return sorted(classes), len(resources)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stack", default="prod-use1")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()

    classes, count = provider_classes(args.stack)
    modules = sorted({c.rsplit(".", 1)[0] for c in classes} | {"pulumi"})
    touch = "; ".join([*(f"import {m}" for m in modules), *(f"{c}" for c in classes)])
    floor = [sys.executable, "-c", touch]
    synth = [sys.executable, "-m", "stockade.cli.app", "synth", "--stack", args.stack, "--format", "json"]
    result = paired(synth, floor, runs=args.runs, cwd=str(ROOT))
    print(f"stack {args.stack}: {count} resources; floor loads {len(classes)} provider classes")
    print(result.describe("synth", "floor"))
    verdict = "within" if result.median_ratio <= TARGET else "OVER"
    print(f"target <= {TARGET:.1f}x: {verdict}")


if __name__ == "__main__":
    main()
