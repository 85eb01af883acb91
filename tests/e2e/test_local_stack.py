"""The `local` stack on a real Docker engine: sessions, redelivery, egress, tunnel, secrets, stop.

Every vendor binary here is a stand-in (tests/e2e/standins, docs/testing.md); everything of
Stockade's is the real code, unchanged: the dispatch broker, the on-work handler, the
workqueue package, the container and network definitions the stack synthesizes.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import time
from typing import Any

import docker
import pytest

from .conftest import E2E
from .harness import ALLOWED_HOST, BLOCKED_HOST, LocalStack, container_address, environment_id, wait_for

pytestmark = E2E

MAX_CONCURRENT = 3  # stacks/Pulumi.local.yaml: sandboxes.maxConcurrentSessions

PROBE = r"""
python3 - <<'PY'
import json, os, pathlib
status = pathlib.Path("/proc/self/status").read_text().splitlines()
field = lambda name: next(line.split()[1] for line in status if line.startswith(name))
names = ("ANTHROPIC_SESSION_ID", "ANTHROPIC_WORK_ID", "ANTHROPIC_ENVIRONMENT_ID")
def writable(path):
    try:
        pathlib.Path(path).write_text("e2e")
        return True
    except OSError:
        return False
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(),
    "cap_eff": field("CapEff:"), "cap_bnd": field("CapBnd:"), "no_new_privs": field("NoNewPrivs:"),
    "env": {k: os.environ.get(k) for k in
            ("ANTHROPIC_SESSION_ID", "ANTHROPIC_WORK_ID", "ANTHROPIC_ENVIRONMENT_ID")},
    "workspace_writable": writable("/workspace/e2e-output.txt"),
    "memory_writable": writable("/mnt/memory/e2e-probe"),
    "root_writable": writable("/e2e-root-probe"),
    "usr_writable": writable("/usr/local/e2e-probe"),
}))
PY
sleep HOLD
"""


def probe(hold: int) -> str:
    return PROBE.replace("HOLD", str(hold))


def report_json(report: dict[str, Any]) -> dict[str, Any]:
    assert report["exit_code"] == 0, report["stderr"]
    return json.loads(report["stdout"].strip().splitlines()[0])


def test_sessions_each_get_their_own_hardened_sandbox_within_the_cap(local_stack: LocalStack) -> None:
    stack = local_stack
    queued = [stack.api.enqueue(probe(hold=6)) for _ in range(5)]
    reports = {item["work_id"]: stack.wait_result(item["work_id"], timeout=300) for item in queued}

    hostnames = {report["hostname"] for report in reports.values()}
    assert len(hostnames) == 5, "every session ran in a sandbox of its own"
    for item in queued:
        report = reports[item["work_id"]]
        seen = report_json(report)
        assert seen["env"] == {
            "ANTHROPIC_SESSION_ID": item["session_id"],
            "ANTHROPIC_WORK_ID": item["work_id"],
            "ANTHROPIC_ENVIRONMENT_ID": environment_id(stack.synth),
        }
        assert report["work_secret_sha256"] == hashlib.sha256(item["secret"].encode()).hexdigest()
        assert seen["uid"] == 65532 and seen["gid"] == 65532
        assert int(seen["cap_eff"], 16) == 0 and int(seen["cap_bnd"], 16) == 0
        assert seen["no_new_privs"] == "1"
        assert seen["workspace_writable"] and seen["memory_writable"]
        assert not seen["root_writable"] and not seen["usr_writable"]

    # The broker's cap: at no instant did more than MAX_CONCURRENT sessions run.
    edges = sorted(
        [(r["started"], 1) for r in reports.values()] + [(r["ended"], -1) for r in reports.values()]
    )
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert 1 <= peak <= MAX_CONCURRENT

    # Afterwards the reaper leaves no sandbox and no anonymous volume (secrets, /mnt/memory);
    # the named workspace volumes stay, with the sessions' outputs, as keepWorkspaces says.
    wait_for("the reaper to remove every sandbox and API proxy", lambda: not stack.dispatched(), 90, 2)
    workspaces = {
        v.name
        for v in stack.client.volumes.list(filters={"label": "stockade:managed-by=stockade-docker-dispatch"})
    }
    assert {f"stockade-local-{item['work_id']}-workspace" for item in queued} <= workspaces
    leftover = {v.name for v in stack.client.volumes.list()} - stack.volumes_before - workspaces
    assert not leftover, f"volumes left behind: {sorted(leftover)}"
    first_workspace = f"stockade-local-{queued[0]['work_id']}-workspace"
    assert _read_from_volume(stack, first_workspace, "e2e-output.txt") == b"e2e"


def _read_from_volume(stack: LocalStack, volume: str, name: str) -> bytes:
    """A file's bytes from a named volume, through the engine's archive API: a container that is
    created and never started, so no log stream is involved (a short-lived container's log can
    still be empty when `wait` returns, which made reading it with `cat` flaky)."""
    reader = stack.client.containers.create(
        stack.images.session,
        entrypoint=["/bin/true"],
        volumes={volume: {"bind": "/workspace", "mode": "ro"}},
        network_mode="none",
    )
    try:
        stream, _ = reader.get_archive(f"/workspace/{name}")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            member = archive.extractfile(name)
            assert member is not None, f"{name} is not a regular file in {volume}"
            return member.read()
    finally:
        reader.remove(force=True)


def test_a_redelivered_work_item_starts_no_second_sandbox(local_stack: LocalStack) -> None:
    stack = local_stack
    item = stack.api.enqueue(probe(hold=15))
    work_id = item["work_id"]
    wait_for(
        "the sandbox to start", lambda: [c for c in stack.sandboxes(work_id) if c.status == "running"], 120
    )
    stack.api.redeliver(work_id)
    wait_for("the second claim", lambda: stack.api.item(work_id)["claims"] >= 2, 60)
    time.sleep(5)  # the second on-work handler's request has reached the broker by now
    assert len(stack.sandboxes(work_id)) == 1
    stack.wait_result(work_id)
    assert len(stack.api.reports(work_id, "result")) == 1


def test_egress_reaches_only_allowlisted_names_through_the_proxy(local_stack: LocalStack) -> None:
    stack = local_stack
    egress = stack.deployment.networks["stockade-network-egress"]
    allowed_ip = container_address(stack.client, stack.extras["allowed"], egress)
    script = (
        "python3 - <<'PY'\n"
        "import json, ssl, urllib.request\n"
        f"ctx = ssl.create_default_context(cadata={stack.pki.ca_pem!r})\n"
        "def get(url, proxied=True):\n"
        "    handlers = [urllib.request.HTTPSHandler(context=ctx)]\n"
        "    if not proxied:\n"
        "        handlers.append(urllib.request.ProxyHandler({}))\n"
        "    try:\n"
        "        with urllib.request.build_opener(*handlers).open(url, timeout=8) as r:\n"
        "            return {'status': r.status, 'body': json.loads(r.read())}\n"
        "    except Exception as e:\n"
        "        return {'error': type(e).__name__ + ': ' + str(e)}\n"
        "print(json.dumps({\n"
        f"    'allowed': get('https://{ALLOWED_HOST}/simple/'),\n"
        f"    'blocked': get('https://{BLOCKED_HOST}/'),\n"
        f"    'direct': get('https://{allowed_ip}/', proxied=False),\n"
        "}))\n"
        "PY\n"
    )
    item = stack.api.enqueue(script)
    seen = report_json(stack.wait_result(item["work_id"]))
    assert seen["allowed"] == {"status": 200, "body": {"host": ALLOWED_HOST, "path": "/simple/"}}
    assert "403" in seen["blocked"]["error"], seen["blocked"]
    assert "error" in seen["direct"], "a connection that bypasses the proxy must fail"


def test_tunnel_pair_shares_one_namespace_publishes_nothing_and_finds_its_files(
    local_stack: LocalStack,
) -> None:
    stack = local_stack
    proxy = stack.container("stockade-tunnel-proxy-0")
    connector = stack.container("stockade-tunnel-cloudflared-0")
    assert (
        connector.attrs["HostConfig"]["NetworkMode"] == f"container:{proxy.name}"
        or connector.attrs["HostConfig"]["NetworkMode"] == f"container:{proxy.id}"
    )
    wait_for("four connections", lambda: connector.logs().count(b"Registered tunnel connection") >= 4, 90)
    assert b"route configured" in proxy.logs()
    for container_id in [*stack.deployment.containers.values(), *stack.extras.values()]:
        details = stack.client.api.inspect_container(container_id)
        assert not details["HostConfig"].get("PortBindings"), details["Name"]
        assert not any(details["NetworkSettings"].get("Ports", {}).values() or []), details["Name"]
    listing = proxy.exec_run(
        ["/usr/bin/stat", "-c", "%n %u %a", "/etc/mcp-gateway/config.yaml", "/data/tls.crt", "/data/tls.key"]
    )
    assert listing.exit_code == 0, listing.output
    readable = proxy.exec_run(
        [
            "/bin/bash",
            "-c",
            "test -r /data/tls.key && test -r /data/tls.crt && test -r /etc/mcp-gateway/config.yaml",
        ]
    )
    assert readable.exit_code == 0, listing.output


def test_no_secret_in_any_container_definition_or_log(local_stack: LocalStack) -> None:
    stack = local_stack
    item = stack.api.enqueue(probe(hold=10))
    wait_for(
        "a running sandbox",
        lambda: [c for c in stack.sandboxes(item["work_id"]) if c.status == "running"],
        120,
    )
    inspected = [
        *stack.deployment.containers.values(),
        *(c.id for c in stack.dispatched()),
    ]
    assert any(c.labels.get("stockade:component") == "api-proxy" for c in stack.dispatched())
    cloudflared = stack.deployment.containers["stockade-tunnel-cloudflared-0"]
    for container_id in inspected:
        details = stack.client.api.inspect_container(container_id)
        env = details["Config"].get("Env") or []
        allowed = [f"TUNNEL_TOKEN={stack.canaries.tunnel_token}"] if container_id == cloudflared else []
        text = json.dumps({k: v for k, v in details.items()})
        for entry in allowed:
            assert entry in env
            text = text.replace(entry, "")
        for canary in stack.canaries.all():
            assert canary not in text, f"a secret is visible in docker inspect of {details['Name']}"
        logs = stack.client.api.logs(container_id)
        for canary in stack.canaries.all():
            assert canary.encode() not in logs, f"a secret is in the logs of {details['Name']}"
    stack.wait_result(item["work_id"])


def test_the_engine_refuses_uploads_into_a_read_only_stager(local_stack: LocalStack) -> None:
    """Why the four file stagers keep a writable root: pulumi-docker uploads a tar at `/`.

    The Engine refuses to extract at a path outside a volume when the root filesystem is
    read-only, even when every member lands in a writable volume.
    """
    from .applier import upload_archive

    stack = local_stack
    archive = upload_archive([{"file": "/run/stockade/probe", "content": "x"}])[0]
    volume = stack.client.volumes.create()
    try:
        for read_only in (True, False):
            created = stack.client.api.create_container(
                stack.images.poller,
                entrypoint=["/stockade-stager-is-never-started"],
                user="65532:65532",
                host_config=stack.client.api.create_host_config(
                    read_only=read_only,
                    network_mode="none",
                    mounts=[docker.types.Mount("/run/stockade", volume.name)],
                ),
            )
            try:
                if read_only:
                    with pytest.raises(docker.errors.APIError, match="read-only"):
                        stack.client.api.put_archive(created["Id"], "/", archive)
                else:
                    assert stack.client.api.put_archive(created["Id"], "/", archive)
            finally:
                stack.client.api.remove_container(created["Id"], force=True)
    finally:
        volume.remove(force=True)


def test_stopping_a_sandbox_gives_sigterm_and_its_grace_and_releases_the_item(
    local_stack: LocalStack,
) -> None:
    stack = local_stack
    item = stack.api.enqueue("sleep 120", standin_flush_seconds=5)
    work_id = item["work_id"]
    sandbox = wait_for(
        "a running sandbox",
        lambda: next((c for c in stack.sandboxes(work_id) if c.status == "running"), None),
        120,
    )
    grace = sandbox.attrs["Config"]["StopTimeout"]
    assert grace >= 30, "the contract asks for at least 30 s before SIGKILL"

    # Stopping the poller hands over nothing: the session runs on, in its own container.
    poller = stack.container("stockade-sandboxes-poller")
    poller.stop(timeout=30)
    sandbox.reload()
    assert sandbox.status == "running"

    started = time.monotonic()
    sandbox.stop(timeout=grace)
    elapsed = time.monotonic() - started
    sandbox.reload()
    assert sandbox.attrs["State"]["ExitCode"] == 0, "the worker exited on SIGTERM, not on SIGKILL"
    assert 5 <= elapsed < grace, (
        f"the memory flush had its time and the stop did not run out ({elapsed:.1f} s)"
    )
    result = stack.api.reports(work_id, "result")[0]
    assert result["signal_received"] and result["error"] == "cancelled"
    assert stack.api.reports(work_id, "released")
    assert stack.api.item(work_id)["state"] in {"stopping", "stopped"}
    poller.start()


HOSTILE = r"""
python3 - <<'PY'
import json, os, pathlib, urllib.request, urllib.error
CANARY_PREFIX = "sk-ant-oat01-e2ecanary"
seen = {"env_key": os.environ.get("ANTHROPIC_ENVIRONMENT_KEY")}
seen["base_url"] = os.environ.get("ANTHROPIC_BASE_URL")
seen["env_has_canary"] = any(CANARY_PREFIX in v for v in os.environ.values())
found = []
for environ in pathlib.Path("/proc").glob("[0-9]*/environ"):
    try:
        if CANARY_PREFIX.encode() in environ.read_bytes():
            found.append(str(environ))
    except OSError:
        pass
