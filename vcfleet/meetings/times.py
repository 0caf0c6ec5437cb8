"""Meeting times as people read them: in the meeting's own UTC offset, with a countdown."""

from __future__ import annotations

from datetime import datetime

from vcfleet.i18n import _
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


def countdown_text(meeting: Meeting, now: datetime) -> str:
    """``countdown`` in the current language, for people (``countdown`` itself stays
    English: the meetings JSON carries it)."""
    if meeting.is_past(now):
        return _("ended")
    if now >= meeting.start:
        return _("in progress (ends {time})").format(time=f"{meeting.local(meeting.end):%H:%M}")
    left = int((meeting.start - now).total_seconds())
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return _("in {days} d {hours} h").format(days=days, hours=hours)
    if hours:
        return _("in {hours} h {minutes} min").format(hours=hours, minutes=minutes)
    return _("in {minutes} min").format(minutes=minutes) if minutes else \
        _("in {seconds} s").format(seconds=seconds)
