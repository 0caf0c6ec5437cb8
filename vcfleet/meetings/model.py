"""A meeting as data: when it starts, which rooms take part, when to check them, whom
to tell.  Every model forbids unknown keys; defaults live in the models.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from inventory import InputError, Selector
from inventory.errors import N_, Message
from inventory.model import SLUG, Text

_DURATION = re.compile(r"^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
MOST_DURATION = timedelta(days=7)
"""The longest duration or check offset a meeting may name: a week."""
DEFAULT_CHECKS_BEFORE = ("60m", "15m")


NOT_A_DURATION = N_("expected a duration such as 2h, 15m or 100s, got {value}")


def parse_duration(value: object) -> object:
    """``2h``, ``90m``, ``1h30m``, ``100s`` or a number of seconds as a timedelta."""
    if isinstance(value, bool):
        raise ValueError(Message.of(NOT_A_DURATION, value=repr(value)))
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    if not isinstance(value, str):
        return value  # pydantic says what type it expected
    match = _DURATION.match(value.strip())
    if not value.strip() or match is None:
        raise ValueError(Message.of(NOT_A_DURATION, value=repr(value)))
    h, m, s = (int(g or 0) for g in match.groups())
    return timedelta(hours=h, minutes=m, seconds=s)


def _bounded(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError(Message.of(N_("must be longer than 0 s")))
    if value > MOST_DURATION:
        raise ValueError(Message.of(N_("must be at most 7 days")))
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), AfterValidator(_bounded)]
"""A duration as meetings files write it (``2h``, ``15m``, ``100s``)."""


def _has_offset(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(Message.of(N_("needs a UTC offset, e.g. 2026-12-01T14:00:00+07:00")))
    return value


def _not_blank(text: str) -> str:
    if not text.strip():
        raise ValueError(Message.of(N_("must not be empty")))
    return text


def _selector_valid(text: str) -> str:
    try:
        Selector.parse(text)
    except InputError as exc:
        raise ValueError(exc.text) from None  # a Message: said in the operator's language
    return text


def _checks_valid(text: str) -> str:
    from vcfleet.sweep import parse_checks  # the --checks words, from the kinds table

    try:
        parse_checks(text)
    except InputError as exc:
        raise ValueError(str(exc).replace(" in --checks", "")) from None
    return text


class Organiser(BaseModel):
    """Who organises the meeting: the person the report is for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Text = ""
    phone: Text = ""


class Meeting(BaseModel):
    """One meeting: its rooms (a selector plus extra room ids) and its scheduled checks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=SLUG, max_length=64)]
    """Stable slug: the key of the history and the metrics."""
    title: Annotated[Text, AfterValidator(_not_blank)]
    start: Annotated[datetime, AfterValidator(_has_offset)]
    """When it starts, with the UTC offset its times are shown in."""
    duration: Duration = timedelta(hours=2)
    rooms: Annotated[Text, AfterValidator(_selector_valid)] = ""
    """A selector (docs/selectors.md); empty: only ``extra_rooms``."""
    extra_rooms: list[Annotated[str, Field(pattern=SLUG)]] = []
    """Room ids taking part besides those the selector picks."""
    checks: Annotated[str, AfterValidator(_checks_valid)] = ""
    """Checks to run, as ``--checks`` (``net,webrtc``); empty: each room's profile."""
    checks_before: list[Duration] = Field(
        default_factory=lambda: [timedelta(minutes=60), timedelta(minutes=15)])
    """When ``vcfleet serve --meetings`` checks the rooms: this long before the start."""
    organiser: Organiser = Organiser()

    @field_validator("extra_rooms")
    @classmethod
    def _no_repeats(cls, value: list[str]) -> list[str]:
        seen = [v for i, v in enumerate(value) if v in value[:i]]
        if seen:
            raise ValueError(Message.of(N_("room {room} is listed twice"), room=repr(seen[0])))
        return value

    @property
    def end(self) -> datetime:
        """When the meeting ends."""
        return self.start + self.duration

    def is_past(self, now: datetime) -> bool:
        """True once the meeting has ended: kept for the history, never swept."""
        return now >= self.end

    def local(self, when: datetime) -> datetime:
        """A time in the meeting's own UTC offset."""
        return when.astimezone(self.start.tzinfo)

    def check_times(self) -> list[datetime]:
        """When the scheduled checks are due, earliest first."""
        return sorted({self.start - before for before in self.checks_before})


class MeetingsFile(BaseModel):
    """The whole meetings file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    meetings: list[Meeting] = []
