"""Helpers for the tests of the dispatch programs (stockade.dispatcher, stockade.docker_dispatcher,
stockade.workqueue) and of the images that carry them.

* `logging_restored`: undoes what the programs' main() does to the root logger.
* `image_layout` and `loaded_modules`: lay packages out as the images copy them and import them
  in a fresh interpreter, to see what they really pull in.
* `run`: a bounded subprocess run with captured text output.
* `work_item_json`: the JSON `ant` writes to an on-work handler's stdin.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
STOCKADE_SOURCE = PROJECT / "components" / "stockade"
# The loggers main() changes: the root gets the JSON handler, the AWS SDK loggers a floor.
_TOUCHED_LOGGERS = ("", "botocore", "boto3", "urllib3", "s3transfer")


@contextmanager
def logging_restored() -> Iterator[None]:
    """main() installs its handler on the root logger and quiets botocore; undo both on exit."""
    loggers = [logging.getLogger(name) for name in _TOUCHED_LOGGERS]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    try:
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)


def work_item_json(**fields: object) -> str:
    """A session work item as `ant beta:worker poll` hands it over; `fields` replace top-level keys."""
    item: dict[str, object] = {"id": "work_01", "data": {"id": "sesn_01", "type": "session"}, "secret": ""}
    item.update(fields)
    return json.dumps(item)


def run(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path | None = None,
    stdin: str | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion (bounded), capturing stdout and stderr as text."""
    return subprocess.run(
        list(argv),
        env=dict(env),
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def image_layout(root: Path, packages: Iterable[str]) -> Path:
    """`stockade/__init__.py` and the named packages of components/stockade, copied under `root`
    the way the images copy them to /opt/stockade; returns `root`, the image's PYTHONPATH."""
    target = root / "stockade"
    target.mkdir(parents=True)
    (target / "__init__.py").write_bytes((STOCKADE_SOURCE / "__init__.py").read_bytes())
    for package in packages:
        for source in (STOCKADE_SOURCE / package).rglob("*"):
            if "__pycache__" in source.parts or not source.is_file():
                continue
            destination = target / package / source.relative_to(STOCKADE_SOURCE / package)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(source.read_bytes())
    return root


# Imports every module of the named packages from the layout (never from the checkout), then
# runs the caller's extra statements and prints the names in sys.modules.
_PROBE = """
import importlib, json, pkgutil, sys
root, packages = sys.argv[1], sys.argv[2:]
sys.path.insert(0, root)
import stockade
if not stockade.__file__.startswith(root):
    raise SystemExit(f"imported {stockade.__file__}, not the copy under {root}")
for name in packages:
    package = importlib.import_module(f"stockade.{name}")
    for found in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(found.name)
"""


def loaded_modules(
    root: Path, packages: Sequence[str], extra: str = "", env: Mapping[str, str] | None = None
) -> set[str]:
    """Every module in sys.modules after a fresh, isolated interpreter (`python -I`, so neither
    PYTHONPATH nor the working directory leaks the checkout in) imported all of `packages`
    from `root` and ran the `extra` statements."""
    probe = _PROBE + extra + "\nprint(json.dumps(sorted(sys.modules)))\n"
    done = run(
        [sys.executable, "-I", "-c", probe, str(root), *packages],
        env=env if env is not None else {"HOME": str(root)},
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout))


def unexpected_modules(
    modules: Iterable[str], stockade_packages: Iterable[str], third_party: Iterable[str] = ()
) -> set[str]:
    """The modules outside the standard library, the named stockade packages and `third_party`."""
    packages = set(stockade_packages)
    others = set(third_party)
    found = set()
    for name in modules:
        top, *rest = name.split(".")
        if top == "stockade":
            if rest and rest[0] not in packages:
                found.add(name)
        # A leading underscore: the interpreter's own (__main__) or an import hook, not a library.
        elif top not in sys.stdlib_module_names and top not in others and not top.startswith("_"):
            found.add(name)
    return found
