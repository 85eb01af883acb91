"""Render real `pulumi preview --json` documents into the review model, secrets redacted.

The input schema is Pulumi's PreviewDigest (sdk/go/common/display/json.go):
`steps[]` with `op`, `urn`, `provider`, `oldState`/`newState` (apitype.ResourceV3:
`urn`, `type`, `custom`, `inputs`, `outputs`, `parent`, `protect`, `retainOnDelete`,
`additionalSecretOutputs`, `aliases`, ...), `diffReasons`, `replaceReasons` and
`detailedDiff` (property path -> {kind, inputDiff}); plus `changeSummary`
(op -> count), `diagnostics` and `config`. Unknown keys are ignored, so newer
CLI versions keep working; a document that is not shaped like this is refused
with the place that is wrong.

`render_previews` is the library entry point other tools (the rollout runner)
call; its signature is stable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stockade.review.errors import ReviewInputError
from stockade.review.matching import Candidate, pair_renames, rename_note
from stockade.review.model import (
    ChangeKind,
    PropertyChange,
    ResourceChange,
    ResourceFlags,
    Review,
    StackReview,
    risky_first,
)
from stockade.review.paths import (
    ABSENT,
    Path,
    PathSyntaxError,
    diff_leaves,
    diff_values,
    format_path,
    is_member_leaf,
    lookup,
    parse_path,
    set_root,
)
from stockade.review.risk import classify, ordering_key
from stockade.review.secrets import (
    UNKNOWN,
    Scrubber,
    clear_values_at,
    contains_secret,
    json_text_plaintexts,
    path_is_secret_by_name,
    redact,
    sentinel_plaintexts,
    state_secret_paths,
)
from stockade.review.text import code

ROOT_STACK_TYPE = "pulumi:pulumi:Stack"
WEAKENING_PREFIX = "stockade: weakened setting:"
_MAX_MESSAGES = 5
_REPLACE_OPS = frozenset({"replace", "create-replacement", "delete-replaced"})
_KIND_OF_OP: dict[str, ChangeKind] = {
    "same": ChangeKind.SAME,
    "create": ChangeKind.ADD,
    "update": ChangeKind.CHANGE,
    "delete": ChangeKind.REMOVE,
    "read": ChangeKind.READ,
    "read-replacement": ChangeKind.READ,
    "import": ChangeKind.IMPORT,
    "import-replacement": ChangeKind.IMPORT,
    "refresh": ChangeKind.SAME,
}


class PreviewFormatError(ReviewInputError):
    """The document is not a `pulumi preview --json` PreviewDigest; the message says where."""


@dataclass(frozen=True)
class State:
    urn: str
    type: str
    custom: bool
    inputs: Mapping[str, Any]
    outputs: Mapping[str, Any]
    flags: ResourceFlags


@dataclass(frozen=True)
class Step:
    op: str
    urn: str
    old: State | None
    new: State | None
    diff_reasons: tuple[str, ...] = ()
    replace_reasons: tuple[str, ...] = ()
    detailed: Mapping[str, tuple[str, bool]] | None = None
    secret_paths: frozenset[Any] = frozenset()  # secret on either side, found before redaction


@dataclass
class _Diagnostics:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    weakenings: list[str] = field(default_factory=list)


# --- validation ---------------------------------------------------------------------------------


def _expect(condition: bool, source: str, where: str, problem: str) -> None:
    if not condition:
        raise PreviewFormatError(f"{source}: {where}: {problem}")


def _string_list(value: Any, source: str, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    _expect(
        isinstance(value, list) and all(isinstance(v, str) for v in value),
        source,
        where,
        "expected a list of strings",
    )
    return tuple(value)


def _state(value: Any, source: str, where: str, urn: str) -> State | None:
    if value is None:
        return None
    _expect(isinstance(value, Mapping), source, where, "expected an object (apitype.ResourceV3)")
    for key in ("inputs", "outputs"):
        _expect(
            value.get(key) is None or isinstance(value.get(key), Mapping),
            source,
            f"{where}.{key}",
            "expected an object",
        )
    state_urn = value.get("urn", urn)
    _expect(isinstance(state_urn, str), source, f"{where}.urn", "expected a string")
    type_token = value.get("type") or split_urn(state_urn, source, f"{where}.urn")[2]
    _expect(isinstance(type_token, str), source, f"{where}.type", "expected a string")
    return State(
        urn=state_urn,
        type=type_token,
        custom=bool(value.get("custom", True)),
        inputs=value.get("inputs") or {},
        outputs=value.get("outputs") or {},
        flags=ResourceFlags(
            protect=bool(value.get("protect", False)),
            retain_on_delete=bool(value.get("retainOnDelete", False)),
            additional_secret_outputs=_string_list(
                value.get("additionalSecretOutputs"), source, f"{where}.additionalSecretOutputs"
            ),
        ),
    )


def split_urn(urn: str, source: str = "preview", where: str = "urn") -> tuple[str, str, str, str]:
    """(stack, project, type, name) of a URN; the type drops the parent chain, the name may hold '::'."""
    parts = urn.split("::", 3)
    _expect(
        len(parts) == 4 and parts[0].startswith("urn:pulumi:"), source, where, f"not a Pulumi URN: {urn!r}"
    )
    return parts[0].removeprefix("urn:pulumi:"), parts[1], parts[2].rsplit("$", 1)[-1], parts[3]


def parse_steps(document: Any, source: str) -> list[Step]:
    """The document's steps, validated against the PreviewDigest schema."""
    _expect(
        isinstance(document, Mapping),
        source,
        "top level",
        "expected a JSON object (`pulumi preview --json` output)",
    )
    known = {"steps", "changeSummary", "diagnostics", "config", "duration", "maybeCorrupt"}
    _expect(
        not document or bool(known & set(document)),
        source,
        "top level",
        "none of the keys `pulumi preview --json` writes (steps, changeSummary, diagnostics) is present",
    )
    steps_value = document.get("steps")
    steps_value = [] if steps_value is None else steps_value
    _expect(isinstance(steps_value, list), source, "steps", "expected a list")
    summary = document.get("changeSummary")
    _expect(
        summary is None
        or (isinstance(summary, Mapping) and all(isinstance(v, int) for v in summary.values())),
        source,
        "changeSummary",
        "expected an object of op -> count",
    )
    steps: list[Step] = []
    for index, raw in enumerate(steps_value):
        where = f"steps[{index}]"
        _expect(isinstance(raw, Mapping), source, where, "expected an object")
        op, urn = raw.get("op"), raw.get("urn")
        _expect(isinstance(op, str) and bool(op), source, f"{where}.op", "expected a step op string")
        _expect(isinstance(urn, str), source, f"{where}.urn", "expected a URN string")
        split_urn(urn, source, f"{where}.urn")
        detailed_raw = raw.get("detailedDiff")
        detailed: dict[str, tuple[str, bool]] | None = None
        if detailed_raw is not None:
            _expect(isinstance(detailed_raw, Mapping), source, f"{where}.detailedDiff", "expected an object")
            detailed = {}
            for path, diff in detailed_raw.items():
                _expect(
                    isinstance(diff, Mapping) and isinstance(diff.get("kind"), str),
                    source,
                    f"{where}.detailedDiff[{path!r}]",
                    "expected an object with a `kind`",
                )
                detailed[str(path)] = (diff["kind"], bool(diff.get("inputDiff", False)))
        steps.append(
            Step(
                op=op,
                urn=urn,
                old=_state(raw.get("oldState"), source, f"{where}.oldState", urn),
                new=_state(raw.get("newState"), source, f"{where}.newState", urn),
                diff_reasons=_string_list(raw.get("diffReasons"), source, f"{where}.diffReasons"),
                replace_reasons=_string_list(raw.get("replaceReasons"), source, f"{where}.replaceReasons"),
                detailed=detailed,
            )
        )
    return steps


