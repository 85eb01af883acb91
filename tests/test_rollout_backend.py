"""The state model in the rollout: each stack's backend URL and secrets provider from the plan,
checked with the stack's own credentials before any Pulumi command, and used to create it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

from stockade.guardrails.bootstrap import BootstrapPlan, assume_role_session, bootstrap
from stockade.rollout.operations import Operation
from stockade.rollout.plan import PlanError, load_plan
from stockade.rollout.protocol import StackStatus

from .standin.harness import Harness, harness_for
from .standin.project import REGION, WaveSpec, account_for, commit, plan_document, write_stack_files


@pytest.fixture
def harness(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    yield from harness_for(tmp_path, monkeypatch)


def _problems(tmp_path: Path, document: dict[str, Any]) -> dict[str, tuple[str, str, str]]:
    write_stack_files(tmp_path / "stacks", document)
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        load_plan(path, tmp_path, stacks_dir=tmp_path / "stacks")
    return {p.key: (p.value, p.message, p.fix) for p in caught.value.problems}


ACCOUNT = account_for(0)
KEY_ARN = f"arn:aws:kms:{REGION}:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab"


@pytest.mark.parametrize(
    ("backend", "key", "message"),
    [
        (
            {"url": "s3://state-bucket", "secretsProvider": "awskms://alias/x?region=us-east-1"},
            "url",
            "names no region",
        ),
        ({"url": "ftp://x"}, "url", "unsupported backend scheme 'ftp'"),
        ({"url": "s3://state-bucket?region=us-east-1"}, "secretsProvider", "needs a secrets provider"),
        ({"url": "file:///srv/state", "secretsProvider": "passphrase"}, "secretsProvider", "passphrase"),
        (
            {"url": "file:///srv/state", "secretsProvider": "awskms://alias/x"},
            "secretsProvider",
            "names no region",
        ),
        (
            {
                "url": "s3://central-state?region=us-east-1",
                "secretsProvider": "awskms://alias/stockade-state?region=us-east-1",
                "accountId": "999999999999",
            },
            "secretsProvider",
            "resolves in each stack's own account",
        ),
        (
            {
                "url": "s3://central-state?region=us-east-1",
                "secretsProvider": f"awskms:///{KEY_ARN}?region=us-east-1",
                "accountId": "888888888888",
            },
            "secretsProvider",
            "not the backend's account 888888888888",
        ),
    ],
)
def test_backend_mistakes_name_the_key_and_a_fix(
    tmp_path: Path, backend: dict[str, Any], key: str, message: str
) -> None:
    document = plan_document([WaveSpec("w", ["one"])])
    document["backends"] = {ACCOUNT: backend}
    problems = _problems(tmp_path, document)
    (found,) = [p for k, p in problems.items() if k == f"backends[{ACCOUNT}].{key}"]
    assert message in found[1] and found[2]


def test_a_key_arn_elsewhere_needs_the_backends_account(tmp_path: Path) -> None:
    document = plan_document([WaveSpec("w", ["one"])])
    document["waves"][0]["stacks"][0]["backend"] = {
        "url": "s3://central-state?region=us-east-1",
        "secretsProvider": f"awskms:///{KEY_ARN}?region=us-east-1",
    }
    problems = _problems(tmp_path, document)
    assert "key is in account 999999999999" in problems["waves[0].stacks[0].backend"][1]


def _bootstrapped_plan(harness: Harness, waves: list[WaveSpec], *, skip: tuple[str, ...] = ()) -> Any:
    """A project whose plan names, per account, the backend `stockade bootstrap` made there."""
    loaded = harness.project(waves)
    document = yaml.safe_load(loaded.path.read_text(encoding="utf-8"))
    base = boto3.Session(region_name=REGION)
    backends = {}
    for _, _, target in loaded.plan.targets():
        if target.stack in skip:
            continue
        session = assume_role_session(base, target.role_arn, REGION)
        plan = BootstrapPlan(
            target.account_id, REGION, BootstrapPlan.default_bucket_name(target.account_id, REGION)
        )
        backends[target.account_id] = bootstrap(session, plan).plan_entry()
    document["backends"] = backends
    loaded.path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    commit(harness.project_dir, "backends")
    return load_plan(loaded.path, harness.project_dir), backends


def test_each_stack_uses_its_accounts_backend_and_key(harness: Harness) -> None:
    harness.standin.configure(**{"new-one": {"missing": True}})
    loaded, backends = _bootstrapped_plan(harness, [WaveSpec("w", ["old-one", "new-one"])])
    view = harness.run(loaded, Operation.PREVIEW)
    assert {s.status for s in view.stacks.values()} == {StackStatus.SUCCEEDED}
    for _, _, target in loaded.plan.targets():
        calls = [c for c in harness.standin.invocations() if c.stack == target.stack]
        assert calls and {c.backend_url for c in calls} == {backends[target.account_id]["url"]}
    (init,) = [c for c in harness.standin.invocations() if c.command == "stack init"]
    assert init.argv[init.argv.index("--secrets-provider") + 1] == (
        f"awskms://alias/stockade-state?region={REGION}"
    )


def test_a_stack_whose_backend_is_not_its_accounts_stops_and_resume_runs_only_it(harness: Harness) -> None:
    loaded, backends = _bootstrapped_plan(harness, [WaveSpec("w", ["good", "strayed"], failure_tolerance=1)])
    document = yaml.safe_load(loaded.path.read_text(encoding="utf-8"))
    good, strayed = account_for(0), account_for(1)
    # A copy-paste slip: the second stack's entry points at the first account's bucket and key.
    first = assume_role_session(boto3.Session(region_name=REGION), f"arn:aws:iam::{good}:role/x", REGION)
    arn = first.client("kms").describe_key(KeyId="alias/stockade-state")["KeyMetadata"]["Arn"]
    document["backends"][strayed] = {
        "url": backends[good]["url"],
        "secretsProvider": f"awskms:///{arn}?region={REGION}",
        "accountId": good,
    }
    loaded.path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    commit(harness.project_dir, "strayed")
    loaded = load_plan(loaded.path, harness.project_dir)

    first_run = harness.run(loaded, Operation.UP)
    assert first_run.stacks["good"].status is StackStatus.SUCCEEDED
    assert first_run.stacks["strayed"].status is StackStatus.FAILED
    assert "no Pulumi command was run" in (first_run.stacks["strayed"].error or "")
    assert not [c for c in harness.standin.invocations() if c.stack == "strayed"]

    document["backends"][strayed] = backends[strayed]
    loaded.path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    commit(harness.project_dir, "fixed")
    # A new commit re-runs everything on --resume; the same commit skips what succeeded.
    before = len(harness.standin.operations("good"))
    resumed = harness.run(load_plan(loaded.path, harness.project_dir), Operation.UP, resume=True)
    assert resumed.stacks["strayed"].status is StackStatus.SUCCEEDED
    again = harness.run(load_plan(loaded.path, harness.project_dir), Operation.UP, resume=True)
    assert again.stacks["good"].status is StackStatus.SKIPPED
    assert again.stacks["strayed"].status is StackStatus.SKIPPED
    assert len(harness.standin.operations("good")) == before + 1  # once per commit, never twice
    assert len(harness.standin.operations("strayed")) == 1
