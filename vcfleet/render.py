"""The readiness report a meeting's organiser reads, as Markdown and as HTML.

Both are pure functions of a ``SweepReport`` and the inventory (and, optionally,
the history store for each room's recent failures): the time of the sweep, a
summary by tier and by district, the rooms that are not ready with their
reasons and the person to phone, and the rooms that failed most often over the
last 7 days.  The HTML page is self-contained (inline CSS,
no script, no external asset) so that it can be mailed or opened offline.

    text = render_markdown(report, inventory, history=History())
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING

from inventory import Endpoint, Inventory
from vcfleet.report import SYMBOLS, EndpointReport, SweepReport, Verdict
from vcfleet.safe_text import safe_line

if TYPE_CHECKING:
    from vcfleet.history import FlakyEndpoint, History

FAILURE_WINDOW_S = 7 * 86400.0
"""How far back the report counts each room's failures in the history store."""
FLAKY_ROWS = 15
"""At most this many rooms in the report's "Rooms that failed often" section."""
FLAKY_TITLE = f"Rooms that failed often (last {FAILURE_WINDOW_S / 86400:g} days)"

NOT_READY_ORDER = (Verdict.DOWN, Verdict.DEGRADED, Verdict.UNKNOWN)
VERDICT_WORDS = {Verdict.READY: "ready", Verdict.DEGRADED: "degraded", Verdict.DOWN: "down",
                 Verdict.UNKNOWN: "not checked"}
COUNT_COLUMNS = ("total", "ready", "degraded", "down", "unknown")


# -- key figures (shared with the console and the history store) ---------------------


@dataclass(frozen=True)
class KeyFigure:
    """One figure the console, the history and the report show for every room."""

    key: str
    """Stable name, also the key stored in the history."""
    label: str
    check: str
    name: str
    direction: str | None = None
    unit: str = "ms"


KEY_FIGURES: tuple[KeyFigure, ...] = (
    KeyFigure("sip_rtt_ms", "SIP RTT", "sip", "rtt_ms"),
    KeyFigure("media_rtt_ms", "Media RTT", "webrtc", "rtt_ms"),
    KeyFigure("jitter_up_ms", "Jitter ↑", "webrtc", "jitter_ms", "up"),
    KeyFigure("jitter_down_ms", "Jitter ↓", "webrtc", "jitter_ms", "down"),
    KeyFigure("loss_up", "Loss ↑", "webrtc", "loss_ratio", "up", "%"),
    KeyFigure("loss_down", "Loss ↓", "webrtc", "loss_ratio", "down", "%"),
    KeyFigure("mos", "MOS", "webrtc", "mos", None, ""),
)


def key_figures(report: EndpointReport) -> dict[str, float]:
    """The key figures a room's report holds, by ``KeyFigure.key`` (absent ones left out)."""
    out: dict[str, float] = {}
    for kf in KEY_FIGURES:
        value = report.figure(kf.check, kf.name, kf.direction)
        if value is not None:
            out[kf.key] = float(value)
    return out


def format_figure(kf: KeyFigure, value: float | None) -> str:
    """A key figure as the operator reads it: "12.3" ms, "1.5" %, "4.21" MOS; "" if absent."""
    if value is None:
        return ""
    if kf.unit == "%":
        return f"{value * 100:.1f}"
    if kf.unit == "":
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


# -- shared pieces ---------------------------------------------------------------------


def format_time(ts: float, tz: tzinfo | None = None) -> str:
    """Epoch seconds as ``2026-11-27 08:30:00 +0700`` (local time unless ``tz`` is given)."""
    moment = datetime.fromtimestamp(ts, tz) if tz else datetime.fromtimestamp(ts).astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S %z")


def unit_name(inventory: Inventory, slug: str | None) -> str:
    """Readable name of a district slug (the name of its room if it has one)."""
    if not slug:
        return "Province and departments"
    if slug in inventory:
        return inventory.get(slug).name
    return slug


def not_ready(report: SweepReport) -> list[EndpointReport]:
    """Rooms that are not ready: down first, then degraded, then not checked."""
    rank = {v: i for i, v in enumerate(NOT_READY_ORDER)}
    rows = [r for r in report.endpoints if r.verdict is not Verdict.READY]
    return sorted(rows, key=lambda r: rank[r.verdict])


def recent_failures(report: SweepReport, history: History | None) -> dict[str, int] | None:
    """Each room's failures (down or degraded) over ``FAILURE_WINDOW_S`` from the history."""
    if history is None:
        return None
    since = report.finished_at - FAILURE_WINDOW_S
    return history.failure_counts(since=since)


def often_failing(report: SweepReport, history: History | None) -> list[FlakyEndpoint]:
    """The report's rooms that failed (down or degraded) most often over
    ``FAILURE_WINDOW_S`` in the history, worst first, at most ``FLAKY_ROWS``."""
    if history is None:
        return []
    in_report = {r.endpoint.id for r in report.endpoints}
    ranked = history.flaky(limit=None, since=report.finished_at - FAILURE_WINDOW_S)
    return [f for f in ranked if f.endpoint_id in in_report][:FLAKY_ROWS]