def _diagnostics(document: Mapping[str, Any], source: str, scrubber: Scrubber) -> _Diagnostics:
    found = _Diagnostics()
    raw = document.get("diagnostics")
    raw = [] if raw is None else raw
    _expect(isinstance(raw, list), source, "diagnostics", "expected a list")
    for index, entry in enumerate(raw):
        _expect(isinstance(entry, Mapping), source, f"diagnostics[{index}]", "expected an object")
        message = scrubber.scrub(str(entry.get("message") or "")).strip()
        severity = str(entry.get("severity") or "")
        if severity == "error":
            found.errors.append(message)
        elif severity == "warning":
            if WEAKENING_PREFIX in message:
                found.weakenings.append(message.split(WEAKENING_PREFIX, 1)[1].strip())
            else:
                found.warnings.append(message)
    return found


# --- redaction ----------------------------------------------------------------------------------


def _redacted_steps(document: Mapping[str, Any], source: str) -> tuple[list[Step], Scrubber]:
    """Steps whose states hold no secret value, and the scrubber that knows the secrets seen in clear."""
    steps = parse_steps(document, source)
    scrubber = Scrubber(sentinel_plaintexts(document))
    for value in json_text_plaintexts(document):
        scrubber.add(value)
    step_paths: list[set[Any]] = []
    for raw in document.get("steps") or []:
        old, new = raw.get("oldState"), raw.get("newState")
        paths = state_secret_paths(old) | state_secret_paths(new)
        step_paths.append(paths)
        for value in (*clear_values_at(old, paths), *clear_values_at(new, paths)):
            scrubber.add(value)

    def clean(state: State | None, paths: set[Any]) -> State | None:
        if state is None:
            return None
        return State(
            urn=state.urn,
            type=state.type,
            custom=state.custom,
            inputs=redact(state.inputs, paths, scrubber),
            outputs=redact(state.outputs, paths, scrubber),
            flags=state.flags,
        )

    cleaned = [
        Step(
            op=step.op,
            urn=step.urn,
            old=clean(step.old, paths),
            new=clean(step.new, paths),
            diff_reasons=step.diff_reasons,
            replace_reasons=step.replace_reasons,
            detailed=step.detailed,
            secret_paths=frozenset(paths),
        )
        for step, paths in zip(steps, step_paths, strict=True)
    ]
    return cleaned, scrubber


