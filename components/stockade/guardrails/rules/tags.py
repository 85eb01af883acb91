"""Required tags: audits and cost reports find the stack's resources by them."""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING, Any

from stockade.guardrails.props import MISSING, UNKNOWN, get, is_mapping
from stockade.guardrails.rule import Level, Rule, facts

if TYPE_CHECKING:
    from pulumi_policy import ReportViolation, ResourceValidationArgs


@functools.cache
def taggable(type_token: str) -> bool | None:
    """Whether pulumi-aws's resource class for `type_token` has a `tags` property.

    None when the class cannot be found (a type newer than the installed SDK);
    the rule then judges by whether the resource carries tags at all.
    """
    parts = type_token.split(":")
    if len(parts) != 3 or parts[0] != "aws":
        return False
    module_name = parts[1].split("/")[0]
    module_path = "pulumi_aws" if module_name == "index" else f"pulumi_aws.{module_name}"
    try:
        cls = getattr(importlib.import_module(module_path), parts[2])
    except (ImportError, AttributeError):
        return None
    return hasattr(cls, "tags")


def _keys(value: Any) -> set[str] | None:
    if value is UNKNOWN:
        return None
    return {str(k) for k in value} if is_mapping(value) else set()


def check_required_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    kind = args.resource_type
    if not kind.startswith("aws:"):
        return
    supported = taggable(kind)
    tags = get(args.props, "tags")
    if supported is False or (supported is None and tags is MISSING):
        return
    present: set[str] = set()
    sources = [tags, get(args.props, "tagsAll")]
    if args.provider is not None:
        sources.append(get(args.provider.props, "defaultTags", "tags"))
    for source in sources:
        keys = _keys(source)
        if keys is None:
            return  # tags computed from another resource: not knowable yet
        present |= keys
    missing = [t for t in facts(args).required_tags if t not in present]
    if missing:
        report(f"missing required tag(s): {', '.join(missing)}", None)


REQUIRED_TAGS = Rule(
    name="required-tags",
    description="Every taggable AWS resource carries the tags the stack requires (policy.requiredTags).",
    level=Level.MANDATORY,
    remediation=(
        "Pass stockade.tags.stack_tags(settings) (plus component tags) as `tags` on every taggable "
        "resource; it already includes stockade:stack, stockade:environment and stockade:tags."
    ),
    resource_check=check_required_tags,
    facts=("required_tags",),
)

RULES = (REQUIRED_TAGS,)
