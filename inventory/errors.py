"""Errors that carry where in a file they were found, and what they say as a template.

The loaders write their messages in English (tests and ``--lang en`` read them so);
a message built with ``Message.of`` also keeps its template (a gettext message id
marked with ``N_``) and its arguments, so that the CLI, which knows the operator's
language, can say it again in that language (``Message.translated``).  The inventory
and the simulator may not import ``vcfleet`` (the import layers): ``N_`` here is their
marker, extracted into vcfleet's catalog (babel.cfg).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Self

Translate = Callable[[str], str]
"""A gettext function: a message id to its text in the current language."""


def N_(message: str) -> str:
    """Marks ``message`` (a ``{name}`` template) for translation without translating it."""
    return message


class Message(str):
    """An English message that can be said again in another language."""

    msgid: str
    args: dict[str, str]

    def __new__(cls, text: str, msgid: str | None = None,
                args: dict[str, str] | None = None) -> Message:
        """Use ``Message.of``; this signature is what pickle and ``str`` need."""
        self = super().__new__(cls, text)
        self.msgid = text if msgid is None else msgid
        self.args = dict(args or {})
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.msgid, self.args))

    @classmethod
    def of(cls, msgid: str, **args: object) -> Self:
        """The message ``msgid`` (a ``{name}`` template marked with ``N_``) with ``args``;
        an argument that is itself a ``Message`` is translated with it, any other is
        said as it is (names, keys, values, paths)."""
        strs = {k: v if isinstance(v, str) else str(v) for k, v in args.items()}
        return cls(msgid.format(**strs), msgid, strs)

    def translated(self, translate: Translate) -> str:
        """This message in the language of ``translate``; English if the translation
        is broken (another placeholder than the template's)."""
        args = {k: translated(v, translate) for k, v in self.args.items()}
        try:
            return translate(self.msgid).format(**args)
        except (KeyError, IndexError, ValueError):
            return str(self)


def translated(text: str, translate: Translate) -> str:
    """``text`` in the language of ``translate`` if it is a ``Message``, else as it is."""
    return text.translated(translate) if isinstance(text, Message) else text


LABELLED = N_("{label}: {problem}")
"""A problem of one named thing: ``endpoint 'hub': name: ...``."""


def labelled(label: str, problem: str) -> str:
    """``LABEL: PROBLEM`` (each a ``Message`` or plain text)."""
    return Message.of(LABELLED, label=label, problem=problem)


def endpoint_label(endpoint_id: object) -> str:
    """``endpoint 'ID'``, the label of an endpoint's problems."""
    return Message.of(N_("endpoint '{id}'"), id=endpoint_id)


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in an input file, printed as ``PATH:LINE:COL: message``."""

    path: str
    line: int
    col: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}: {self.message}"

    def translated(self, translate: Translate) -> str:
        """The line in the language of ``translate``; the location as it is."""
        return f"{self.path}:{self.line}:{self.col}: {translated(self.message, translate)}"


class InputError(Exception):
    """Bad input: one or more problems, each with its location.

    Commands print each problem on its own line to stderr and exit with code 2.
    """

    def __init__(self, problems: Iterable[Problem] | str) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            self.text = problems
        else:
            self.problems = sorted(set(problems))
            self.text = "\n".join(str(p) for p in self.problems)
        super().__init__(self.text)

    def lines(self, translate: Translate | None = None) -> list[str]:
        """The error as the lines a command prints (in the language of ``translate``,
        else in English)."""
        if translate is None:
            return self.text.splitlines()
        if self.problems:
            return [line for p in self.problems for line in p.translated(translate).splitlines()]
        return translated(self.text, translate).splitlines()
