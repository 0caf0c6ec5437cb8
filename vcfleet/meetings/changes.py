"""What changed between two checks of a meeting: rooms newly down or degraded, rooms
recovered, each with the time the later check saw it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from vcfleet.history import HistoryEntry, MeetingCheck
from vcfleet.report import SweepReport, Verdict

KINDS = ("newly_down", "newly_degraded", "recovered")
"""The kinds of change, in the order reports show them."""


@dataclass(frozen=True)
class Change:
    """One room whose verdict changed between two checks."""

    endpoint_id: str
    kind: str
    """One of KINDS."""
    was: Verdict
    now: Verdict
    at: float
    """When the later check saw the room so (epoch seconds)."""
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Changes:
    """The changes since the previous check (``since`` None: this is the first one)."""

    since: float | None
    changes: tuple[Change, ...] = ()

    def of(self, kind: str) -> list[Change]:
        """The changes of one kind."""
        return [c for c in self.changes if c.kind == kind]

    def to_json(self, names: Mapping[str, str], tz: tzinfo) -> dict[str, Any]:
        """The ``changes`` entry of a meeting check's JSON; times in the meeting's offset."""
        out: dict[str, Any] = {"since": None if self.since is None else iso(self.since, tz)}
        for kind in KINDS:
            out[kind] = [{"id": c.endpoint_id, "name": names.get(c.endpoint_id, c.endpoint_id),
                          "at": iso(c.at, tz), "was": c.was.value, "now": c.now.value,
                          "reasons": list(c.reasons)} for c in self.of(kind)]
        return out


def iso(epoch: float, tz: tzinfo) -> str:
    """Epoch seconds as ISO 8601 in the given offset, to the second."""
    return datetime.fromtimestamp(epoch, tz).isoformat(timespec="seconds")


def check_of(report: SweepReport, sweep_id: int = 0) -> MeetingCheck:
    """A sweep report as the history would give it back (rooms not checked left out)."""
    results = {r.endpoint.id: HistoryEntry(r.finished_at or report.finished_at, r.verdict,
                                           r.reasons, {}, report.source)
               for r in report.endpoints if r.verdict is not Verdict.UNKNOWN}
    return MeetingCheck(sweep_id, report.started_at, report.duration_s, results)


def kind_of(was: Verdict, now: Verdict) -> str | None:
    """Which change going from ``was`` to ``now`` is (None: none worth telling)."""
    if now is Verdict.DOWN and was is not Verdict.DOWN:
        return "newly_down"
    if now is Verdict.DEGRADED and was in (Verdict.READY, Verdict.DOWN):
        return "newly_degraded"
    if now is Verdict.READY and was in (Verdict.DOWN, Verdict.DEGRADED):
        return "recovered"
    return None


def changes_between(previous: MeetingCheck | None, current: MeetingCheck) -> Changes:
    """The changes from ``previous`` to ``current``.  A room checked in only one of them
    (it joined the meeting, or could not be checked) has no change."""
    if previous is None:
        return Changes(None)
    found = []
    for eid, entry in current.results.items():
        before = previous.results.get(eid)
        kind = None if before is None else kind_of(before.verdict, entry.verdict)
        if before is not None and kind is not None:
            found.append(Change(eid, kind, before.verdict, entry.verdict, entry.at,
                                entry.reasons))
    return Changes(previous.finished_at, tuple(found))