seen["proc_hits"] = found
hits, scanned = [], 0
for root in ("/run", "/tmp", "/workspace", "/mnt", "/etc", "/home", "/root", "/var", "/opt"):
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            try:
                if os.path.getsize(path) < 1_000_000:
                    scanned += 1
                    if CANARY_PREFIX.encode() in open(path, "rb").read():
                        hits.append(path)
            except OSError:
                pass
seen["file_hits"], seen["files_scanned"] = hits, scanned
base = os.environ["ANTHROPIC_BASE_URL"]
env_id = os.environ["ANTHROPIC_ENVIRONMENT_ID"]
def call(method, path):
    request = urllib.request.Request(base + path, method=method, data=b"{}" if method == "POST" else None)
    request.add_header("Authorization", "Bearer " + os.environ.get("ANTHROPIC_ENVIRONMENT_KEY", ""))
    request.add_header("Content-Type", "application/json")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError as e:
        return type(e).__name__
work = f"/v1/environments/{env_id}/work"
seen["attempts"] = {
    "poll": call("GET", work + "/poll?block_ms=1"),
    "list": call("GET", work),
    "stats": call("GET", work + "/stats"),
    "other_item": call("GET", work + "/VICTIM_WORK"),
    "other_heartbeat": call("POST", work + "/VICTIM_WORK/heartbeat?expected_last_heartbeat=NO_HEARTBEAT"),
    "other_stop": call("POST", work + "/VICTIM_WORK/stop"),
    "other_session": call("GET", "/v1/sessions/VICTIM_SESSION"),
    "other_environment": call("GET", "/v1/environments/env_someoneelse/work/poll"),
    "own_session": call("GET", "/v1/sessions/" + os.environ["ANTHROPIC_SESSION_ID"]),
}
seen["victim_workspace_visible"] = [
    str(p) for p in pathlib.Path("/").glob("**/victim-marker.txt") if "proc" not in p.parts
][:5]
print(json.dumps(seen))
PY
"""


def test_a_hostile_session_cannot_reach_the_key_the_queue_or_another_session(local_stack: LocalStack) -> None:
    """docs/threat-model.md: the environment key stays in the API proxy; a sandbox reaches only
    its own work item and session. The hostile session's own work still succeeds."""
    stack = local_stack
    victim = stack.api.enqueue("echo victim > /workspace/victim-marker.txt; sleep 40")
    wait_for(
        "the victim's sandbox",
        lambda: [c for c in stack.sandboxes(victim["work_id"]) if c.status == "running"],
        120,
    )
    script = HOSTILE.replace("VICTIM_WORK", victim["work_id"]).replace("VICTIM_SESSION", victim["session_id"])
    hostile = stack.api.enqueue(script)
    report = stack.wait_result(hostile["work_id"])
    seen = report_json(report)

    assert seen["env_key"] == "stockade-api-proxy-placeholder"
    assert seen["base_url"] == "http://127.0.0.1:8790"
    assert not seen["env_has_canary"] and not seen["proc_hits"] and not seen["file_hits"]
    assert seen["files_scanned"] > 100, "the file search looked somewhere"
    denied = {k: v for k, v in seen["attempts"].items() if k != "own_session"}
    assert all(status == 403 for status in denied.values()), denied
    assert seen["attempts"]["own_session"] == 200
    assert not seen["victim_workspace_visible"]

    # What reached the vendor API from the hostile sandbox's proxy: only its own item and
    # session, always with the real key the proxy added, never the placeholder.
    hostname = report["hostname"]
    records = [
        r
        for r in stack.api.records()
        if (r["client"] or "").endswith(f"@{hostname}") and r["path"] != "/_standin_report"
    ]
    assert records, "the hostile session's own worker traffic reached the vendor API"
    for record in records:
        assert record["credential"] == stack.canaries.environment_key, record["path"]
        assert hostile["work_id"] in record["path"] or hostile["session_id"] in record["path"], record["path"]
    assert not any(victim["work_id"] in r["path"] or r["path"].endswith("/poll") for r in records)
    assert stack.api.item(victim["work_id"])["state"] in {"starting", "active"}, (
        "the victim was not disturbed"
    )
    stack.wait_result(victim["work_id"])
