"""Selectors: which endpoints a command acts on.

Grammar (``docs/selectors.md``): space-separated terms are ANDed; comma-separated
values inside a term are ORed; a leading ``!`` negates a term.  Values are
shell-style globs; ``name`` matches case- and accent-insensitively, so
``name=*ha son*`` finds "UBND xã Hà Sơn".  Quote a term that holds spaces.

    tier=commune district=ha-trung,nga-son !tag=maintenance
"""

from __future__ import annotations

import fnmatch
import shlex
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from inventory.errors import N_, InputError, Message
from inventory.model import Endpoint


class Tree(Protocol):
    """What ``under=`` needs of a fleet: the units above an endpoint (an Inventory is one).

    A Protocol rather than the Inventory class itself, so that the loader may
    import selectors without selectors importing the loader back.
    """

    def ancestors(self, endpoint: Endpoint) -> list[Endpoint]:
        """The units above an endpoint, nearest first."""
        ...


def fold(text: str) -> str:
    """Lower-case, accent-free form of a Vietnamese text ("Hà Sơn" -> "ha son")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def _values(e: Endpoint, key: str, inv: Tree | None) -> list[str]:
    if key == "tag":
        return list(e.tags)
    if key == "name":
        return [fold(e.name)]
    if key == "under":
        return [e.id] + ([a.id for a in inv.ancestors(e)] if inv is not None else [])
    if key == "maintenance":
        return ["true" if e.maintenance else "false"]
    value = getattr(e, key)
    return [] if value is None else [str(value)]


KEYS: dict[str, str] = {
    "id": "endpoint id",
    "tier": "tier (province, department, district, commune, ...)",
    "district": "district-level unit slug",
    "vendor": "cisco_ce, poly or yealink",
    "tag": "any of the endpoint's tags",
    "name": "name, case- and accent-insensitive",
    "parent": "id of the unit directly above",
    "under": "the endpoint itself or any unit above it",
    "profile": "check profile name",
    "maintenance": "true or false",
}


@dataclass(frozen=True)
class Term:
    """One ``key=v1,v2`` term, possibly negated."""

    key: str
    patterns: tuple[str, ...]
    negate: bool

    def matches(self, endpoint: Endpoint, inv: Tree | None) -> bool:
        values = _values(endpoint, self.key, inv)
        hit = any(fnmatch.fnmatchcase(v, p) for v in values for p in self.patterns)
        return hit != self.negate


@dataclass(frozen=True)
class Selector:
    """A parsed selector; the empty selector matches every endpoint."""

    terms: tuple[Term, ...]
    text: str = ""

    @classmethod
    def parse(cls, text: str | None) -> Selector:
        """Parse selector text; InputError (one line) when it is invalid."""
        if not text or not text.strip():
            return cls((), "")
        try:
            words = shlex.split(text)
        except ValueError:  # shlex's only complaint: a quote left open
            raise InputError(Message.of(INVALID, selector=repr(text), why=Message.of(
                N_("a quote is not closed")))) from None
        return cls(tuple(_parse_term(w, text) for w in words), text)

    def matches(self, endpoint: Endpoint, inv: Tree | None = None) -> bool:
        """True when every term matches the endpoint."""
        return all(t.matches(endpoint, inv) for t in self.terms)

    def __str__(self) -> str:
        return self.text


INVALID = N_("invalid selector {selector}: {why}")


def _parse_term(word: str, text: str) -> Term:
    def fail(why: str) -> InputError:
        return InputError(Message.of(INVALID, selector=repr(text), why=why))

    negate = word.startswith("!")
    body = word[1:] if negate else word
    key, eq, raw = body.partition("=")
    if not eq:
        raise fail(Message.of(N_("term {term} is not KEY=VALUE (keys: {keys})"),
                              term=repr(word), keys=", ".join(KEYS)))
    if not key:
        raise fail(Message.of(N_("term {term} has no key before '=' (keys: {keys})"),
                              term=repr(word), keys=", ".join(KEYS)))
    if key not in KEYS:
        raise fail(Message.of(N_("unknown key {key} (keys: {keys})"), key=repr(key),
                              keys=", ".join(KEYS)))
    values = raw.split(",")
    if not raw or any(not v for v in values):
        raise fail(Message.of(N_("term {term} has an empty value"), term=repr(word)))
    norm: Callable[[str], str] = fold if key == "name" else (lambda v: v)
    return Term(key, tuple(norm(v) for v in values), negate)
