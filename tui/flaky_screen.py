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
from textual.widgets import DataTable, Footer, Static

from tui.console_screen import ConsoleScreen
from tui.endpoint_table import short_unit
from tui.verdicts import verdict_text
from vcfleet.history import FlakyEndpoint
from vcfleet.render.readiness import FAILURE_WINDOW_S, FLAKY_TITLE, failed_of, format_time
from vcfleet.render.verdicts import word
from vcfleet.report import Verdict
from vcfleet.safe_text import safe_line

FLAKY_LIMIT = 50
"""Rooms listed at most."""
WINDOW = f"the last {FAILURE_WINDOW_S / 86400:g} days"
COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("verdict", "Verdict now", 13),
    ("name", "Name", 40),
    ("unit", "Unit", 22),
    ("failed", "Failed", 9),
    ("down", word(Verdict.DOWN).capitalize(), 5),
    ("degraded", word(Verdict.DEGRADED).capitalize(), 8),
    ("last", "Last failure", 25),
)


class RoomTable(DataTable[Any]):
    """The rooms that failed, one row each; ``enter`` (shown in the footer) opens one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Details")]


class FlakyScreen(ConsoleScreen):
    """The rooms that failed most often (``History.flaky``), read again each time the
    screen is shown, so a re-check from the details screen shows on return."""

    CSS_PATH = "flaky_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

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
        yield Static(FLAKY_TITLE, id="flaky-title")
        yield Static("Reading the history…", id="flaky-status")
        yield RoomTable(id="flaky-rooms", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RoomTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        table.focus()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, group="flaky", exclusive=True, exit_on_error=False)
    def load(self) -> None:
        """Read the rooms that failed most from the history store."""
        since = time.time() - FAILURE_WINDOW_S if self.since is None else self.since
        history = self.console.history
        if history is None:
            self.post_message(self.Loaded((), since, "History not available (started with "
                                          "--no-history, or the file could not be opened)."))
            return
        try:
            rooms = tuple(history.flaky(limit=FLAKY_LIMIT, since=since))
        except Exception as exc:
            self.post_message(self.Loaded((), since, f"History not readable: "
                                          f"{type(exc).__name__}: {exc}"))
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
            return f"No room failed in {WINDOW}."
        since = format_time(message.since, self.console.tz)
        which = f"The {FLAKY_LIMIT} rooms that failed most" if len(message.rooms) == FLAKY_LIMIT \
            else f"{len(message.rooms)} rooms were down or degraded at least once"
        return f"{which} since {since}, most failures first.  enter: details of the room"

    def _cells(self, room: FlakyEndpoint) -> tuple[object, ...]:
        inventory = self.console.inventory
        result = self.console.results.get(room.endpoint_id)
        verdict = verdict_text(result.verdict if result else Verdict.UNKNOWN)
        if room.endpoint_id in inventory:
            e = inventory.get(room.endpoint_id)
            name, unit = Text(safe_line(e.name)), Text(safe_line(short_unit(inventory, e)))
        else:
            name, unit = Text(f"{room.endpoint_id} (not in the inventory)", "dim"), Text()
        return (verdict, name, unit, Text(failed_of(room), justify="right"),
                Text(str(room.down), justify="right"), Text(str(room.degraded), justify="right"),
                format_time(room.last_failure, self.console.tz))

    @on(DataTable.RowSelected)
    def _room_chosen(self, message: DataTable.RowSelected) -> None:
        endpoint_id = str(message.row_key.value)
        if endpoint_id in self.console.inventory:
            self.console.show_details(endpoint_id)
        else:
            self.notify(f"{endpoint_id} is no longer in the inventory", severity="warning",
                        markup=False)

    def action_back(self) -> None:
        """Back to the fleet."""
        self.dismiss()
