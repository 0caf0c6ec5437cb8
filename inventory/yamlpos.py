"""YAML loading that remembers where every key and value came from.

PyYAML's parser gives events with marks; we build plain dicts and lists from
them (subclasses that carry 1-based ``(line, col)`` marks) so that validation
errors can point at the exact place in the file.  Duplicate keys, which PyYAML
silently accepts, are reported; merge keys (``<<: *anchor``) work as in PyYAML.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from inventory.errors import N_, InputError, Message, Problem

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


_MERGE_TAG = "tag:yaml.org,2002:merge"
_DEFAULT_TAGS = (None, "!", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


MAX_DEPTH = 64
"""An inventory needs about five levels; far deeper input is an error, not a recursion."""


class _TooDeep(Exception):
    pass


class _MergeKey:
    """The ``<<`` key of a YAML merge (``<<: *anchor``)."""


_MERGE = _MergeKey()


def _event_mark(event: yaml.Event) -> Mark:
    mark = event.start_mark
    return (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)


_NO_KEY = object()


YAML_ERROR = N_("YAML error: {problem}")


class _Frame:
    """A mapping or sequence being built, and the key waiting for its value."""

    __slots__ = ("container", "is_map", "key", "key_mark", "merges")

    def __init__(self, container: PosDict | PosList) -> None:
        self.container = container
        self.is_map = isinstance(container, PosDict)
        self.key: Any = _NO_KEY
        self.key_mark: Mark = (1, 1)
        self.merges: list[tuple[Any, Mark]] = []


class _EventBuilder:
    """Builds PosDict/PosList/scalars straight from the parser's events.

    Going through events rather than ``yaml.compose`` avoids a node object per
    value and lets plain scalars be resolved once per distinct text; together
    that makes a 10,000-endpoint file load several times faster.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.stack: list[_Frame] = []
        self.anchors: dict[str, Any] = {}
        self.root: Any = None
        self.documents = 0
        self.resolver = yaml.resolver.Resolver()
        self.constructor = yaml.constructor.SafeConstructor()
        self.plain_cache: dict[str, Any] = {}
        self.tagged_cache: dict[tuple[str, str], Any] = {}

    def problem(self, mark: Mark, message: str) -> None:
        self.problems.append(Problem(self.path, mark[0], mark[1], message))

    def run(self, loader: Any) -> Any:
        """Consume the loader's events; the hot path (a plain scalar) is inlined."""
        get_event = loader.get_event
        plain = self.plain_cache
        stack = self.stack
        scalar_event, no_key = yaml.ScalarEvent, _NO_KEY
        may_resolve = set(self.resolver.yaml_implicit_resolvers)  # first characters
        while True:
            event = get_event()
            kind = type(event)
            if kind is scalar_event:
                if event.anchor is None and (event.tag is None or event.tag == "!") and stack:
                    text = event.value
                    if (not event.implicit[0] or (text and text[0] not in may_resolve)
                            or text.count(".") > 1):  # no int/float/date has two dots
                        value = text
                    elif text in plain:
                        value = plain[text]
                    else:
                        value = self.scalar_value(event, _event_mark(event))
                    frame = stack[-1]
                    start = event.start_mark
                    mark = (start.line + 1, start.column + 1)
                    key = frame.key
                    if not frame.is_map:
                        seq: Any = frame.container
                        seq.append("<<" if value is _MERGE else value)
                        seq.marks.append(mark)
                    elif type(value) is not str and key is no_key:
                        self.add(value, mark)
                    elif key is no_key:
                        frame.key = value
                        frame.key_mark = mark
                    elif type(key) is str and key not in frame.container:
                        container: Any = frame.container
                        container[key] = value
                        container.key_marks[key] = frame.key_mark
                        container.value_marks[key] = mark
                        frame.key = no_key
                    else:
                        self.add(value, mark)
                else:
                    self.scalar(event)
            elif kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
                self.start(event)
            elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
                self.end()
            elif kind is yaml.AliasEvent:
                self.alias(event)
            elif kind is yaml.DocumentStartEvent:
                self.documents += 1
                if self.documents > 1:
                    self.problem(_event_mark(event), "YAML syntax error: expected one document, "
                                                     "found a second one (remove the '---')")
                    break
            elif kind is yaml.StreamEndEvent or event is None:
                break
        return self.root

    def scalar(self, event: yaml.ScalarEvent) -> None:
        mark = _event_mark(event)
        value = self.scalar_value(event, mark)
        if event.anchor is not None:
            self.anchors[event.anchor] = value
        self.add(value, mark)

    def scalar_value(self, event: yaml.ScalarEvent, mark: Mark) -> Any:
        tag, text = event.tag, event.value
        if tag is None or tag == "!":
            if not event.implicit[0]:
                return text
            if text in self.plain_cache:
                return self.plain_cache[text]
            tag = self.resolver.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            if tag == _MERGE_TAG:
                return _MERGE
            value = self.construct(tag, text, event, mark)
            self.plain_cache[text] = value
            return value
        if tag == _STR_TAG:
            return text
        key = (tag, text)
        if key not in self.tagged_cache:
            self.tagged_cache[key] = self.construct(tag, text, event, mark)
        return self.tagged_cache[key]

    def construct(self, tag: str, text: str, event: yaml.ScalarEvent, mark: Mark) -> Any:
        if tag == _STR_TAG:
            return text
        node = yaml.ScalarNode(tag, text, None, None, event.style)
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            self.problem(mark, Message.of(YAML_ERROR, problem=exc.problem))
        except (ValueError, TypeError, OverflowError) as exc:
            self.problem(mark, Message.of(YAML_ERROR, problem=Message.of(
                N_("invalid {tag} {value} ({error})"), tag=tag.rsplit(":", 1)[-1],
                value=repr(text), error=exc)))
        return text

    def start(self, event: yaml.CollectionStartEvent) -> None:
        mark = _event_mark(event)
        if len(self.stack) >= MAX_DEPTH:
            self.problem(mark, Message.of(YAML_ERROR, problem=Message.of(
                N_("nested deeper than {n} levels"), n=MAX_DEPTH)))
            raise _TooDeep
        if event.tag not in _DEFAULT_TAGS:
            self.problem(mark, Message.of(YAML_ERROR, problem=Message.of(
                N_("tag {tag} is not supported here"), tag=repr(event.tag))))
        container: PosDict | PosList
        container = PosDict() if type(event) is yaml.MappingStartEvent else PosList()
        container.mark = mark
        if event.anchor is not None:
            self.anchors[event.anchor] = container
        self.stack.append(_Frame(container))

    def end(self) -> None:
        frame = self.stack.pop()
        container = frame.container
        if isinstance(container, PosDict):
            self.merge(container, frame.merges)
        self.add(container, container.mark)

    def alias(self, event: yaml.AliasEvent) -> None:
        mark = _event_mark(event)
        if event.anchor not in self.anchors:
            self.problem(mark, Message.of(YAML_ERROR, problem=Message.of(
                N_("unknown alias '*{anchor}'"), anchor=event.anchor)))
            self.add(None, mark)
            return
        target = self.anchors[event.anchor]
        if any(frame.container is target for frame in self.stack):
            self.problem(mark, Message.of(YAML_ERROR, problem=Message.of(
                N_("alias '*{anchor}' refers to a mapping or list that contains it"),
                anchor=event.anchor)))
            target = None
        self.add(target, mark)

    def add(self, value: Any, mark: Mark) -> None:
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        container = frame.container
        if isinstance(container, PosList):
            container.append("<<" if value is _MERGE else value)
            container.marks.append(mark)
        elif frame.key is _NO_KEY:
            frame.key = value if isinstance(value, str | _MergeKey) else str(value)
            frame.key_mark = mark
        else:
            self.set_item(frame, "<<" if value is _MERGE else value, mark)
            frame.key = _NO_KEY

    def set_item(self, frame: _Frame, value: Any, mark: Mark) -> None:
        container = frame.container
        assert isinstance(container, PosDict)
        key = frame.key
        if key is _MERGE:
            frame.merges.append((value, mark))
        elif key in container:
            first = container.key_marks[key]
            self.problem(frame.key_mark, Message.of(
                N_("duplicate key '{key}' (first at line {line})"), key=key, line=first[0]))
        else:
            container[key] = value
            container.key_marks[key] = frame.key_mark
            container.value_marks[key] = mark

    def merge(self, target: PosDict, merges: list[tuple[Any, Mark]]) -> None:
        """Apply ``<<: *a`` / ``<<: [*a, *b]``: explicit keys win, then earlier sources."""
        for value, mark in merges:
            sources = list(value) if isinstance(value, PosList) else [value]
            for source in sources:
                if not isinstance(source, PosDict):
                    self.problem(mark, "YAML error: '<<' merges mappings only")
                    continue
                for key, item in source.items():
                    if key not in target:
                        target[key] = item
                        target.key_marks[key] = source.key_marks[key]
                        target.value_marks[key] = source.value_marks[key]


