"""Meeting times as people read them: in the meeting's own UTC offset, with a countdown."""

from __future__ import annotations

from datetime import datetime

from vcfleet.meetings.model import Meeting


def countdown(meeting: Meeting, now: datetime) -> str:
    """"in 1 h 20 min", "in progress (ends 16:00)" or "ended"."""
    if meeting.is_past(now):
        return "ended"
    if now >= meeting.start:
        return f"in progress (ends {meeting.local(meeting.end):%H:%M})"
    left = int((meeting.start - now).total_seconds())
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"in {days} d {hours} h"
    if hours:
        return f"in {hours} h {minutes} min"
    return f"in {minutes} min" if minutes else f"in {seconds} s"


def local_time(meeting: Meeting, when: datetime | None = None) -> str:
    """A time as people read it, in the meeting's own offset: ``2026-12-01 14:00 +07:00``."""
    t = meeting.local(when or meeting.start)
    return f"{t:%Y-%m-%d %H:%M} {t.isoformat()[-6:]}"
