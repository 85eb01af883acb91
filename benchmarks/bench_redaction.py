"""Time `stockade comment`'s redaction on a large preview against reading the same document, in one run.

    .venv/bin/python benchmarks/bench_redaction.py [--secrets 10000] [--megabytes 50] [--runs 3]

The preview is generated: `--secrets` resources each holding one secret in clear
on the old side and as a sentinel on the new side, plus filler resources whose
inputs quote some of those secrets (in clear, JSON-escaped and base64), padded
to `--megabytes` of JSON. Redaction must find and scrub every copy.

Floor: `json.loads` of the document plus one full walk that copies it (what any
reader of the preview pays). Measured: parsing the steps and redacting them
(`stockade.review.preview._redacted_steps`), after the same `json.loads`.
Target (issue 14): linear time, "a few seconds" for 10,000 secrets in 50 MB;
the run also redacts half the document and prints the per-megabyte ratio, so a
quadratic redaction shows as a growing ratio.
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import string
import time
from typing import Any

from stockade.review.preview import _redacted_steps
from stockade.review.secrets import SECRET_SIG, SECRET_SIG_KEY

TYPE = "aws:secretsmanager/secretVersion:SecretVersion"
FILLER = "aws:ecs/taskDefinition:TaskDefinition"


def build(secrets: int, megabytes: float, seed: int = 7) -> tuple[str, list[str]]:
    rnd = random.Random(seed)
    values = ["".join(rnd.choices(string.ascii_letters + string.digits, k=40)) for _ in range(secrets)]
    steps: list[dict[str, Any]] = []
    for index, value in enumerate(values):
        urn = f"urn:pulumi:bench::stockade::{TYPE}::secret-{index}"
        steps.append(
            {
                "op": "update",
                "urn": urn,
                "oldState": {
                    "urn": urn,
                    "type": TYPE,
                    "inputs": {"secretString": value, "secretId": f"s{index}"},
                },
                "newState": {
                    "urn": urn,
                    "type": TYPE,
                    "inputs": {"secretString": {SECRET_SIG_KEY: SECRET_SIG}, "secretId": f"s{index}"},
                },
                "diffReasons": ["secretString"],
            }
        )
    target = int(megabytes * 1_000_000)
    size = len(json.dumps({"steps": steps}))
    index = 0
    while size < target:
        quoted = values[index % len(values)]
        env = [
            {"name": f"V{i}", "value": "".join(rnd.choices(string.ascii_letters, k=60))} for i in range(40)
        ]
        env.append({"name": "COPY", "value": quoted})
        urn = f"urn:pulumi:bench::stockade::{FILLER}::task-{index}"
        inputs = {
            "containerDefinitions": json.dumps([{"name": "app", "environment": env}]),
            "userData": base64.b64encode(f"#!/bin/sh\nexport X={quoted}\n".encode()).decode(),
        }
        step = {"op": "same", "urn": urn, "oldState": {"urn": urn, "type": FILLER, "inputs": inputs}}
        steps.append(step)
        size += len(json.dumps(step)) + 2
        index += 1
    return json.dumps({"steps": steps}), values


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


def timed(text: str, redact: bool) -> tuple[float, Any]:
    start = time.process_time()
    document = json.loads(text)
    result = _redacted_steps(document, "bench") if redact else _copy(document)
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--secrets", type=int, default=10_000)
    parser.add_argument("--megabytes", type=float, default=50.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print("floor: json.loads + one copying walk of the same document (CPU seconds)")
    print("measured: json.loads + step parsing + redaction (CPU seconds)")
    for scale in (0.5, 1.0):
        text, values = build(int(args.secrets * scale), args.megabytes * scale)
        floors, measured = [], []
        result: Any = None
        for _ in range(args.runs):
            floors.append(timed(text, redact=False)[0])
            seconds, result = timed(text, redact=True)
            measured.append(seconds)
        steps, scrubber = result
        leaked = sum(
            1
            for s in steps
            for v in (s.old, s.new)
            if v is not None and any(value in json.dumps(v.inputs) for value in values[:50])
        )
        floor, spent = statistics.median(floors), statistics.median(measured)
        print(
            f"{len(values):,} secrets in {len(text) / 1e6:.1f} MB: "
            f"redaction {spent:.2f}s, floor {floor:.2f}s, "
            f"ratio {spent / floor:.2f}, {spent / (len(text) / 1e6) * 1000:.0f} ms/MB, "
            f"{len(scrubber):,} scrub forms, leaks among first 50 secrets: {leaked}"
        )
    print("target: linear (ms/MB about equal at both sizes), a few seconds at full size, no leaks")


if __name__ == "__main__":
    main()