def failed_of(flaky: FlakyEndpoint) -> str:
    """A room's failures out of the sweeps that checked it: "5 of 12"."""
    return f"{flaky.failures} of {flaky.sweeps}"


def _verdict_label(verdict: Verdict) -> str:
    return f"{SYMBOLS[verdict]} {VERDICT_WORDS[verdict]}"


def _district_rows(report: SweepReport, inventory: Inventory) -> list[tuple[str, dict[str, int]]]:
    groups: dict[str | None, dict[str, int]] = {}
    for r in report.endpoints:
        row = groups.setdefault(r.endpoint.district, dict.fromkeys(COUNT_COLUMNS, 0))
        row["total"] += 1
        row[r.verdict.value] += 1
    ordered = sorted(groups.items(), key=lambda kv: (kv[0] is not None, kv[0] or ""))
    return [(unit_name(inventory, slug), counts) for slug, counts in ordered]


def _tier_rows(report: SweepReport, inventory: Inventory) -> list[tuple[str, dict[str, int]]]:
    by_tier = report.summary_by("tier")
    order = {t: i for i, t in enumerate(inventory.tiers)}
    return sorted(((t, c) for t, c in by_tier.items()), key=lambda kv: order.get(kv[0], 99))


def _summary_line(report: SweepReport) -> str:
    s = report.summary()
    parts = [f"{s['total']} rooms", f"{SYMBOLS[Verdict.READY]} {s['ready']} ready",
             f"{SYMBOLS[Verdict.DEGRADED]} {s['degraded']} degraded",
             f"{SYMBOLS[Verdict.DOWN]} {s['down']} down"]
    if s.get("unknown"):
        parts.append(f"{SYMBOLS[Verdict.UNKNOWN]} {s['unknown']} not checked")
    return ", ".join(parts)


def _title(inventory: Inventory) -> str:
    return f"Readiness report — {inventory.province}" if inventory.province else \
        "Readiness report"


def _contact(e: Endpoint) -> tuple[str, str]:
    return e.contact.name or "—", e.contact.phone or "—"


def _not_ready_table(rows: list[EndpointReport], inventory: Inventory,
                     failures: dict[str, int] | None) -> tuple[list[str], list[list[object]]]:
    """Headers and cells of the "Not ready" table (the same in Markdown and HTML)."""
    headers = ["Verdict", "Room", "District", "Reasons", "Contact", "Phone"]
    if failures is not None:
        headers.append("Failures (7 days)")
    table: list[list[object]] = []
    for r in rows:
        name, phone = _contact(r.endpoint)
        row: list[object] = [_verdict_label(r.verdict), f"{r.endpoint.name} ({r.endpoint.id})",
                             unit_name(inventory, r.endpoint.district),
                             "; ".join(r.reasons) or "—", name, phone]
        if failures is not None:
            row.append(failures.get(r.endpoint.id, 0))
        table.append(row)
    return headers, table


def _flaky_table(report: SweepReport, inventory: Inventory, rooms: list[FlakyEndpoint],
                 tz: tzinfo | None) -> tuple[list[str], list[list[object]], list[Verdict]]:
    """Headers, cells and current verdicts of the "failed often" table (Markdown and HTML)."""
    headers = ["Verdict now", "Room", "District", "Failed sweeps", "Down", "Degraded",
               "Last failure", "Contact", "Phone"]
    latest = {r.endpoint.id: r for r in report.endpoints}
    table: list[list[object]] = []
    verdicts: list[Verdict] = []
    for f in rooms:
        r = latest[f.endpoint_id]
        name, phone = _contact(r.endpoint)
        table.append([_verdict_label(r.verdict), f"{r.endpoint.name} ({r.endpoint.id})",
                      unit_name(inventory, r.endpoint.district), failed_of(f), f.down,
                      f.degraded, format_time(f.last_failure, tz), name, phone])
        verdicts.append(r.verdict)
    return headers, table, verdicts


def _meta(report: SweepReport, tz: tzinfo | None) -> list[tuple[str, str]]:
    meta = [("Sweep started", format_time(report.started_at, tz)),
            ("Duration", f"{report.duration_s:.1f} s"),
            ("Checks", ", ".join(report.checks) or "each room's profile"),
            ("Rooms", report.selector or "all")]
    if report.cancelled:
        meta.append(("Warning", "the sweep did not finish: rooms not checked are listed"))
    return meta


# -- Markdown --------------------------------------------------------------------------


def _md(text: object) -> str:
    """A Markdown table cell: control characters escaped, ``|`` and ``\\`` escaped, and a
    leading ``= + - @`` escaped so that a spreadsheet pasting the table runs no formula."""
    cell = safe_line(str(text).replace("\n", " "))
    cell = cell.replace("\\", "\\\\").replace("|", "\\|")
    return "\\" + cell if cell[:1] in ("=", "+", "-", "@") else cell


def _md_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" --- " for _ in headers) + "|"]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return lines


def _count_rows(rows: list[tuple[str, dict[str, int]]], with_unknown: bool
                ) -> list[list[object]]:
    cols = COUNT_COLUMNS if with_unknown else COUNT_COLUMNS[:-1]
    return [[label, *(counts.get(c, 0) for c in cols)] for label, counts in rows]


