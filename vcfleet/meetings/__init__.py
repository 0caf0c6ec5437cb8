"""Meetings: the meeting, not the fleet, as the unit of work (docs/meetings.md).

A meetings file names each meeting's rooms and when to check them; ``vcfleet meeting``
checks and reports on one meeting, ``vcfleet serve --meetings`` checks them on
schedule, and the history keeps each check with its meeting id so that the next one
can say what changed.
"""

from vcfleet.meetings.loader import (
    Meetings,
    default_meetings_path,
    load_meetings,
    meetings_path,
    parse_meetings,
)
from vcfleet.meetings.model import Meeting, Organiser, parse_duration

__all__ = [
    "Meeting",
    "Meetings",
    "Organiser",
    "default_meetings_path",
    "load_meetings",
    "meetings_path",
    "parse_duration",
    "parse_meetings",
]
