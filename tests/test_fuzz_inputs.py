"""Fuzz: hundreds of generated hostile inputs through the paths a stranger can feed.

Stack files (`stockade validate`), rollout plans (`load_plan`, what `stockade rollout`
reads first), preview JSON (`stockade comment`) and CLI arguments. A seeded generator
makes the run repeatable; every input runs under a hard per-input alarm. The test
asserts zero tracebacks (any exception other than the CLI's own exit), zero hangs
and zero echoed canaries.
"""

from __future__ import annotations

import json
import random
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from stockade.cli.app import app
from stockade.rollout.plan import PlanError, load_plan

from .conftest import PROJECT_DIR

SEED = 15
PER_INPUT_SECONDS = 10
TOTAL_SECONDS = 240
# Canaries in the credential formats validation must never print; each is unique so a leak
# points at its input.
CANARIES = (
    "sk-ant-api03-FUZZcanaryAAAA0000bbbb",
    "whsec_FUZZcanaryBBBB1111cccc",
    "AKIAFUZZCANARY234567",
    "ghp_FUZZcanaryCCCC2222ddddEEEE3333ffff44",
    "xoxb-99999-FUZZcanary",
)
# Secrets inside URLs, which reports must mask.
URL_SECRETS = ("u:FUZZpass@", "token=FUZZtok")
HOSTILE_STRINGS = (
    "",
    " ",
    "\x00",
    "\u202eevil\u202c",
    "\x1b[31mred",
    "a" * 100_000,
    "10.0.0.0/33",
    "us-east-7",
    "${PULUMI}",
    "!!python/object/apply:os.system ['id']",
    "../../../etc/passwd",
    "1e400",
    "-1",
    "0x10",
    "true",
    "null",
    "~",
    "%s%s%s",
    "{{7*7}}",
    "' OR 1=1 --",
    "\ud7ff\ue000",
    "\t\n\r",
)
SECRET_URLS = ("ssh://u:FUZZpass@h.example.com", "https://h.example.com/?token=FUZZtok")
HOSTILE_VALUES: tuple[Any, ...] = (
    *HOSTILE_STRINGS,
    *CANARIES,
    *SECRET_URLS,
    10**20,
    -(10**20),
    1.5,
    float("nan"),
    True,
    None,
    [],
    {},
    {"secure": ""},
    {"secure": CANARIES[0]},
    {"secure": 5},
    [[[[[]]]]],
    {"a": {"b": {"c": {"d": {}}}}},
)


class _HangError(Exception):
    pass


@contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    def alarm(signum: int, frame: object) -> None:
        raise _HangError(f"input ran longer than {seconds}s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _mutate(rng: random.Random, node: Any, depth: int = 0) -> Any:
    """A copy of `node` with a few leaves, keys or branches replaced by hostile ones."""
    if isinstance(node, dict) and node and depth < 6:
        out = dict(node)
        for key in rng.sample(sorted(out, key=str), k=min(len(out), rng.randint(1, 2))):
            roll = rng.random()
            if roll < 0.5:
                out[key] = _mutate(rng, out[key], depth + 1)
            elif roll < 0.7:
                out[key] = rng.choice(HOSTILE_VALUES)
            elif roll < 0.85:
                out[str(key) + rng.choice(["x", "s", "_", ""]) + rng.choice(["", "\u202e", "\x00"])] = (
                    out.pop(key)
                )
            else:
                out.pop(key)
        return out
    if isinstance(node, list) and node and depth < 6:
        out_list = list(node)
        index = rng.randrange(len(out_list))
        out_list[index] = _mutate(rng, out_list[index], depth + 1)
        if rng.random() < 0.2:
            out_list.append(rng.choice(HOSTILE_VALUES))
        return out_list
    return rng.choice(HOSTILE_VALUES)


def _yaml_text(rng: random.Random, document: Any) -> str | bytes:
    """YAML for `document`, sometimes wrapped in a structural trick the parser must survive."""
    try:
        text = yaml.safe_dump(document, allow_unicode=True, width=10_000)
    except (yaml.YAMLError, ValueError):
        text = "config: {}\n"
    trick = rng.randrange(10)
    if trick == 0:
        return text.encode() + b"\n# \xff\xfe\x00 binary\n"
    if trick == 1:
        return "config: " + "[" * 3000 + "]" * 3000 + "\n"
    if trick == 2:
        anchors = "".join(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9) if i else 'x'}]\n" for i in range(9))
        return anchors + "config:\n  stockade:tags: *a8\n"
    if trick == 3:
        return text + text.splitlines()[0] + "\n" if text.strip() else text
    if trick == 4:
        cut = rng.randrange(max(len(text), 1))
        return text[:cut]
    if trick == 5:
        return "- not\n- a mapping\n"
    return text


def _example_stacks() -> list[dict[str, Any]]:
    return [
        yaml.safe_load(path.read_text(encoding="utf-8"))
        for path in sorted((PROJECT_DIR / "stacks").glob("Pulumi.*.yaml"))
    ]


