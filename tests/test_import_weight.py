"""Commands load only what they use: checked by the modules a fresh interpreter ends up with."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pulumi", "grpc", "cryptography", "rich", "boto3")

_PROBE = """
import json, sys
from stockade.cli.app import app
sys.argv = ["stockade", *json.loads(sys.argv[1])]
try:
    app()
except SystemExit:
    pass
print(MARK + json.dumps(sorted({m.split(".")[0] for m in sys.modules})), file=sys.stderr, flush=True)
"""
_MARK = "stockade-import-probe: "


def _top_level_modules(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", f"MARK = {_MARK!r}\n" + _PROBE, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    # Found by its mark, not as the last line: at interpreter exit the SDK's leftover event loops
    # can print "Exception ignored in BaseEventLoop.__del__" after it (seen 2 runs in 40).
    (line,) = [line for line in done.stderr.splitlines() if line.startswith(_MARK)]
    return set(json.loads(line[len(_MARK) :]))


def test_validate_loads_neither_the_engine_nor_pulumi() -> None:
    loaded = _top_level_modules("validate", "--stack", "prod-use1")
    assert "stockade" in loaded and "pydantic" in loaded
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_help_loads_no_settings_and_no_rich() -> None:
    loaded = _top_level_modules("--help")
    assert "typer" in loaded
    assert not loaded & {*HEAVY, "pydantic", "yaml"}, sorted(loaded & {*HEAVY, "pydantic", "yaml"})


def test_synth_loads_pulumi() -> None:
    # The probe itself can tell: the command that needs the engine does load it.
    loaded = _top_level_modules("synth", "--stack", "local", "--format", "summary")
    assert "pulumi" in loaded
