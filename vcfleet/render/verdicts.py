"""The one table of how a verdict is shown: its word, its symbol, its style, and the
one order in which rooms are listed.

Every output format (table, CSV, JSON, Markdown, HTML), the progress bar and the
console read this table; none spells a verdict word, symbol or order itself.  The
words are the operator's (issue 19 translates them here, in one place); the
machine value of a verdict (``Verdict.value``: "unknown") stays in the sweep JSON,
the CSV and the metrics.

The order, worst first, is **down, unknown, degraded, ready** — the precedence of
``vcfleet.report.judge``: a room with a failed required check is down whatever
else is found; otherwise a room with a check that could not be run is unknown even
if other figures are poor, because nobody knows whether it will work; a degraded
room works, with reduced quality.  So before a meeting the operator reads the rooms
that will not work, then the rooms nobody could check, then the rooms that will
work badly.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from vcfleet.i18n import N_, _, language, vi_sort_key
from vcfleet.report import EndpointReport, Verdict


@dataclass(frozen=True)
class VerdictLook:
    """How one verdict reads to the operator."""

    msgid: str
    """The operator's word in English ("not checked" for ``Verdict.UNKNOWN``), the
    gettext message id of ``word``."""
    symbol: str
    """A symbol, so that a report reads without colour."""
    style: str
    """The console's rich style (colour), always shown with the symbol."""

    @property
    def word(self) -> str:
        """The operator's word in the current language (docs/language.md)."""
        return _(self.msgid)

    @property
    def label(self) -> str:
        """Symbol and word: ``✖ down``."""
        return f"{self.symbol} {self.word}"


LOOKS: dict[Verdict, VerdictLook] = {
    Verdict.READY: VerdictLook(N_("ready"), "✔", "bold green"),
    Verdict.DEGRADED: VerdictLook(N_("degraded"), "▲", "bold yellow"),
    Verdict.DOWN: VerdictLook(N_("down"), "✖", "bold red"),
    Verdict.UNKNOWN: VerdictLook(N_("not checked"), "…", "dim"),
}

WORST_FIRST: tuple[Verdict, ...] = (Verdict.DOWN, Verdict.UNKNOWN, Verdict.DEGRADED,
                                    Verdict.READY)
"""The order rooms are listed in everywhere (see the module docstring for why)."""

COUNT_ORDER: tuple[Verdict, ...] = (Verdict.READY, Verdict.DEGRADED, Verdict.DOWN,
                                    Verdict.UNKNOWN)
"""The order of the counts in a summary ("12 ready, 3 degraded, 1 down, 2 not checked"):
that of the sweep JSON's ``summary``, unknown last because it is shown only when > 0."""

RANK: dict[Verdict, int] = {v: i for i, v in enumerate(WORST_FIRST)}
"""A verdict's place in ``WORST_FIRST``: a sort key."""


def look(verdict: Verdict) -> VerdictLook:
    """The word, symbol and style of a verdict."""
    return LOOKS[verdict]


def word(verdict: Verdict) -> str:
    """The operator's word for a verdict."""
    return LOOKS[verdict].word


def symbol(verdict: Verdict) -> str:
    """The symbol of a verdict."""
    return LOOKS[verdict].symbol


def label(verdict: Verdict) -> str:
    """Symbol and word of a verdict: ``▲ degraded``."""
    return LOOKS[verdict].label


def worst_first(reports: Iterable[EndpointReport]) -> list[EndpointReport]:
    """Rooms sorted by ``WORST_FIRST`` (a stable sort: the sweep's order within a verdict)."""
    return sorted(reports, key=lambda r: RANK[r.verdict])


def worst_first_by_name(reports: Iterable[EndpointReport]) -> list[EndpointReport]:
    """Rooms for people to read: by ``WORST_FIRST``, and within a verdict by name in
    Vietnamese order when speaking Vietnamese (the sweep's order in English, as before)."""
    if language() != "vi":
        return worst_first(reports)
    return sorted(reports, key=lambda r: (RANK[r.verdict], vi_sort_key(r.endpoint.name)))


def not_ready(reports: Iterable[EndpointReport]) -> list[EndpointReport]:
    """The rooms that are not ready, worst first (in Vietnamese, by name within a verdict)."""
    return worst_first_by_name(r for r in reports if r.verdict is not Verdict.READY)
