"""images/orchestrator: what can be checked without a Docker engine (none is used here).

The base is a build argument pinned by digest, the dependencies are pinned to exact versions
inside pyproject's `orchestrators` ranges, the image copies exactly the stockade modules the
orchestrator imports (and they import from a copy laid out as the image lays it out, with no
pydantic, pulumi or boto3), and the build context admits every copied file.
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.version import Version

PROJECT = Path(__file__).resolve().parent.parent
IMAGE = PROJECT / "images/orchestrator"
DOCKERFILE = IMAGE / "Dockerfile"
COMPONENTS = PROJECT / "components"
DIGEST = re.compile(r"^[^\s@$]+@sha256:[0-9a-f]{64}$")


def instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def test_the_base_is_a_digest_pinned_build_argument() -> None:
    steps = instructions()
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for kw, rest in steps if kw == "ARG" and "=" in rest}
    assert DIGEST.match(args["BASE_IMAGE"]), "ARG BASE_IMAGE must default to a digest-pinned reference"
    froms = [rest for kw, rest in steps if kw == "FROM"]
    assert froms == ["${BASE_IMAGE}"]
    session_bases = set(
        re.findall(
            r"^ARG BASE_IMAGE=(\S+@sha256:[0-9a-f]{64})",
            (PROJECT / "images/session/Dockerfile").read_text(),
            re.MULTILINE,
        )
    )
    assert args["BASE_IMAGE"] in session_bases, "re-pin the orchestrator base together with the others"


def test_it_runs_the_orchestrator_as_a_numeric_non_root_user() -> None:
    steps = dict(instructions())
    assert steps["USER"] == "65532:65532"
    assert steps["ENTRYPOINT"] == '["python3", "-m", "stockade.orchestrators"]'


def _requirements() -> dict[str, Version]:
    pins = {}
    for line in (IMAGE / "requirements.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            requirement = Requirement(line)
            [spec] = list(requirement.specifier)
            assert spec.operator == "==", f"{line} is not pinned to one version"
            pins[requirement.name] = Version(spec.version)
    return pins


def test_the_dependencies_are_pinned_inside_the_orchestrators_extra() -> None:
    pins = _requirements()
    extra = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    for line in extra["orchestrators"]:
        requirement = Requirement(line)
        assert requirement.name in pins, f"{requirement.name} is missing from images/orchestrator"
        assert requirement.specifier.contains(pins[requirement.name]), f"{requirement.name} is outside {line}"
    assert "--no-deps" in DOCKERFILE.read_text(), "nothing may be resolved at build time"


def _stockade_imports(path: Path) -> set[str]:
    """Top-level (module-scope) stockade imports: what loading the module needs."""
    tree = ast.parse(path.read_text())
    found = set()
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("stockade."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("stockade."))
    return found


def _module_file(module: str) -> Path:
    base = COMPONENTS / module.replace(".", "/")
    return base / "__init__.py" if base.is_dir() else base.with_suffix(".py")


def _copies() -> list[tuple[str, str]]:
    return [tuple(rest.split()[-2:]) for kw, rest in instructions() if kw == "COPY"]  # type: ignore[misc]


def _copied_files() -> set[Path]:
    files: set[Path] = set()
    for source, _ in _copies():
        path = PROJECT / source
        if path.is_dir():
            files.update(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)
        elif path.suffix == ".py":
            files.add(path)
    return files


def test_the_image_copies_exactly_the_modules_the_orchestrator_imports() -> None:
    entry = {p for p in (COMPONENTS / "stockade/orchestrators").glob("*.py")}
    needed: set[Path] = set()
    queue = list(entry)
    while queue:
        path = queue.pop()
        if path in needed:
            continue
        needed.add(path)
        for module in _stockade_imports(path):
            parts = module.split(".")
            for i in range(2, len(parts) + 1):  # every package on the way has its __init__
                queue.append(_module_file(".".join(parts[:i])))
    needed.add(COMPONENTS / "stockade/__init__.py")
    copied = {p for p in _copied_files() if p.suffix == ".py"}
    assert needed <= copied, f"not copied: {sorted(str(p.relative_to(PROJECT)) for p in needed - copied)}"
    extra = {p for p in copied - needed if p.parent != COMPONENTS / "stockade/workqueue"}
    assert not extra, f"copied but unused: {sorted(str(p.relative_to(PROJECT)) for p in extra)}"


def test_the_orchestrator_imports_from_a_copy_laid_out_as_the_image_lays_it_out(tmp_path: Path) -> None:
    root = tmp_path / "opt-stockade"
    for source, destination in _copies():
        if not destination.startswith("/opt/stockade/"):
            continue
        target = root / destination.removeprefix("/opt/stockade/")
        if (PROJECT / source).is_dir():
            shutil.copytree(PROJECT / source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(PROJECT / source, target)
    probe = (
        "import sys, stockade.orchestrators.main, stockade.orchestrators.core;"
        "bad = [m for m in ('pydantic', 'pulumi', 'boto3') if m in sys.modules];"
        "assert stockade.__file__.startswith(sys.argv[1]), stockade.__file__;"
        "assert not bad, bad"
    )
    env = {"PYTHONPATH": str(root), "PATH": os.environ.get("PATH", "")}
    result = subprocess.run(
        [sys.executable, "-c", probe, str(root)], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_build_context_admits_every_copied_file() -> None:
    patterns = [
        line.strip()
        for line in (IMAGE / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def admitted(relative: str) -> bool:
        verdict = False
        for pattern in patterns:
            negate = pattern.startswith("!")
            body = pattern[1:] if negate else pattern
            if fnmatch.fnmatch(relative, body) or relative.startswith(body.rstrip("/") + "/"):
                verdict = negate
        return verdict

    for source, _ in _copies():
        path = PROJECT / source
        files = (
            [p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts]
            if path.is_dir()
            else [path]
        )
        assert files, f"COPY {source} copies nothing"
        for file in files:
            relative = str(file.relative_to(PROJECT))
            assert admitted(relative), f"{relative} is excluded by Dockerfile.dockerignore"
