"""Plain-text tables aligned by terminal cell width (Vietnamese text, symbols): the
sweep report of ``vcfleet sweep --format table`` and the rows of any other listing
(``vcfleet inventory list``, the push report)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from rich.cells import cell_len

from vcfleet.i18n import N_, _, number
from vcfleet.reasons import reasons_text
from vcfleet.render.verdicts import COUNT_ORDER, not_ready, symbol, word, worst_first
from vcfleet.report import SweepReport, Verdict
from vcfleet.safe_text import safe_line


def _normal(text: str) -> str:
    # Decomposed input ("a" + combining grave) would count as two cells in some
    # terminals; NFC makes every Vietnamese letter one code point, one cell.
    return unicodedata.normalize("NFC", safe_line(text))


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as an aligned table, columns separated by two spaces; control characters
    in a cell are shown escaped (``vcfleet.safe_text``), never sent to the terminal."""
    cells = [[_normal(str(c)) for c in row] for row in [headers, *rows]]
    widths = [max(cell_len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        padded = [c + " " * (w - cell_len(c)) for c, w in zip(row, widths, strict=True)]
        lines.append("  ".join(padded).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines) + "\n"


def report_table(report: SweepReport) -> str:
    """Summary line, summaries by tier and by district, then the rooms not ready (worst
    first) with their reasons, and the rooms with notes (any verdict) with their notes."""
    parts = [_headline(report) + "\n"]
    for key, heading in (("tier", _("By tier")), ("district", _("By district"))):
        parts.append(f"\n{heading}\n")
        parts.append(_summary_table(report, key))
    rows = not_ready(report.endpoints)
    if not rows:
        parts.append("\n" + _("Every room is ready.") + "\n")
    else:
        parts.append("\n" + _("Not ready ({n})").format(n=len(rows)) + "\n")
        # The verdict column has the machine value in English ("unknown"), as it always did.
        cells = [[f"{symbol(r.verdict)} {_(r.verdict.value)}", r.endpoint.id, r.endpoint.name,
                  r.endpoint.district or "", reasons_text(r.reasons)] for r in rows]
        parts.append(render_table([_(h) for h in COLUMNS], cells))
    noted = [r for r in worst_first(report.endpoints) if r.notes]
    if noted:
        parts.append("\n" + _("Notes ({n})").format(n=len(noted)) + "\n")
        cells = [[f"{symbol(r.verdict)} {_(r.verdict.value)}", r.endpoint.id, r.endpoint.name,
                  r.endpoint.district or "", reasons_text(r.notes)] for r in noted]
        parts.append(render_table([_(h) for h in NOTE_COLUMNS], cells))
    return "".join(parts)


COLUMNS = (N_("verdict"), N_("id"), N_("name"), N_("district"), N_("reasons"))
"""The headings of the "Not ready" table (translated when written)."""
NOTE_COLUMNS = (N_("verdict"), N_("id"), N_("name"), N_("district"), N_("notes"))
"""The headings of the "Notes" table: what does not change a room's verdict."""
SUMMARY_COLUMNS = (N_("tier"), N_("district"), N_("total"), N_("unknown"))
"""Headings of the summary tables besides the verdict words (translated when written)."""


def _headline(report: SweepReport) -> str:
    s = report.summary()
    checks = ", ".join(report.checks) or _("each room's profile")
    counts = ", ".join(f"{s[v.value]} {word(v)}" for v in COUNT_ORDER
                       if v is not Verdict.UNKNOWN or s.get(v.value))
    head = _("Sweep of {n} rooms ({checks}) in {seconds} s: {counts}").format(
        n=s["total"], checks=checks, seconds=number(report.duration_s, ".2f"), counts=counts)
    if report.cancelled:
        head += _(" (sweep cancelled or past its deadline)")
    return head


def _summary_table(report: SweepReport, key: str) -> str:
    groups = report.summary_by(key)
    with_unknown = any(g["unknown"] for g in groups.values())
    cols = ["total", *(v.value for v in COUNT_ORDER if with_unknown or v is not Verdict.UNKNOWN)]
    rows = [[name, *(g[c] for c in cols)] for name, g in groups.items()]
    return render_table([_(key), *(_(c) for c in cols)], rows)
