"""The orchestration core against the stand-in vendor queue API on 127.0.0.1.

The provider is tests/orchestrator_support.RecordingProvider (a stand-in, no SDK); the queue
is tests/e2e/standins/vendor_api.py's stand-in server, which records every request with the
credential it presented.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from stockade.orchestrators.config import OrchestratorConfig
from stockade.orchestrators.core import Orchestrator
from stockade.orchestrators.provider import LABEL_WORK, WORKER_COMMAND, sandbox_name
from stockade.orchestrators.queue import NO_HEARTBEAT, LeaseLostError, QueueClient, QueueError
from stockade.workqueue.errors import ConfigError
from stockade.workqueue.workitem import Secret

from .orchestrator_support import (
    ENVIRONMENT_ID,
    FakeSandbox,
    RecordingProvider,
    config_environ,
    running,
    standin_queue,
    wait_until,
)

PROJECT = Path(__file__).resolve().parent.parent


def _state(harness, work_id: str) -> str:
    return harness.queue.items[work_id].state


def test_one_item_gets_one_sandbox_with_only_its_ids_and_secret_then_is_retired() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator):
            box = wait_until(lambda: h.provider.sandboxes.get(sandbox_name(item.session_id)), what="launch")
            wait_until(lambda: _state(h, item.id) == "active", what="heartbeat")
            assert box.command == WORKER_COMMAND
            assert box.environment == {
                "ANTHROPIC_ENVIRONMENT_ID": ENVIRONMENT_ID,
                "ANTHROPIC_SESSION_ID": item.session_id,
                "ANTHROPIC_WORK_ID": item.id,
                "ANTHROPIC_BASE_URL": h.base_url,
                "ANTHROPIC_WORK_SECRET": item.secret,
            }
            assert h.key not in json.dumps(box.environment)  # never the environment key
            assert box.labels[LABEL_WORK] == item.id
            box.exit_code = 0
            wait_until(lambda: h.provider.names("delete"), what="retire")
            wait_until(lambda: _state(h, item.id) == "stopped", what="item stopped")
        assert h.provider.names("launch") == [sandbox_name(item.session_id)]
        paths = [(r.method, r.path.rsplit("/", 1)[-1], r.credential) for r in h.queue.records]
        assert ("POST", "ack", h.key) in paths
        assert ("POST", "heartbeat", h.key) in paths
        assert all(r.credential == h.key for r in h.queue.records)


def test_the_first_heartbeat_sends_no_heartbeat_and_later_ones_echo_the_server() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        client = h.user_client()
        polled = client.poll(50)
        assert polled is not None and polled.work_id == item.id
        assert repr(polled.secret) == "Secret([redacted])"
        client.ack(item.id)
        first = client.heartbeat(item.id, NO_HEARTBEAT, 30)
        second = client.heartbeat(item.id, first.last_heartbeat, 30)
        assert second.state == "active" and second.lease_extended
        with pytest.raises(LeaseLostError):
            client.heartbeat(item.id, first.last_heartbeat, 30)


def test_a_lost_lease_is_watched_not_fought_for_and_a_stop_still_ends_the_session() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator):
            wait_until(lambda: _state(h, item.id) == "active", what="lease")
            with h.queue.lock:  # the sandbox's own worker heartbeats: the lease moves on
                h.queue.items[item.id].last_heartbeat = "hb_sandbox_worker"
            wait_until(
                lambda: any(r.status == 412 for r in h.queue.records), what="a 412 on the next heartbeat"
            )
            beats_after_412 = len([r for r in h.queue.records if r.path.endswith("/heartbeat")])
            h.user_client().stop(item.id, force=False)
            wait_until(lambda: h.provider.names("delete"), what="retire after stop")
        heartbeats = [r for r in h.queue.records if r.path.endswith("/heartbeat")]
        assert len(heartbeats) == beats_after_412, "no heartbeat after the 412"
        assert any(r.method == "GET" and r.path.endswith(item.id) for r in h.queue.records)


def test_a_stop_request_stops_the_sandbox_and_the_item() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator):
            wait_until(lambda: _state(h, item.id) == "active", what="lease")
            h.user_client().stop(item.id, force=False)
            assert _state(h, item.id) == "stopping"
            wait_until(lambda: _state(h, item.id) == "stopped", what="stopped")
            wait_until(lambda: h.provider.names("delete"), what="retire")


def test_the_cap_keeps_extra_items_queued_until_a_slot_frees() -> None:
    with standin_queue() as h:
        first, second = h.queue.enqueue(), h.queue.enqueue()
        orchestrator = h.orchestrator(STOCKADE_MAX_CONCURRENT_SESSIONS="1")
        with running(orchestrator):
            box = wait_until(lambda: h.provider.sandboxes.get(sandbox_name(first.session_id)), what="first")
            time.sleep(0.5)
            assert h.queue.items[second.id].claims == 0, "claimed past the cap"
            assert orchestrator.live == 1
            box.exit_code = 0
            wait_until(lambda: h.provider.sandboxes.get(sandbox_name(second.session_id)), what="second")


def test_a_redelivered_item_never_gets_a_second_sandbox() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator):
            wait_until(lambda: _state(h, item.id) == "active", what="lease")
            h.queue.redeliver(item.id)
            wait_until(lambda: h.queue.items[item.id].claims == 2, what="second claim")
            time.sleep(0.3)
        assert h.provider.names("launch") == [sandbox_name(item.session_id)]


def test_after_a_restart_the_running_sandbox_of_a_redelivered_item_is_reused() -> None:
    provider = RecordingProvider()
    with standin_queue(provider) as h:
        item = h.queue.enqueue()
        name = sandbox_name(item.session_id)
        provider.sandboxes[name] = FakeSandbox(
            name=name,
            labels={LABEL_WORK: item.id, "stockade.session-id": item.session_id},  # not our env label
            environment={},
            command=WORKER_COMMAND,
            allowed_domains=(),
        )
        with running(h.orchestrator()):
            wait_until(lambda: _state(h, item.id) == "active", what="lease")
            time.sleep(0.2)
        assert provider.names("launch") == []


def test_the_sweep_retires_orphans_deletes_expired_kept_ones_and_adopts_live_ones() -> None:
    provider = RecordingProvider()
    with standin_queue(provider) as h:
        live, ended = h.queue.enqueue(), h.queue.enqueue()
        with h.queue.lock:
            for it in (live, ended):
                h.queue.items[it.id].claimed = True
            h.queue.items[live.id].state = "active"
            h.queue.items[ended.id].state = "stopped"
        selector = {"stockade.managed-by": "stockade-orchestrator", "stockade.environment-id": ENVIRONMENT_ID}

        def box(name: str, work_id: str, **kw: object) -> None:
            provider.sandboxes[name] = FakeSandbox(
                name=name,
                labels={**selector, LABEL_WORK: work_id},
                environment={},
                command=(),
                allowed_domains=(),
                **kw,  # type: ignore[arg-type]
            )

        box("live", live.id)
        box("ended", ended.id)
        box("kept-old", "work_gone1", running=False, idle_days=9.0)
        box("kept-new", "work_gone2", running=False, idle_days=1.0)
        box("other-env", "work_x")
        provider.sandboxes["other-env"].labels["stockade.environment-id"] = "env_someoneelse"
        orchestrator = h.orchestrator(STOCKADE_RETENTION="keep", MAX_IDLE_DAYS="7")
        with running(orchestrator):
            wait_until(lambda: orchestrator.stats.adopted == 1, what="adoption")
            wait_until(lambda: "ended" in provider.names("stop"), what="orphan retired (kept: stopped)")
            assert provider.names("delete") == ["kept-old"]
            assert "other-env" not in provider.names("stop") + provider.names("delete")
            # The adopted one is watched (GET), not leased: its last heartbeat is unknown here.
            provider.sandboxes["live"].exit_code = 0
            wait_until(lambda: "live" in provider.names("stop"), what="adopted sandbox retired")
        assert not any(r.path.endswith("/heartbeat") for r in h.queue.records)


def test_shutdown_leaves_running_sessions_for_the_next_orchestrator_and_stops_quickly() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator) as thread:
            wait_until(lambda: _state(h, item.id) == "active", what="lease")
            started = time.monotonic()
            orchestrator.request_stop()
            thread.join(10)
            assert time.monotonic() - started < 5
        assert h.provider.names("delete") == [] and h.provider.names("stop") == []


def test_a_failed_launch_is_logged_and_the_item_left_for_redelivery() -> None:
    provider = RecordingProvider(fail_launch=True)
    with standin_queue(provider) as h:
        item = h.queue.enqueue()
        orchestrator = h.orchestrator()
        with running(orchestrator):
            wait_until(lambda: orchestrator.stats.launch_failures >= 1, what="failure")
            wait_until(lambda: orchestrator.live == 0, what="slot freed")
        assert _state(h, item.id) != "stopped"


def test_poll_has_a_timeout_against_a_silent_server() -> None:
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = QueueClient(
            environment_id=ENVIRONMENT_ID,
            environment_key=Secret("sk-ant-oat01-x"),
            worker_id="w",
            base_url=f"http://127.0.0.1:{silent.getsockname()[1]}",
            timeout=0.5,
        )
        started = time.monotonic()
        with pytest.raises(QueueError, match="poll: "):
            client.poll(1)
        assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("ANTHROPIC_ENVIRONMENT_ID", "nope", "ANTHROPIC_ENVIRONMENT_ID is not an environment ID"),
        ("STOCKADE_RETENTION", "forever", "STOCKADE_RETENTION"),
        ("STOCKADE_MAX_CONCURRENT_SESSIONS", "0", "STOCKADE_MAX_CONCURRENT_SESSIONS is 0"),
        ("STOCKADE_LEASE_TTL_SECONDS", "10", None),
        ("STOCKADE_HEARTBEAT_SECONDS", "8", "at least twice"),
        ("ANTHROPIC_BASE_URL", "http://api.example.com", "ANTHROPIC_BASE_URL must be an https"),
        ("STOCKADE_SESSION_IMAGE", "", "STOCKADE_SESSION_IMAGE is not set"),
        ("STOCKADE_SANDBOX_ALLOWED_DOMAINS", "ok.example.com,not a domain", "item 2"),
        ("MAX_IDLE_DAYS", "400", "MAX_IDLE_DAYS is 400"),
    ],
)
def test_configuration_errors_name_the_variable_never_the_value(
    variable: str, value: str, fragment: str | None
) -> None:
    environ = config_environ("https://api.anthropic.com", "sk-ant-oat01-secretvalue", **{variable: value})
    if fragment is None:
        OrchestratorConfig.from_environ(environ)
        return
    with pytest.raises(ConfigError) as caught:
        OrchestratorConfig.from_environ(environ)
    assert fragment in str(caught.value)
    assert "secretvalue" not in str(caught.value)


def test_the_sandbox_allowlist_always_admits_the_api_host() -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        with running(h.orchestrator(STOCKADE_SANDBOX_ALLOWED_DOMAINS="pypi.org")):
            box = wait_until(lambda: h.provider.sandboxes.get(sandbox_name(item.session_id)), what="launch")
        assert box.allowed_domains == ("127.0.0.1", "pypi.org")


def test_sigterm_ends_the_orchestrator_within_the_grace(tmp_path: Path) -> None:
    with standin_queue() as h:
        item = h.queue.enqueue()
        script = tmp_path / "run_orchestrator.py"
        script.write_text(
            textwrap.dedent(
                """
                import sys
                from tests.orchestrator_support import RecordingProvider
                from stockade.orchestrators.main import main
                provider = RecordingProvider()
                sys.exit(main(["--provider", "modal"], provider_factory=lambda *a: provider))
                """
            )
        )
        env = {**os.environ, **config_environ(h.base_url, h.key), "PYTHONPATH": str(PROJECT)}
        process = subprocess.Popen(
            [sys.executable, str(script)], env=env, stderr=subprocess.PIPE, text=True, cwd=PROJECT
        )
        try:
            try:
                wait_until(lambda: _state(h, item.id) == "active", timeout=20, what="lease")
            except AssertionError:
                process.kill()
                raise AssertionError(process.communicate(timeout=10)[1][-3000:]) from None
            started = time.monotonic()
            process.send_signal(signal.SIGTERM)
            _, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        assert process.returncode == 0
        assert time.monotonic() - started < 30
        assert h.key not in err and item.secret not in err
        events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
        assert {"work.claimed", "sandbox.launched", "orchestrator.stopped"} <= set(events)


def test_a_stop_during_a_slow_provider_call_is_not_held_up_by_it() -> None:
    class SlowPrepare(RecordingProvider):
        def prepare(self) -> None:
            time.sleep(30)  # a snapshot build that outlives the grace

    with standin_queue(SlowPrepare()) as h:
        orchestrator = h.orchestrator(STOCKADE_LAUNCH_TIMEOUT_SECONDS="120")
        with running(orchestrator) as thread:
            time.sleep(0.3)
            started = time.monotonic()
            orchestrator.request_stop()
            thread.join(10)
            assert not thread.is_alive()
            assert time.monotonic() - started < 3


def test_bounded_gives_up_after_its_deadline() -> None:
    from stockade.orchestrators.provider import ProviderTimeoutError, bounded

    started = time.monotonic()
    with pytest.raises(ProviderTimeoutError, match=r"did not return within 0\.3s"):
        bounded(lambda: time.sleep(5), 0.3, "stand-in call")
    assert time.monotonic() - started < 2
    assert bounded(lambda: 7, 1, "quick") == 7


class _AnswersAtOnce:
    """A queue (or a proxy in front of it) that does not hold an empty poll."""

    def __init__(self) -> None:
        self.polls = 0

    def poll(self, block_ms: int) -> None:
        self.polls += 1
        return None


def test_a_queue_that_answers_empty_polls_at_once_is_not_polled_in_a_busy_loop() -> None:
    environ = config_environ(
        "https://api.anthropic.com", "sk-ant-oat01-" + "k" * 32, STOCKADE_POLL_BLOCK_MS="100"
    )
    config = OrchestratorConfig.from_environ(environ)
    queue = _AnswersAtOnce()
    orchestrator = Orchestrator(config, queue, RecordingProvider(), tick=0.05)  # type: ignore[arg-type]
    started = time.monotonic()
    while time.monotonic() - started < 0.5:
        assert orchestrator.poll_once() is False
    # One poll per block time (100 ms), not thousands: 0.5 s allows 5, and a few more for rounding.
    assert 4 <= queue.polls <= 7
