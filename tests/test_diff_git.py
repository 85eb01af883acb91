"""`stockade diff` end to end: two commits in a temporary git repository, worktrees and child processes.

The repository holds this project's Pulumi.yaml, components/ and the dev stack
file, with a test-only program in __main__.py that registers AWS resources
directly, so the checks do not depend on what the real components register
today. Everything runs through the real path: `git worktree add`, one child
process per revision running that revision's own engine.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from stockade.review.diff import diff_revisions
from stockade.review.errors import ReviewInputError
from stockade.review.markdown import render_json, render_markdown
from stockade.review.model import ChangeKind, Review

from .conftest import PROJECT_DIR

GIT_ENV = {
    "GIT_AUTHOR_NAME": "stockade-test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "stockade-test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}
NEW_SECRET_PLAINTEXT = "rotated-env-key-7Qz9-distinctive"

PROGRAM_V1 = """
import json
import pulumi
import pulumi_aws as aws

key = aws.kms.Key("key", enable_key_rotation=True)


class Store(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("stockade:test:Store", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(f"{name}-bucket", opts=child)
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-sse",
            bucket=bucket.id,
            rules=[
                {
                    "apply_server_side_encryption_by_default": {
                        "sse_algorithm": "aws:kms",
                        "kms_master_key_id": key.arn,
                    }
                }
            ],
            opts=child,
        )
        self.register_outputs({})


Store("store")
aws.cloudwatch.LogGroup("audit-logs", retention_in_days=90)
aws.sqs.Queue("jobs")
sg = aws.ec2.SecurityGroup(
    "app-sg",
    vpc_id="vpc-1",
    egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}],
)
config = pulumi.Config("NAMESPACE").require_secret_object("KEY")
secret = aws.secretsmanager.Secret("env-key")
aws.secretsmanager.SecretVersion(
    "env-key-version", secret_id=secret.id, secret_string=config.apply(json.dumps)
)
"""

PROGRAM_V2 = """
import json
import pulumi
import pulumi_aws as aws

key = aws.kms.Key("key", enable_key_rotation=True)


