"""Load a meetings file, reporting every problem as ``PATH:LINE:COL: message``.

The YAML goes through the inventory's position-carrying loader and its error helpers,
so that a meetings file fails the way an inventory does.  Rooms are checked against
an inventory separately (``Meetings.rooms``), when a command has both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from inventory import Endpoint, InputError, Inventory, Problem, Selector
from inventory.errors import N_, Message, labelled

# The inventory's error helpers, imported here only (they are moving to their own module).
from inventory.yamlerrors import top_level_problems, validation_problems
from inventory.yamlpos import Mark, PosDict, PosList, decode, load, read_input
from vcfleet.meetings.model import Meeting

TOP_LEVEL_KEYS = ("meetings",)
ENV = "VCFLEET_MEETINGS"


@dataclass(frozen=True)
class Meetings:
    """The meetings of one file, in file order, with where each one was written."""

    meetings: tuple[Meeting, ...]
    path: str = ""
    marks: tuple[tuple[Mark, dict[str, Mark], list[Mark]], ...] = ()
    """Per meeting: its own mark, its keys' value marks, its extra rooms' marks."""

    def __iter__(self) -> Iterator[Meeting]:
        return iter(self.meetings)

    def __len__(self) -> int:
        return len(self.meetings)

    def get(self, meeting_id: str) -> Meeting:
        """The meeting with this id; InputError naming the known ones otherwise."""
        for m in self.meetings:
            if m.id == meeting_id:
                return m
        known = ", ".join(m.id for m in self.meetings) or Message.of(N_("none"))
        raise InputError(Message.of(N_("{path}: no meeting {meeting} (meetings: {known})"),
                                    path=self.path, meeting=repr(meeting_id), known=known))

    def upcoming(self, now: datetime) -> list[Meeting]:
        """Meetings not yet ended, soonest first."""
        return sorted((m for m in self.meetings if not m.is_past(now)), key=lambda m: m.start)

    def rooms(self, meeting: Meeting, inv: Inventory) -> list[Endpoint]:
        """The meeting's rooms in inventory order: the selector's, then the extra ones.

        InputError (at the file position) for an extra room not in the inventory, or a
        meeting that names no room of it.
        """
        index = self.meetings.index(meeting)
        own, keys, extra_marks = (self.marks[index] if index < len(self.marks)
                                  else ((1, 1), {}, []))
        chosen = inv.select(Selector.parse(meeting.rooms)) if meeting.rooms else []
        ids = {e.id for e in chosen}
        problems = []
        for i, room in enumerate(meeting.extra_rooms):
            if room not in inv:
                mark = extra_marks[i] if i < len(extra_marks) else own
                problems.append(Problem(self.path, *mark, labelled(_meeting(meeting.id), Message.of(
                    N_("extra room '{room}' is not in the inventory {inventory}"), room=room,
                    inventory=inv.path or Message.of(N_("given"))))))
            elif room not in ids:
                chosen.append(inv.get(room))
                ids.add(room)
        if problems:
            raise InputError(problems)
        if not chosen:
            mark = keys.get("rooms", own)
            raise InputError([Problem(self.path, *mark, labelled(_meeting(meeting.id), Message.of(
                N_("no room of the inventory {inventory} takes part (check 'rooms' and "
                   "'extra_rooms')"), inventory=inv.path or Message.of(N_("given")))))])
        order = {e.id: i for i, e in enumerate(inv.endpoints)}
        return sorted(chosen, key=lambda e: order.get(e.id, 0))


def _meeting(ident: str) -> str:
    """``meeting 'ID'``, the label of a meeting's problems."""
    return Message.of(N_("meeting '{id}'"), id=ident)


def default_meetings_path() -> Path | None:
    """``$VCFLEET_MEETINGS`` if set, else None (no meetings)."""
    env = os.environ.get(ENV)
    return Path(env) if env else None


def meetings_path(arg: str | os.PathLike[str] | None) -> Path:
    """The meetings file named by ``--meetings`` or ``$VCFLEET_MEETINGS``; InputError if
    neither names one."""
    path = Path(arg) if arg else default_meetings_path()
    if path is None:
        raise InputError(Message.of(N_("no meetings file: give --meetings PATH or set ${env} "
                                       "(see docs/meetings.md)"), env=ENV))
    return path


def load_meetings(path: str | os.PathLike[str]) -> Meetings:
    """Read and validate a meetings file; InputError lists every problem."""
    p = Path(path)
    return parse_meetings(read_input(p, "meetings"), str(p))


def parse_meetings(data: bytes | str, name: str) -> Meetings:
    """Validate meetings text; ``name`` is what messages call the file."""
    text = decode(data, name) if isinstance(data, bytes) else data
    if not text.strip() or all(not ln.strip() or ln.lstrip().startswith("#")
                               for ln in text.splitlines()):
        raise InputError([Problem(name, 1, 1, Message.of(N_(
            "file is empty: expected a mapping with 'meetings' (see docs/meetings.md)")))])
    return _Builder(name).build(load(text, name))


class _Builder:
    def __init__(self, name: str) -> None:
        self.name = name
        self.problems: list[Problem] = []

    def error(self, mark: Mark, message: str) -> None:
        self.problems.append(Problem(self.name, mark[0], mark[1], message))

    def build(self, doc: Any) -> Meetings:
        if not top_level_problems(doc, "meetings", TOP_LEVEL_KEYS, self.error):
            raise InputError(self.problems)
        items = doc.get("meetings", PosList())
        if not isinstance(items, PosList):
            self.error(doc.value_marks.get("meetings", doc.mark),
                       Message.of(N_("meetings: expected a list of meetings")))
            raise InputError(self.problems)
        meetings, marks = self.meetings(items)
        if self.problems:
            raise InputError(self.problems)
        return Meetings(tuple(meetings), self.name, tuple(marks))

    def meetings(self, items: PosList) -> tuple[list[Meeting], list[Any]]:
        meetings: list[Meeting] = []
        marks: list[Any] = []
        seen: dict[str, Mark] = {}
        for i, item in enumerate(items):
            mark = items.marks[i]
            if not isinstance(item, PosDict):
                self.error(mark, Message.of(
                    N_("{key}: expected a mapping with id, title, start"), key=f"meetings[{i}]"))
                continue
            ident = item.get("id")
            label = _meeting(ident) if isinstance(ident, str) else f"meetings[{i}]"
            try:
                meeting = Meeting.model_validate(dict(item))
            except ValidationError as exc:
                self.problems += validation_problems(exc, item, mark, Meeting, self.name, label)
                continue
            if meeting.id in seen:
                first = seen[meeting.id]
                self.error(item.value_marks["id"], Message.of(
                    N_("meeting '{id}' is defined twice (first at line {line})"),
                    id=meeting.id, line=first[0]))
                continue
            seen[meeting.id] = item.value_marks["id"]
            extra = item.get("extra_rooms")
            meetings.append(meeting)
            marks.append((mark, dict(item.value_marks),
                          list(extra.marks) if isinstance(extra, PosList) else []))
        return meetings, marks