# --- the change model ---------------------------------------------------------------------------


def _shown(value: Any) -> Any:
    if value is ABSENT:
        return None
    if value == UNKNOWN:
        return "[unknown until apply]"
    return value


def _touches_secret(path: Path, secret_paths: frozenset[Any]) -> bool:
    """Whether `path` is, holds or lies inside a property that is secret on either side of the step."""
    if path_is_secret_by_name(path):
        return True
    return any(path[: len(s)] == s or s[: len(path)] == path for s in secret_paths)


def _property(
    path: Path | str,
    kind: str,
    old: Any,
    new: Any,
    replaces: bool = False,
    secret_paths: frozenset[Any] = frozenset(),
    has_values: bool = True,
) -> PropertyChange:
    parsed = path if isinstance(path, tuple) else None
    secret = contains_secret(old) or contains_secret(new)
    if parsed is not None:
        secret = secret or _touches_secret(parsed, secret_paths)
    elif isinstance(path, str):
        secret = secret or _touches_secret((path,), secret_paths)
    return PropertyChange(
        path=format_path(parsed) if parsed is not None else str(path),
        kind=kind,
        old=None if secret or not has_values else _shown(old),
        new=None if secret or not has_values else _shown(new),
        secret=secret,
        replaces=replaces,
        has_values=has_values,
        member=parsed is not None and is_member_leaf(parsed),
    )


def _leaf_properties(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    replace_keys: set[str],
    secret_paths: frozenset[Any] = frozenset(),
) -> list[PropertyChange]:
    return [
        _property(leaf.path, leaf.kind, leaf.old, leaf.new, str(leaf.path[0]) in replace_keys, secret_paths)
        for leaf in diff_leaves(old, new)
    ]


def _old_value(old: State | None, path: Any, input_diff: bool) -> Any:
    if old is None:
        return ABSENT
    # inputDiff false: Pulumi compared the old *state* (outputs) with the new inputs.
    first, second = (old.inputs, old.outputs) if input_diff else (old.outputs, old.inputs)
    found = lookup(first, path)
    return lookup(second, path) if found is ABSENT else found


def _detailed_properties(step: Step, old: State | None, new: State | None) -> list[PropertyChange]:
    """Properties from the provider's detailedDiff: its paths, with values looked up in the states.

    A path into a set-valued list (`domains[3]`) is widened to the list itself, which is
    then diffed as a set: the provider's positions shift with every insertion.
    """
    assert step.detailed is not None
    found: list[PropertyChange] = []
    done: set[Path] = set()
    secrets = step.secret_paths
    for text, (kind, input_diff) in sorted(step.detailed.items()):
        base_kind, _, suffix = kind.partition("-")
        replaces = suffix == "replace" or text in step.replace_reasons
        try:
            path = parse_path(text)
        except PathSyntaxError:
            found.append(_property(text, base_kind, None, None, replaces, secrets, has_values=False))
            continue
        root = set_root(path)
        if root is not None:
            path, base_kind = root, "update"
        if path in done:
            continue
        done.add(path)
        before = _old_value(old, path, input_diff)
        after = lookup(new.inputs, path) if new else ABSENT
        if before is ABSENT and after is ABSENT:
            # The path is in the provider's state only (e.g. tagsAll): named, values unknown here.
            found.append(_property(path, base_kind, None, None, replaces, secrets, has_values=False))
            continue
        leaves = diff_values(before, after, path)
        if len(leaves) > 1 or (leaves and leaves[0].path != path):
            # A nested or JSON-text value: show which leaves moved, so one secret leaf
            # does not hide the whole property.
            found += [
                _property(leaf.path, leaf.kind, leaf.old, leaf.new, replaces, secrets) for leaf in leaves
            ]
        elif leaves or root is None:
            shown = path if root is not None else text
            found.append(_property(shown, base_kind, before, after, replaces, secrets))
    return found


