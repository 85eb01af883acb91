"""Run the pack's policies over an offline synth, the way the policy engine would.

The runner builds pulumi_policy's own argument objects from the synth's
resources - wire-name inputs for resource policies; for stack policies, which the
engine hands outputs, the inputs plus the emulated identities (IDs, ARNs) that
link resources, and the root Stack resource with the stack's exports - wraps
properties in the same unknown-checking proxies, and calls each `Policy.validate`
exactly as the analyzer service does. `[unknown]` values in a synth become the
engine's unknown sentinel again, so a rule that needs one reports "not checked"
here as it would in `pulumi preview`.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from inspect import isawaitable
from typing import Any

from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

# Raised by `args.not_applicable()`; the analyzer service catches this same (private) class.
from pulumi_policy.policy import _NotApplicableError
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, unknown_checking_proxy

from stockade.emulators import emulate
from stockade.engine.context import OFFLINE_ACCOUNT_ID, OFFLINE_REGION, OfflineContext
from stockade.engine.model import SynthResource, SynthResult
from stockade.guardrails.pack import build_policies, policy_config, policy_levels
from stockade.guardrails.report import Finding, FindingKind, PolicyReport, RuleOutcome, Status
from stockade.guardrails.rule import ALLOWED_PREFIX, Level, Rule
from stockade.guardrails.rules import RULES, tokens
from stockade.settings import StackSettings

SYNTH_UNKNOWN = "[unknown]"
STACK_TYPE = "pulumi:pulumi:Stack"
# Stack policies see outputs. The outputs they read beyond the inputs are the identities that link
# resources when dependencies alone are ambiguous (a rule referencing two groups), so only these
# types are re-emulated; other emulators (certificates, keys) are costly and need unredacted inputs.
_IDENTITY_TYPES = frozenset({tokens.SECURITY_GROUP, tokens.PREFIX_LIST, tokens.VPC, *tokens.BUCKETS})


class _Reads:
    """Which rules looked past a resource's type: a rule that never did had nothing to check.

    A rule filters by resource type before it looks at anything else (properties, name,
    dependencies), so on a stack without its resources (an S3 rule on a Docker stack) it
    reads only types and is reported `n/a` rather than a vacuous `pass`.
    """

    def __init__(self) -> None:
        self.current: str | None = None
        self.rules: set[str] = set()

    def note(self) -> None:
        if self.current is not None:
            self.rules.add(self.current)


class _Watched(Mapping[str, Any]):
    """A resource's properties that note, on any read, the rule now running."""

    def __init__(self, props: Mapping[str, Any], reads: _Reads) -> None:
        self._props = props
        self._reads = reads

    def __getitem__(self, key: str) -> Any:
        self._reads.note()
        return self._props[key]

    def __iter__(self) -> Iterator[str]:
        self._reads.note()
        return iter(self._props)

    def __len__(self) -> int:
        self._reads.note()
        return len(self._props)


class _WatchedResource(PolicyResource):
    """A resource for stack policies that notes any read beyond its type (see _Reads)."""

    _reads: _Reads

    def __getattribute__(self, name: str) -> Any:
        if name != "resource_type" and not name.startswith("_"):
            object.__getattribute__(self, "_reads").note()
        return super().__getattribute__(name)


def _restore_unknowns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _restore_unknowns(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_restore_unknowns(v) for v in value]
    if value == SYNTH_UNKNOWN:
        return UNKNOWN_STRING_VALUE
    return value


def _proxied(value: dict[str, Any]) -> Any:
    # _restore_unknowns rebuilds every dict and list, so the synth's own inputs are never shared.
    return unknown_checking_proxy(_restore_unknowns(value))


def _options(resource: SynthResource) -> PolicyResourceOptions:
    opts = resource.options
    return PolicyResourceOptions(
        protect=opts.protect,
        ignore_changes=list(opts.ignore_changes),
        delete_before_replace=opts.delete_before_replace,
        aliases=list(opts.aliases),
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=list(opts.additional_secret_outputs),
        parent=resource.parent,
    )


class _Resources:
    """The synth's resources in the shapes resource and stack policies receive."""

    def __init__(
        self, resources: Sequence[SynthResource], context: OfflineContext, outputs: Mapping[str, Any]
    ) -> None:
        self.synth = list(resources)
        self.reads = _Reads()
        by_urn = {r.urn: r for r in self.synth}
        self.providers: dict[str, PolicyProviderResource] = {
            r.urn: PolicyProviderResource(r.type, _proxied(r.inputs), r.urn, r.name)
            for r in self.synth
            if r.type.startswith("pulumi:providers:")
        }
        stack: dict[str, PolicyResource] = {}
        for r in self.synth:
            props = emulate(r.type, r.name, r.inputs, context) if r.type in _IDENTITY_TYPES else r.inputs
            watched = _WatchedResource(
                r.type, self._watched(props), r.urn, r.name, _options(r), self.provider(r), None, [], {}
            )
            watched._reads = self.reads
            stack[r.urn] = watched
        for r in self.synth:
            node = stack[r.urn]
            node.parent = stack.get(r.parent) if r.parent else None
            node.dependencies = [stack[d] for d in r.depends_on if d in by_urn]
        self.stack = [stack[r.urn] for r in self.synth]
        # The engine's stack policies also see the root Stack resource, whose outputs are the exports.
        name = f"{context.project}-{context.stack}"
        root = f"urn:pulumi:{context.stack}::{context.project}::{STACK_TYPE}::{name}"
        root_options = PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)
        self.stack.append(
            PolicyResource(STACK_TYPE, _proxied(dict(outputs)), root, name, root_options, None, None, [], {})
        )
        # Rules only read props, so one proxy per resource serves every resource policy.
        self.inputs = {r.urn: self._watched(r.inputs) for r in self.synth}
        self.labels = {r.urn: f"{r.name} ({r.type})" for r in self.synth} | {root: f"{name} ({STACK_TYPE})"}

    def _watched(self, props: dict[str, Any]) -> Any:
        return _Watched(_proxied(props), self.reads)

    def provider(self, resource: SynthResource) -> PolicyProviderResource | None:
        return self.providers.get(resource.provider) if resource.provider else None


