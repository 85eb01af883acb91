"""The pulumi-tls emulation's disk cache: same inputs read back, anything else computed afresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stockade.emulators import emulate, tls, tls_outputs
from stockade.emulators.tls import TlsEmulationError
from stockade.emulators.tls_outputs import PRIVATE_KEY, SELF_SIGNED_CERT
from stockade.engine.context import OfflineContext

ROOT = Path(__file__).resolve().parents[1]
CTX = OfflineContext(project="stockade", stack="cache-test")
KEY_INPUTS = {"algorithm": "ECDSA", "ecdsaCurve": "P256"}


def _stable(outputs: dict[str, Any]) -> dict[str, Any]:
    # The OpenSSH private-key encoding carries a random check value, so that one field differs
    # between two emulations (it is a secret, never in synth output); everything else is equal.
    return {k: v for k, v in outputs.items() if k != "privateKeyOpenssh"}


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(tmp_path))
    return tmp_path / "tls-outputs"


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names the emulator really ran for (not read from the cache)."""
    ran: list[str] = []
    for token, emulator in list(tls.EMULATORS.items()):

        def wrapped(name: str, inputs: dict[str, Any], ctx: OfflineContext, _real: Any = emulator) -> Any:
            ran.append(name)
            return _real(name, inputs, ctx)

        monkeypatch.setitem(tls.EMULATORS, token, wrapped)
    return ran


def test_the_same_inputs_are_read_back_not_emulated_again(cache: Path, counted: list[str]) -> None:
    first = emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    second = emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    assert second == first
    assert counted == ["k"]
    assert len(list(cache.glob("*.json"))) == 1
    assert (cache.stat().st_mode & 0o777) == 0o700


@pytest.mark.parametrize(
    ("name", "inputs", "ctx"),
    [
        ("other", KEY_INPUTS, CTX),
        ("k", {**KEY_INPUTS, "ecdsaCurve": "P384"}, CTX),
        ("k", KEY_INPUTS, OfflineContext(project="stockade", stack="another-stack")),
    ],
)
def test_a_different_name_input_or_stack_is_emulated_afresh(
    cache: Path, counted: list[str], name: str, inputs: dict[str, Any], ctx: OfflineContext
) -> None:
    first = emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    other = emulate(PRIVATE_KEY, name, dict(inputs), ctx)
    assert counted == ["k", name]
    assert other["publicKeyPem"] != first["publicKeyPem"]


def test_a_change_to_the_emulator_code_is_a_new_key(
    cache: Path, counted: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    monkeypatch.setattr(tls_outputs, "_code_version", lambda: "edited-emulator")
    emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    assert counted == ["k", "k"]


def test_a_damaged_entry_is_emulated_again_and_replaced(cache: Path, counted: list[str]) -> None:
    good = emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    (entry,) = cache.glob("*.json")
    stored = json.loads(entry.read_text())
    stored["value"]["publicKeyPem"] = "-----BEGIN PUBLIC KEY-----\nplanted\n-----END PUBLIC KEY-----\n"
    entry.write_text(json.dumps(stored))
    again = emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX)
    assert _stable(again) == _stable(good)
    assert emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX) == again
    assert counted == ["k", "k"]


def test_refused_inputs_are_refused_every_time_and_never_cached(cache: Path) -> None:
    bad = {"isCaCertificate": True, "subject": {"commonName": "x"}}  # no private key at all
    for _ in range(2):
        with pytest.raises(TlsEmulationError, match="exactly one of privateKeyPem"):
            emulate(SELF_SIGNED_CERT, "ca", dict(bad), CTX)
    assert not cache.exists() or not list(cache.glob("*.json"))


def test_an_unwritable_cache_only_costs_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("STOCKADE_CACHE_DIR", str(blocker))
    first, second = (emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX) for _ in range(2))
    assert _stable(first) == _stable(second)


def test_a_warm_synth_never_imports_cryptography_and_gives_the_same_output(tmp_path: Path) -> None:
    probe = (
        "import atexit, sys\n"
        "atexit.register(lambda: print('LOADED=' + str(any(m.startswith('cryptography.hazmat') "
        "for m in sys.modules)), file=sys.stderr))\n"
        "sys.argv = ['stockade', 'synth', '--stack', 'local', '--format', 'json']\n"
        "from stockade.cli.app import main\n"
        "main()\n"
    )
    env = {**os.environ, "STOCKADE_CACHE_DIR": str(tmp_path)}
    runs = [
        subprocess.run(
            [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        for _ in range(2)
    ]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert "LOADED=True" in runs[0].stderr, "the cold synth emulates, so it must load cryptography"
    assert "LOADED=False" in runs[1].stderr
    assert runs[1].stdout == runs[0].stdout


def test_no_home_directory_only_costs_time(monkeypatch: pytest.MonkeyPatch) -> None:
    from pathlib import Path as RealPath

    def no_home() -> RealPath:
        raise RuntimeError("Could not determine home directory.")

    for name in ("STOCKADE_CACHE_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(RealPath, "home", staticmethod(no_home))
    first, second = (emulate(PRIVATE_KEY, "k", dict(KEY_INPUTS), CTX) for _ in range(2))
    assert _stable(first) == _stable(second)


def test_entries_do_not_spell_out_the_inputs(cache: Path) -> None:
    marker = "cache-test-marker.example.com"
    emulate(PRIVATE_KEY, "k", {**KEY_INPUTS, "note": marker}, CTX)
    (entry,) = cache.glob("*.json")
    assert marker not in entry.read_text()
