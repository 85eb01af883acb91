"""Read a YAML file a stranger may have written: bounded size, depth and expansion, no silent ambiguity.

Stack files and rollout plans arrive in pull requests, including from forks whose diff a
workflow synthesizes. So the reader refuses, with the file and line, anything that would
make later steps slow, huge or ambiguous:

* files over `MAX_FILE_BYTES`, or that are not UTF-8 text;
* more than `MAX_NODES` values once aliases are expanded (an alias bomb is a few lines that
  expand to billions of values when validation, synth or JSON walks them);
* nesting deeper than `MAX_DEPTH` (the composer and every later walk recurse);
* a key written twice in one mapping (YAML says last wins; a reviewer reads the first);
* non-string mapping keys, and documents that are not a mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 1_000_000
"""A large stack file is a few tens of KB; a megabyte is room for big PEM bundles."""
MAX_DEPTH = 32
"""The deepest settings path is under ten levels; 32 leaves room for provider config objects."""
MAX_NODES = 100_000
"""Values after alias expansion; a generous stack file has a few thousand."""


class YamlInputError(Exception):
    """Why a YAML file was refused: where (`line N, column M` or a size) and what to do."""

    def __init__(self, where: str, message: str, fix: str) -> None:
        super().__init__(where, message, fix)
        self.where, self.message, self.fix = where, message, fix

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts depth while composing and refuses duplicate keys while constructing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlInputError(
                    _at(mark),
                    f"nested more than {MAX_DEPTH} levels deep",
                    "flatten the structure; no setting nests this deep",
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, Node] = {}
        self.flatten_mapping(node)
        for key_node, _ in node.value:
            if not isinstance(key_node, ScalarNode):
                raise YamlInputError(
                    _at(key_node.start_mark),
                    "a mapping key must be a plain value, not a list or mapping",
                    "write the key as text",
                )
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise YamlInputError(
                    _at(key_node.start_mark),
                    f"this key is already set on line {first} (YAML would silently keep the last one)",
                    "keep one of the two entries",
                )
            seen[key] = key_node
        return super().construct_mapping(node, deep=deep)


def _at(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "unknown position"


def _expanded_size(root: Node) -> int:
    """Values the document holds once every alias is expanded, stopping early past the cap.

    A recursive alias (`a: &x [*x]`) is a cycle in the node graph and expands forever: refused.
    """
    sizes: dict[int, int] = {}
    visiting: set[int] = set()
    # Iterative post-order walk: the composer shares one node object per anchor, so sizes are
    # memoized by identity and a bomb is measured without expanding it.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        if id(node) in sizes:
            continue
        children: list[Node] = []
        if isinstance(node, SequenceNode):
            children = list(node.value)
        elif isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        if not done:
            if id(node) in visiting:
                continue  # already on the path, its post-order entry is pending
            visiting.add(id(node))
            stack.append((node, True))
            for child in children:
                if id(child) in visiting:
                    raise YamlInputError(
                        _at(child.start_mark),
                        "this alias refers to a node that contains it (a recursive alias never ends)",
                        "replace the alias with the values it should hold",
                    )
                if id(child) not in sizes:
                    stack.append((child, False))
            continue
        visiting.discard(id(node))
        total = 1 + sum(sizes.get(id(child), 1) for child in children)
        sizes[id(node)] = min(total, MAX_NODES + 1)
    return sizes[id(root)]


def parse_yaml(text: str) -> Any:
    """Parse one YAML document from text, within the bounds above; raise `YamlInputError`."""
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:
        raise _reader_problem(exc, text) from None
    try:
        try:
            node = loader.get_single_node()
        except YamlInputError:
            raise
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            raise YamlInputError(
                _at(mark), "not valid YAML", f"fix the syntax at that position ({exc.problem})"
            ) from None
        except yaml.reader.ReaderError as exc:
            raise _reader_problem(exc, text) from None
        except yaml.YAMLError as exc:
            raise YamlInputError("unknown position", "not valid YAML", "check the file's syntax") from exc
        except RecursionError:
            raise YamlInputError(
                "unknown position", "nested too deeply to read", "flatten the structure"
            ) from None
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise YamlInputError(
                _at(node.start_mark),
                f"expands to more than {MAX_NODES:,} values (anchors and aliases multiply)",
                "write the values out, or remove the aliases",
            )
        try:
            return loader.construct_document(node)
        except yaml.constructor.ConstructorError as exc:
            raise YamlInputError(
                _at(exc.problem_mark), "not valid YAML", f"fix the value ({exc.problem})"
            ) from None
    finally:
        loader.dispose()


def _reader_problem(exc: yaml.reader.ReaderError, text: str) -> YamlInputError:
    line = text.count("\n", 0, max(exc.position, 0)) + 1
    code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "\0")
    return YamlInputError(
        f"line {line}",
        f"control character U+{code:04X} is not allowed in YAML",
        "remove it (binary data does not belong in a configuration file)",
    )


def read_yaml(path: Path) -> Any:
    """Read and parse a YAML file; raise `YamlInputError` (with the line) or OSError."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise YamlInputError(
            f"over {MAX_FILE_BYTES:,} bytes",
            "too large for a configuration file",
            "keep configuration files under 1 MB (large certificates can be referenced by ARN)",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise YamlInputError(
            f"line {line}, byte {exc.start + 1}",
            "not UTF-8 text",
            "save the file as UTF-8 (binary data does not belong in a configuration file)",
        ) from None
    return parse_yaml(text)
