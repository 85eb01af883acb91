"""Where in the settings tree secrets may sit, derived from the model itself."""

from __future__ import annotations

import types
from collections.abc import Iterator
from functools import cache
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

from stockade.settings.secrets import PulumiSecret, is_secret_annotation

WILDCARD = "*"
Path = tuple[str, ...]


def _walk(annotation: Any, path: Path) -> Iterator[Path]:
    if is_secret_annotation(annotation):
        yield path
        return
    origin = get_origin(annotation)
    if origin is Annotated:
        yield from _walk(get_args(annotation)[0], path)
    elif origin in (Union, types.UnionType):
        for arg in get_args(annotation):
            yield from _walk(arg, path)
    elif origin is dict:
        yield from _walk(get_args(annotation)[1], (*path, WILDCARD))
    elif origin is list:
        yield from _walk(get_args(annotation)[0], (*path, WILDCARD))
    elif isinstance(annotation, type) and issubclass(annotation, BaseModel):
        for name, field in annotation.model_fields.items():
            alias = field.alias or name
            # `field.metadata` keeps Annotated extras that pydantic lifts off the type.
            inner = Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation
            yield from _walk(inner, (*path, alias))


@cache
def secret_paths(model: type[BaseModel]) -> tuple[Path, ...]:
    """Alias paths of every secret-typed field, with `*` for map keys and list items."""
    return tuple(_walk(model, ()))


def path_matches(pattern: Path, loc: Path) -> bool:
    """True when `loc` is at or below a secret field's path."""
    if len(loc) < len(pattern):
        return False
    return all(p in (WILDCARD, str(seg)) for p, seg in zip(pattern, loc, strict=False))


def wrap_runtime_secrets(section: str, value: Any, model: type[BaseModel]) -> Any:
    """Mark the secret leaves of a decrypted config object.

    Under the real engine a `secure:` leaf arrives decrypted and the whole key is
    flagged secret; this puts the value back in a `PulumiSecret` at exactly the
    paths the model declares secret, so it is handed to Pulumi wrapped.
    """
    for pattern in secret_paths(model):
        if pattern[0] == section:
            value = _wrap(value, pattern[1:])
    return value


def _wrap(node: Any, rest: Path) -> Any:
    if not rest:
        return PulumiSecret(node) if isinstance(node, str) and not node.startswith("arn:") else node
    head, tail = rest[0], rest[1:]
    if isinstance(node, dict):
        keys = list(node) if head == WILDCARD else [head] if head in node else []
        return {k: (_wrap(v, tail) if k in keys else v) for k, v in node.items()}
    if isinstance(node, list) and head == WILDCARD:
        return [_wrap(item, tail) for item in node]
    return node
