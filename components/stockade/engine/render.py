"""Human-readable views of a synth: a parent/child tree and a per-type summary."""

from __future__ import annotations

from collections import Counter

from stockade.engine.model import SynthResult


def render_tree(result: SynthResult) -> str:
    children: dict[str | None, list[str]] = {}
    by_urn = result.by_urn()
    for resource in result.resources:
        parent = resource.parent if resource.parent in by_urn else None
        children.setdefault(parent, []).append(resource.urn)
    lines = [f"{result.project}/{result.stack}"]

    def walk(parent: str | None, depth: int) -> None:
        for urn in sorted(children.get(parent, []), key=lambda u: (by_urn[u].type, by_urn[u].name)):
            resource = by_urn[urn]
            lines.append(f"{'  ' * depth}- {resource.name} ({resource.type})")
            walk(urn, depth + 1)

    walk(None, 1)
    lines.extend(_weakening_lines(result))
    return "\n".join(lines) + "\n"


def render_summary(result: SynthResult) -> str:
    counts = Counter(r.type for r in result.resources)
    width = max((len(t) for t in counts), default=10)
    lines = [f"stack {result.stack}: {len(result.resources)} resources"]
    lines += [f"  {count:4d}  {type_:<{width}}" for type_, count in sorted(counts.items())]
    lines.extend(_weakening_lines(result))
    return "\n".join(lines) + "\n"


def _weakening_lines(result: SynthResult) -> list[str]:
    if not result.weakenings:
        return []
    return ["", "WEAKENED SETTINGS:", *(f"  ! {w}" for w in result.weakenings)]
