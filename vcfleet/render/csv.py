"""CSV: one row per room of a sweep (``vcfleet sweep --format csv``) and the rows of any
other listing (``vcfleet inventory list --format csv``).

The verdict column holds the machine value (``unknown``, not the operator's word), as
in the sweep JSON, so that a spreadsheet's filters do not change with the language.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence

from vcfleet.render.verdicts import worst_first
from vcfleet.report import EndpointReport, SweepReport
from vcfleet.safe_text import safe_line

Column = tuple[str, str | None, str]
"""A figure column: check, direction (None: both), figure name ("ok": the check passed)."""


def render_csv(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as CSV (UTF-8 text; the caller adds a BOM for spreadsheet programs if wanted).

    Text cells are made safe twice: control characters escaped for the terminal, and a
    cell that a spreadsheet would run as a formula guarded (``inventory.spreadsheet``)."""
    from inventory.spreadsheet import guard_cell

    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows([_csv_cell(c, guard_cell) for c in row] for row in rows)
    return buf.getvalue()


def _csv_cell(value: object, guard: Callable[[str], str]) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return guard(safe_line(value))
    return value


def report_csv(report: SweepReport) -> str:
    """One row per room, worst first as in every format: identity, verdict, reasons, notes,
    then
    ``CHECK_ok`` and every figure any room reported (columns in the order the sweep's
    rooms first report them, so that they do not move when verdicts change)."""
    cols = _figure_columns(report)
    headers = ["id", "name", "tier", "district", "address", "verdict", "reasons", "notes",
               *("_".join(p for p in c if p) for c in cols)]
    rows = [[r.endpoint.id, r.endpoint.name, r.endpoint.tier, r.endpoint.district or "",
             r.endpoint.address, r.verdict.value, "; ".join(r.reasons), "; ".join(r.notes),
             *(_cell(r, c) for c in cols)] for r in worst_first(report.endpoints)]
    return render_csv(headers, rows)


def _figure_columns(report: SweepReport) -> list[Column]:
    columns: dict[Column, None] = {}
    for r in report.endpoints:
        for name, check in r.checks.items():
            columns.setdefault((name, None, "ok"), None)
            for fig in check.result.figures:
                columns.setdefault((name, None, fig), None)
            for direction, figs in check.result.directions.items():
                for fig in figs:
                    columns.setdefault((name, direction, fig), None)
    return list(columns)


def _cell(r: EndpointReport, column: Column) -> object:
    check, direction, fig = column
    if check not in r.checks:
        return ""
    if fig == "ok" and direction is None:
        return "true" if r.checks[check].result.ok else "false"
    value = r.figure(check, fig, direction)
    return "" if value is None else value