def _assert_clean(label: str, text: str, exception: BaseException | None) -> None:
    assert exception is None or isinstance(exception, SystemExit), f"{label}: {exception!r}"
    assert "Traceback" not in text, f"{label}: traceback printed"
    leaked = [c for c in (*CANARIES, *URL_SECRETS) if c in text]
    assert not leaked, f"{label}: echoed {leaked}:\n{text[:2000]}"


class _Budget:
    def __init__(self) -> None:
        self.started = time.monotonic()
        self.count = 0

    def run(self, label: str, action: Callable[[], tuple[str, BaseException | None]]) -> None:
        self.count += 1
        with _deadline(PER_INPUT_SECONDS):
            text, exception = action()
        _assert_clean(label, text, exception)
        assert time.monotonic() - self.started < TOTAL_SECONDS, "fuzz run over its time budget"


def _invoke(args: list[str]) -> tuple[str, BaseException | None]:
    result = CliRunner().invoke(app, args, catch_exceptions=True)
    return result.output, result.exception


@pytest.fixture(scope="module")
def budget() -> _Budget:
    return _Budget()


def _project(tmp_path: Path) -> Path:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    (tmp_path / "Pulumi.yaml").write_text("name: stockade\nruntime: python\nstackConfigDir: stacks\n")
    return tmp_path


def test_fuzz_stack_files(tmp_path: Path, budget: _Budget) -> None:
    rng = random.Random(SEED)
    project = _project(tmp_path)
    examples = _example_stacks()
    for index in range(130):
        document = _mutate(rng, rng.choice(examples))
        body = _yaml_text(rng, document)
        path = project / "stacks" / "Pulumi.fuzz.yaml"
        path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))
        fmt = ["--format", "json"] if index % 2 else []
        budget.run(
            f"stack file #{index}",
            lambda fmt=fmt: _invoke(["validate", "--stack", "fuzz", "--project-dir", str(project), *fmt]),
        )


def test_fuzz_rollout_plans(tmp_path: Path, budget: _Budget) -> None:
    rng = random.Random(SEED + 1)
    example = yaml.safe_load((PROJECT_DIR / "stacks" / "rollout.yaml").read_text(encoding="utf-8"))

    def load(path: Path) -> tuple[str, BaseException | None]:
        try:
            load_plan(path, PROJECT_DIR)
        except PlanError as exc:
            return exc.render(), None
        except Exception as exc:
            return "", exc
        return "", None

    for index in range(70):
        body = _yaml_text(rng, _mutate(rng, example))
        path = tmp_path / f"plan-{index}.yaml"
        path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass"))
        budget.run(f"rollout plan #{index}", lambda path=path: load(path))


def test_fuzz_preview_json(tmp_path: Path, budget: _Budget) -> None:
    rng = random.Random(SEED + 2)
    fixtures = sorted((PROJECT_DIR / "tests" / "fixtures" / "previews").glob("*.json"))
    previews = [json.loads(path.read_text(encoding="utf-8")) for path in fixtures]
    for index in range(70):
        document = _mutate(rng, rng.choice(previews))
        path = tmp_path / f"preview-{index}.json"
        roll = rng.randrange(6)
        if roll == 0:
            path.write_bytes(b"\xff\xfe{not json")
        elif roll == 1:
            path.write_text("[" * 5000 + "]" * 5000)
        else:
            path.write_text(json.dumps(document, allow_nan=True))
        fmt = ["--format", "json"] if index % 2 else []
        budget.run(f"preview #{index}", lambda path=path, fmt=fmt: _invoke(["comment", str(path), *fmt]))


def test_fuzz_cli_arguments(tmp_path: Path, budget: _Budget) -> None:
    rng = random.Random(SEED + 3)
    project = _project(tmp_path)
    (project / "stacks" / "Pulumi.dev.yaml").write_text("config:\n  stockade:target: aws\n")
    # Canaries go where Stockade reads the value (--stack, file paths); click's own usage errors
    # quote unexpected extra arguments back, which is the CLI's parser, not validation.
    words = [*HOSTILE_STRINGS, "dev", "--stack", "--format", "json", "-s", "--project-dir"]
    values = [*HOSTILE_STRINGS, *CANARIES, *SECRET_URLS, "dev"]
    for index in range(70):
        command = rng.choice(["validate", "policy", "synth", "rollout", "comment", "audit"])
        args = [command]
        if command in ("validate", "policy", "synth", "audit"):
            args += ["--stack", rng.choice(values)[:6000], "--project-dir", str(project)]
        else:
            args += [rng.choice(values)[:6000]]
        args += [rng.choice(words) for _ in range(rng.randrange(3))]
        args = [a.replace("\x00", "") for a in args]  # argv cannot carry NUL
        budget.run(f"cli #{index} {[a[:40] for a in args]}", lambda args=args: _invoke(args))


def test_the_fuzz_run_covered_at_least_300_inputs(budget: _Budget) -> None:
    assert budget.count >= 300
