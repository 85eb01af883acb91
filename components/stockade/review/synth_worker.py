"""Synthesize several stacks with whichever Stockade engine is first on sys.path; write one JSON file.

`stockade diff` runs this file as a script (`python -P synth_worker.py ...`) with
PYTHONPATH=<revision>/components, once per revision, so each revision is
synthesized by its own code and process start-up is paid once, not per stack.
It must stay standalone: it imports nothing from stockade.review (a base
revision may predate it) and only the engine's public `synthesize`.

Output: {"engine": bool, "package": path, "error": str|None,
         "stacks": {name: {"status": "ok", "synth": {...}} | {"status": "error", "error": str}}}
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gc
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any


def _message(exc: BaseException) -> str:
    render = getattr(exc, "render", None)
    if callable(render):
        with contextlib.suppress(Exception):  # a broken render() still leaves the plain message
            return str(render())
    return f"{type(exc).__name__}: {exc}"


def _synth_json(result: Any) -> Any:
    as_json = getattr(result, "as_json", None)
    return as_json() if callable(as_json) else json.loads(result.to_json())


def _between_stacks(*, first: bool) -> None:
    # stockade.gc_schedule's policy, restated because this file must import nothing from a
    # revision's package: with the collector off (main), freeze what the first stack left
    # (modules, caches), then collect only what each later stack made.
    if gc.isenabled():
        return
    if first:
        gc.freeze()
    else:
        gc.collect()


def run(project_dir: Path, expected_package: Path, stacks: list[str]) -> dict[str, Any]:
    try:
        import stockade
        from stockade.engine import synthesize
    except ImportError as exc:
        return {
            "engine": False,
            "package": None,
            "error": f"cannot import stockade.engine: {exc}",
            "stacks": {},
        }
    package = Path(stockade.__file__).resolve().parent
    if not package.is_relative_to(expected_package.resolve()):
        return {
            "engine": False,
            "package": str(package),
            "error": f"stockade was imported from {package}, not from this revision ({expected_package})",
            "stacks": {},
        }
    results: dict[str, Any] = {}
    for index, stack in enumerate(stacks):
        try:
            results[stack] = {"status": "ok", "synth": _synth_json(synthesize(stack, project_dir))}
        except Exception as exc:
            results[stack] = {"status": "error", "error": _message(exc)}
        _between_stacks(first=index == 0)
    return {"engine": True, "package": str(package), "error": None, "stacks": results}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--project-dir", type=Path, required=True)
    parser.add_argument("--expect-package", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("stacks", nargs="*")
    args = parser.parse_args(argv)
    gc.disable()
    document = run(args.project_dir, args.expect_package, args.stacks)
    args.out.write_text(json.dumps(document, sort_keys=True), encoding="utf-8")
    return 0


def _exit_without_teardown(code: int) -> None:
    # stockade.gc_schedule.exit_without_teardown, restated for the same reason as above: the
    # result is on disk, and freeing an engine's worth of objects one by one changes nothing.
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(code)


if __name__ == "__main__":
    _exit_without_teardown(main(sys.argv[1:]))
