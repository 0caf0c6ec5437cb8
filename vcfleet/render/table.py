"""Plain-text tables aligned by terminal cell width (Vietnamese text, symbols): the
sweep report of ``vcfleet sweep --format table`` and the rows of any other listing
(``vcfleet inventory list``, the push report)."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from rich.cells import cell_len

from vcfleet.render.verdicts import COUNT_ORDER, not_ready, symbol, word
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
    first) with their reasons."""
    parts = [_headline(report) + "\n"]
    for key in ("tier", "district"):
        parts.append(f"\nBy {key}\n")
        parts.append(_summary_table(report, key))
    rows = not_ready(report.endpoints)
    if not rows:
        parts.append("\nEvery room is ready.\n")
        return "".join(parts)
    parts.append(f"\nNot ready ({len(rows)})\n")
    cells = [[f"{symbol(r.verdict)} {r.verdict.value}", r.endpoint.id, r.endpoint.name,
              r.endpoint.district or "", "; ".join(r.reasons)] for r in rows]
    parts.append(render_table(("verdict", "id", "name", "district", "reasons"), cells))
    return "".join(parts)


def _headline(report: SweepReport) -> str:
    s = report.summary()
    checks = ", ".join(report.checks) or "each room's profile"
    counts = ", ".join(f"{s[v.value]} {word(v)}" for v in COUNT_ORDER
                       if v is not Verdict.UNKNOWN or s.get(v.value))
    head = f"Sweep of {s['total']} rooms ({checks}) in {report.duration_s:.2f} s: {counts}"
    if report.cancelled:
        head += " (sweep cancelled or past its deadline)"
    return head


def _summary_table(report: SweepReport, key: str) -> str:
    groups = report.summary_by(key)
    with_unknown = any(g["unknown"] for g in groups.values())
    cols = ["total", *(v.value for v in COUNT_ORDER if with_unknown or v is not Verdict.UNKNOWN)]
    rows = [[name, *(g[c] for c in cols)] for name, g in groups.items()]
    return render_table((key, *cols), rows)
