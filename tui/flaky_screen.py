"""Rooms that fail often: every room down or degraded in the last 7 days, most
failures first, from the history store; ``enter`` opens one, ``escape`` goes back."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable, Static

from tui.console_screen import ConsoleFooter, ConsoleScreen
from tui.endpoint_table import short_unit
from tui.verdicts import heading, verdict_text, verdict_width
from vcfleet.history import FlakyEndpoint
from vcfleet.i18n import N_, _
from vcfleet.render.readiness import FAILURE_WINDOW_S, failed_of, flaky_title, format_time
from vcfleet.render.verdicts import look
from vcfleet.report import Verdict
from vcfleet.safe_text import safe_line

FLAKY_LIMIT = 50
"""Rooms listed at most."""
WINDOW_DAYS = f"{FAILURE_WINDOW_S / 86400:g}"
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("verdict", N_("Verdict now"), 13),
    ("name", N_("Name"), 40),
    ("unit", N_("Unit"), 22),
    ("failed", N_("Failed"), 9),
    ("down", look(Verdict.DOWN).msgid, 5),
    ("degraded", look(Verdict.DEGRADED).msgid, 8),
    ("last", N_("Last failure"), 25),
)
"""Key, heading (a message id; the verdict words are capitalised) and least width."""


class RoomTable(DataTable[Any]):
    """The rooms that failed, one row each; ``enter`` (shown in the footer) opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", N_("Details"))]


class FlakyScreen(ConsoleScreen):
    """The rooms that failed most often (``History.flaky``), read again each time the
    screen is shown, so a re-check from the details screen shows on return."""

    CSS_PATH = "flaky_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", N_("Back"))]

    @dataclass
    class Loaded(Message):
        """The rooms that failed since ``since`` (or why they could not be read)."""

        rooms: tuple[FlakyEndpoint, ...]
        since: float
        problem: str = ""

    def __init__(self, since: float | None = None) -> None:
        """``since``: count failures from then (epoch s); default: the last 7 days."""
        super().__init__()
        self.since = since

    def compose(self) -> ComposeResult:
        yield Static(flaky_title(), id="flaky-title")
        yield Static(_("Reading the history…"), id="flaky-status")
        yield RoomTable(id="flaky-rooms", cursor_type="row", zebra_stripes=True)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one(RoomTable)
        for key, msgid, least in COLUMNS:
            text, width = heading(msgid, verdict_width(least) if key == "verdict" else least)
            table.add_column(text[:1].upper() + text[1:], key=key, width=width)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, group="flaky", exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Read the rooms that failed most from the history store."""
        since = time.time() - FAILURE_WINDOW_S if self.since is None else self.since
        history = self.console.history
        if history is None:
            self.post_message(self.Loaded((), since, _(
                "History not available (started with --no-history, or the file could not "
                "be opened).")))
            return
        try:
            rooms = tuple(history.flaky(limit=FLAKY_LIMIT, since=since))
        except Exception as exc:
            self.post_message(self.Loaded((), since, _("History not readable: {problem}").format(
                problem=f"{type(exc).__name__}: {exc}")))
            return
        self.post_message(self.Loaded(rooms, since))

    @on(Loaded)
    def _loaded(self, message: Loaded) -> None:
        self.query_one("#flaky-status", Static).update(self._status(message))
        table = self.query_one(RoomTable)
        chosen = self.current_room()
        table.clear()
        for room in message.rooms:
            table.add_row(*self._cells(room), key=room.endpoint_id)
        if chosen is not None and chosen in table.rows:
            table.move_cursor(row=table.get_row_index(chosen))

    def current_room(self) -> str | None:
        """The id of the room under the cursor (None when the list is empty)."""
        table = self.query_one(RoomTable)
        if not table.row_count:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def _status(self, message: Loaded) -> str:
        if message.problem:
            return message.problem
        if not message.rooms:
            return _("No room failed in the last {days} days.").format(days=WINDOW_DAYS)
        since = format_time(message.since, self.console.tz)
        text = _("The {n} rooms that failed most since {time}, most failures first.  "
                 "enter: details of the room") if len(message.rooms) == FLAKY_LIMIT else _(
            "{n} rooms were down or degraded at least once since {time}, most failures "
            "first.  enter: details of the room")
        return text.format(n=len(message.rooms), time=since)

    def _cells(self, room: FlakyEndpoint) -> tuple[object, ...]:
        inventory = self.console.inventory
        result = self.console.results.get(room.endpoint_id)
        verdict = verdict_text(result.verdict if result else Verdict.UNKNOWN)
        if room.endpoint_id in inventory:
            e = inventory.get(room.endpoint_id)
            name = Text(safe_line(e.name), overflow="ellipsis")
            unit = Text(safe_line(short_unit(inventory, e)), overflow="ellipsis")
        else:
            name = Text(_("{id} (not in the inventory)").format(id=room.endpoint_id), "dim")
            unit = Text()
        return (verdict, name, unit, Text(failed_of(room), justify="right"),
                Text(str(room.down), justify="right"), Text(str(room.degraded), justify="right"),
                format_time(room.last_failure, self.console.tz))

    @on(DataTable.RowSelected)
    def _room_chosen(self, message: DataTable.RowSelected) -> None:
        endpoint_id = str(message.row_key.value)
        if endpoint_id in self.console.inventory:
            self.console.show_details(endpoint_id)
        else:
            self.notify(_("{id} is no longer in the inventory").format(id=endpoint_id),
                        severity="warning", markup=False)

    def action_back(self) -> None:
        """Back to the fleet."""
        self.dismiss()
