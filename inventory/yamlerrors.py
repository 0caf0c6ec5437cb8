"""Positioned YAML errors: a pydantic ValidationError on a yamlpos document as PATH:LINE:COL.

The inventory, the faults file and push templates are all YAML read with
``yamlpos.load`` (every mapping a PosDict, every list a PosList, each value
with its mark) and validated by pydantic models with ``extra="forbid"``.  This
module follows each error's location back through the document to the line and
column it came from and words it the same way for all three files.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticCustomError

from inventory.errors import N_, Message, Problem, labelled
from inventory.yamlpos import Mark, PosDict, PosList

COMPLETE = "complete_message"
"""Error type of ``complete``."""
PLAINTEXT_KEYS = ("password", "passwd", "pass", "secret_value")
"""Keys refused with a hint to use a secret reference instead."""


def top_level_problems(doc: Any, required: str, allowed: Sequence[str],
                       error: Callable[[Mark, str], None]) -> bool:
    """Report, through ``error``, a document that is not a mapping (then False: nothing
    else can be read) or each of its unknown top-level keys (True)."""
    if not isinstance(doc, PosDict):
        error(getattr(doc, "mark", (1, 1)),
              Message.of(N_("expected a mapping with '{key}' at the top of the file"),
                         key=required))
        return False
    for key in doc:
        if key not in allowed:
            error(doc.key_marks[key], Message.of(
                N_("unknown key '{key}' (allowed: {allowed})"), key=key,
                allowed=", ".join(allowed)))
    return True


def validation_problems(exc: ValidationError, data: Any, start: Mark, model: type[BaseModel],
                        name: str, label: str | None = None, prefix: str | None = None,
                        own_lines: tuple[int, int] | None = None) -> list[Problem]:
    """Every error of ``exc`` (validating ``data`` against ``model``) as a located Problem.

    ``name`` is what messages call the file, ``start`` the mark of ``data`` itself,
    ``label`` (``endpoint 'x'``) starts each message, ``prefix`` starts each dotted
    key.  With ``own_lines`` (first line, line after the last), an error whose value
    lies outside them (inherited from a group or the defaults) drops the label.
    """
    problems: list[Problem] = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        mark, path = locate(data, loc, start, err["type"])
        dotted = ".".join(p for p in ([prefix] if prefix else []) + path)
        inherited = own_lines is not None and not own_lines[0] <= mark[0] < own_lines[1]
        message = describe(err, dotted, None if inherited else label, model, path)
        problems.append(Problem(name, mark[0], mark[1], message))
    return problems


def locate(data: Any, loc: list[str], start: Mark, kind: str) -> tuple[Mark, list[str]]:
    """Follow a pydantic error location through PosDict/PosList; return its mark and path."""
    mark = start
    path: list[str] = []
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, PosDict) and part in node:
            at_key = loc[i + 1:] == ["[key]"]  # pydantic's location of a mapping key's error
            mark = node.key_marks[part] if (last and kind == "extra_forbidden") or at_key \
                else node.value_marks[part]
            node = node[part]
            path.append(part)
            if at_key:
                break
        elif isinstance(node, PosList) and part.isdigit() and int(part) < len(node):
            mark = node.marks[int(part)]
            node = node[int(part)]
            path.append(f"[{part}]")
        elif isinstance(node, PosDict | PosList):
            if last:
                path.append(part)
            else:
                continue  # a union tag such as 'SipService'
        else:
            break
    return mark, _join_indexes(path)


def _join_indexes(path: list[str]) -> list[str]:
    out: list[str] = []
    for p in path:
        if p.startswith("[") and out:
            out[-1] += p
        else:
            out.append(p)
    return out


def complete(message: str, keyed: bool = False) -> PydanticCustomError:
    """An error a validator raises whose message already says everything: ``describe``
    prints it as it is (after the label), without the dotted key.  With ``keyed``,
    ``{key}`` in it stands for the key of the value (a mapping value's validator
    does not know its key)."""
    return PydanticCustomError(COMPLETE, "{message}", {"message": message, "keyed": keyed})


def describe(err: Any, dotted: str, label: str | None, model: type[BaseModel],
             path: list[str]) -> str:
    """One clear message for a pydantic error (a ``Message``: English, and its template)."""
    problem = _problem(err, dotted, model, path)
    return labelled(label, problem) if label else problem


def _problem(err: Any, dotted: str, model: type[BaseModel], path: list[str]) -> str:
    kind = err["type"]
    value = shown(err.get("input"))
    key = path[-1] if path else ""
    if kind == COMPLETE:
        message = err["ctx"]["message"]
        if err["ctx"]["keyed"]:  # "{key}" in it stands for the key
            if isinstance(message, Message):
                return Message.of(message.msgid, **{**message.args, "key": key})
            return str(message).replace("{key}", key)
        return message if isinstance(message, str) else str(message)
    if kind == "extra_forbidden":
        if key.lower() in PLAINTEXT_KEYS:
            return Message.of(N_("plaintext password is not allowed: use 'secret:' with "
                                 "env:VAR, file:PATH, keyring:SERVICE/USER or agent"))
        allowed = allowed_keys(model, path[:-1])
        if allowed:
            return Message.of(N_("unknown key '{key}' (allowed: {allowed})"),
                              key=dotted, allowed=", ".join(allowed))
        return Message.of(N_("unknown key '{key}'"), key=dotted)
    if kind == "missing":
        return Message.of(N_("missing required field '{key}'"), key=dotted)
    if kind in ("greater_than_equal", "less_than_equal") and key == "port":
        return Message.of(N_("{key}: port must be between 1 and 65535, got {value}"),
                          key=dotted, value=value)
    if kind in EXPECTED:
        return Message.of(EXPECTED[kind], key=dotted, value=value)
    if kind in BOUNDS:  # the limit as pydantic writes it ("1", not "1.0")
        return Message.of(BOUNDS[kind], key=dotted, limit=str(err["msg"]).rsplit(" ", 1)[-1])
    if kind == "string_too_short" and err.get("ctx", {}).get("min_length") == 1:
        return Message.of(N_("{key}: must not be empty"), key=dotted)
    if kind == "string_pattern_mismatch":
        return Message.of(N_("{key}: {value} is not a valid slug "
                             "(lowercase letters, digits and '-')"), key=dotted, value=value)
    if kind == "literal_error":
        return Message.of(N_("{key}: {value} is not allowed; expected {expected}"),
                          key=dotted, value=value, expected=err["ctx"]["expected"])
    error = err.get("ctx", {}).get("error")
    if kind == "value_error" and isinstance(error, ValueError) and error.args \
            and isinstance(error.args[0], Message):
        return Message.of(KEYED, key=dotted, problem=error.args[0])  # a validator's own words
    msg = str(err["msg"]).removeprefix("Value error, ")
    return f"{dotted}: {msg[0].lower()}{msg[1:]}" if msg else f"{dotted}: invalid"


BOUNDS = {
    "greater_than": N_("{key}: input should be greater than {limit}"),
    "greater_than_equal": N_("{key}: input should be greater than or equal to {limit}"),
    "less_than": N_("{key}: input should be less than {limit}"),
    "less_than_equal": N_("{key}: input should be less than or equal to {limit}"),
}
"""pydantic's complaints about a value out of its bounds, in its English words."""

