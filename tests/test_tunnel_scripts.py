"""The shell the tunnel's containers run, executed for real with /bin/sh.

The init container's script must write each file byte for byte; the setup task's
restore/publish scripts must round-trip setup's `data/` through one secret and roll
the gateway only when something changed. The container paths are moved into a
temporary directory, and `aws` is a small recording script on PATH that keeps
secrets as files: a test double for the AWS CLI, not the CLI.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from stockade.aws.gateway import setup as tunnel_setup
from stockade.aws.gateway.files import FILE_VARIABLES, init_script

SH = shutil.which("sh")
pytestmark = pytest.mark.skipif(SH is None or shutil.which("base64") is None, reason="needs sh and coreutils")

CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
KEY = "-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n"

FAKE_AWS = """#!/bin/sh
# Records every call; secrets live as files under $FAKE_AWS_STORE.
echo "$*" >> "$FAKE_AWS_STORE/calls"
case "$1 $2" in
  "sts get-web-identity-token") echo "jwt-for-test" ;;
  "secretsmanager get-secret-value") cat "$FAKE_AWS_STORE/$(basename "$4")" ;;
  "secretsmanager put-secret-value") cp "${6#file://}" "$FAKE_AWS_STORE/$(basename "$4")" ;;
  "ecs update-service") echo "gateway-service" ;;
  *) echo "unexpected aws call: $*" >&2; exit 3 ;;
esac
"""


def _run(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert SH is not None
    return subprocess.run(
        [SH, "-c", script], env=env, capture_output=True, text=True, timeout=30, check=False
    )


def test_init_script_writes_each_file_exactly(tmp_path: Path) -> None:
    root = tmp_path / "stockade"
    (root / "config").mkdir(parents=True)
    (root / "data").mkdir()
    script = init_script(["PROXY_CONFIG", "TLS_CERT", "TLS_KEY"]).replace("/stockade/", f"{root}/")
    config = "listen_addr: ':8080'\nroutes:\n  wiki: http://10.0.0.1:80\n"
    result = _run(
        script, {"PATH": os.environ["PATH"], "PROXY_CONFIG": config, "TLS_CERT": CERT, "TLS_KEY": KEY}
    )
    assert result.returncode == 0, result.stderr
    assert (root / "config/config.yaml").read_text() == config
    assert (root / "data/tls.crt").read_text() == CERT
    assert (root / "data/tls.key").read_text() == KEY
    assert not (root / "data/upstream-ca.pem").exists()
    mode = stat.S_IMODE((root / "data/tls.key").stat().st_mode)
    assert mode == 0o444
    assert set(FILE_VARIABLES) >= {"PROXY_CONFIG", "TLS_CERT", "TLS_KEY", "UPSTREAM_CA"}


def test_init_script_refuses_a_placeholder_certificate(tmp_path: Path) -> None:
    script = init_script(["PROXY_CONFIG", "TLS_CERT", "TLS_KEY"]).replace("/stockade/", f"{tmp_path}/")
    env = {"PATH": os.environ["PATH"], "PROXY_CONFIG": "x", "TLS_CERT": "not yet published", "TLS_KEY": "x"}
    result = _run(script, env)
    assert result.returncode == 1
    assert "run the tunnel setup task" in result.stderr


@pytest.fixture
def setup_env(tmp_path: Path) -> dict[str, str]:
    bin_dir, store = tmp_path / "bin", tmp_path / "store"
    bin_dir.mkdir()
    store.mkdir()
    fake = bin_dir / "aws"
    fake.write_text(FAKE_AWS)
    fake.chmod(0o755)
    (tmp_path / "setup" / "work").mkdir(parents=True)
    (tmp_path / "setup" / "data").mkdir()
    (store / "state").write_text(tunnel_setup.STATE_PLACEHOLDER)
    return {
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "FAKE_AWS_STORE": str(store),
        "STATE_SECRET": "arn/state",
        "TOKEN_SECRET": "arn/token",
        "CERT_SECRET": "arn/cert",
        "KEY_SECRET": "arn/key",
        "CLUSTER": "cluster",
        "SERVICE": "gateway-service",
        "ROOT": str(tmp_path),
    }


def _script(text: str, env: dict[str, str]) -> str:
    return text.replace("/setup/", f"{env['ROOT']}/setup/")


def _data(env: dict[str, str]) -> Path:
    return Path(env["ROOT"]) / "setup" / "data"


def test_setup_state_round_trips_and_the_gateway_rolls_only_on_change(setup_env: dict[str, str]) -> None:
    store = Path(setup_env["FAKE_AWS_STORE"])
    restore = _script(tunnel_setup._RESTORE, setup_env)
    publish = _script(tunnel_setup._PUBLISH, setup_env)

    # First run: empty state; "setup" writes its output; publish saves it and rolls the gateway.
    first = _run(restore, setup_env | {"WIF_AUDIENCE": "https://api.anthropic.com"})
    assert first.returncode == 0, first.stderr
    assert (Path(setup_env["ROOT"]) / "setup/work/identity-token").read_text().strip() == "jwt-for-test"
    data = _data(setup_env)
    (data / "tls.crt").write_text(CERT)
    (data / "tls.key").write_text(KEY)
    (data / "tunnel-token").write_text("tunnel-token-value\n")
    (data / "tunnel-domain").write_text("a0b1c2d3.tunnel.anthropic.com")
    (data / "ca-undocumented-name.pem").write_text("ca bytes")
    published = _run(publish, setup_env | {"PUBLISH_TOKEN": "1"})
    assert published.returncode == 0, published.stderr
    assert "rolled the gateway" in published.stdout
    assert "tunnel domain a0b1c2d3.tunnel.anthropic.com" in published.stdout
    assert (store / "token").read_text() == "tunnel-token-value"  # newline stripped for TUNNEL_TOKEN
    assert (store / "cert").read_text() == CERT and (store / "key").read_text() == KEY

    # Second run (renew with nothing due): every file comes back, nothing is republished.
    for path in data.iterdir():
        path.unlink()
    calls_before = (store / "calls").read_text().count("update-service")
    assert _run(restore, setup_env).returncode == 0
    assert (data / "ca-undocumented-name.pem").read_text() == "ca bytes"
    assert (data / "tls.key").read_text() == KEY
    quiet = _run(publish, setup_env | {"PUBLISH_TOKEN": "0"})
    assert quiet.returncode == 0, quiet.stderr
    assert "nothing renewed" in quiet.stdout
    assert (store / "calls").read_text().count("update-service") == calls_before

    # A renewed certificate is published and rolls the gateway again.
    (data / "tls.crt").write_text(CERT.replace("MIIB", "MIIC"))
    renewed = _run(publish, setup_env | {"PUBLISH_TOKEN": "0"})
    assert "rolled the gateway" in renewed.stdout
    assert "MIIC" in (store / "cert").read_text()


def test_restore_refuses_path_tricks_in_the_state(setup_env: dict[str, str]) -> None:
    store = Path(setup_env["FAKE_AWS_STORE"])
    (store / "state").write_text("files:v1\n../escape Zm9v\n")
    result = _run(_script(tunnel_setup._RESTORE, setup_env), setup_env)
    assert result.returncode != 0
    assert "refusing state entry" in result.stderr
    assert not (Path(setup_env["ROOT"]) / "setup" / "escape").exists()
