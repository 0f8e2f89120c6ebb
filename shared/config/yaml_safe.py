"""Read one YAML config file safely: bounded, strict, and able to say where a value came from.

PyYAML's SafeLoader builds no Python objects from tags, but it still accepts duplicate
keys (the last one wins), follows aliases without limit (a 1 KB "billion laughs" file
expands to a billion nodes once anything walks it) and recurses once per nesting level.
This module composes the node graph first, checks it, then constructs the document:

- size: files above ``MAX_BYTES`` are refused before parsing;
- encoding: the file must be UTF-8; the first bad byte is named with its line;
- control characters (other than tab and newlines) are named with their line;
- nesting deeper than ``MAX_DEPTH`` is refused while composing (no RecursionError);
- aliases: the expanded size of the document (every alias counted as a full copy) must
  stay under ``MAX_NODES``; recursive aliases are refused;
- duplicate keys in one mapping are errors naming both lines.

The result also maps every scalar's key path to its source text, line and quoting, so
a later type error can say that YAML 1.1 read an unquoted ``NO`` as ``false``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 256 * 1024  # a service.yaml is a few KB; a quarter MB is plenty of room
MAX_DEPTH = 32  # the deepest real config nests 5 levels
MAX_NODES = 50_000  # expanded nodes, aliases counted in full
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    """A file that is not acceptable YAML; ``where`` is 'line N' or 'line N, column M'."""

    def __init__(self, where: str, message: str) -> None:
        self.where = where
        self.message = message
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Scalar:
    """Where a scalar came from: its text as written, its line and whether it was quoted."""

    text: str
    line: int
    quoted: bool
    tag: str


@dataclass(frozen=True)
class Document:
    data: Any
    scalars: dict[Path, Scalar]

    def scalar(self, path: Path) -> Scalar | None:
        return self.scalars.get(path)


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses deep nesting while composing (before Python recursion)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:  # type: ignore[override]
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlProblem(f"line {mark.line + 1}", (
                    f"nested more than {MAX_DEPTH} levels deep (config files need a handful)"))
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self.depth -= 1


def load(raw: bytes) -> Document:
    """Parse ``raw`` (the file's bytes) into plain data plus where every scalar came from.

    libyaml (PyYAML's C parser, when installed) composes the nodes about ten times faster
    than the pure-Python parser, which matters at a hundred service files; any file it
    finds wrong in any way is read again by the pure-Python loader, whose errors are the
    ones reported (the same words and positions with or without libyaml)."""
    if len(raw) > MAX_BYTES:
        raise YamlProblem("", f"file is {len(raw) // 1024} KB; config files are limited to "
                          f"{MAX_BYTES // 1024} KB")
    text = _decode(raw)
    if _FastLoader is not None:
        try:
            return _document(text, _FastLoader(text), fast=True)
        except (YamlProblem, yaml.YAMLError, RecursionError):
            pass
    return _document(text, _Loader(text), fast=False)


def _document(text: str, loader: Any, fast: bool) -> Document:
    try:
        node = loader.get_single_node()
        if node is None:
            return Document(None, {})
        _check_size(node)
        if fast and _depth(node) > MAX_DEPTH:  # the pure-Python loader words it
            raise YamlProblem("", "too deep")
        scalars: dict[Path, Scalar] = {}
        _walk(node, (), scalars)
        return Document(loader.construct_document(node), scalars)
    except yaml.MarkedYAMLError as exc:
        if fast:
            raise
        raise _invisible(text) or _syntax(exc) from None
    except yaml.YAMLError as exc:
        if fast:
            raise
        raise YamlProblem("", f"invalid YAML: {exc}") from None
    finally:
        loader.dispose()


_FastLoader = getattr(yaml, "CSafeLoader", None)  # None: PyYAML built without libyaml


def _depth(root: Node) -> int:
    """How deep the nodes nest (aliases followed: the graph is known to be acyclic and
    bounded by _check_size), iteratively."""
    deepest = 0
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if depth <= MAX_DEPTH:
            stack.extend((child, depth + 1) for child in _children(node))
    return deepest


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise YamlProblem(f"line {line}", (
            f"not UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8")) from None
    found = _CONTROL.search(text)
    if found:
        line = text.count("\n", 0, found.start()) + 1
        raise YamlProblem(f"line {line}", (
            f"control character U+{ord(found.group()):04X} is not allowed; delete it"))
    return text


# Look like spaces (or nothing) but are not YAML whitespace: pasted from documents.
_INVISIBLE = {"\u00a0": "a non-breaking space", "\u200b": "a zero-width space",
              "\u2007": "a figure space", "\u202f": "a narrow no-break space",
              "\ufeff": "a byte order mark"}


def _invisible(text: str) -> YamlProblem | None:
    """A syntax error in a file holding a look-alike space: name that, not the symptom."""
    for index, char in enumerate(text):
        if char in _INVISIBLE:
            line = text.count("\n", 0, index) + 1
            return YamlProblem(f"line {line}", (
                f"invalid YAML: {_INVISIBLE[char]} (U+{ord(char):04X}) where YAML needs a "
                "plain space; retype it"))
    return None


def _syntax(exc: yaml.MarkedYAMLError) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem, context = exc.problem or "", exc.context or ""
    if context.startswith("expected"):  # "expected a single document", "but found ..."
        text = f"{context}, {problem}"
    else:
        text = f"{problem} ({context})" if context and problem else problem or context
    return YamlProblem(where, f"invalid YAML: {text or 'unreadable'}")


def _check_size(root: Node) -> None:
    """Count nodes with every alias expanded, without expanding anything (memoized)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlProblem(f"line {node.start_mark.line + 1}",
                              "an alias refers to the node that contains it (recursive alias)")
        active.add(key)
        total = 1
        for child in _children(node):
            total += size(child)
            if total > MAX_NODES:
                raise YamlProblem(f"line {node.start_mark.line + 1}", (
                    f"aliases expand to more than {MAX_NODES} values (an alias bomb?); "
                    "write the values out or use fewer aliases"))
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _walk(node: Node, path: Path, scalars: dict[Path, Scalar]) -> None:
    if isinstance(node, ScalarNode):
        # a plain scalar's style is None from the pure-Python parser, "" from libyaml's
        scalars[path] = Scalar(node.value, node.start_mark.line + 1, bool(node.style),
                               node.tag)
    elif isinstance(node, SequenceNode):
        for index, child in enumerate(node.value):
            _walk(child, (*path, index), scalars)
    elif isinstance(node, MappingNode):
        seen: dict[str, int] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                _walk_merge(value, path, scalars)
                continue
            name = key.value if isinstance(key, ScalarNode) else repr(key.value)
            line = key.start_mark.line + 1
            if name in seen:
                raise YamlProblem(f"line {line}", (
                    f"duplicate key {_short(name)!r} (first on line {seen[name]}); "
                    "YAML keeps only the last one, so delete or merge one of them"))
            seen[name] = line
            _walk(value, (*path, name), scalars)


def _walk_merge(value: Node, path: Path, scalars: dict[Path, Scalar]) -> None:
    """``<<: *defaults`` (or a list of them) puts the merged keys at this level."""
    for merged in value.value if isinstance(value, SequenceNode) else [value]:
        _walk(merged, path, scalars)


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."
