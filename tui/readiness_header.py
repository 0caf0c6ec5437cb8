"""The header: the fleet's readiness counts, a progress bar while a sweep runs, and
the time of the last sweep."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Label, ProgressBar

from vcfleet.i18n import _
from vcfleet.render.verdicts import COUNT_ORDER, look
from vcfleet.report import Verdict
from vcfleet.safe_text import safe_line


class ReadinessHeader(Widget):
    """Counts of ready / degraded / down / not yet checked rooms, and sweep progress."""

    def __init__(self, title: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._title = title
        self._counts = Label("", id="header-counts")
        self._status = Label(_("No sweep yet: press a to sweep all rooms"), id="header-status")
        self._progress = ProgressBar(id="header-progress", show_eta=False)

    def compose(self) -> ComposeResult:
        with Horizontal(id="header-top"):
            yield Label(Text(safe_line(self._title)), id="header-title")
            yield self._counts
        with Horizontal(id="header-bottom"):
            yield self._status
            yield self._progress

    def show_title(self, title: str) -> None:
        """Replace the title (the fleet's, or the meeting's the console is scoped to)."""
        self._title = title
        self.query_one("#header-title", Label).update(Text(safe_line(title)))

    def show_counts(self, counts: dict[Verdict, int]) -> None:
        """Show how many rooms are in each verdict (UNKNOWN: not yet checked)."""
        text = Text()
        for verdict in COUNT_ORDER:
            if text:
                text.append("   ")
            v = look(verdict)
            text.append(f"{v.symbol} {counts.get(verdict, 0)} {v.word}", v.style)
        self._counts.update(text, layout=False)

    def show_status(self, text: str) -> None:
        """The line under the counts: last sweep, or what the console is doing."""
        self._status.update(Text(safe_line(text)), layout=False)  # labels and paths, never markup

    def sweep_started(self, total: int) -> None:
        """Show the progress bar for a sweep of ``total`` rooms."""
        self._progress.update(total=total, progress=0)
        self.add_class("-sweeping")

    def sweep_progress(self, done: int) -> None:
        """Rooms finished so far."""
        self._progress.update(progress=done)

    def sweep_finished(self) -> None:
        """Hide the progress bar."""
        self.remove_class("-sweeping")