def _settle(result: Any) -> None:
    if isawaitable(result):
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(result)
        finally:
            loop.close()


def evaluate(
    resources: Sequence[SynthResource],
    config: Mapping[str, Mapping[str, Any]],
    *,
    stack: str,
    context: OfflineContext | None = None,
    outputs: Mapping[str, Any] | None = None,
    rules: Sequence[Rule] = RULES,
) -> PolicyReport:
    """Evaluate every policy of the pack over `resources` (and the stack's `outputs`) with `config`."""
    context = context or OfflineContext(project="stockade", stack=stack)
    shapes = _Resources(resources, context, outputs or {})
    levels = policy_levels(rules)
    rule_of = {name: rule for rule in rules for name in (rule.name, rule.companion_name) if name}
    findings: list[Finding] = []
    not_applicable: dict[str, int] = {}

    def reporter(policy_name: str, default_urn: str | None) -> Any:
        rule = rule_of[policy_name]

        def report(message: str, urn: str | None = None) -> None:
            target = urn or default_urn
            allowed_note = message.startswith(ALLOWED_PREFIX)
            findings.append(
                Finding(
                    rule=rule.name,
                    level=rule.level if not allowed_note else Level.ADVISORY,
                    kind=FindingKind.ALLOWED if allowed_note else FindingKind.VIOLATION,
                    message=message,
                    urn=target,
                    resource=shapes.labels.get(target) if target else None,
                )
            )

        return report

    def run(policy_name: str, call: Any, urn: str | None) -> None:
        shapes.reads.current = rule_of[policy_name].name
        try:
            _settle(call())
        except UnknownValueError as exc:
            findings.append(
                Finding(
                    rule=rule_of[policy_name].name,
                    level=Level.ADVISORY,
                    kind=FindingKind.NOT_CHECKED,
                    message=f"not checked: {exc.message}",
                    urn=urn,
                    resource=shapes.labels.get(urn) if urn else None,
                )
            )
        except _NotApplicableError:
            not_applicable[policy_name] = not_applicable.get(policy_name, 0) + 1
        finally:
            shapes.reads.current = None

    for policy in build_policies(rules):
        policy_config_values = dict(config.get(policy.name) or {})
        if isinstance(policy, ResourceValidationPolicy):
            for synth, node in zip(shapes.synth, shapes.stack[: len(shapes.synth)], strict=True):
                args = ResourceValidationArgs(
                    synth.type,
                    shapes.inputs[synth.urn],
                    synth.urn,
                    synth.name,
                    node.opts,
                    shapes.provider(synth),
                    policy_config_values,
                    {},
                )
                report = reporter(policy.name, synth.urn)
                run(policy.name, lambda p=policy, a=args, r=report: p.validate(a, r), synth.urn)
        elif isinstance(policy, StackValidationPolicy):
            stack_args = StackValidationArgs(shapes.stack, policy_config_values, {})
            report = reporter(policy.name, None)
            run(policy.name, lambda p=policy, a=stack_args, r=report: p.validate(a, r), None)

    outcomes = tuple(_outcome(rule, findings, not_applicable, levels, shapes.reads.rules) for rule in rules)
    return PolicyReport(stack=stack, resources=len(shapes.synth), outcomes=outcomes, findings=tuple(findings))


def _outcome(
    rule: Rule,
    findings: list[Finding],
    not_applicable: dict[str, int],
    levels: Mapping[str, Level],
    inspected: set[str],
) -> RuleOutcome:
    mine = [f for f in findings if f.rule == rule.name]
    violations = [f for f in mine if f.kind is FindingKind.VIOLATION]
    if violations:
        status = Status.FAIL if levels[rule.name] is Level.MANDATORY else Status.WARN
    elif any(f.kind is FindingKind.NOT_CHECKED for f in mine):
        status = Status.NOT_CHECKED
    elif any(f.kind is FindingKind.ALLOWED for f in mine):
        status = Status.ALLOWED
    elif not_applicable.get(rule.name, 0) or rule.name not in inspected:
        # Nothing found, and the rule said it does not apply to this stack (e.g. prod-only rules),
        # or it never looked inside a resource: none of the kinds it checks exist here.
        status = Status.NOT_APPLICABLE
    else:
        status = Status.PASS
    return RuleOutcome(rule.name, rule.level, status, len(mine), rule.remediation)


def context_for(settings: StackSettings, stack: str) -> OfflineContext:
    """The same offline context the synth used, so emulated outputs match the synth's."""
    return OfflineContext(
        project="stockade",
        stack=stack,
        region=settings.aws_region or OFFLINE_REGION,
        account_id=settings.aws.account_id if settings.aws else OFFLINE_ACCOUNT_ID,
    )


def evaluate_synth(result: SynthResult, settings: StackSettings) -> PolicyReport:
    """`stockade policy`: the pack over a stack's synth, with the config its settings imply."""
    report = evaluate(
        result.resources,
        policy_config(settings),
        stack=result.stack,
        context=context_for(settings, result.stack),
        outputs=result.outputs,
    )
    return dataclasses.replace(report, weakenings=tuple(result.weakenings))
