"""One room in full: every check with its figures and reason, the person to phone,
the room's last sweeps from the history, and a re-check."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import DataTable, Footer, Label, Static

from inventory import Endpoint
from tui import device_view
from tui.console_screen import ConsoleScreen
from tui.verdicts import figure_text, verdict_text
from vcfleet.figures import KEY_FIGURES
from vcfleet.history import HistoryEntry
from vcfleet.i18n import _
from vcfleet.render.readiness import format_time, unit_name
from vcfleet.render.verdicts import word
from vcfleet.report import CheckReport, EndpointReport, Verdict
from vcfleet.safe_text import safe_line

HISTORY_LIMIT = 20
HISTORY_FIGURES = [kf for kf in KEY_FIGURES if kf.key in ("sip_rtt_ms", "media_rtt_ms", "mos")]


def failure_summary(entries: Sequence[HistoryEntry]) -> str:
    """One line on how often the room failed in its recent results, such as
    ``Failed 3 of the last 12 sweeps (2 down, 1 degraded).``"""
    if not entries:
        return "No sweep of this room recorded yet."
    down = sum(1 for e in entries if e.verdict is Verdict.DOWN)
    degraded = sum(1 for e in entries if e.verdict is Verdict.DEGRADED)
    sweeps = "the last sweep" if len(entries) == 1 else f"the last {len(entries)} sweeps"
    if not down + degraded:
        return f"Ready in {sweeps}."
    split = ", ".join(f"{n} {word(v)}" for n, v in ((down, Verdict.DOWN),
                                                    (degraded, Verdict.DEGRADED)) if n)
    count = f"{down + degraded} of " if len(entries) > 1 else ""
    return f"Failed {count}{sweeps} ({split})."


def _figures(check: CheckReport) -> str:
    parts = [f"{k}={v:g}" for k, v in check.result.figures.items()]
    for direction, figs in check.result.directions.items():
        parts += [f"{direction}.{k}={v:g}" for k, v in figs.items()]
    return "  ".join(parts)


class DetailsScreen(ConsoleScreen):
    """The details of one endpoint."""

    CSS_PATH = "details_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"), Binding("c", "recheck", "Re-check now"),
    ]

    @dataclass
    class HistoryLoaded(Message):
        """The room's recent results from the history store."""

        entries: tuple[HistoryEntry, ...]
        problem: str = ""

    def __init__(self, endpoint: Endpoint) -> None:
        super().__init__()
        self.endpoint = endpoint

    def compose(self) -> ComposeResult:
        e = self.endpoint
        with VerticalScroll(id="details"):
            yield Static(id="details-title")
            yield Static(self._info(), id="details-info")
            yield Static(id="details-reasons")
            yield Label(_("Device"), id="details-device-label", classes="section")
            yield Static(id="details-device")
            yield Label("Checks", classes="section")
            yield DataTable(id="details-checks", cursor_type="none", zebra_stripes=True)
            yield Label(f"Recent sweeps of {e.id}", classes="section")
            yield Static(id="details-history-summary")
            yield DataTable(id="details-history", cursor_type="none", zebra_stripes=True)
        yield Footer()

    def on_mount(self) -> None:
        checks = self.query_one("#details-checks", DataTable)
        checks.add_columns("Check", "Result", "Required", "Time", "Figures", "Reason")
        history = self.query_one("#details-history", DataTable)
        history.add_columns("When", "Verdict", "From", *(kf.label for kf in HISTORY_FIGURES),
                            "Reasons")
        self.show_report(self.console.results.get(self.endpoint.id))
        self.load_history()

    def _info(self) -> Text:
        e = self.endpoint
        unit = unit_name(self.console.inventory, e.district) if e.district else "—"
        text = Text()
        rows = [("Id", e.id), ("Tier", e.tier), ("District", unit),
                ("Vendor", f"{e.vendor} {e.model}".strip()), ("Address", e.address),
                ("Contact", e.contact.name or "—"), ("Phone", e.contact.phone or "—")]
        for label, value in rows:
            text.append(f"{label:>9}  ", "dim")
            text.append(safe_line(value) + "\n", "bold" if label in ("Contact", "Phone") else "")
        text.rstrip()
        return text

    def show_report(self, report: EndpointReport | None) -> None:
        """Show the room's latest verdict, reasons and checks."""
        verdict = report.verdict if report else Verdict.UNKNOWN
        name = safe_line(self.endpoint.name)
        title = Text.assemble(verdict_text(verdict), "  ", (name, "bold"))
        self.query_one("#details-title", Static).update(title)
        shown = [f"• {safe_line(r)}" for r in report.reasons] if report else []
        reasons = "\n".join(shown) if shown \
            else ("No problem found." if report else "Not checked yet: press c to check now.")
        self.query_one("#details-reasons", Static).update(Text(reasons))  # not markup
        device = device_view.details_text(report)
        self.query_one("#details-device", Static).update(device or "")
        for widget in self.query("#details-device-label, #details-device"):
            widget.display = device is not None
        table = self.query_one("#details-checks", DataTable)
        table.clear()
        for check in (report.checks.values() if report else ()):
            ok = Text("✔ ok", "green") if check.result.ok else Text("✖ failed", "red")
            table.add_row(check.name, ok, "required" if check.required else "advisory",
                          f"{check.duration_s * 1000:.0f} ms", _figures(check),
                          Text(safe_line(check.result.reason
                                         or ("timed out" if check.timed_out else ""))))

    @work(thread=True, group="details-history", exclusive=True, exit_on_error=False)
    def load_history(self) -> None:
        """Read the room's last sweeps from the history store."""
        history = self.console.history
        if history is None:
            self.post_message(self.HistoryLoaded((), "history not available"))
            return
        try:
            entries = tuple(history.endpoint_history(self.endpoint.id, HISTORY_LIMIT))
        except Exception as exc:
            self.post_message(self.HistoryLoaded((), f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.HistoryLoaded(entries))

    @on(HistoryLoaded)
    def _history_loaded(self, message: HistoryLoaded) -> None:
        summary = self.query_one("#details-history-summary", Static)
        summary.update("" if message.problem else failure_summary(message.entries))
        summary.display = not message.problem
        table = self.query_one("#details-history", DataTable)
        table.clear()
        if message.problem:
            problem = Text(safe_line(message.problem), "dim")
            table.add_row("", problem, "", *("" for _ in HISTORY_FIGURES), "")
        for entry in message.entries:
            figures = [figure_text(kf, entry.figures.get(kf.key)) for kf in HISTORY_FIGURES]
            table.add_row(format_time(entry.at, self.console.tz), verdict_text(entry.verdict),
                          Text(safe_line(entry.source)), *figures,
                          Text(safe_line("; ".join(entry.reasons))))

    def results_arrived(self, reports: Iterable[EndpointReport]) -> None:
        """Called by the app during a sweep: show this room's new result."""
        for report in reports:
            if report.endpoint.id == self.endpoint.id:
                self.show_report(report)

    def sweep_finished(self) -> None:
        """Called by the app: the sweep was recorded, read the history again."""
        self.load_history()

    def action_recheck(self) -> None:
        """Check this room again now."""
        if self.console.start_sweep([self.endpoint], self.endpoint.id):
            self.query_one("#details-reasons", Static).update("Checking…")

    def action_back(self) -> None:
        """Back to the fleet."""
        self.dismiss()
