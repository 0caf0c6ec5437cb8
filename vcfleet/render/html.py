"""The readiness report as one self-contained HTML page (inline CSS, no script, no
external asset), so that it can be mailed or opened offline.

    text = render_html(report, inventory, history=History())
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Sequence
from datetime import tzinfo
from typing import TYPE_CHECKING

from inventory import Inventory
from vcfleet.i18n import _, language
from vcfleet.render import readiness as rr
from vcfleet.render.verdicts import not_ready
from vcfleet.report import SweepReport
from vcfleet.safe_text import safe_line

if TYPE_CHECKING:
    from vcfleet.history import History


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
    title = rr.title(inventory)
    out = ["<!DOCTYPE html>", f'<html lang="{language()}">', "<head>", '<meta charset="utf-8">',
           f"<title>{_h(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
           f"<h1>{_h(title)}</h1>", "<dl>"]
    for key, value in rr.meta(report, tz):
        cls = ' class="warning"' if key == rr.warning_key() else ""
        out.append(f"<dt>{_h(key)}</dt><dd{cls}>{_h(value)}</dd>")
    out += ["</dl>", f'<p class="summary">{_h(rr.summary_line(report))}</p>',
            "<h2>" + _h(_("Not ready")) + "</h2>"]
    out += _html_not_ready(report, inventory, rr.recent_failures(report, history))
    notes = rr.notes_table(report, inventory)
    if notes:
        out.append(f"<h2>{_h(rr.notes_title())}</h2>")
        out += _html_table(*notes)
    flaky = rr.often_failing(report, history)
    if flaky:
        headers, table, verdicts = rr.flaky_table(report, inventory, flaky, tz)
        out.append(f"<h2>{_h(rr.flaky_title())}</h2>")
        out += _html_table(headers, table, lambda i: verdicts[i].value)
    out += ["<h2>" + _h(_("By tier")) + "</h2>",
            *_html_table(*rr.count_table(report, inventory, "tier"))]
    out += ["<h2>" + _h(_("By district")) + "</h2>",
            *_html_table(*rr.count_table(report, inventory, "district"))]
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _html_not_ready(report: SweepReport, inventory: Inventory,
                    failures: dict[str, int] | None) -> list[str]:
    rows = not_ready(report.endpoints)
    if not rows:
        return ['<p class="ready">' + _h(_("Every room is ready.")) + "</p>"]
    headers, table = rr.not_ready_table(rows, inventory, failures)
    return _html_table(headers, table, lambda i: rows[i].verdict.value)