class Store(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("stockade:test:Store", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.s3.Bucket(f"{name}-bucket", opts=child)
        self.register_outputs({})


class Audit(pulumi.ComponentResource):
    def __init__(self, name, opts=None):
        super().__init__("stockade:test:Audit", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        aws.cloudwatch.LogGroup("audit-logs", retention_in_days=90, opts=child)
        moved_from_root = pulumi.Alias(parent=pulumi.ROOT_STACK_RESOURCE)
        aws.sqs.Queue("jobs", opts=pulumi.ResourceOptions(parent=self, aliases=[moved_from_root]))
        self.register_outputs({})


Store("store")
Audit("audit")
sg = aws.ec2.SecurityGroup(
    "app-sg",
    vpc_id="vpc-1",
    egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": ["10.0.0.0/16"]}],
)
aws.vpc.SecurityGroupIngressRule(
    "app-https-in",
    security_group_id=sg.id,
    cidr_ipv4="0.0.0.0/0",
    from_port=443,
    to_port=443,
    ip_protocol="tcp",
)
config = pulumi.Config("NAMESPACE").require_secret_object("KEY")
secret = aws.secretsmanager.Secret("env-key")
aws.secretsmanager.SecretVersion(
    "env-key-version", secret_id=secret.id, secret_string=config.apply(json.dumps)
)
"""


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV}
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, env=env, check=True
    )
    return done.stdout.strip()


def secure_entry(stack_file: Path) -> tuple[str, list[str | int], str]:
    """The first secure value in a stack file: (top-level config key, path below it, ciphertext)."""
    config = yaml.safe_load(stack_file.read_text())["config"]

    def find(node: object, path: list[str | int]) -> tuple[list[str | int], str] | None:
        if isinstance(node, dict) and set(node) == {"secure"}:
            return path, str(node["secure"])
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, value in items:
            hit = find(value, [*path, key])
            if hit:
                return hit
        return None

    for key, value in config.items():
        hit = find(value, [])
        if hit:
            return key, hit[0], hit[1]
    raise AssertionError(f"{stack_file} has no secure value; the secret test would check nothing")


def program(template: str, config_key: str) -> str:
    namespace, _, key = config_key.partition(":")
    return template.replace('"NAMESPACE"', repr(namespace)).replace('"KEY"', repr(key))


def init_repo(root: Path) -> Path:
    """An empty repository holding this project's Pulumi.yaml, components/ and dev stack file."""
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    shutil.copy(PROJECT_DIR / "Pulumi.yaml", repo / "Pulumi.yaml")
    shutil.copytree(
        PROJECT_DIR / "components",
        repo / "components",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    (repo / "stacks").mkdir()
    shutil.copy(PROJECT_DIR / "stacks" / "Pulumi.dev.yaml", repo / "stacks" / "Pulumi.dev.yaml")
    return repo


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class TwoCommits:
    repo: Path
    config_key: str
    secret_texts: tuple[str, ...]
    review: Review


@pytest.fixture(scope="module")
def two_commits(tmp_path_factory: pytest.TempPathFactory) -> TwoCommits:
    repo = init_repo(tmp_path_factory.mktemp("diff"))
    stack_file = repo / "stacks" / "Pulumi.dev.yaml"
    config_key, _path, old_ciphertext = secure_entry(stack_file)
    (repo / "__main__.py").write_text(program(PROGRAM_V1, config_key))
    commit(repo, "v1")

    (repo / "__main__.py").write_text(program(PROGRAM_V2, config_key))
    # The passphrase provider's shape (v1:<nonce>:<ciphertext+tag>), with the plaintext inside so
    # the test can check that neither is ever shown.
    body = base64.b64encode(NEW_SECRET_PLAINTEXT.encode() + bytes(16)).decode()
    new_ciphertext = f"v1:AAAAAAAAAAAAAAAA:{body}"
    stack_file.write_text(stack_file.read_text().replace(old_ciphertext, new_ciphertext))
    (repo / "stacks" / "Pulumi.qa.yaml").write_text(stack_file.read_text())
    commit(repo, "v2")

    secret_texts = [old_ciphertext, new_ciphertext, NEW_SECRET_PLAINTEXT, "stockade-offline-secret"]
    if old_ciphertext.startswith("v1:"):
        with contextlib.suppress(ValueError):
            # The example stacks' ciphertexts carry their placeholder plaintext before a 16-byte tag.
            secret_texts.append(base64.b64decode(old_ciphertext.rsplit(":", 1)[-1])[:-16].decode())
    review = diff_revisions("HEAD~1", "HEAD", project_dir=repo)
    return TwoCommits(repo, config_key, tuple(secret_texts), review)


def _stack(review: Review, name: str):
    return next(s for s in review.stacks if s.stack == name)


def _resource(review: Review, stack: str, name: str):
    return next(c for c in _stack(review, stack).changes if c.name == name)


def test_a_rename_with_no_alias_is_a_risky_replacement(two_commits: TwoCommits) -> None:
    logs = _resource(two_commits.review, "dev", "audit-logs")
    assert logs.kind is ChangeKind.RENAME_REPLACE
    assert logs.old_urn == "urn:pulumi:dev::stockade::aws:cloudwatch/logGroup:LogGroup::audit-logs"
    assert (
        logs.urn
        == "urn:pulumi:dev::stockade::stockade:test:Audit$aws:cloudwatch/logGroup:LogGroup::audit-logs"
    )
    rules = {r.rule for r in logs.risks}
    assert {"urn-changed-no-alias", "stateful-lost"} <= rules
    assert "Pulumi will delete and recreate" in logs.note


def test_an_aliased_move_is_not_a_replacement(two_commits: TwoCommits) -> None:
    jobs = _resource(two_commits.review, "dev", "jobs")
    assert jobs.kind is ChangeKind.RENAME_ALIASED
    assert jobs.risks == ()
    assert jobs.note == "renamed, aliased: no replacement"


def test_an_added_ingress_rule_is_flagged(two_commits: TwoCommits) -> None:
    rule = _resource(two_commits.review, "dev", "app-https-in")
    assert rule.kind is ChangeKind.ADD
    [risk] = [r for r in rule.risks if r.rule == "ingress-opened"]
    assert "tcp 443 from 0.0.0.0/0 (anywhere)" in risk.reason


def test_removing_a_buckets_encryption_is_flagged(two_commits: TwoCommits) -> None:
    sse = _resource(two_commits.review, "dev", "store-sse")
    assert sse.kind is ChangeKind.REMOVE
    assert [r.rule for r in sse.risks] == ["protection-weakened"]
    assert "encryption configuration removed" in sse.risks[0].reason


def test_a_changed_secret_config_is_reported_without_its_value(two_commits: TwoCommits) -> None:
    dev = _stack(two_commits.review, "dev")
    [risk] = [r for r in dev.stack_risks if r.rule == "secret-changed"]
    assert two_commits.config_key in risk.reason
    assert "value not shown" in risk.reason
    outputs = [
        render_markdown(two_commits.review),
        render_markdown(two_commits.review, max_chars=1_000),
        render_json(two_commits.review),
    ]
    for fmt in ("markdown", "json"):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "stockade.cli.app",
                "diff",
                "--base",
                "HEAD~1",
                "--head",
                "HEAD",
                "--format",
                fmt,
            ],
            cwd=two_commits.repo,
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr
        outputs += [done.stdout, done.stderr]
    for text in outputs:
        for secret in two_commits.secret_texts:
            assert secret not in text


def test_unchanged_resources_are_counted_not_listed(two_commits: TwoCommits) -> None:
    dev = _stack(two_commits.review, "dev")
    listed = {c.name for c in dev.changes}
    assert "key" not in listed and "env-key-version" not in listed
    assert dev.unchanged >= 3


def test_risky_changes_come_first(two_commits: TwoCommits) -> None:
    changes = _stack(two_commits.review, "dev").changes
    risky = [bool(c.risks) for c in changes]
    assert risky == sorted(risky, reverse=True)
    markdown = render_markdown(two_commits.review)
    assert markdown.index("**Risky changes**") < markdown.index("**Other changes**")


def test_a_stack_at_only_one_revision_is_added_not_an_error(two_commits: TwoCommits) -> None:
    qa = _stack(two_commits.review, "qa")
    assert qa.status == "added"
    assert qa.changes and all(c.kind is ChangeKind.ADD for c in qa.changes)


def test_worktrees_are_removed(two_commits: TwoCommits) -> None:
    listing = git(two_commits.repo, "worktree", "list", "--porcelain")
    assert listing.count("worktree ") == 1


def test_the_head_defaults_to_the_working_tree(two_commits: TwoCommits) -> None:
    main = two_commits.repo / "__main__.py"
    original = main.read_text()
    main.write_text(original.replace('"cidr_blocks": ["10.0.0.0/16"]', '"cidr_blocks": ["0.0.0.0/0"]'))
    try:
        review = diff_revisions("HEAD", stacks=["dev"], project_dir=two_commits.repo)
    finally:
        main.write_text(original)
    assert review.head is not None and review.head.commit is None
    sg = _resource(review, "dev", "app-sg")
    [risk] = sg.risks
    assert risk.rule == "egress-widened"
    assert "tcp 443 to 0.0.0.0/0 (anywhere)" in risk.reason


@pytest.fixture
def repo_without_engine(tmp_path: Path) -> Iterator[Path]:
    repo = init_repo(tmp_path)
    shutil.rmtree(repo / "components")
    (repo / "__main__.py").write_text("")
    commit(repo, "before the engine")
    shutil.copytree(
        PROJECT_DIR / "components",
        repo / "components",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"),
    )
    config_key, _path, _ct = secure_entry(repo / "stacks" / "Pulumi.dev.yaml")
    (repo / "__main__.py").write_text(program(PROGRAM_V1, config_key))
    commit(repo, "with the engine")
    yield repo


def test_a_base_that_predates_the_engine_is_named(repo_without_engine: Path) -> None:
    with pytest.raises(
        ReviewInputError, match=r"revision HEAD~1 \([0-9a-f]{7}\) predates Stockade's offline engine"
    ):
        diff_revisions("HEAD~1", "HEAD", project_dir=repo_without_engine)
    done = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "diff", "--base", "HEAD~1"],
        cwd=repo_without_engine,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2
    assert "predates Stockade's offline engine" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_revision_that_fails_to_synth_is_named(repo_without_engine: Path) -> None:
    (repo_without_engine / "__main__.py").write_text("raise RuntimeError('broken on purpose')\n")
    commit(repo_without_engine, "broken program")
    review = diff_revisions("HEAD~1", "HEAD", project_dir=repo_without_engine)
    assert review.failed_stacks() == ("dev",)
    [stack] = review.stacks
    assert stack.error is not None
    assert re.search(r"synth failed at revision HEAD \([0-9a-f]{7}\)", stack.error)
    assert "broken on purpose" in stack.error
    assert git(repo_without_engine, "worktree", "list", "--porcelain").count("worktree ") == 1


def test_unknown_revision_exits_2_with_a_clear_message(two_commits: TwoCommits) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "stockade.cli.app", "diff", "--base", "no-such-branch"],
        cwd=two_commits.repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 2
    assert "unknown git revision 'no-such-branch'" in done.stderr
    assert "Traceback" not in done.stderr


def test_fail_on_risk_exits_3_and_still_writes_the_comment(two_commits: TwoCommits, tmp_path: Path) -> None:
    out, json_out = tmp_path / "comment.md", tmp_path / "diff.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "stockade.cli.app",
            "diff",
            "--base",
            "HEAD~1",
            "--head",
            "HEAD",
            "--stack",
            "dev",
            "--fail-on-risk",
            "--out",
            str(out),
            "--json-out",
            str(json_out),
        ],
        cwd=two_commits.repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 3, done.stderr
    assert out.read_text().startswith("<!-- stockade-review:diff -->")
    assert [s["stack"] for s in json.loads(json_out.read_text())["stacks"]] == ["dev"]
