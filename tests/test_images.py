"""What can be checked about the reference images without a Docker engine.

The Dockerfiles are parsed (continuations joined, comments dropped) and checked against the
docs/vendor-interface.md §1.6 and the dispatcher contract; the entry points they name are
resolved in this checkout and the shims are run; the stockade packages they copy are checked
against what the programs import (statically, and by importing them from a copy laid out as
the image lays it out); images/fetch_ant.py, which installs `ant` at build time, is run
against a release archive served from 127.0.0.1.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tarfile
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from .dispatch_support import PROJECT, STOCKADE_SOURCE, image_layout, loaded_modules, run

IMAGES = PROJECT / "images"
DOCKERFILES = {"session": IMAGES / "session/Dockerfile", "poller": IMAGES / "poller/Dockerfile"}
CONTRACT_POLL = [
    "ant",
    "beta:worker",
    "poll",
    "--workdir",
    "/workspace",
    "--log-format",
    "json",
    "--on-work",
    "/usr/local/bin/stockade-dispatch",
]
DIGEST = re.compile(r"^[^\s@]+@sha256:[0-9a-f]{64}$")
IMAGE_STOCKADE = "/opt/stockade/stockade"
# The stockade packages whose programs each image runs through its shims.
SHIM_PACKAGES = {"session": {"dispatcher", "apiproxy"}, "poller": {"dispatcher", "docker_dispatcher"}}
SAFE_ENV = {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}


@dataclass(frozen=True)
class Instruction:
    keyword: str
    args: str

    def exec_form(self) -> list[str]:
        value = json.loads(self.args)
        assert isinstance(value, list)
        return value


def parse(dockerfile: Path) -> list[Instruction]:
    """Instructions in order, with line continuations joined and comment lines dropped."""
    instructions: list[Instruction] = []
    pending = ""
    for raw in dockerfile.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, args = full.partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip()))
    assert not pending, f"{dockerfile} ends inside a continuation"
    return instructions


def final_stage(instructions: list[Instruction]) -> list[Instruction]:
    starts = [i for i, ins in enumerate(instructions) if ins.keyword == "FROM"]
    return instructions[starts[-1] :]


def args_of(instructions: list[Instruction]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for ins in instructions:
        if ins.keyword == "ARG":
            name, sep, default = ins.args.partition("=")
            found[name] = default if sep else None
    return found


@pytest.fixture(params=sorted(DOCKERFILES))
def image(request: pytest.FixtureRequest) -> tuple[str, list[Instruction]]:
    name = request.param
    return name, parse(DOCKERFILES[name])


# --- base, ant and boto3 pins -------------------------------------------------------------------


def global_args(instructions: list[Instruction]) -> dict[str, str | None]:
    """Build arguments declared before the first FROM: the only ones a FROM line can use."""
    first = next(i for i, ins in enumerate(instructions) if ins.keyword == "FROM")
    return args_of(instructions[:first])


def resolved_from(reference: str, defaults: dict[str, str | None]) -> str:
    """A FROM reference with a `${ARG}` replaced by that argument's default."""
    if reference.startswith("${") and reference.endswith("}"):
        default = defaults.get(reference[2:-1])
        assert default, f"FROM {reference} has no default"
        return default
    return reference


def test_every_base_image_is_pinned_by_digest(image: tuple[str, list[Instruction]]) -> None:
    """Bases may be build arguments (tests build on a local base), but every default is pinned."""
    _, instructions = image
    defaults = global_args(instructions)
    stages: set[str] = set()
    froms = [ins for ins in instructions if ins.keyword == "FROM"]
    assert len(froms) >= 2, "a build stage for ant and a final stage"
    for ins in froms:
        words = ins.args.split()
        reference = resolved_from(words[0], defaults)
        assert reference in stages or DIGEST.match(reference), f"FROM {words[0]} is not pinned by digest"
        if len(words) == 3 and words[1].upper() == "AS":
            stages.add(words[2])
    assert froms[-1].args.split()[0] == "${BASE_IMAGE}", "the final stage is the pinned base"


def test_both_images_use_the_same_base(image: tuple[str, list[Instruction]]) -> None:
    bases = {name: global_args(parse(path)).get("BASE_IMAGE") for name, path in DOCKERFILES.items()}
    assert bases["session"] == bases["poller"] and bases["session"] and DIGEST.match(bases["session"])


