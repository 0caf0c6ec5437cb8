"""The readiness report as Markdown (GitHub tables), for chat, mail or a terminal.

    text = render_markdown(report, inventory, history=History())
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from inventory import Inventory
from vcfleet.i18n import _
from vcfleet.render import readiness as rr
from vcfleet.render.verdicts import not_ready
from vcfleet.report import SweepReport
from vcfleet.safe_text import safe_line

if TYPE_CHECKING:
    from vcfleet.history import History


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


def render_markdown(report: SweepReport, inventory: Inventory, history: History | None = None,
                    *, tz: tzinfo | None = None) -> str:
    """The readiness report as Markdown (GitHub tables), for chat, mail or a terminal."""
    lines = [f"# {safe_line(rr.title(inventory))}", ""]
    lines += [f"- **{k}:** {_md(v)}" for k, v in rr.meta(report, tz)]
    lines += ["", f"**{rr.summary_line(report)}**", "", "## " + _("Not ready"), ""]
    lines += _md_not_ready(report, inventory, rr.recent_failures(report, history))
    notes = rr.notes_table(report, inventory)
    if notes:
        lines += ["", f"## {rr.notes_title()}", "", *_md_table(*notes)]
    flaky = rr.often_failing(report, history)
    if flaky:
        headers, table, _verdicts = rr.flaky_table(report, inventory, flaky, tz)
        lines += ["", f"## {rr.flaky_title()}", "", *_md_table(headers, table)]
    lines += ["", "## " + _("By tier"), "",
              *_md_table(*rr.count_table(report, inventory, "tier"))]
    lines += ["", "## " + _("By district"), "",
              *_md_table(*rr.count_table(report, inventory, "district"))]
    return "\n".join(lines) + "\n"


def _md_not_ready(report: SweepReport, inventory: Inventory,
                  failures: dict[str, int] | None) -> list[str]:
    rows = not_ready(report.endpoints)
    if not rows:
        return [_("Every room is ready.")]
    return _md_table(*rr.not_ready_table(rows, inventory, failures))
