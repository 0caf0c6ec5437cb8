"""YAML loading that remembers where every key and value came from.

PyYAML's composer gives nodes with marks; we turn them into plain dicts and
lists (subclasses that carry 1-based ``(line, col)`` marks) so that validation
errors can point at the exact place in the file.  Duplicate keys, which PyYAML
silently accepts, are reported.
"""

from __future__ import annotations

from typing import Any

import yaml

from inventory.errors import InputError, Problem

Mark = tuple[int, int]

# libyaml's loader is about 10x faster; PyYAML built without it falls back to Python.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_STR_TAG = "tag:yaml.org,2002:str"


class PosDict(dict[str, Any]):
    """A mapping that knows the mark of itself, of each key and of each value."""

    mark: Mark = (1, 1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.key_marks: dict[str, Mark] = {}
        self.value_marks: dict[str, Mark] = {}


class PosList(list[Any]):
    """A sequence that knows the mark of itself and of each item."""

    mark: Mark = (1, 1)

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.marks: list[Mark] = []


def _mark(node: yaml.Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Converter:
    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.constructor = yaml.constructor.SafeConstructor()

    def convert(self, node: yaml.Node) -> Any:
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node)
        if isinstance(node, yaml.SequenceNode):
            out = PosList()
            out.mark = _mark(node)
            for item in node.value:
                out.append(self.convert(item))
                out.marks.append(_mark(item))
            return out
        if node.tag == _STR_TAG:
            return node.value
        return self.constructor.construct_object(node, deep=True)

    def mapping(self, node: yaml.MappingNode) -> PosDict:
        out = PosDict()
        out.mark = _mark(node)
        for key_node, value_node in node.value:
            key = self.convert(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                first = out.key_marks[key]
                self.problems.append(Problem(self.path, *_mark(key_node),
                                             f"duplicate key '{key}' (first at line {first[0]})"))
                continue
            out[key] = self.convert(value_node)
            out.key_marks[key] = _mark(key_node)
            out.value_marks[key] = _mark(value_node)
        return out


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of a file (BOM allowed), or an InputError at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError([Problem(path, line, col,
                                  f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x}); "
                                  "save it as UTF-8")]) from None


def load(text: str, path: str) -> Any:
    """Parse one YAML document into PosDict/PosList/scalars; raise InputError on problems."""
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        raise InputError([Problem(path, line, col, f"YAML syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(path, 1, 1, f"YAML error: {exc}")]) from None
    if node is None:
        return None
    conv = _Converter(path)
    try:
        value = conv.convert(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise InputError([Problem(path, line, col, f"YAML error: {exc.problem}")]) from None
    if conv.problems:
        raise InputError(conv.problems)
    return value
