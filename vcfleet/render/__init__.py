"""Every output format of a sweep report, and the one table they all read.

Where each thing lives:

- ``vcfleet.render.verdicts``: per verdict its word, symbol and style, the one order
  rooms are listed in (worst first), and the order of counts in a summary.
- ``vcfleet.figures`` (beside, not inside, so that the history store reads it without
  importing a renderer): the key figures and how they are written.
- one module per format: ``table`` (aligned plain text), ``csv``, ``json``,
  ``markdown`` and ``html`` (the readiness report; its shared content is in
  ``readiness``).  The inventory list uses ``table``, ``csv`` and ``json`` too.

``render_report`` picks the format by name (``vcfleet sweep --format``).  This module
imports its formats only when asked, so that reading ``verdicts`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from inventory import Inventory
    from vcfleet.history import History
    from vcfleet.report import SweepReport

REPORT_FORMATS = ("table", "json", "csv", "html", "md")
"""The formats of a sweep report; html and md need the inventory."""


def render_report(report: SweepReport, fmt: str, inventory: Inventory | None = None,
                  history: History | None = None) -> str:
    """The report in one of ``REPORT_FORMATS`` (docs/sweep.md); ValueError for another."""
    if fmt in ("html", "md"):
        if inventory is None:
            raise ValueError(f"the {fmt} report needs the inventory")
        if fmt == "html":
            from vcfleet.render.html import render_html

            return render_html(report, inventory, history)
        from vcfleet.render.markdown import render_markdown

        return render_markdown(report, inventory, history)
    if fmt == "json":
        from vcfleet.render.json import report_json

        return report_json(report)
    if fmt == "csv":
        from vcfleet.render.csv import report_csv

        return report_csv(report)
    if fmt == "table":
        from vcfleet.render.table import report_table

        return report_table(report)
    raise ValueError(f"unknown report format {fmt!r}: expected one of {REPORT_FORMATS}")
