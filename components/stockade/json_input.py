"""JSON text for a resource input, from a document that may hold Outputs anywhere inside it.

`Output.from_input(document).apply(json.dumps)` gives the same text, but the SDK wraps every
leaf of the document in an Output of its own (a few futures and tasks each) before it can
apply: for an IAM policy or a task's container definitions, hundreds of Outputs for the few
ARNs inside. Here only the Outputs the document holds are awaited, and a document that holds
none is dumped at once; secret and unknown values propagate exactly as through
`Output.from_input`.
"""

from __future__ import annotations

import json
from typing import Any

import pulumi

_PLAIN = (str, int, float, bool, type(None))


def _inputs_in(node: Any, found: list[Any]) -> None:
    if isinstance(node, _PLAIN):
        return
    if isinstance(node, dict):
        for value in node.values():
            _inputs_in(value, found)
    elif isinstance(node, list | tuple):
        for value in node:
            _inputs_in(value, found)
    else:
        found.append(node)


def _filled(node: Any, values: dict[int, Any]) -> Any:
    if isinstance(node, _PLAIN):
        return node
    if isinstance(node, dict):
        return {key: _filled(value, values) for key, value in node.items()}
    if isinstance(node, list | tuple):
        return [_filled(value, values) for value in node]
    return values[id(node)]


def json_input(document: Any, **dumps: Any) -> pulumi.Input[str]:
    """`document` as JSON text (`json.dumps(..., **dumps)`), once the Outputs in it resolve."""
    inputs: list[Any] = []
    _inputs_in(document, inputs)
    if not inputs:
        return json.dumps(document, **dumps)

    def render(resolved: list[Any]) -> str:
        values = {id(node): value for node, value in zip(inputs, resolved, strict=True)}
        return json.dumps(_filled(document, values), **dumps)

    return pulumi.Output.all(*inputs).apply(render)