def test_ant_is_pinned_and_installed_only_through_the_checksum_verifier(
    image: tuple[str, list[Instruction]],
) -> None:
    name, instructions = image
    declared = args_of(instructions)
    assert declared["ANT_VERSION"] == "1.39.1"
    # No checksum default: a build without the real checksum must fail, never skip the check.
    assert declared["ANT_SHA256_AMD64"] == "" and declared["ANT_SHA256_ARM64"] == ""
    runs = [
        shlex.split(ins.args) for ins in instructions if ins.keyword == "RUN" and "fetch_ant.py" in ins.args
    ]
    assert len(runs) == 1, f"{name}: ant must be installed by exactly one fetch_ant.py step"
    command = runs[0]
    assert command[:2] == ["python3", "/build/fetch_ant.py"]
    flags = dict(zip(command[2::2], command[3::2], strict=True))
    assert flags == {
        "--version": "${ANT_VERSION}",
        "--arch": "${TARGETARCH}",
        "--sha256-amd64": "${ANT_SHA256_AMD64}",
        "--sha256-arm64": "${ANT_SHA256_ARM64}",
        "--dest": "/out/ant",
    }
    final = final_stage(instructions)
    assert Instruction("COPY", "--from=ant /out/ant /usr/local/bin/ant") in final
    # Nothing else downloads anything.
    for ins in instructions:
        if ins.keyword in {"RUN", "ADD"}:
            assert not re.search(r"\b(curl|wget)\b|https?://", ins.args), ins.args
        assert ins.keyword != "ADD", "ADD can fetch URLs without verification; use COPY"


def test_boto3_is_installed_from_hash_pinned_wheels(image: tuple[str, list[Instruction]]) -> None:
    _, instructions = image
    [install] = [ins.args for ins in final_stage(instructions) if ins.keyword == "RUN" and "pip" in ins.args]
    for flag in ("--require-hashes", "--no-deps", "--only-binary=:all:", "-r /tmp/requirements-entry.txt"):
        assert flag in install
    requirements = (IMAGES / "requirements-entry.txt").read_text(encoding="utf-8")
    joined = re.sub(r"\\\n\s*", " ", requirements)
    pins = {}
    for line in joined.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)\s+--hash=sha256:[0-9a-f]{64}", line.strip())
        assert match, f"not an exact, hash-pinned requirement: {line!r}"
        pins[match.group(1).lower()] = match.group(2)
    assert set(pins) >= {"boto3", "botocore", "jmespath", "s3transfer", "urllib3", "python-dateutil", "six"}
    project = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))
    [boto3_range] = [d for d in project["project"]["dependencies"] if d.startswith("boto3")]
    low, high = re.fullmatch(r"boto3>=([\d.]+),<([\d.]+)", boto3_range).groups()  # type: ignore[union-attr]
    version = tuple(int(p) for p in pins["boto3"].split("."))
    assert tuple(int(p) for p in low.split(".")) <= version < tuple(int(p) for p in high.split("."))


# --- user, paths and volumes (docs/vendor-interface.md §1.6) ----------------------------------


def test_the_image_runs_as_a_numeric_non_root_user(image: tuple[str, list[Instruction]]) -> None:
    _, instructions = image
    users = [ins.args for ins in final_stage(instructions) if ins.keyword == "USER"]
    assert users[-1] == "65532:65532"
    assert all(u.split(":")[0] not in {"0", "root"} for u in users)


def test_workdir_volumes_and_memory_mount_point(image: tuple[str, list[Instruction]]) -> None:
    _, instructions = image
    final = final_stage(instructions)
    assert [ins.args for ins in final if ins.keyword == "WORKDIR"][-1] == "/workspace"
    volumes = [v for ins in final if ins.keyword == "VOLUME" for v in ins.exec_form()]
    assert {"/workspace", "/mnt/memory", "/tmp"} <= set(volumes)
    setup = " && ".join(ins.args for ins in final if ins.keyword == "RUN")
    assert re.search(r"mkdir -p [^&]*/mnt/memory\b", setup)
    assert re.search(r"chown 65532:65532 [^&]*/mnt/memory\b", setup)
    # The worker refuses a session whose per-store directory already exists.
    whole = "\n".join(f"{ins.keyword} {ins.args}" for ins in instructions)
    assert not re.search(r"/mnt/memory/\S", whole), "no per-store directory may be created"


