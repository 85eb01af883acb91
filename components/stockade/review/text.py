"""Markdown-safe snippets shared by the risk reasons and the renderer.

Everything that comes from a stack (names, values, messages) goes into a code
span built here, so it can neither break the layout nor inject links or HTML
into a comment.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

VALUE_LIMIT = 120
_BACKTICK_RUNS = re.compile(r"`+")


_LEAVES = (str, int, float, type(None), list, tuple)


def is_mapping(value: Any) -> bool:
    """`isinstance(value, Mapping)`, with the common cases first: parsed JSON is dicts and
    leaves, and the ABC check costs a cache lookup on every leaf of a 50 MB preview."""
    return isinstance(value, dict) or (not isinstance(value, _LEAVES) and isinstance(value, Mapping))


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside `value`, depth first: mapping values, list items, the string itself."""
    if isinstance(value, str):
        yield value
    elif is_mapping(value):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings_in(item)


def string_list(value: Any) -> list[str]:
    """A provider input that is one string or a list of them, as a list: the non-empty scalars,
    as text. Anything else (a nested object, an unknown) contributes nothing."""
    if isinstance(value, str):
        return [value] if value else []
    if isinstance(value, list | tuple):
        return [str(v) for v in value if isinstance(v, str | int | float) and v != ""]
    return []


def plain(value: Any) -> str:
    """A value as one line of text: strings as they are, everything else as compact JSON."""
    if isinstance(value, str):
        text = value if value else '""'
    elif isinstance(value, float) and value.is_integer():
        # Pulumi's wire format carries every number as a double; 443.0 is the port 443.
        text = str(int(value))
    else:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return text.replace("\r", "").replace("\n", "⏎")


def code(value: Any, limit: int = VALUE_LIMIT) -> str:
    """`value` as an inline code span, truncated past `limit` characters."""
    text = plain(value)
    if len(text) > limit:
        text = f"{text[:limit]}…(+{len(text) - limit} chars)"
    if "`" not in text:
        return f"`{text}`"
    longest = max((len(m.group(0)) for m in _BACKTICK_RUNS.finditer(text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def listing(items: list[str], limit: int = 6) -> str:
    """`a`, `b`, `c` (+N more): a bounded list of code spans."""
    shown = ", ".join(code(i) for i in items[:limit])
    return shown + (f" (+{len(items) - limit} more)" if len(items) > limit else "")
