"""One check of one meeting: a sweep of exactly its rooms, recorded in the history with
the meeting's id, and what changed since the meeting's previous check."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from inventory import Endpoint, InputError, Inventory
from vcfleet.history import History, MeetingCheck
from vcfleet.meetings.changes import Changes, changes_between, check_of, iso
from vcfleet.meetings.model import Meeting
from vcfleet.report import SweepReport
from vcfleet.sweep import EventHandler, SweepOptions, parse_checks, run_sweep

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MeetingResult:
    """A meeting's check: the sweep's report and the changes since the previous check."""

    meeting: Meeting
    report: SweepReport
    changes: Changes

    def to_json(self) -> dict[str, Any]:
        """The sweep JSON plus ``meeting {id, title, start}`` and ``changes``."""
        out = self.report.to_json()
        tz = self.meeting.start.tzinfo
        assert tz is not None
        out["meeting"] = meeting_json(self.meeting)
        out["changes"] = self.changes.to_json(
            {r.endpoint.id: r.endpoint.name for r in self.report.endpoints}, tz)
        out["checked_at"] = iso(self.report.started_at, tz)
        return out


def meeting_json(meeting: Meeting) -> dict[str, Any]:
    """``{id, title, start}`` (start in the meeting's own offset) and the rest people read."""
    return {"id": meeting.id, "title": meeting.title,
            "start": meeting.start.isoformat(timespec="seconds"),
            "end": meeting.end.isoformat(timespec="seconds"),
            "organiser": {"name": meeting.organiser.name, "phone": meeting.organiser.phone}}


def refuse_past(meeting: Meeting, now: datetime | None = None) -> None:
    """InputError when the meeting has ended: past meetings are kept, never swept."""
    now = now or datetime.now(UTC)
    if meeting.is_past(now):
        from vcfleet.meetings.times import local_time

        raise InputError(f"meeting '{meeting.id}' ended at {local_time(meeting, meeting.end)}: "
                         "past meetings are kept "
                         "for the history and never swept")


def meeting_options(meeting: Meeting, base: SweepOptions) -> SweepOptions:
    """The sweep options of a meeting check: its checks (else the base's), its selector."""
    checks = parse_checks(meeting.checks) if meeting.checks else base.checks
    return replace(base, checks=checks, selector=meeting.rooms, source="meeting")


async def check_meeting(inventory: Inventory, meeting: Meeting, rooms: Sequence[Endpoint],
                        options: SweepOptions, history: History | None,
                        on_event: EventHandler | None = None) -> MeetingResult:
    """Sweep the meeting's rooms, record the sweep under the meeting's id, and compare it
    with the meeting's previous check (from ``history``; None: no comparison)."""
    report = await run_sweep(inventory, rooms, meeting_options(meeting, options), on_event)
    previous = record(history, meeting, report) if history is not None else None
    return MeetingResult(meeting, report, changes_between(previous, check_of(report)))


def record(history: History, meeting: Meeting, report: SweepReport) -> MeetingCheck | None:
    """Store a meeting's check; its previous check (None: the first, or the store failed)."""
    try:
        previous = history.meeting_checks(meeting.id, limit=1)
        history.record(report, meeting=meeting.id)
    except (OSError, sqlite3.Error) as exc:
        log.warning("check of meeting %s not recorded in the history: %s", meeting.id, exc)
        return None
    return previous[0] if previous else None


def last_changes(history: History, meeting_id: str) -> tuple[MeetingCheck | None, Changes]:
    """The meeting's latest recorded check and what changed since the one before it."""
    checks = history.meeting_checks(meeting_id, limit=2)
    if not checks:
        return None, Changes(None)
    return checks[0], changes_between(checks[1] if len(checks) > 1 else None, checks[0])