def _count_headers(first: str, with_unknown: bool) -> list[str]:
    headers = [first, "Rooms", f"{SYMBOLS[Verdict.READY]} Ready",
               f"{SYMBOLS[Verdict.DEGRADED]} Degraded", f"{SYMBOLS[Verdict.DOWN]} Down"]
    return [*headers, f"{SYMBOLS[Verdict.UNKNOWN]} Not checked"] if with_unknown else headers


def render_markdown(report: SweepReport, inventory: Inventory, history: History | None = None,
                    *, tz: tzinfo | None = None) -> str:
    """The readiness report as Markdown (GitHub tables), for chat, mail or a terminal."""
    with_unknown = bool(report.summary().get("unknown"))
    lines = [f"# {safe_line(_title(inventory))}", ""]
    lines += [f"- **{k}:** {_md(v)}" for k, v in _meta(report, tz)]
    lines += ["", f"**{_summary_line(report)}**", "", "## Not ready", ""]
    lines += _md_not_ready(report, inventory, recent_failures(report, history))
    flaky = often_failing(report, history)
    if flaky:
        headers, table, _ = _flaky_table(report, inventory, flaky, tz)
        lines += ["", f"## {FLAKY_TITLE}", "", *_md_table(headers, table)]
    lines += ["", "## By tier", ""]
    lines += _md_table(_count_headers("Tier", with_unknown),
                       _count_rows(_tier_rows(report, inventory), with_unknown))
    lines += ["", "## By district", ""]
    lines += _md_table(_count_headers("District", with_unknown),
                       _count_rows(_district_rows(report, inventory), with_unknown))
    return "\n".join(lines) + "\n"


def _md_not_ready(report: SweepReport, inventory: Inventory,
                  failures: dict[str, int] | None) -> list[str]:
    rows = not_ready(report)
    if not rows:
        return ["Every room is ready."]
    return _md_table(*_not_ready_table(rows, inventory, failures))


# -- HTML --------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 2em;
       color: #1b1b1b; }
h1 { margin-bottom: 0.2em; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; }
td.n { text-align: right; }
.ready { color: #1a7f37; } .degraded { color: #9a6700; } .down { color: #cf222e; }
.unknown { color: #57606a; }
tr.down td:first-child, tr.degraded td:first-child, tr.unknown td:first-child
  { font-weight: bold; white-space: nowrap; }
.summary { font-size: 1.2em; font-weight: bold; }
.warning { color: #cf222e; font-weight: bold; }
@media print { body { margin: 0; } }
"""


def _h(text: object) -> str:
    return html.escape(safe_line(text))


def _html_table(headers: Sequence[str], rows: Iterable[Sequence[object]],
                row_class: Callable[[int], str] | None = None) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{_h(h)}</th>" for h in headers) + "</tr>"]
    for i, row in enumerate(rows):
        cls = f' class="{row_class(i)}"' if row_class else ""
        cells = "".join(f'<td class="n">{c}</td>' if isinstance(c, int) else f"<td>{_h(c)}</td>"
                        for c in row)
        out.append(f"<tr{cls}>{cells}</tr>")
    out.append("</table>")
    return out


def render_html(report: SweepReport, inventory: Inventory, history: History | None = None,
                *, tz: tzinfo | None = None) -> str:
    """The readiness report as one self-contained HTML page (inline CSS, no scripts)."""
    with_unknown = bool(report.summary().get("unknown"))
    title = _title(inventory)
    out = ["<!DOCTYPE html>", '<html lang="vi">', "<head>", '<meta charset="utf-8">',
           f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{_h(title)}</h1>", "<dl>"]
    for key, value in _meta(report, tz):
        cls = ' class="warning"' if key == "Warning" else ""
        out.append(f"<dt>{_h(key)}</dt><dd{cls}>{_h(value)}</dd>")
    out += ["</dl>", f'<p class="summary">{_h(_summary_line(report))}</p>', "<h2>Not ready</h2>"]
    out += _html_not_ready(report, inventory, recent_failures(report, history))
    flaky = often_failing(report, history)
    if flaky:
        headers, table, verdicts = _flaky_table(report, inventory, flaky, tz)
        out.append(f"<h2>{_h(FLAKY_TITLE)}</h2>")
        out += _html_table(headers, table, lambda i: verdicts[i].value)
    out.append("<h2>By tier</h2>")
    out += _html_table(_count_headers("Tier", with_unknown),
                       _count_rows(_tier_rows(report, inventory), with_unknown))
    out.append("<h2>By district</h2>")
    out += _html_table(_count_headers("District", with_unknown),
                       _count_rows(_district_rows(report, inventory), with_unknown))
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_not_ready(report: SweepReport, inventory: Inventory,
                    failures: dict[str, int] | None) -> list[str]:
    rows = not_ready(report)
    if not rows:
        return ['<p class="ready">Every room is ready.</p>']
    headers, table = _not_ready_table(rows, inventory, failures)
    return _html_table(headers, table, lambda i: rows[i].verdict.value)
