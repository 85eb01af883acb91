"""The wave runner, driven through real worker processes, the real Automation API and the stand-in CLI."""

from __future__ import annotations

import itertools
import json
import os
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from stockade.rollout.operations import Operation
from stockade.rollout.protocol import StackStatus
from stockade.rollout.state import StateStore
from stockade.rollout.view import WaveStatus

from .standin.harness import Events, Harness, harness_for, run_bounded
from .standin.project import WaveSpec, commit


def _statuses(view) -> dict[str, str]:
    return {name: stack.status.value for name, stack in view.stacks.items()}


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from harness_for(tmp_path, monkeypatch)


def test_waves_run_in_order_and_each_stack_once(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 0.2})
    loaded = harness.project(
        [
            WaveSpec("dev", ["dev-a", "dev-b"]),
            WaveSpec("staging", ["stg-a", "stg-b", "stg-c"]),
            WaveSpec("prod", ["prod-a"]),
        ]
    )
    view = harness.run(loaded)
    assert set(_statuses(view).values()) == {"succeeded"}
    ops = harness.standin.operations()
    assert sorted(op.stack for op in ops) == sorted(loaded.plan.stack_names())
    waves = [["dev-a", "dev-b"], ["stg-a", "stg-b", "stg-c"], ["prod-a"]]
    for earlier, later in itertools.pairwise(waves):
        last_end = max(op.ended for op in ops if op.stack in earlier)
        first_start = min(op.started for op in ops if op.stack in later)
        assert last_end < first_start, f"wave {later} started before {earlier} finished"
    assert [w.status for w in view.waves] == [WaveStatus.SUCCEEDED] * 3


def test_automation_api_sends_preview_json_with_an_event_log(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("only", ["solo"])])
    view = harness.run(loaded)
    calls = [c for c in harness.standin.invocations() if c.stack == "solo"]
    # No `stack select`: every command names --stack, and each stack has a PULUMI_HOME of its own.
    assert [c.command for c in calls] == ["preview"]
    preview = calls[-1].argv
    assert "--json" in preview and "--event-log" in preview
    assert preview[preview.index("--stack") + 1] == "solo"
    assert all(c.cwd == str(harness.project_dir) for c in calls), "work_dir must be the project directory"
    assert view.stacks["solo"].changes == {"create": 3, "same": 2}
    assert view.stacks["solo"].preview is not None and view.stacks["solo"].preview["changeSummary"]


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        (Operation.UP, ["up", "--yes", "--skip-preview"]),
        (Operation.DRIFT, ["refresh", "--preview-only"]),
        (Operation.DESTROY, ["destroy", "--skip-preview", "--yes"]),
    ],
)
def test_each_operation_reaches_the_cli_as_documented(
    harness: Harness, operation: Operation, expected
) -> None:
    harness.standin.configure(default={"changes": {"update": 2, "same": 1}})
    loaded = harness.project([WaveSpec("only", ["solo"])])
    view = harness.run(loaded, operation)
    assert view.stacks["solo"].status is StackStatus.SUCCEEDED, view.stacks["solo"].error
    (op,) = harness.standin.operations("solo")
    assert op.argv[: len(expected)] == expected
    assert view.stacks["solo"].changes == {"update": 2, "same": 1}


def test_missing_stack_is_created_for_preview_but_never_for_destroy(harness: Harness) -> None:
    harness.standin.configure(**{"new-one": {"missing": True}})
    loaded = harness.project([WaveSpec("only", ["new-one"])])
    destroy = harness.run(loaded, Operation.DESTROY)
    assert destroy.stacks["new-one"].status is StackStatus.FAILED
    assert "no stack named 'new-one' found" in (destroy.stacks["new-one"].error or "")
    assert [(c.command, c.code) for c in harness.standin.invocations() if c.stack == "new-one"] == [
        ("destroy", 255)  # refused by the CLI; nothing was created
    ]
    preview = harness.run(loaded, Operation.PREVIEW)
    assert preview.stacks["new-one"].status is StackStatus.SUCCEEDED
    assert [(c.command, c.code) for c in harness.standin.invocations() if c.stack == "new-one"][1:] == [
        ("preview", 255),
        ("stack init", 0),
        ("preview", 0),
    ]