def test_the_dispatcher_is_copied_as_the_contract_lays_it_out(image: tuple[str, list[Instruction]]) -> None:
    _, instructions = image
    final = final_stage(instructions)
    copies = {ins.args for ins in final if ins.keyword == "COPY"}
    assert "components/stockade/__init__.py /opt/stockade/stockade/__init__.py" in copies
    assert "components/stockade/dispatcher/ /opt/stockade/stockade/dispatcher/" in copies
    env = " ".join(ins.args for ins in final if ins.keyword == "ENV")
    assert "PYTHONPATH=/opt/stockade" in env


# --- the stockade packages each image copies: exactly what its programs import ------------------


def _copy_sources(instructions: list[Instruction]) -> list[tuple[str, str]]:
    """(source, destination) of every COPY from the build context in the final stage."""
    pairs = []
    for ins in final_stage(instructions):
        if ins.keyword != "COPY" or ins.args.startswith("--from="):
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        pairs += [(source, words[-1]) for source in words[:-1]]
    return pairs


def copied_packages(instructions: list[Instruction]) -> set[str]:
    """The stockade packages copied whole, each to where PYTHONPATH=/opt/stockade finds it."""
    packages = set()
    for source, destination in _copy_sources(instructions):
        match = re.fullmatch(r"components/stockade/(\w+)/", source)
        if match:
            assert destination == f"{IMAGE_STOCKADE}/{match[1]}/", f"{source} is copied to {destination}"
            packages.add(match[1])
    return packages


def shim_packages(instructions: list[Instruction]) -> set[str]:
    """The stockade packages the copied shims run (`exec python3 -m stockade.<package>...`)."""
    packages = set()
    for source, _ in _copy_sources(instructions):
        path = PROJECT / source
        if path.is_file() and path.read_text(encoding="utf-8").startswith("#!/bin/sh"):
            module = _shim_module(path).split(".")
            assert module[0] == "stockade", source
            packages.add(module[1])
    return packages


