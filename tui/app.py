"""The console application: owns the fleet's latest results, runs sweeps, history
and report export in workers, and routes their results to the screens.

    ConsoleApp(load_inventory()).run()

Sweeps run in a child process (``vcfleet.sweep_process``), so that probe work never
holds the interpreter while the console draws; a worker thread hands their results
to the screen in batches (``SweepProgress``, every ``FLUSH_S``) and only the
affected table cells change.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.notifications import SeverityLevel

from inventory import Endpoint, InputError, Inventory
from tui.details_screen import DetailsScreen
from tui.fleet_screen import FleetScreen
from tui.help_screen import HelpScreen
from vcfleet.history import History, SweepSummary
from vcfleet.render.html import render_html
from vcfleet.render.markdown import render_markdown
from vcfleet.render.readiness import format_time
from vcfleet.report import EndpointReport, SweepReport, Verdict
from vcfleet.safe_text import safe_block
from vcfleet.sweep import SweepOptions
from vcfleet.sweep_process import SweepProcess, SweepProcessError

if TYPE_CHECKING:
    from vcfleet.meetings import Meeting, Meetings
    from vcfleet.meetings.changes import Changes

FLUSH_S = 0.1
"""How often a running sweep hands its new results to the screen."""


class ConsoleApp(App[int]):
    """The operator console over one inventory."""

    TITLE = "vcfleet"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"), Binding("question_mark", "help", "Help"),
        Binding("m", "meetings", "Meetings"),
    ]

    @dataclass
    class SweepStarted(Message):
        """A sweep of ``total`` rooms began."""

        total: int
        label: str

    @dataclass
    class SweepProgress(Message):
        """Rooms whose checks finished since the last batch."""

        reports: tuple[EndpointReport, ...]
        done: int

    @dataclass
    class SweepFinished(Message):
        """The sweep ended (completed or cancelled); ``problem`` if history failed."""

        report: SweepReport
        problem: str = ""
        changes: str = ""
        """For a meeting's sweep: what changed since its previous check."""

    @dataclass
    class SweepFailed(Message):
        """The sweep could not run at all."""

        problem: str

    @dataclass
    class HistoryOpened(Message):
        """The history store is ready (or could not be opened: ``problem``)."""

        history: History | None
        last: SweepSummary | None
        problem: str = ""

    @dataclass
    class ReportExported(Message):
        """The readiness report was written (or not: ``problem``)."""

        paths: tuple[Path, ...]
        problem: str = ""

    def __init__(self, inventory: Inventory, *, sweep_options: SweepOptions | None = None,
                 history_path: str | Path | None = None, use_history: bool = True,
                 report_dir: str | Path | None = None,
                 initial_report: SweepReport | None = None, tz: tzinfo | None = None,
                 subtitle: str = "", meetings: Meetings | None = None,
                 notice: str = "") -> None:
        super().__init__()
        self.notice = notice
        """A warning shown once the console is up (the device check not run: no host keys)."""
        self.inventory = inventory
        self.sweep_options = sweep_options or SweepOptions(source="tui")
        self.history_path = history_path
        self.use_history = use_history
        self.report_dir = Path(report_dir) if report_dir else Path.cwd()
        self.tz = tz
        self.sub_title = subtitle
        self.results: dict[str, EndpointReport] = {}
        self.last_report: SweepReport | None = initial_report
        self.history: History | None = None
        self.sweeping = False
        self.last_export: tuple[Path, ...] = ()
        self.sweep_problem = ""
        """Why the last sweep could not run ("" if it did)."""
        self.sweeper = SweepProcess(inventory, stderr_path=Path(tempfile.gettempdir()) /
                                    f"vcfleet-console-sweeps-{os.getpid()}.log")
        self._report_started: float | None = None
        if initial_report is not None:
            self.results.update((r.endpoint.id, r) for r in initial_report.endpoints
                                if r.verdict is not Verdict.UNKNOWN)
            self._report_started = initial_report.started_at
        self.fleet = FleetScreen(inventory)
        self.meetings = meetings
        self.meeting: Meeting | None = None
        """The meeting the console is scoped to (``m``), if any."""

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = True) -> None:
        """Every notification of the console (screens' too): outside text in it (a
        reason, an error from a device) has its control characters escaped."""
        super().notify(safe_block(message), title=safe_block(title), severity=severity,
                       timeout=timeout, markup=markup)

    def on_mount(self) -> None:
        self.push_screen(self.fleet)
        if self.notice:
            self.notify(self.notice, severity="warning", timeout=20, markup=False)
        if self.use_history:
            self.open_history()
        self.start_sweeper()

    @work(thread=True, group="sweeper", exit_on_error=False)
    def start_sweeper(self) -> None:
        """Start the sweep process now (it loads the probes), not at the first sweep."""
        try:
            self.sweeper.start()
        except Exception as exc:
            self.notify(f"{exc} (tried again at the next sweep)", severity="warning",
                        timeout=10, markup=False)

    # -- history -------------------------------------------------------------------

    @work(thread=True, group="history", exit_on_error=False)
    def open_history(self) -> None:
        """Open the history store (a file on disk) off the UI thread."""
        try:
            history = History(self.history_path)
            sweeps = history.sweeps(limit=1)
        except Exception as exc:
            self.post_message(self.HistoryOpened(None, None, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.HistoryOpened(history, sweeps[0] if sweeps else None))

    @on(HistoryOpened)
    def _history_opened(self, message: HistoryOpened) -> None:
        if message.problem:
            self.notify(f"history unavailable: {message.problem}", severity="warning",
                        markup=False)
            return
        self.history = message.history
        if message.last is not None and self.last_report is None:
            last = message.last
            self.fleet.show_status(
                f"Last recorded sweep: {format_time(last.started_at, self.tz)} "
                f"({last.total} rooms, {last.down} down, {last.degraded} degraded; "
                f"from {last.source})")

    # -- sweeps ------------------------------------------------------------------------

    def start_sweep(self, endpoints: Sequence[Endpoint], label: str) -> bool:
        """Sweep these rooms in the background; False (and a notice) if one is running."""
        if self.sweeping:
            self.notify("A sweep is already running (x cancels it)", severity="warning")
            return False
        if not endpoints:
            self.notify("No room in this scope", severity="warning")
            return False
        self.sweeping = True
        if len(endpoints) == len(self.inventory) or self._report_started is None:
            self._report_started = time.time()
        meeting = self.meeting if self.meeting is not None and {e.id for e in endpoints} == \
            set(self.fleet.scope.ids or ()) else None
        self.run_sweep(list(endpoints), label, meeting)
        return True

    def cancel_sweep(self) -> None:
        """Stop the running sweep; what finished stays."""
        if self.sweeping:
            self.sweeper.cancel()

    @work(thread=True, exclusive=True, group="sweep", exit_on_error=False)
    def run_sweep(self, endpoints: list[Endpoint], label: str,
                  meeting: Meeting | None = None) -> None:
        """Run one sweep in the sweep process; post its results as they arrive.  A sweep
        of exactly a meeting's rooms is that meeting's check (its checks, its history)."""
        options = dataclasses.replace(self.sweep_options, selector=label)
        if meeting is not None:
            from vcfleet.meetings.check import meeting_options

            options = meeting_options(meeting, options)
        self.post_message(self.SweepStarted(len(endpoints), label))

        def progress(reports: tuple[EndpointReport, ...], done: int) -> None:
            self.post_message(self.SweepProgress(reports, done))

        try:
            report = self.sweeper.run([e.id for e in endpoints], options, progress,
                                      flush_s=FLUSH_S)
        except Exception as exc:  # never leave the console "sweeping" for ever
            problem = str(exc) if isinstance(exc, SweepProcessError) \
                else f"{type(exc).__name__}: {exc}"
            self.post_message(self.SweepFailed(problem))
            return
        if meeting is not None:
            self.post_message(self.SweepFinished(report, *self._record_meeting(meeting, report)))
            return
        self.post_message(self.SweepFinished(report, self._record(report)))

    def _record_meeting(self, meeting: Meeting, report: SweepReport) -> tuple[str, str]:
        """Record a meeting's check; (problem, what changed since its previous check)."""
        from vcfleet.meetings.changes import changes_between, check_of
        from vcfleet.meetings.check import record

        if self.history is None:
            return "", ""
        previous = record(self.history, meeting, report)
        return "", self.changes_line(meeting, changes_between(previous, check_of(report)))

    def changes_line(self, meeting: Meeting, changes: Changes) -> str:
        """One line for the header: the meeting and what changed since its previous check."""
        from vcfleet.commands.meeting import render_changes
        from vcfleet.meetings.times import countdown, local_time

        names = {e.id: e.name for e in self.inventory.endpoints}
        text = render_changes(meeting, changes, names)
        head = f"Meeting {local_time(meeting)} ({countdown(meeting, datetime.now(UTC))}). "
        return head + "  ".join(line.strip() for line in text.splitlines())

    def _record(self, report: SweepReport) -> str:
        if self.history is None:
            return ""
        try:
            self.history.record(report)
        except Exception as exc:
            return f"history not recorded: {type(exc).__name__}: {exc}"
        return ""

    @on(SweepStarted)
    def _sweep_started(self, message: SweepStarted) -> None:
        self.fleet.sweep_started(message.total, message.label)

    @on(SweepProgress)
    def _sweep_progress(self, message: SweepProgress) -> None:
        for report in message.reports:
            self.results[report.endpoint.id] = report
        self.fleet.apply_results(message.reports, message.done)
        if isinstance(self.screen, DetailsScreen):
            self.screen.results_arrived(message.reports)

    @on(SweepFinished)
    def _sweep_finished(self, message: SweepFinished) -> None:
        self.sweeping = False
        self.sweep_problem = ""
        self.last_report = message.report
        self.fleet.sweep_finished(message.report)
        if message.changes:
            self.fleet.show_status(message.changes)
        if message.problem:
            self.notify(message.problem, severity="warning", markup=False)
        if isinstance(self.screen, DetailsScreen):
            self.screen.sweep_finished()

    @on(SweepFailed)
    def _sweep_failed(self, message: SweepFailed) -> None:
        self.sweeping = False
        self.sweep_problem = message.problem
        self.fleet.sweep_failed(message.problem)
        self.notify(f"sweep failed: {message.problem}", severity="error", timeout=10,
                    markup=False)

    # -- the report ----------------------------------------------------------------------

    def current_report(self) -> SweepReport:
        """Every room's latest result as one report (rooms never checked: unknown)."""
        rows = tuple(self.results.get(e.id) or EndpointReport(e, Verdict.UNKNOWN,
                                                              ("not checked yet",))
                     for e in self.inventory.endpoints)
        last = self.last_report
        started = self._report_started or (last.started_at if last else time.time())
        finished = last.finished_at if last else started
        checks = last.checks if last else ()
        return SweepReport(rows, started, max(0.0, finished - started), checks, "",
                           False, "tui")

    def export_report(self) -> None:
        """Write the readiness report (HTML and Markdown) in a worker; scoped to a
        meeting, that meeting's organiser's page (HTML and XLSX)."""
        if self.meeting is not None:
            self._export_meeting(self.meeting)
            return
        if self.last_report is None:
            self.notify("Nothing to report yet: sweep first (a)", severity="warning")
            return
        self._export(self.current_report())

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, report: SweepReport) -> None:
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(report.finished_at))
        base = self.report_dir / f"readiness-{stamp}"
        try:
            self.report_dir.mkdir(parents=True, exist_ok=True)
            html_path, md_path = base.with_suffix(".html"), base.with_suffix(".md")
            html_path.write_text(render_html(report, self.inventory, self.history, tz=self.tz),
                                 encoding="utf-8")
            md_path.write_text(render_markdown(report, self.inventory, self.history,
                                               tz=self.tz), encoding="utf-8")
        except Exception as exc:
            self.post_message(self.ReportExported((), f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.ReportExported((html_path, md_path)))

    @work(thread=True, group="export", exit_on_error=False)
    def _export_meeting(self, meeting: Meeting) -> None:
        from vcfleet.meetings.check import last_changes
        from vcfleet.render.meeting import page_html, page_xlsx

        try:
            assert self.meetings is not None
            if self.history is None:
                raise RuntimeError("no history: the page is made from the meeting's checks")
            current, changes = last_changes(self.history, meeting.id)
            if current is None:
                raise RuntimeError(f"meeting {meeting.id} has not been checked yet (s)")
            rooms = self.meetings.rooms(meeting, self.inventory)
            stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(current.finished_at))
            base = self.report_dir / f"meeting-{meeting.id}-{stamp}"
            self.report_dir.mkdir(parents=True, exist_ok=True)
            html_path, xlsx_path = base.with_suffix(".html"), base.with_suffix(".xlsx")
            html_path.write_text(page_html(meeting, rooms, current, changes), encoding="utf-8")
            xlsx_path.write_bytes(page_xlsx(meeting, rooms, current, changes))
        except Exception as exc:
            self.post_message(self.ReportExported((), f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.ReportExported((html_path, xlsx_path)))

    @on(ReportExported)
    def _exported(self, message: ReportExported) -> None:
        if message.problem:
            self.notify(f"report not written: {message.problem}", severity="error", timeout=10,
                        markup=False)
            return
        self.last_export = message.paths
        self.notify("Report written: " + ", ".join(str(p) for p in message.paths), timeout=15,
                    markup=False)
        self.fleet.show_status("Report written: " + "  ".join(str(p) for p in message.paths))

    # -- screens and keys ------------------------------------------------------------

    def show_details(self, endpoint_id: str) -> None:
        """Open the details screen of one room."""
        self.push_screen(DetailsScreen(self.inventory.get(endpoint_id)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``m`` (and its footer entry) only when the console has a meetings file."""
        if action == "meetings":
            return self.meetings is not None
        return super().check_action(action, parameters)

    def action_meetings(self) -> None:
        """Show the upcoming meetings; choosing one scopes the console to its rooms."""
        from tui.meetings_screen import MeetingsScreen

        if not isinstance(self.screen, MeetingsScreen):
            self.push_screen(MeetingsScreen())

    def choose_meeting(self, meeting_id: str) -> bool:
        """Scope the table, header, sweeps and report to a meeting's rooms."""
        if self.meetings is None:
            return False
        try:
            meeting = self.meetings.get(meeting_id)
            rooms = self.meetings.rooms(meeting, self.inventory)
        except InputError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return False
        self.meeting = meeting
        self.fleet.show_meeting(meeting, rooms)
        self.show_meeting_changes(meeting)
        return True

    def leave_meeting(self) -> None:
        """Back to the whole fleet's scope."""
        self.meeting = None

    @work(thread=True, group="history", exit_on_error=False)
    def show_meeting_changes(self, meeting: Meeting) -> None:
        """Read the meeting's last two checks and show what changed (a worker)."""
        from vcfleet.meetings.check import last_changes

        if self.history is None:
            return
        try:
            current, changes = last_changes(self.history, meeting.id)
        except Exception as exc:
            self.call_from_thread(self.fleet.show_status, f"history not readable: {exc}")
            return
        text = self.changes_line(meeting, changes) if current is not None else (
            f"Meeting {meeting.id} has not been checked yet: s checks its rooms")
        self.call_from_thread(self.fleet.show_status, text)

    def action_help(self) -> None:
        """Show keys and the filter syntax."""
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    async def action_quit(self) -> None:
        """Stop any sweep, close the history, leave."""
        self.cancel_sweep()
        self.exit(0)

    def on_unmount(self) -> None:
        self.sweeper.close()
        if self.history is not None:
            self.history.close()
