"""Plain-text tables aligned by terminal cell width (Vietnamese text, symbols)."""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Callable, Sequence

from rich.cells import cell_len

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
