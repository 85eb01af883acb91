"""Check out revisions and synthesize them, each with its own code, in one child process per revision.

The base (and `--head REF` when given) is checked out with `git worktree add
--detach` into a temporary directory that is always removed again; the default
head is the working tree as it is, uncommitted edits included. Each revision's
stacks are synthesized by `synth_worker.py` running under
PYTHONPATH=<checkout>/components, so the base is rendered by the base's own
engine and components, and interpreter start-up is paid once per revision.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from stockade.review.errors import ReviewInputError, RevisionError
from stockade.review.model import RevisionInfo

WORKER = Path(__file__).with_name("synth_worker.py")
DEFAULT_TIMEOUT = 900.0
_LOG_TAIL = 40


@dataclass(frozen=True)
class Checkout:
    """A revision on disk: where its project (Pulumi.yaml, stacks, components) lives."""

    info: RevisionInfo
    project_dir: Path

    @property
    def components(self) -> Path:
        return self.project_dir / "components"


def find_project_dir(start: Path | None = None) -> Path:
    """The nearest directory at or above `start` holding Pulumi.yaml."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / "Pulumi.yaml").is_file():
            return candidate
    raise ReviewInputError(f"no Pulumi.yaml at or above {here}; run from a Stockade project checkout")


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, env=env, check=False
        )
    except FileNotFoundError:
        raise ReviewInputError("`stockade diff` needs git, and there is no `git` on PATH") from None


def repo_root(project_dir: Path) -> Path:
    result = _git(project_dir, "rev-parse", "--show-toplevel")
    if result.returncode != 0:
        raise ReviewInputError(f"{project_dir} is not inside a git repository: {result.stderr.strip()}")
    return Path(result.stdout.strip()).resolve()


def resolve(root: Path, ref: str) -> RevisionInfo:
    if not ref or ref.startswith("-"):
        raise ReviewInputError(f"invalid git revision {ref!r}")
    result = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if result.returncode != 0:
        raise ReviewInputError(f"unknown git revision {ref!r}: no commit by that name in {root}")
    commit = result.stdout.strip()
    label = ref if commit.startswith(ref) else f"{ref} ({commit[:7]})"
    return RevisionInfo(label=label, ref=ref, commit=commit)


@contextmanager
def worktree(root: Path, revision: RevisionInfo) -> Iterator[Path]:
    """A detached checkout of `revision` in a temporary directory, removed on exit."""
    assert revision.commit is not None
    holder = Path(tempfile.mkdtemp(prefix="stockade-diff-"))
    path = holder / "checkout"
    try:
        added = _git(root, "worktree", "add", "--detach", "--quiet", str(path), revision.commit)
        if added.returncode != 0:
            raise RevisionError(f"cannot check out {revision.label}: {added.stderr.strip()}")
        yield path
    finally:
        removed = _git(root, "worktree", "remove", "--force", str(path))
        shutil.rmtree(holder, ignore_errors=True)
        if removed.returncode != 0:
            _git(root, "worktree", "prune")


@dataclass(frozen=True)
class SynthOutcome:
    """One revision's synths: desired-state documents by stack, and error messages by stack."""

    documents: dict[str, dict[str, Any]]
    errors: dict[str, str]


