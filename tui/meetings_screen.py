"""The meetings view (``m``): upcoming meetings with a countdown; ``enter`` scopes the
console (table, header, sweeps, report) to the chosen meeting's rooms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer, Static

from inventory import InputError
from tui.console_screen import ConsoleScreen
from vcfleet.meetings.times import countdown, local_time
from vcfleet.safe_text import safe_line

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("start", "Start", 24),
    ("countdown", "Countdown", 24),
    ("rooms", "Rooms", 6),
    ("title", "Title", 50),
    ("id", "Id", 30),
)
REFRESH_S = 1.0
"""How often the countdowns are redrawn."""


class MeetingTable(DataTable[Any]):
    """One row per upcoming meeting; ``enter`` (shown in the footer) chooses one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Choose")]


class MeetingsScreen(ConsoleScreen):
    """Upcoming meetings, soonest first; meetings that have ended are not listed."""

    CSS_PATH = "meetings_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", "Back")]

    def compose(self) -> ComposeResult:
        yield Static("Meetings", id="meetings-title")
        yield Static("", id="meetings-status")
        yield MeetingTable(id="meetings", cursor_type="row", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(MeetingTable)
        for key, label, width in COLUMNS:
            table.add_column(label, key=key, width=width)
        self.fill()
        self.set_interval(REFRESH_S, self.tick)
        table.focus()

    def fill(self) -> None:
        """One row per upcoming meeting, with its room count in the inventory."""
        table = self.query_one(MeetingTable)
        status = self.query_one("#meetings-status", Static)
        meetings = self.console.meetings
        table.clear()
        if meetings is None:  # the app offers the view only with a meetings file
            return
        now = datetime.now(UTC)
        upcoming = meetings.upcoming(now)
        for m in upcoming:
            try:
                rooms = str(len(meetings.rooms(m, self.console.inventory)))
            except InputError:
                rooms = "?"
            table.add_row(local_time(m), countdown(m, now), Text(rooms, justify="right"),
                          Text(safe_line(m.title)), Text(m.id), key=m.id)
        status.update(Text(safe_line(
            f"{len(upcoming)} upcoming meetings in {meetings.path}.  enter: scope the console "
            "to the meeting's rooms" if upcoming else f"No upcoming meeting in {meetings.path}.")))

    def tick(self) -> None:
        """Redraw the countdowns."""
        meetings = self.console.meetings
        if meetings is None:
            return
        table = self.query_one(MeetingTable)
        now = datetime.now(UTC)
        for m in meetings.upcoming(now):
            if m.id in table.rows:
                table.update_cell(m.id, "countdown", countdown(m, now))

    @on(DataTable.RowSelected)
    def _meeting_chosen(self, message: DataTable.RowSelected) -> None:
        if self.console.choose_meeting(str(message.row_key.value)):
            self.dismiss()

    def action_back(self) -> None:
        """Back to the fleet."""
        self.dismiss()