def _step_properties(step: Step, old: State | None, new: State | None) -> list[PropertyChange]:
    if step.detailed:
        return _detailed_properties(step, old, new)
    replace_keys = set(step.replace_reasons)
    secrets = step.secret_paths
    old_inputs = old.inputs if old else None
    new_inputs = new.inputs if new else None
    if not step.diff_reasons:
        return _leaf_properties(old_inputs, new_inputs, replace_keys, secrets)
    found: list[PropertyChange] = []
    for key in step.diff_reasons:
        changed = _leaf_properties(
            {key: old_inputs[key]} if old_inputs and key in old_inputs else None,
            {key: new_inputs[key]} if new_inputs and key in new_inputs else None,
            replace_keys,
            secrets,
        )
        # A key the inputs do not show (an output-only difference): named, values unknown.
        found += changed or [
            _property((key,), "update", None, None, key in replace_keys, secrets, has_values=False)
        ]
    return found


def _kind(ops: Sequence[str], old: State | None, urn: str) -> ChangeKind:
    if _REPLACE_OPS & set(ops):
        return ChangeKind.REPLACE
    for op in (
        "create",
        "delete",
        "update",
        "import",
        "import-replacement",
        "read",
        "read-replacement",
        "same",
        "refresh",
    ):
        if op in ops:
            kind = _KIND_OF_OP[op]
            if kind in (ChangeKind.SAME, ChangeKind.CHANGE) and old is not None and old.urn != urn:
                return ChangeKind.RENAME_ALIASED
            return kind
    return ChangeKind.OTHER


def _flags(state: State | None) -> ResourceFlags | None:
    return state.flags if state else None


def _resource_change(urn: str, group: Sequence[Step]) -> ResourceChange:
    ops = [s.op for s in group]
    old = next((s.old for s in group if s.old is not None), None)
    new = next((s.new for s in reversed(group) if s.new is not None), None)
    kind = _kind(ops, old, urn)
    _, _, type_from_urn, name = split_urn(urn)
    primary = next((s for s in group if s.detailed or s.diff_reasons), group[0])
    secrets = frozenset().union(*(s.secret_paths for s in group))
    properties: list[PropertyChange] = []
    if kind in (ChangeKind.ADD, ChangeKind.IMPORT):
        properties = _leaf_properties(None, new.inputs if new else None, set(), secrets)
    elif kind is ChangeKind.REMOVE:
        properties = _leaf_properties(old.inputs if old else None, None, set(), secrets)
    elif kind not in (ChangeKind.SAME, ChangeKind.READ, ChangeKind.OTHER):
        properties = _step_properties(primary, old, new)
    note = ""
    if kind is ChangeKind.RENAME_ALIASED:
        note = "renamed, aliased: no replacement"
    elif kind is ChangeKind.IMPORT:
        note = "imported: adopts an existing cloud resource"
    elif kind is ChangeKind.OTHER:
        note = f"state-only step ({', '.join(ops)})"
    state = new or old
    return ResourceChange(
        kind=kind,
        urn=urn,
        type=state.type if state else type_from_urn,
        name=name,
        custom=state.custom if state else True,
        old_urn=old.urn if old is not None and old.urn != urn else None,
        old_inputs=old.inputs if old else None,
        new_inputs=new.inputs if new else None,
        old_flags=_flags(old),
        new_flags=_flags(new),
        properties=tuple(properties),
        note=note,
    )


