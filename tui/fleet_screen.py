"""The main screen: readiness header, tree of units, filter box and endpoint table."""

from __future__ import annotations

import gc
import time
from collections import Counter, deque
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content

from inventory import Endpoint, Inventory
from tui.console_screen import ConsoleFooter, ConsoleScreen
from tui.endpoint_table import EndpointTable
from tui.filter_box import FilterBox
from tui.filtering import Filter
from tui.flaky_screen import FlakyScreen
from tui.readiness_header import ReadinessHeader
from tui.unit_tree import Scope, UnitTree
from vcfleet.i18n import N_, _, number
from vcfleet.render.readiness import format_time
from vcfleet.report import EndpointReport, SweepReport, Verdict
from vcfleet.safe_text import safe_line

if TYPE_CHECKING:
    from vcfleet.meetings import Meeting

APPLY_CHUNK = 12
"""Results applied to the table per frame.  Results come in bursts (a whole district's
rooms answer in the same tenth of a second); applying 300 at once held the UI for
80-110 ms against the simulated fleet, so a burst is spread over a few frames."""


class FleetScreen(ConsoleScreen):
    """Every room at a glance; sweeps, filter, details and report from the keyboard."""

    CSS_PATH = "fleet_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sweep_scope", N_("Sweep scope")),
        Binding("a", "sweep_all", N_("Sweep all")),
        Binding("x", "cancel_sweep", N_("Cancel sweep"), show=False),
        # priority: handled as the app reads the key, before it routes the next ones
        Binding("slash", "filter", N_("Filter"), priority=True),
        Binding("enter", "details", N_("Details")),
        Binding("r", "report", N_("Report")),
        Binding("f", "often_failing", N_("Often failing")),
        Binding("t", "toggle_tree", N_("Tree"), show=False),
    ]

    def __init__(self, inventory: Inventory) -> None:
        super().__init__()
        self.inventory = inventory
        self.scope = Scope(_("all rooms"))
        self.first_paint_at: float | None = None
        """``time.perf_counter()`` after the first refresh with rows (for bench_tui)."""
        self.filter = Filter.parse("")
        self.title_text = safe_line(_("{fleet} — {n} rooms").format(
            fleet=inventory.province or _("Fleet"), n=len(inventory)))
        self.header = ReadinessHeader(self.title_text, id="header")
        self.table = EndpointTable(inventory, id="endpoints")
        self._incoming: deque[EndpointReport] = deque()
        self._done = 0
        self._finished: SweepReport | None = None
        self._heap_frozen = False

    def compose(self) -> ComposeResult:
        yield self.header
        with Horizontal(id="body"):
            yield UnitTree(self.inventory, id="units")
            with Vertical(id="main"):
                yield FilterBox(id="filter")
                yield self.table
        yield ConsoleFooter()

    def on_mount(self) -> None:
        self.refresh_rows()
        self.update_counts()
        if self.console.last_report is not None:
            self.show_last_sweep(self.console.last_report)
        self.table.focus()
        self.call_after_refresh(self._painted)

    def _painted(self) -> None:
        if self.first_paint_at is None:
            self.first_paint_at = time.perf_counter()

    # -- what is shown -------------------------------------------------------------------

    def visible_endpoints(self) -> list[Endpoint]:
        """Rooms in the current scope that pass the filter."""
        results = self.console.results
        return [e for e in self.inventory.endpoints
                if self.scope.contains(e.id) and self.filter.matches(
                    e, self.inventory, results[e.id].verdict if e.id in results
                    else Verdict.UNKNOWN)]

    def refresh_rows(self) -> None:
        """Rebuild the table for a new scope or filter."""
        shown = self.visible_endpoints()
        self.table.show(shown, self.console.results)
        scope_rooms = sum(1 for e in self.inventory.endpoints if self.scope.contains(e.id))
        what = _("{scope}: {shown} of {n} rooms").format(scope=self.scope.label,
                                                          shown=len(shown), n=scope_rooms)
        if not self.filter.empty:
            what += _(" matching {filter}").format(filter=repr(self.filter.text))
        # typed text: never markup ("[/x" crashed)
        self.table.border_title = Content(safe_line(what))

    def update_counts(self) -> None:
        """Recount the fleet's verdicts for the header."""
        ids = self.scope.ids if self.console.meeting is not None else None
        if ids is None:
            counts = Counter(r.verdict for r in self.console.results.values())
            counts[Verdict.UNKNOWN] += len(self.inventory) - len(self.console.results)
        else:  # scoped to a meeting: its rooms only
            results = self.console.results
            counts = Counter(results[i].verdict if i in results else Verdict.UNKNOWN
                             for i in ids)
        self.header.show_counts(dict(counts))

    def show_meeting(self, meeting: Meeting, rooms: Iterable[Endpoint]) -> None:
        """Scope the table, the header and sweeps to a meeting's rooms."""
        self.scope = Scope(_("meeting {id}").format(id=meeting.id),
                           frozenset(e.id for e in rooms))
        self.header.show_title(_("{fleet} — {n} rooms").format(
            fleet=meeting.title, n=len(self.scope.ids or ())))
        self.refresh_rows()
        self.update_counts()

    def show_status(self, text: str) -> None:
        """Show a line under the counts."""
        self.header.show_status(text)

    def show_last_sweep(self, report: SweepReport) -> None:
        """Say when the last sweep ran and how long it took."""
        text = _("Last sweep {time}: {n} rooms, cancelled in {seconds} s") if report.cancelled \
            else _("Last sweep {time}: {n} rooms, finished in {seconds} s")
        self.show_status(text.format(time=format_time(report.started_at, self.console.tz),
                                     n=len(report.endpoints),
                                     seconds=number(report.duration_s, ".1f")))

    # -- sweep progress (called by the app) ----------------------------------------------

    def sweep_started(self, total: int, label: str) -> None:
        """A sweep of ``total`` rooms began."""
        if self._incoming:  # the last sweep's results are still being applied: finish now
            self.table.update_results(list(self._incoming))
            self._incoming.clear()
            if self._finished is not None:
                report, self._finished = self._finished, None
                self.sweep_finished(report)
        self.header.sweep_started(total)
        self.show_status(_("Sweeping {scope}: {n} rooms…  (x cancels)").format(
            scope=label or _("all rooms"), n=total))

    @property
    def applying(self) -> bool:
        """True while results that arrived are still being applied to the table."""
        return bool(self._incoming)

    def apply_results(self, reports: Iterable[EndpointReport], done: int) -> None:
        """New results: update their cells, the counts and the progress bar, at most
        ``APPLY_CHUNK`` results per frame."""
        idle = not self._incoming
        self._incoming.extend(reports)
        self._done = done
        if idle:
            self._apply_chunk()

    def _apply_chunk(self) -> None:
        chunk = [self._incoming.popleft() for _ in range(min(APPLY_CHUNK, len(self._incoming)))]
        self.table.update_results(chunk)
        self.update_counts()
        self.header.sweep_progress(self._done - len(self._incoming))
        if self._incoming:
            self.call_after_refresh(self._apply_chunk)
        elif self._finished is not None:
            report, self._finished = self._finished, None
            self.sweep_finished(report)

    def sweep_finished(self, report: SweepReport) -> None:
        """The sweep ended; re-sort and re-filter once (after the last results), not per
        result."""
        if self._incoming:
            self._finished = report
            return
        self.header.sweep_finished()
        self.show_last_sweep(report)
        if self.filter.verdicts is not None:
            self.refresh_rows()
        else:
            self.table.resort()
        self.update_counts()

    def sweep_failed(self, problem: str) -> None:
        """The sweep could not run."""
        self.header.sweep_finished()
        self.show_status(_("Sweep failed: {problem}").format(problem=problem))

    # -- events and keys -----------------------------------------------------------------

    @on(EndpointTable.RowsShown)
    def _rows_shown(self) -> None:
        # Once the fleet is on screen, move what lives as long as the console (modules,
        # widgets, the inventory, the rows) out of the collector's sight: a full
        # collection traversed all of it and held the UI 30-140 ms while a sweep's
        # results were being unpickled.  Later garbage is collected as before.
        if not self._heap_frozen:
            self._heap_frozen = True
            gc.freeze()

    @on(UnitTree.ScopeChosen)
    def _scope_chosen(self, message: UnitTree.ScopeChosen) -> None:
        if self.console.meeting is not None:  # a unit of the tree leaves the meeting
            self.console.leave_meeting()
            self.header.show_title(self.title_text)
        self.scope = message.scope
        self.refresh_rows()
        self.update_counts()

    @on(FilterBox.FilterChanged)
    def _filter_changed(self, message: FilterBox.FilterChanged) -> None:
        self.filter = message.filter
        self.refresh_rows()

    @on(FilterBox.Done)
    def _filter_done(self) -> None:
        self.table.focus()

    @on(EndpointTable.EndpointChosen)
    def _endpoint_chosen(self, message: EndpointTable.EndpointChosen) -> None:
        self.console.show_details(message.endpoint_id)

    def action_sweep_scope(self) -> None:
        """Sweep the rooms shown (scope and filter)."""
        label = self.scope.label if self.filter.empty else \
            f"{self.scope.label}, {self.filter.text}"
        self.console.start_sweep(self.visible_endpoints(), label)

    def action_sweep_all(self) -> None:
        """Sweep every room of the fleet."""
        self.console.start_sweep(list(self.inventory.endpoints), "")

    def action_cancel_sweep(self) -> None:
        """Stop the running sweep."""
        self.console.cancel_sweep()

    def action_filter(self) -> None:
        """Put the cursor in the filter box before the app routes the next key.

        The app sends each key to the widget focused when it reads the key, and a
        terminal may deliver ``/rt`` and Enter at once (tmux send-keys, a paste).
        So ``/`` is a priority binding (run as the app reads it, not after the key
        has travelled through the table) and the focus moves now
        (``Screen.set_focus``), not later (``Widget.focus`` only schedules it).
        In the box itself, ``/`` is just typed.
        """
        box = self.query_one(FilterBox)
        if self.focused is box:
            box.insert_text_at_cursor("/")
            return
        self.set_focus(box)

    def action_details(self) -> None:
        """Open the room under the cursor."""
        endpoint_id = self.table.current_endpoint()
        if endpoint_id is not None:
            self.console.show_details(endpoint_id)

    def action_report(self) -> None:
        """Export the readiness report."""
        self.console.export_report()

    def action_often_failing(self) -> None:
        """Show the rooms that failed most often in the last 7 days."""
        self.app.push_screen(FlakyScreen())

    def action_toggle_tree(self) -> None:
        """Show or hide the tree of units (more room for the table)."""
        self.query_one(UnitTree).toggle_class("-hidden")