def decode(data: bytes, path: str) -> str:
    """UTF-8 text of a file (BOM allowed), or an InputError at the first bad byte."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = data[: exc.start]
        line = before.count(b"\n") + 1
        col = exc.start - (before.rfind(b"\n") + 1) + 1
        raise InputError([Problem(path, line, col,
                                  Message.of(N_("file is not valid UTF-8 (byte 0x{byte}); "
                                                "save it as UTF-8"),
                                             byte=f"{data[exc.start]:02x}"))]) from None


INPUTS = (N_("inventory"), N_("faults file"), N_("meetings"), N_("template"))
"""What ``read_input`` calls the files it reads (said in the operator's language)."""


def read_input(path: Path, what: str) -> bytes:
    """The bytes of an input file, or one InputError line ``PATH: cannot read WHAT: why``
    (the inventory, a faults file, a push template, a meetings file)."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(Message.of(N_("{path}: cannot read {what}: {error}"), path=path,
                                    what=Message(what) if what in INPUTS else what,
                                    error=exc.strerror or exc)) from None


class _LibyamlTooDeep(Exception):
    pass


def load(text: str, path: str) -> Any:
    """Parse one YAML document into PosDict/PosList/scalars; raise InputError on problems."""
    try:
        return _load(text, path, _Loader)
    except _LibyamlTooDeep:
        # The libyaml of recent PyYAML wheels (6.0.4) refuses more than 1000 levels while it scans
        # ahead, before we see the events; the Python parser hands them over one by one,
        # so our own limit and message apply whichever PyYAML is installed.
        return _load(text, path, yaml.SafeLoader)


def _load(text: str, path: str, loader_class: Any) -> Any:
    builder = _EventBuilder(path)
    loader = loader_class(text)
    try:
        value = builder.run(loader)
    except _TooDeep:
        value = None
    except yaml.MarkedYAMLError as exc:
        if loader_class is not yaml.SafeLoader and "nesting depth" in str(exc.problem):
            raise _LibyamlTooDeep from None
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        what = exc.problem or exc.context or "invalid YAML"
        start = exc.context_mark
        if exc.problem and exc.context and start is not None and (
                mark is None or (start.line, start.column) != (mark.line, mark.column)):
            what += f" {exc.context} (line {start.line + 1}, column {start.column + 1})"
        raise InputError([*builder.problems,
                          Problem(path, line, col, Message.of(
                              N_("YAML syntax error: {problem}"), problem=what))]) from None
    except yaml.reader.ReaderError as exc:
        raise InputError([*builder.problems, _reader_problem(exc, text, path)]) from None
    except yaml.YAMLError as exc:
        raise InputError([*builder.problems, Problem(path, 1, 1, Message.of(
            YAML_ERROR, problem=exc))]) from None
    finally:
        loader.dispose()
    if builder.problems:
        raise InputError(builder.problems)
    return value


def _reader_problem(exc: yaml.reader.ReaderError, text: str, path: str) -> Problem:
    """Locate a character the YAML reader refuses (libyaml counts UTF-8 bytes)."""
    if _Loader is yaml.SafeLoader:
        before = text[: exc.position]
    else:
        before = text.encode("utf-8")[: exc.position].decode("utf-8", "ignore")
    line = before.count("\n") + 1
    col = len(before) - (before.rfind("\n") + 1) + 1
    char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
    reason = Message(exc.reason) if exc.reason in READER_REASONS else exc.reason
    return Problem(path, line, col, Message.of(
        N_("YAML syntax error: character U+{code} is not allowed ({reason})"),
        code=f"{char:04X}", reason=reason))


READER_REASONS = (N_("control characters are not allowed"),
                  N_("special characters are not allowed"))
"""What the YAML readers (libyaml, PyYAML) say of a refused character, translated."""