KEYED = N_("{key}: {problem}")
"""A problem of one key's value: ``name: control or bidi character ...``."""

EXPECTED = {
    **dict.fromkeys(("int_parsing", "int_type", "int_from_float"),
                    N_("{key}: expected an integer, got {value}")),
    **dict.fromkeys(("float_parsing", "float_type"), N_("{key}: expected a number, got {value}")),
    **dict.fromkeys(("bool_parsing", "bool_type"),
                    N_("{key}: expected true or false, got {value}")),
    "string_type": N_("{key}: expected a string, got {value}"),
    **dict.fromkeys(("model_type", "model_attributes_type", "dict_type"),
                    N_("{key}: expected a mapping, got {value}")),
    "list_type": N_("{key}: expected a list, got {value}"),
}
"""pydantic's wrong-type errors, in the loaders' words."""


class _Repr(reprlib.Repr):
    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, list) and type(x) is not list:
            return self.repr_list(x, level)  # PosList
        if isinstance(x, dict) and type(x) is not dict:
            return self.repr_dict(x, level)  # PosDict
        return super().repr1(x, level)


_REPR = _Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlevel = 80, 80, 3
_REPR.maxlist = _REPR.maxdict = 8


def shown(value: Any) -> str:
    """A value for a message: repr, shortened, safe on deeply nested input."""
    return _REPR.repr(value)


def allowed_keys(model: type[BaseModel], path: list[str]) -> list[str]:
    """The keys the model allows at ``path`` (for "unknown key" hints); [] if not a model."""
    current: Any = model
    for part in path:
        fields = getattr(current, "model_fields", None)
        if not fields or part.split("[")[0] not in fields:
            return []
        current = model_of(fields[part.split("[")[0]].annotation)
        if current is None:
            return []
    fields = getattr(current, "model_fields", None)
    return list(fields) if fields else []


def model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside a field's annotation (``Services | None`` -> Services)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = model_of(arg)
        if found is not None:
            return found
    return None
