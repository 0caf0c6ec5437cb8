"""The meetings view (``m``): upcoming meetings with a countdown; ``enter`` scopes the
console (table, header, sweeps, report) to the chosen meeting's rooms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from inventory import InputError
from tui.console_screen import ConsoleFooter, ConsoleScreen
from tui.verdicts import heading
from vcfleet.i18n import N_, _
from vcfleet.meetings.times import countdown_text, local_time
from vcfleet.safe_text import safe_line

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("start", N_("Start"), 24),
    ("countdown", N_("Countdown"), 24),
    ("rooms", N_("Rooms"), 6),
    ("title", N_("Title"), 50),
    ("id", N_("Id"), 30),
)
REFRESH_S = 1.0
"""How often the countdowns are redrawn."""


class MeetingTable(DataTable[Any]):
    """One row per upcoming meeting; ``enter`` (shown in the footer) chooses one."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", N_("Choose"))]


class MeetingsScreen(ConsoleScreen):
    """Upcoming meetings, soonest first; meetings that have ended are not listed."""

    CSS_PATH = "meetings_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "back", N_("Back"))]

    def compose(self) -> ComposeResult:
        yield Static(_("Meetings"), id="meetings-title")
        yield Static("", id="meetings-status")
        yield MeetingTable(id="meetings", cursor_type="row", zebra_stripes=True)
        yield ConsoleFooter()

    def on_mount(self) -> None:
        table = self.query_one(MeetingTable)
        for key, label, width in COLUMNS:
            text, width = heading(label, width)
            table.add_column(text, key=key, width=width)
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
            table.add_row(local_time(m), countdown_text(m, now), Text(rooms, justify="right"),
                          Text(safe_line(m.title)), Text(m.id), key=m.id)
        text = _("{n} upcoming meetings in {path}.  enter: scope the console to the "
                 "meeting's rooms") if upcoming else _("No upcoming meeting in {path}.")
        status.update(Text(safe_line(text.format(n=len(upcoming), path=meetings.path))))

    def tick(self) -> None:
        """Redraw the countdowns."""
        meetings = self.console.meetings
        if meetings is None:
            return
        table = self.query_one(MeetingTable)
        now = datetime.now(UTC)
        for m in meetings.upcoming(now):
            if m.id in table.rows:
                table.update_cell(m.id, "countdown", countdown_text(m, now))

    @on(DataTable.RowSelected)
    def _meeting_chosen(self, message: DataTable.RowSelected) -> None:
        if self.console.choose_meeting(str(message.row_key.value)):
            self.dismiss()

    def action_back(self) -> None:
        """Back to the fleet."""
        self.dismiss()