def test_wave_cap_bounds_concurrency(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 1.0})
    loaded = harness.project([WaveSpec("wide", [f"s{i}" for i in range(6)], max_concurrency=2)])
    view = harness.run(loaded)
    assert view.count(StackStatus.SUCCEEDED) == 6
    assert harness.standin.peak_concurrency() == 2


def test_overall_cap_bounds_a_wave_that_allows_more(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 1.0})
    loaded = harness.project(
        [WaveSpec("wide", [f"s{i}" for i in range(6)], max_concurrency=5)], max_concurrency=3
    )
    view = harness.run(loaded)
    assert view.count(StackStatus.SUCCEEDED) == 6
    assert harness.standin.peak_concurrency() == 3


def test_failures_beyond_tolerance_stop_the_wave_and_later_waves(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 0.1}, s0={"fail": True}, s1={"fail": True})
    loaded = harness.project(
        [
            WaveSpec("first", ["s0", "s1", "s2", "s3"], max_concurrency=1, failure_tolerance=1),
            WaveSpec("second", ["t0"]),
        ]
    )
    view = harness.run(loaded)
    assert _statuses(view) == {
        "s0": "failed",
        "s1": "failed",
        "s2": "not-started",
        "s3": "not-started",
        "t0": "not-started",
    }
    assert {op.stack for op in harness.standin.operations()} == {"s0", "s1"}
    assert [w.status for w in view.waves] == [WaveStatus.FAILED, WaveStatus.NOT_STARTED]
    assert "stand-in failure requested for stack s0" in (view.stacks["s0"].error or "")
    assert view.stopped_reason and "tolerance 1" in view.stopped_reason


def test_failures_within_tolerance_let_the_rollout_continue(harness: Harness) -> None:
    harness.standin.configure(s1={"fail": True})
    loaded = harness.project(
        [
            WaveSpec("first", ["s0", "s1", "s2"], max_concurrency=1, failure_tolerance=1),
            WaveSpec("second", ["t0"]),
        ]
    )
    view = harness.run(loaded)
    assert _statuses(view) == {"s0": "succeeded", "s1": "failed", "s2": "succeeded", "t0": "succeeded"}


def test_in_flight_stacks_finish_after_the_wave_stops(harness: Harness) -> None:
    harness.standin.configure(slow={"delay": 3.0}, bad={"fail": True})
    loaded = harness.project(
        [WaveSpec("first", ["slow", "bad", "later"], max_concurrency=2), WaveSpec("next", ["n"])]
    )
    view = harness.run(loaded)
    assert _statuses(view) == {
        "slow": "succeeded",
        "bad": "failed",
        "later": "not-started",
        "n": "not-started",
    }
    (slow,) = harness.standin.operations("slow")
    (bad,) = harness.standin.operations("bad")
    assert slow.code == 0 and slow.ended > bad.ended, "the in-flight stack was allowed to finish"


def test_resume_skips_stacks_done_at_the_same_commit(harness: Harness) -> None:
    harness.standin.configure(b={"fail": True})
    loaded = harness.project(
        [WaveSpec("one", ["a", "b"], max_concurrency=1, failure_tolerance=1), WaveSpec("two", ["c"])]
    )
    first = harness.run(loaded)
    assert _statuses(first) == {"a": "succeeded", "b": "failed", "c": "succeeded"}

    harness.standin.configure()
    resumed = harness.run(loaded, resume=True)
    assert _statuses(resumed) == {"a": "skipped", "b": "succeeded", "c": "skipped"}
    assert [op.stack for op in harness.standin.operations()] == ["a", "b", "c", "b"]
    assert resumed.stacks["a"].changes == first.stacks["a"].changes