class _Worker:
    """One child process synthesizing one revision's stacks."""

    def __init__(self, checkout: Checkout, stacks: Sequence[str], scratch: Path) -> None:
        if not (checkout.components / "stockade" / "engine").is_dir():
            raise ReviewInputError(
                f"revision {checkout.info.label} predates Stockade's offline engine "
                f"(no components/stockade/engine there); choose a newer --base"
            )
        self.checkout = checkout
        self.stacks = list(stacks)
        slug = "head" if checkout.info.commit is None else checkout.info.commit[:12]
        self.out = scratch / f"synth-{slug}.json"
        self.log_path = scratch / f"synth-{slug}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(checkout.components), env.get("PYTHONPATH", "")) if p
        )
        command = [
            sys.executable,
            "-P",  # keep the worker's own directory off sys.path
            str(WORKER),
            "--project-dir",
            str(checkout.project_dir),
            "--expect-package",
            str(checkout.components / "stockade"),
            "--out",
            str(self.out),
            *self.stacks,
        ]
        self.process = subprocess.Popen(
            command, cwd=checkout.project_dir, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )

    def finish(self, timeout: float) -> SynthOutcome:
        """Each stack's desired state, or why it failed; a stack's failure never hides the others."""
        label = self.checkout.info.label
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            message = f"synthesizing {label} took longer than {timeout:.0f}s; stopped it"
            return SynthOutcome({}, dict.fromkeys(self.stacks, message))
        finally:
            self._log.close()
        if code != 0 or not self.out.is_file():
            message = f"the synth process for {label} failed (exit {code}):\n{self._tail()}"
            return SynthOutcome({}, dict.fromkeys(self.stacks, message))
        document = json.loads(self.out.read_text(encoding="utf-8"))
        if not document.get("engine"):
            raise ReviewInputError(
                f"revision {label} predates Stockade's offline engine ({document.get('error')}); "
                "choose a newer --base"
            )
        stacks: dict[str, dict[str, Any]] = document.get("stacks") or {}
        return SynthOutcome(
            {name: entry["synth"] for name, entry in stacks.items() if entry.get("status") == "ok"},
            {
                name: f"synth failed at revision {label}: {entry.get('error')}"
                for name, entry in stacks.items()
                if entry.get("status") != "ok"
            },
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        if not self._log.closed:
            self._log.close()

    def _tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return "(no output)"
        return "\n".join(lines[-_LOG_TAIL:]) or "(no output)"


class Workspace:
    """The checkouts and synth processes of one diff.

    On exit every process is stopped and every worktree removed, whatever happened.
    """

    def __init__(self, project_dir: Path, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.project_dir = project_dir.resolve()
        self.root = repo_root(self.project_dir)
        self.relative = self.project_dir.relative_to(self.root)
        self.timeout = timeout
        self._cleanup = ExitStack()
        self._workers: list[_Worker] = []
        self._scratch: Path | None = None

    def __enter__(self) -> Workspace:
        self._scratch = Path(
            self._cleanup.enter_context(tempfile.TemporaryDirectory(prefix="stockade-synth-"))
        )
        return self

    def __exit__(self, *exc_info: object) -> None:
        try:
            for worker in self._workers:
                worker.stop()
        finally:
            self._cleanup.close()

    def resolve(self, ref: str) -> RevisionInfo:
        return resolve(self.root, ref)

    def changed_files(self, base: RevisionInfo, head: RevisionInfo | None) -> list[str]:
        """Project-relative paths that differ between `base` and `head` (None: the working tree).

        For the working tree, untracked files count too (a new stack file is a change).
        """
        assert base.commit is not None
        scope = ["--", str(self.relative) if str(self.relative) != "." else "."]
        if head is None:
            diffs = _git(self.root, "diff", "--name-only", "--no-renames", base.commit, *scope)
            untracked = _git(self.root, "ls-files", "--others", "--exclude-standard", "--full-name", *scope)
            results = [diffs, untracked]
        else:
            assert head.commit is not None
            results = [
                _git(self.root, "diff", "--name-only", "--no-renames", base.commit, head.commit, *scope)
            ]
        names: list[str] = []
        for result in results:
            if result.returncode != 0:
                raise RevisionError(
                    f"cannot list the files changed since {base.label}: {result.stderr.strip()}"
                )
            names += [line for line in result.stdout.splitlines() if line]
        prefix = "" if str(self.relative) == "." else self.relative.as_posix() + "/"
        return [name.removeprefix(prefix) for name in names if name.startswith(prefix)]

    def checkout(self, revision: RevisionInfo | None) -> Checkout:
        """The working tree for None; otherwise a temporary worktree, removed when the workspace closes."""
        if revision is None:
            return Checkout(RevisionInfo(label="working tree"), self.project_dir)
        path = self._cleanup.enter_context(worktree(self.root, revision)) / self.relative
        if not (path / "Pulumi.yaml").is_file():
            raise ReviewInputError(
                f"revision {revision.label} has no Stockade project at {self.relative}/ (no Pulumi.yaml)"
            )
        return Checkout(revision, path)

    def start(self, checkout: Checkout, stacks: Sequence[str]) -> Callable[[], SynthOutcome]:
        """Start synthesizing `stacks` at `checkout` in the background; call the result to wait for it."""
        if not stacks:
            return lambda: SynthOutcome({}, {})
        assert self._scratch is not None, "use the workspace as a context manager"
        worker = _Worker(checkout, stacks, self._scratch)
        self._workers.append(worker)
        return lambda: worker.finish(self.timeout)