def _pair_renames(changes: list[ResourceChange]) -> list[ResourceChange]:
    added = {c.urn: c for c in changes if c.kind is ChangeKind.ADD}
    removed = {c.urn: c for c in changes if c.kind is ChangeKind.REMOVE}
    pairs, _, _ = pair_renames(
        [Candidate(c.urn, c.type, c.name, c.custom, c.old_inputs or {}) for c in removed.values()],
        [Candidate(c.urn, c.type, c.name, c.custom, c.new_inputs or {}) for c in added.values()],
    )
    paired = {p.old.urn for p in pairs} | {p.new.urn for p in pairs}
    result = [c for c in changes if c.urn not in paired]
    for pair in pairs:
        old, new = removed[pair.old.urn], added[pair.new.urn]
        result.append(
            ResourceChange(
                kind=ChangeKind.RENAME_REPLACE,
                urn=new.urn,
                type=new.type,
                name=new.name,
                custom=new.custom,
                old_urn=old.urn,
                old_inputs=old.old_inputs,
                new_inputs=new.new_inputs,
                old_flags=old.old_flags,
                new_flags=new.new_flags,
                properties=tuple(_leaf_properties(old.old_inputs, new.new_inputs, set())),
                note=rename_note(pair),
            )
        )
    return result


def review_preview(
    document: Any, stack: str | None = None, source: str = "preview", default_stack: str | None = None
) -> StackReview:
    """One stack's preview as a `StackReview`.

    `stack` defaults to the stack in the document's URNs, then to `default_stack`;
    `source` names the document in error messages.
    """
    steps, scrubber = _redacted_steps(document, source)
    groups: dict[str, list[Step]] = {}
    for step in steps:
        groups.setdefault(step.urn, []).append(step)
    if stack is None:
        stack = split_urn(steps[0].urn, source)[0] if steps else (default_stack or source)

    changes: list[ResourceChange] = []
    same = reads = 0
    for urn, group in groups.items():
        change = _resource_change(urn, group)
        if change.type == ROOT_STACK_TYPE:
            continue
        if change.kind is ChangeKind.SAME:
            same += 1
        elif change.kind is ChangeKind.READ:
            reads += 1
        else:
            changes.append(change)
    changes = [classify(c) for c in _pair_renames(changes)]

    summary = document.get("changeSummary") or {}
    unchanged = int(summary["same"]) if "same" in summary else same
    diagnostics = _diagnostics(document, source, scrubber)
    notes: list[str] = []
    notes += [f"preview error: {code(m, 300)}" for m in diagnostics.errors[:_MAX_MESSAGES]]
    notes += [f"weakened setting in effect: {code(m, 300)}" for m in diagnostics.weakenings]
    notes += [f"warning: {code(m, 300)}" for m in diagnostics.warnings[:_MAX_MESSAGES]]
    hidden = max(0, len(diagnostics.errors) - _MAX_MESSAGES) + max(
        0, len(diagnostics.warnings) - _MAX_MESSAGES
    )
    if hidden:
        notes.append(f"{hidden} more diagnostics not shown")
    if reads:
        notes.append(
            f"{reads} resource{'s' if reads != 1 else ''} read (data sources or `get` calls): nothing changes"
        )
    if document.get("maybeCorrupt"):
        notes.append("Pulumi reports that one or more resources may be corrupt (`maybeCorrupt`)")
    return StackReview(
        stack=stack,
        status="present",
        changes=tuple(sorted(changes, key=ordering_key)),
        unchanged=unchanged,
        notes=tuple(notes),
    )


PREVIEW_NOTE = (
    "Rendered from `pulumi preview --json`: secret values are redacted on both the old and the new side."
)


def review_stacks(stacks: Sequence[StackReview]) -> Review:
    """Several stacks' previews as one review (one comment)."""
    names = [s.stack for s in stacks]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ReviewInputError(f"more than one preview is for stack {', '.join(duplicates)}")
    return Review(source="preview", stacks=risky_first(stacks), notes=(PREVIEW_NOTE,))


def review_previews(previews: Mapping[str, Mapping[str, Any]]) -> Review:
    """Stack name -> parsed preview document, as one review."""
    return review_stacks(
        [review_preview(document, stack=name, source=name) for name, document in previews.items()]
    )


def render_previews(previews: Mapping[str, Mapping[str, Any]], *, max_chars: int = 60_000) -> str:
    """Markdown for stack name -> parsed `pulumi preview --json` document; the same as `stockade comment`.

    Raises PreviewFormatError naming the stack and the place when a document is not a
    PreviewDigest.
    """
    from stockade.review.markdown import render_markdown

    return render_markdown(review_previews(previews), max_chars=max_chars)