def test_resume_reruns_everything_at_another_commit(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a", "b"])])
    harness.run(loaded)
    (harness.project_dir / "CHANGELOG").write_text("a change\n", encoding="utf-8")
    new_commit = commit(harness.project_dir, "change")
    view = harness.run(loaded, resume=True)
    assert _statuses(view) == {"a": "succeeded", "b": "succeeded"}
    assert len(harness.standin.operations()) == 4
    records = StateStore(harness.state_path).records(Operation.PREVIEW)
    assert {r.commit for r in records.values()} == {new_commit}


def test_resume_never_skips_work_from_a_dirty_tree(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a"])])
    (harness.project_dir / "uncommitted.txt").write_text("dirty\n", encoding="utf-8")
    harness.run(loaded)
    view = harness.run(loaded, resume=True)
    assert view.stacks["a"].status is StackStatus.SUCCEEDED
    assert len(harness.standin.operations("a")) == 2


def test_resume_is_per_operation(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a"])])
    harness.run(loaded, Operation.PREVIEW)
    view = harness.run(loaded, Operation.UP, resume=True)
    assert view.stacks["a"].status is StackStatus.SUCCEEDED
    assert [op.command for op in harness.standin.operations("a")] == ["preview", "up"]


def test_identity_mismatch_stops_the_stack_before_any_pulumi_command(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["good", "wrong"], max_concurrency=1, failure_tolerance=1)])
    # The plan model refuses a role outside the planned account, so the mismatch is made
    # after validation: the role (and moto's answer) stays in one account, the plan says another.
    wave = loaded.plan.waves[0]
    bad = wave.stacks[1].model_copy(update={"account_id": "999999999999"})
    plan = loaded.plan.model_copy(
        update={"waves": [wave.model_copy(update={"stacks": [wave.stacks[0], bad]})]}
    )
    view = harness.run(replace(loaded, plan=plan))
    assert view.stacks["good"].status is StackStatus.SUCCEEDED
    assert view.stacks["wrong"].status is StackStatus.FAILED
    error = view.stacks["wrong"].error or ""
    assert "act in account 100000000001" in error and "into 999999999999" in error
    assert not [c for c in harness.standin.invocations() if c.stack == "wrong"]


def test_credentials_reach_only_the_cli_of_their_stack(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a", "b"])])
    before = dict(os.environ)
    view = harness.run(loaded)
    assert view.count(StackStatus.SUCCEEDED) == 2
    assert dict(os.environ) == before, "the rollout must not put credentials into its own environment"
    for call in harness.standin.invocations():
        if call.stack is None:  # `pulumi version` while the worker warms up: no job, no credentials
            assert "AWS_ACCESS_KEY_ID" not in call.aws_env
            continue
        assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_REGION"} <= set(
            call.aws_env
        )
        assert "AWS_PROFILE" not in call.aws_env
        assert call.pulumi_home and call.pulumi_home.endswith(f"homes/{call.stack}")
    issued = harness.credentials.issued
    assert len(issued) == 2 and issued[0].access_key_id != issued[1].access_key_id
    secrets = [s for c in issued for s in c.secrets()] + ["operator-secret-key-never-in-a-worker"]
    written = [p for p in (harness.project_dir / ".stockade").rglob("*") if p.is_file()] + [
        harness.standin.log
    ]
    for path in written:
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not any(secret in text for secret in secrets), f"a credential leaked into {path}"
    assert issued[0].secret_access_key not in repr(issued[0])


def test_a_reused_worker_gives_each_stack_only_its_own_credentials(harness: Harness) -> None:
    import hashlib

    loaded = harness.project([WaveSpec("one", ["a", "b", "c"], max_concurrency=1)])
    view = harness.run(loaded)
    assert view.count(StackStatus.SUCCEEDED) == 3
    operations = harness.standin.operations()
    assert len({call.ppid for call in operations}) == 1, "one warm worker runs the wave's stacks in turn"
    issued = {hashlib.sha256(c.access_key_id.encode()).hexdigest()[:12] for c in harness.credentials.issued}
    seen = [call.key_fingerprint for call in operations]
    assert len(set(seen)) == 3 and set(seen) == issued, "each CLI saw the credentials issued for its stack"
    versions = [c for c in harness.standin.invocations() if c.command == "version"]
    assert len(versions) <= 2, "`pulumi version` runs once per worker, not once per stack"


def test_never_two_operations_on_one_stack(harness: Harness) -> None:
    harness.standin.configure(shared={"hang": True})
    loaded = harness.project([WaveSpec("one", ["shared"])])
    first = harness.rollout(loaded, grace=3.0)
    thread = threading.Thread(target=first.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not harness.standin.operations("shared") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert harness.standin.operations("shared"), "the first rollout never started its operation"

    second = run_bounded(harness.rollout(loaded))
    assert second.stacks["shared"].status is StackStatus.FAILED
    assert "busy" in (second.stacks["shared"].error or "")
    first.cancel()
    thread.join(30)
    assert not thread.is_alive()
    assert len(harness.standin.operations("shared")) == 1
    assert harness.standin.conflicts() == []


def test_bake_time_separates_waves_that_change_the_cloud(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a"], bake_time=1.0), WaveSpec("two", ["b"])])
    events = Events()
    view = harness.run(loaded, Operation.UP, observer=events)
    a, b = harness.standin.operations("a")[0], harness.standin.operations("b")[0]
    assert b.started - a.ended >= 0.9
    assert any("baking until" in line for line in events.lines)
    assert view.count(StackStatus.SUCCEEDED) == 2


def test_without_prewarming_results_are_the_same(harness: Harness) -> None:
    harness.standin.configure(default={"delay": 0.1})
    loaded = harness.project([WaveSpec("one", ["a", "b"], max_concurrency=2)])
    view = harness.run(loaded, prewarm=False)
    assert view.count(StackStatus.SUCCEEDED) == 2


def test_a_cli_without_grpc_events_still_reports_changes(harness: Harness, tmp_path) -> None:
    # CLIs up to 3.205 write events to a file the SDK tails instead of streaming them.
    from .standin import install

    old = install(tmp_path / "old-cli", version="3.200.0")
    harness.standin = old
    loaded = harness.project([WaveSpec("one", ["a"])])
    view = harness.run(loaded)
    (call,) = old.operations("a")
    log = call.argv[call.argv.index("--event-log") + 1]
    assert not log.startswith("tcp://")
    assert view.stacks["a"].changes == {"create": 3, "same": 2}


def test_state_file_records_result_commit_and_operation(harness: Harness) -> None:
    harness.standin.configure(b={"fail": True})
    loaded = harness.project([WaveSpec("one", ["a", "b"], failure_tolerance=1)])
    harness.run(loaded)
    document = json.loads(harness.state_path.read_text(encoding="utf-8"))
    records = document["results"]["preview"]
    assert records["a"]["status"] == "succeeded" and records["b"]["status"] == "failed"
    assert records["a"]["commit"] == records["b"]["commit"] and len(records["a"]["commit"]) == 40
    assert records["a"]["changes"] == {"create": 3, "same": 2}
    assert "stand-in failure" in records["b"]["error"]


def test_previews_do_not_bake(harness: Harness) -> None:
    loaded = harness.project([WaveSpec("one", ["a"], bake_time="1h"), WaveSpec("two", ["b"])])
    events = Events()
    view = harness.run(loaded, Operation.PREVIEW, observer=events)
    assert view.count(StackStatus.SUCCEEDED) == 2
    assert not any("baking" in line for line in events.lines)