def stockade_imports(package: str) -> set[str]:
    """The other stockade packages (or modules) that any module of `package` imports, at any depth
    of its code: an import inside a function fails at run time just the same."""
    found = set()
    for path in sorted((STOCKADE_SOURCE / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path}: a relative import; the dispatch packages use absolute ones"
                module = node.module or ""
                names = [f"stockade.{a.name}" for a in node.names] if module == "stockade" else [module]
            else:
                continue
            for name in names:
                parts = name.split(".")
                if parts[0] != "stockade" or len(parts) < 2 or parts[1] == package:
                    continue
                # `from stockade import __version__` reads stockade/__init__.py, which is always copied.
                if (STOCKADE_SOURCE / parts[1]).is_dir() or (STOCKADE_SOURCE / f"{parts[1]}.py").is_file():
                    found.add(parts[1])
    return found


def import_closure(packages: set[str]) -> set[str]:
    needed: set[str] = set()
    pending = list(packages)
    while pending:
        package = pending.pop()
        if package not in needed:
            needed.add(package)
            pending += stockade_imports(package)
    return needed


def test_the_image_copies_every_stockade_package_its_programs_import(
    image: tuple[str, list[Instruction]],
) -> None:
    name, instructions = image
    entries = shim_packages(instructions)
    assert entries == SHIM_PACKAGES[name]
    needed = import_closure(entries)
    assert needed > entries, "the dispatchers import the shared workqueue package; the scan found nothing"
    assert copied_packages(instructions) == needed, f"{name}: copy exactly {sorted(needed)}"
    for source, _ in _copy_sources(instructions):
        if source.startswith("components/") and source != "components/stockade/__init__.py":
            assert source.split("/")[2] in needed, f"{name}: {source} is not something its programs import"


def test_the_programs_import_from_a_copy_laid_out_as_the_image_lays_it_out(
    image: tuple[str, list[Instruction]], tmp_path: Path
) -> None:
    _, instructions = image
    root = image_layout(tmp_path / "opt-stockade", sorted(copied_packages(instructions)))
    entries = sorted(shim_packages(instructions))

    modules = loaded_modules(root, entries)

    assert {f"stockade.{package}.__main__" for package in entries} <= modules


def test_every_copied_file_exists_and_passes_the_dockerignore(image: tuple[str, list[Instruction]]) -> None:
    name, instructions = image
    allowed = [
        line[1:].rstrip("/")
        for line in (DOCKERFILES[name].parent / "Dockerfile.dockerignore")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.startswith("!")
    ]
    for ins in instructions:
        if ins.keyword != "COPY" or ins.args.startswith("--from="):
            continue
        words = [w for w in ins.args.split() if not w.startswith("--")]
        for source in words[:-1]:
            assert (PROJECT / source).exists(), f"{name}: COPY {source} does not exist"
            assert any(source.rstrip("/") == a or source.startswith(a + "/") for a in allowed), (
                f"{name}: {source} is excluded by Dockerfile.dockerignore"
            )


# --- entry points -------------------------------------------------------------------------------


def _shim_module(shim: Path) -> str:
    lines = [line for line in shim.read_text(encoding="utf-8").splitlines() if line.startswith("exec ")]
    assert len(lines) == 1
    words = shlex.split(lines[0])
    assert words[:3] == ["exec", "python3", "-m"] and words[-1] == "$@"
    return words[3]


def test_the_session_entrypoint_is_the_session_entry_module() -> None:
    final = final_stage(parse(DOCKERFILES["session"]))
    [entrypoint] = [ins.exec_form() for ins in final if ins.keyword == "ENTRYPOINT"]
    assert entrypoint == ["/usr/local/bin/stockade-session-entry"]
    assert "--chmod=0755 images/session/stockade-session-entry /usr/local/bin/stockade-session-entry" in {
        ins.args for ins in final if ins.keyword == "COPY"
    }
    module = _shim_module(IMAGES / "session/stockade-session-entry")
    assert module == "stockade.dispatcher.session_entry"
    assert callable(importlib.import_module(module).main)


def test_the_poller_runs_the_contract_command_and_its_on_work_hook_exists() -> None:
    final = final_stage(parse(DOCKERFILES["poller"]))
    [entrypoint] = [ins.exec_form() for ins in final if ins.keyword == "ENTRYPOINT"]
    assert entrypoint == CONTRACT_POLL
    assert "--chmod=0755 images/poller/stockade-dispatch /usr/local/bin/stockade-dispatch" in {
        ins.args for ins in final if ins.keyword == "COPY"
    }
    module = _shim_module(IMAGES / "poller/stockade-dispatch")
    assert module == "stockade.dispatcher"
    assert importlib.util.find_spec("stockade.dispatcher.__main__") is not None
    assert callable(importlib.import_module("stockade.dispatcher.queue_stats").main)


def test_the_poller_image_carries_the_docker_targets_on_work_handler() -> None:
    from stockade.docker.sandbox_fleet import DISPATCH_SCRIPT

    final = final_stage(parse(DOCKERFILES["poller"]))
    copies = {ins.args for ins in final if ins.keyword == "COPY"}
    shim = "components/stockade/docker_dispatcher/stockade-docker-dispatch.sh"
    assert f"--chmod=0755 {shim} {DISPATCH_SCRIPT}" in copies
    assert "components/stockade/docker_dispatcher/ /opt/stockade/stockade/docker_dispatcher/" in copies
    assert importlib.util.find_spec("stockade.docker_dispatcher.__main__") is not None


def test_the_console_scripts_resolve() -> None:
    scripts = tomllib.loads((PROJECT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    expected = {
        "stockade-dispatch": "stockade.dispatcher.dispatch:main",
        "stockade-session-entry": "stockade.dispatcher.session_entry:main",
        "stockade-queue-stats": "stockade.dispatcher.queue_stats:main",
    }
    for name, target in expected.items():
        assert scripts[name] == target
        module, _, function = target.partition(":")
        assert callable(getattr(importlib.import_module(module), function))


@pytest.mark.parametrize(
    ("shim", "expected_event"),
    [("poller/stockade-dispatch", "config.invalid"), ("session/stockade-session-entry", "config.invalid")],
)
def test_the_shims_run_the_modules(shim: str, expected_event: str, tmp_path: Path) -> None:
    env = {**SAFE_ENV, "PYTHONPATH": str(PROJECT / "components")}
    done = run(["/bin/sh", str(IMAGES / shim)], env=env, cwd=tmp_path, stdin="")
    assert done.returncode == 2, done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1])["event"] == expected_event


# --- fetch_ant.py: the checksum gate, run for real ----------------------------------------------


def _load_fetch_ant() -> Any:
    spec = importlib.util.spec_from_file_location("fetch_ant", IMAGES / "fetch_ant.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_release_url_is_the_documented_one() -> None:
    fetch_ant = _load_fetch_ant()
    assert (
        fetch_ant.release_url(fetch_ant.RELEASE_BASE, "1.39.1", "arm64")
        == "https://github.com/anthropics/anthropic-cli/releases/download/v1.39.1/ant_1.39.1_linux_arm64.tar.gz"
    )


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.fixture
def release_server() -> Iterator[tuple[str, dict[str, bytes], list[str]]]:
    """Serves {path: bytes} on 127.0.0.1, standing in for the GitHub release download."""
    files: dict[str, bytes] = {}
    requested: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requested.append(self.path)
            body = files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", files, requested
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _fetch(
    base: str, dest: Path, amd64: str = "", arm64: str = "", arch: str = "amd64"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            str(IMAGES / "fetch_ant.py"),
            "--version",
            "1.39.1",
            "--arch",
            arch,
            "--sha256-amd64",
            amd64,
            "--sha256-arm64",
            arm64,
            "--dest",
            str(dest),
            "--base-url",
            base,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


ANT_PATH = "/v1.39.1/ant_1.39.1_linux_amd64.tar.gz"


def test_fetch_ant_installs_the_binary_when_the_checksum_matches(release_server: Any, tmp_path: Path) -> None:
    base, files, _ = release_server
    files[ANT_PATH] = _archive(
        {"ant": b"#!/bin/sh\necho ant\n", "README.md": b"readme", "LICENSE": b"license"}
    )
    dest = tmp_path / "out/ant"

    done = _fetch(base, dest, amd64=hashlib.sha256(files[ANT_PATH]).hexdigest())

    assert done.returncode == 0, done.stderr
    assert dest.read_bytes() == b"#!/bin/sh\necho ant\n"
    assert os.access(dest, os.X_OK)
    assert sorted(p.name for p in dest.parent.iterdir()) == ["ant"], "only the binary is written"


def test_fetch_ant_refuses_to_run_without_a_checksum(release_server: Any, tmp_path: Path) -> None:
    base, files, requested = release_server
    files[ANT_PATH] = _archive({"ant": b"binary"})

    done = _fetch(base, tmp_path / "ant", amd64="", arm64=hashlib.sha256(files[ANT_PATH]).hexdigest())

    assert done.returncode == 1
    assert "no valid sha256 for ant 1.39.1 linux/amd64" in done.stderr
    assert "ANT_SHA256_AMD64" in done.stderr
    assert requested == [], "nothing is downloaded before a checksum is known"
    assert not (tmp_path / "ant").exists()


def test_fetch_ant_rejects_a_mismatched_archive(release_server: Any, tmp_path: Path) -> None:
    base, files, requested = release_server
    files[ANT_PATH] = _archive({"ant": b"tampered"})

    done = _fetch(base, tmp_path / "ant", amd64=hashlib.sha256(b"the real archive").hexdigest())

    assert done.returncode == 1
    assert "sha256 mismatch" in done.stderr
    assert requested == [ANT_PATH]
    assert not (tmp_path / "ant").exists()


@pytest.mark.parametrize(
    ("files", "arch", "expected"),
    [
        ({"docs/readme.txt": b"x"}, "amd64", "found 0"),
        ({"ant": b"a", "ant_1.39.1/ant": b"b"}, "amd64", "found 2"),
        ({}, "riscv64", "TARGETARCH 'riscv64' is not one of amd64, arm64"),
    ],
)
def test_fetch_ant_fails_on_surprises(
    release_server: Any, tmp_path: Path, files: dict[str, bytes], arch: str, expected: str
) -> None:
    base, served, _ = release_server
    served[ANT_PATH] = _archive(files)
    digest = hashlib.sha256(served[ANT_PATH]).hexdigest()

    done = _fetch(base, tmp_path / "ant", amd64=digest, arm64=digest, arch=arch)

    assert done.returncode == 1
    assert expected in done.stderr
    assert not (tmp_path / "ant").exists()


def test_fetch_ant_downloads_only_over_https_off_loopback(tmp_path: Path) -> None:
    done = _fetch(
        "http://github.com/anthropics/anthropic-cli/releases/download", tmp_path / "ant", amd64="0" * 64
    )
    assert done.returncode == 1
    assert "refusing to download over http" in done.stderr
