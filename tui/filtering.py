"""The filter box's language: selector terms plus free text, accent-insensitive.

``tier=commune district=ha-trung ha son`` keeps the communes of Hà Trung whose
name (or id) contains "ha son".  Words with ``=`` are selector terms
(``inventory.selectors``), plus the console-only key ``verdict`` (ready, degraded,
down, unknown); a leading ``!`` negates a term.  Every other word is free text,
matched as one phrase against the room's name (without accents) and its id.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from inventory import Endpoint, InputError, Inventory, Selector, fold
from vcfleet.i18n import _
from vcfleet.report import Verdict

VERDICT_ALIASES = {"unknown": Verdict.UNKNOWN, "not-checked": Verdict.UNKNOWN,
                   "ready": Verdict.READY, "degraded": Verdict.DEGRADED, "down": Verdict.DOWN}


@dataclass(frozen=True)
class Filter:
    """A parsed filter; the empty filter keeps every endpoint."""

    selector: Selector
    verdicts: frozenset[Verdict] | None
    """Verdicts to keep (None: any)."""
    phrase: str
    """Free text, folded (lower case, no accents)."""
    text: str = ""

    @classmethod
    def parse(cls, text: str) -> Filter:
        """Parse the filter box's text; ``InputError`` (one line) when a term is invalid."""
        try:
            words = shlex.split(text)
        except ValueError:
            words = text.split()
        terms = [w for w in words if "=" in w]
        free = [w for w in words if "=" not in w]
        verdicts: set[Verdict] | None = None
        others = []
        for term in terms:
            if term.lstrip("!").startswith("verdict="):
                verdicts = _verdicts(term) if verdicts is None else verdicts & _verdicts(term)
            else:
                others.append(term)
        selector = Selector.parse(" ".join(shlex.quote(t) for t in others))
        return cls(selector, None if verdicts is None else frozenset(verdicts),
                   fold(" ".join(free)), text)

    @property
    def empty(self) -> bool:
        """True when the filter keeps everything."""
        return not self.selector.terms and self.verdicts is None and not self.phrase

    def matches(self, endpoint: Endpoint, inventory: Inventory, verdict: Verdict) -> bool:
        """True when the endpoint (with its current verdict) passes the filter."""
        if self.verdicts is not None and verdict not in self.verdicts:
            return False
        if self.phrase and not _phrase_matches(self.phrase, endpoint):
            return False
        return self.selector.matches(endpoint, inventory)


def _phrase_matches(phrase: str, endpoint: Endpoint) -> bool:
    return (phrase in fold(endpoint.name) or phrase in endpoint.id
            or phrase in endpoint.id.replace("-", " "))


def _verdicts(term: str) -> set[Verdict]:
    negate = term.startswith("!")
    values = term.lstrip("!").partition("=")[2].split(",")
    chosen: set[Verdict] = set()
    for value in values:
        if value not in VERDICT_ALIASES:
            raise InputError(_("unknown verdict {value} (choose from ready, degraded, down, "
                               "unknown)").format(value=repr(value)))
        chosen.add(VERDICT_ALIASES[value])
    return set(Verdict) - chosen if negate else chosen
