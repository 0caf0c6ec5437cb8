"""Spreadsheets: export the resolved endpoints to CSV/XLSX and import them back.

One row per endpoint, one column per resolved value (docs/spreadsheets.md has
the layout).  Export fills in every inherited value, so a row says everything
about its room.  Import reads such a sheet (UTF-8 CSV with or without a BOM,
Excel's "Unicode text" (UTF-16, tab-separated), or the first sheet of an XLSX
workbook, header row found under any title rows), reports every problem as
``SRC:ROW:COL: message`` and writes a flat YAML inventory that the loader reads
back into the same endpoints.  ``--base`` supplies tiers, profiles, defaults and
groups; endpoint entries then only hold what differs from the defaults.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inventory.consistency import fleet_problems
from inventory.errors import N_, InputError, Message, Problem, endpoint_label, labelled
from inventory.loader import Inventory, build_inventory, merge_plain, parse_inventory
from inventory.model import DEFAULT_PROFILES, DEFAULT_TIERS, Endpoint, Profile
from inventory.yamlerrors import describe, model_of
from inventory.yamlpos import PosDict, PosList, decode, load


@dataclass(frozen=True)
class Column:
    """One spreadsheet column and the endpoint value it holds."""

    name: str
    path: tuple[str, ...]
    """Where the value lives in the endpoint (``("services", "sip", "port")``)."""
    doc: str


COLUMNS: tuple[Column, ...] = (
    Column("id", ("id",), "stable slug, unique (required)"),
    Column("name", ("name",), "the unit's name, diacritics kept (required)"),
    Column("tier", ("tier",), "one of the inventory's tiers (required)"),
    Column("parent", ("parent",), "id of the unit above; empty for the root"),
    Column("district", ("district",), "district-level unit slug, for selectors"),
    Column("address", ("address",), "management IP address or host name (required)"),
    Column("vendor", ("vendor",), "cisco_ce, poly or yealink (required)"),
    Column("model", ("model",), "codec model"),
    Column("profile", ("profile",), "check profile (default: standard)"),
    Column("tags", ("tags",), "tags, separated by commas or spaces"),
    Column("maintenance", ("maintenance",), "true or false"),
    Column("contact_name", ("contact", "name"), "who to phone"),
    Column("contact_phone", ("contact", "phone"), "their phone number"),
    Column("username", ("credentials", "username"), "login name (default: admin)"),
    Column("secret", ("credentials", "secret"),
           "env:VAR, file:PATH, keyring:SERVICE/USER or agent; never a password"),
    Column("sip_port", ("services", "sip", "port"), "SIP port; empty: no SIP service"),
    Column("sip_transport", ("services", "sip", "transport"), "udp or tcp"),
    Column("ssh_port", ("services", "ssh", "port"), "SSH API port; empty: no SSH"),
    Column("https_port", ("services", "https", "port"), "HTTPS port; empty: no HTTPS"),
    Column("https_path", ("services", "https", "path"), "page the HTTPS check fetches"),
    Column("https_verify_tls", ("services", "https", "verify_tls"), "true or false"),
    Column("webrtc_port", ("services", "webrtc", "port"),
           "WebRTC responder port; empty: no responder"),
    Column("webrtc_path", ("services", "webrtc", "path"), "responder signalling path"),
    Column("webrtc_scheme", ("services", "webrtc", "scheme"), "http or https"),
    Column("webrtc_token", ("services", "webrtc", "token"), "bearer token reference"),
)
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
REQUIRED_COLUMNS = ("id", "name", "tier", "address", "vendor")
PLAINTEXT_COLUMNS = ("password", "passwd", "pass", "mat_khau", "mật_khẩu")
SHEET_NAME = "endpoints"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet program run a cell as a formula (OWASP
"CSV injection"); ``guard_cell`` puts a ``'`` before them."""
HEADER_SEARCH_ROWS = 20
"""How far down import looks for the header row (title rows above it are skipped)."""


def guard_cell(text: str) -> str:
    """A CSV text cell that no spreadsheet runs as a formula: a leading ``'`` before a
    formula character (and before a leading ``'``, so that ``unguard_cell`` is exact)."""
    if text[:1] in FORMULA_TRIGGERS or text[:1] == "'":
        return "'" + text
    return text


def unguard_cell(text: str) -> str:
    """The inverse of ``guard_cell``: export then import gives back the same text."""
    if text[:1] == "'" and (text[1:2] in FORMULA_TRIGGERS or text[1:2] == "'"):
        return text[1:]
    return text


# -- export ---------------------------------------------------------------------------------


def export_rows(endpoints: Iterable[Endpoint]) -> list[list[Any]]:
    """Each endpoint as one row of resolved values (None where a service is absent)."""
    rows = []
    for e in endpoints:
        data = e.model_dump(mode="json")
        rows.append([_cell_out(_dig(data, c.path)) for c in COLUMNS])
    return rows


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for part in path:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _cell_out(value: Any) -> Any:
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return value


def export_file(endpoints: Sequence[Endpoint], out: Path) -> None:
    """Write endpoints to ``out``: ``.csv`` (UTF-8 with BOM) or ``.xlsx``."""
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(Message.of(N_("{path}: export writes .csv or .xlsx, not {suffix}"),
                                    path=out, suffix=_suffix(suffix)))
    try:
        if suffix == ".csv":
            out.write_bytes(csv_bytes(endpoints))
        else:
            _write_xlsx(endpoints, out)
    except OSError as exc:
        raise InputError(Message.of(N_("{path}: cannot write: {error}"), path=out,
                                    error=exc.strerror or exc)) from None


def csv_bytes(endpoints: Sequence[Endpoint]) -> bytes:
    """The CSV export: UTF-8 with a BOM so that spreadsheet programs keep the diacritics."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(COLUMN_NAMES)
    for row in export_rows(endpoints):
        writer.writerow(["" if v is None else _csv_text(v) for v in row])
    return buf.getvalue().encode("utf-8-sig")


def _csv_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return guard_cell(value)
    return str(value)


def _write_xlsx(endpoints: Sequence[Endpoint], out: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_NAME
    ws.append(list(COLUMN_NAMES))
    for row in export_rows(endpoints):
        ws.append(row)
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # text, never a formula ("=HYPERLINK(...)" stays text)
    ws.freeze_panes = "A2"
    for i, column in enumerate(COLUMNS, start=1):
        width = max([len(column.name)] + [len(str(c.value or "")) for c in ws[_letter(i)]])
        ws.column_dimensions[_letter(i)].width = min(60, width + 2)
    wb.save(out)


def _letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index))


# -- reading rows ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sheet:
    """Rows read from a spreadsheet, each with the row number staff see."""

    name: str
    header: list[str]
    rows: list[tuple[int, list[Any]]]
    header_row: int = 1
    problems: tuple[Problem, ...] = ()
    """Cells that could not be read (a formula without a saved value)."""


def _find_header(rows: list[tuple[int, list[Any]]]) -> int:
    """Index of the header: the first row with two or more known column names (a title
    row above the table is skipped); the first row when none has."""
    known = set(COLUMN_NAMES) | set(PLAINTEXT_COLUMNS)
    for i, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]):
        if sum(_column_key(c) in known for c in cells) >= 2:
            return i
    return 0


def _column_key(raw: Any) -> str:
    return "" if raw is None else str(raw).strip().lower().replace(" ", "_")


def _sheet(name: str, rows: list[tuple[int, list[Any]]],
           problems: Sequence[Problem] = ()) -> Sheet:
    at = _find_header(rows)
    header = ["" if h is None else str(h) for h in rows[at][1]]
    return Sheet(name, header, rows[at + 1:], rows[at][0], tuple(problems))


def read_sheet(src: Path) -> Sheet:
    """Read a CSV or XLSX file into a header and numbered rows."""
    suffix = src.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(Message.of(N_("{path}: import reads .csv or .xlsx, not {suffix}"),
                                    path=src, suffix=_suffix(suffix)))
    try:
        data = src.read_bytes()
    except OSError as exc:
        raise InputError(Message.of(N_("{path}: cannot read: {error}"), path=src,
                                    error=exc.strerror or exc)) from None
    return _read_csv(data, str(src)) if suffix == ".csv" else _read_xlsx(data, str(src))


def _read_csv(data: bytes, name: str) -> Sheet:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # Excel's "Unicode text"
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError([Problem(name, 1, 1, Message.of(N_(
                "not valid UTF-16 text (at byte {byte}): save it again as CSV UTF-8"),
                byte=exc.start))]) from None
    else:
        text = decode(data, name)
    first = text.split("\n", 1)[0]
    counts = {d: first.count(d) for d in ("\t", ";", ",")}
    delimiter = max(counts, key=lambda d: counts[d]) if any(counts.values()) else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[tuple[int, list[Any]]] = []
    start = 1
    try:
        for record in reader:
            rows.append((start, [unguard_cell(c) for c in record]))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InputError([Problem(name, start, 1, Message.of(N_("CSV error: {error}"),
                                                             error=exc))]) from None
    if not rows:
        raise InputError([Problem(name, 1, 1, Message.of(N_(
            "file is empty: expected a header row (see docs/spreadsheets.md)")))])
    return _sheet(name, rows)


def _read_xlsx(data: bytes, name: str) -> Sheet:
    import zipfile

    from openpyxl import load_workbook

    try:  # twice: the values Excel saved, and which cells are formulas
        wb = load_workbook(io.BytesIO(data), data_only=True)
        formulas = load_workbook(io.BytesIO(data), data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError) as exc:
        raise InputError([Problem(name, 1, 1, Message.of(
            N_("not a readable XLSX workbook ({error})"), error=exc))]) from None
    ws = wb[SHEET_NAME] if SHEET_NAME in wb.sheetnames else wb.worksheets[0]
    fs = formulas[ws.title]
    rows = [(n, [_xlsx_value(c) for c in cells]) for n, cells in enumerate(ws.iter_rows(), 1)]
    if not rows or all(v is None for _, r in rows for v in r):
        raise InputError([Problem(name, 1, 1, Message.of(N_(
            "sheet is empty: expected a header row (see docs/spreadsheets.md)")))])
    problems = []
    for cells in fs.iter_rows():
        for f in cells:
            if f.data_type == "f" and rows[f.row - 1][1][f.column - 1] is None:
                problems.append(Problem(name, f.row, f.column, Message.of(N_(
                    "{cell}: formula without a saved value: open and save the file in "
                    "Excel, or type the value"), cell=f.coordinate)))
    for merged in ws.merged_cells.ranges:  # every cell of a merged range shows its top-left
        top = rows[merged.min_row - 1][1][merged.min_col - 1]
        for r in range(merged.min_row, merged.max_row + 1):
            for c in range(merged.min_col, merged.max_col + 1):
                rows[r - 1][1][c - 1] = top
    return _sheet(name, rows, problems)


def _xlsx_value(cell: Any) -> Any:
    """A cell's value; a number whose format pads with zeros ("0000000000", a phone
    number) as the digits Excel shows, leading zeros kept."""
    value = cell.value
    fmt = str(getattr(cell, "number_format", "") or "")
    if isinstance(value, int | float) and not isinstance(value, bool) \
            and re.fullmatch(r"0+", fmt) and float(value).is_integer():
        return str(int(value)).zfill(len(fmt))
    return value


# -- import ---------------------------------------------------------------------------------


BASE_SECTIONS = ("tiers", "thresholds", "profiles", "defaults", "groups", "provisioning")
"""Sections an imported inventory takes from its ``--base`` file, as written there."""


@dataclass(frozen=True)
class Base:
    """What an imported inventory takes from a base file: tiers, profiles, defaults, groups."""

    tiers: tuple[str, ...] = tuple(DEFAULT_TIERS)
    profiles: dict[str, Profile] | None = None
    province: str = ""
    sections: dict[str, Any] | None = None
    """The base's own ``tiers``/``profiles``/``defaults``/``groups`` as written there."""


def load_base(path: Path) -> Base:
    """Read and validate a base inventory (its ``endpoints``, if any, are ignored)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read base inventory: {exc.strerror or exc}") from None
    doc = load(decode(data, str(path)), str(path))
    if not isinstance(doc, PosDict):
        raise InputError([Problem(str(path), 1, 1, Message.of(N_(
            "base: expected a mapping with tiers, profiles, defaults or groups")))])
    probe = PosDict({k: v for k, v in doc.items() if k != "endpoints"})
    probe.key_marks.update(doc.key_marks)
    probe.value_marks.update(doc.value_marks)
    probe["endpoints"] = PosList()
    probe.value_marks.setdefault("endpoints", doc.mark)
    inv = build_inventory(probe, str(path), path)
    sections = {k: plain(doc[k]) for k in BASE_SECTIONS if k in doc}
    return Base(inv.tiers, dict(inv.profiles), inv.province, sections)


def plain(value: Any) -> Any:
    """PosDict/PosList trees as plain dicts and lists (for yaml.safe_dump)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


class _RowReader:
    def __init__(self, sheet: Sheet, base: Base) -> None:
        self.sheet = sheet
        self.base = base
        self.problems: list[Problem] = []
        self.columns: dict[int, Column] = {}
        self.col_of: dict[str, int] = {}
        self.rejected_ids: set[str] = set()
        """Ids of rows that were rejected: their children's parent does exist."""

    def error(self, row: int, col: int, message: str) -> None:
        self.problems.append(Problem(self.sheet.name, row, col, message))

    def read_header(self) -> None:
        by_name = {c.name: c for c in COLUMNS}
        at = self.sheet.header_row
        for i, raw in enumerate(self.sheet.header, start=1):
            name = _column_key(raw)
            if not name:
                continue
            if name in PLAINTEXT_COLUMNS:
                self.error(at, i, Message.of(N_(
                    "column '{column}': plaintext passwords are not allowed: use the 'secret' "
                    "column with env:VAR, file:PATH, keyring:SERVICE/USER or agent"), column=raw))
            elif name not in by_name:
                self.error(at, i, Message.of(
                    N_("unknown column '{column}' (columns: {columns})"), column=raw,
                    columns=", ".join(COLUMN_NAMES)))
            elif name in self.col_of:
                self.error(at, i, Message.of(N_(
                    "duplicate column '{column}' (first in column {first})"), column=name,
                    first=self.col_of[name]))
            else:
                self.columns[i] = by_name[name]
                self.col_of[name] = i
        missing = [n for n in REQUIRED_COLUMNS if n not in self.col_of]
        if missing:
            self.error(at, 1, Message.of(N_("missing required column(s): {columns}"),
                                             columns=", ".join(missing)))

    def endpoints(self) -> list[tuple[int, Endpoint]]:
        out: list[tuple[int, Endpoint]] = []
        for row, cells in self.sheet.rows:
            if all(_text(c) == "" for c in cells):
                continue
            extra = [i for i, c in enumerate(cells, 1) if i not in self.columns and _text(c)]
            for i in extra:
                self.error(row, i, "value in a column without a header")
            endpoint = self.endpoint(row, cells)
            if endpoint is not None:
                out.append((row, endpoint))
            elif "id" in self.col_of:
                self.rejected_ids.add(_text(_at(cells, self.col_of["id"])))
        return out

    def endpoint(self, row: int, cells: list[Any]) -> Endpoint | None:
        data: dict[str, Any] = {}
        unreadable = False
        for i, column in self.columns.items():
            try:
                value = _cell_in(_at(cells, i), column)
            except ValueError as exc:
                self.error(row, i, Message.of(N_("column '{column}': {problem}"),
                                                    column=column.name, problem=_said(exc)))
                unreadable = True
                continue
            if value is not None:
                _put(data, column.path, value)
        label = endpoint_label(data.get("id", "?"))
        defaults = (self.base.sections or {}).get("defaults")
        if isinstance(defaults, dict):  # empty cells take the base's defaults
            data = merge_plain(data, defaults)
        if unreadable:
            return None
        try:
            # Cells are text (CSV) or spreadsheet numbers: here, unlike in YAML, "5060"
            # and "false" are how a port and a boolean are written.
            return Endpoint.model_validate(data, strict=False)
        except ValidationError as exc:
            for err in exc.errors():
                self.report(row, err, label)
        return None

    def report(self, row: int, err: Any, label: str) -> None:
        loc = [str(p) for p in err["loc"]]
        column = self.column_for(loc)
        col = self.col_of.get(column.name, 1) if column else 1
        name = column.name if column else ".".join(loc)
        if err["type"] == "missing":
            self.error(row, col, labelled(label, Message.of(
                N_("missing value in column '{column}'"), column=name)))
            return
        self.error(row, col, describe(err, name, label, Endpoint, loc))

    def column_for(self, loc: list[str]) -> Column | None:
        for n in range(len(loc), 0, -1):
            for c in COLUMNS:
                if c.path == tuple(loc[:n]):
                    return c
        for c in COLUMNS:  # a whole service that failed: point at its first column
            if c.path[: len(loc)] == tuple(loc):
                return c
        return None

    def cross_check(self, endpoints: list[tuple[int, Endpoint]]) -> None:
        def where(i: int, field: str) -> tuple[int, int]:
            return endpoints[i][0], self.col_of.get(field, 1)

        self.problems.extend(fleet_problems(
            self.sheet.name, [e for _, e in endpoints], where, list(self.base.tiers),
            self.base.profiles or DEFAULT_PROFILES, first=N_("first in row"),
            tier_hint=N_("; pass --base with a 'tiers' list"), rejected=self.rejected_ids))

def _at(cells: list[Any], col: int) -> Any:
    return cells[col - 1] if col <= len(cells) else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    return str(value).strip()


def _date_text(value: dt.datetime | dt.date | dt.time) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else \
            value.isoformat(sep=" ")
    return value.isoformat()


def _suffix(suffix: str) -> str:
    """A file's suffix as a message names it: ``'.pdf'``, or ``'no suffix'``."""
    return repr(suffix) if suffix else Message.of(N_("'no suffix'"))


def _said(exc: ValueError) -> str:
    """A ValueError's message: the ``Message`` it was raised with, else its text."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], Message) else str(exc)


def _cell_in(raw: Any, column: Column) -> Any:
    """A cell as the model expects it; None for an empty cell (the model's default)."""
    if isinstance(raw, dt.datetime | dt.date | dt.time):
        raise ValueError(Message.of(N_("the cell is a date or time ({value}), not text: format "
                                       "the cell as Text and type the value again"),
                                    value=_date_text(raw)))
    if column.name == "contact_phone" and isinstance(raw, int | float) \
            and not isinstance(raw, bool):
        raise ValueError(Message.of(N_("the phone number is stored as a number ({value}), which "
                                       "loses a leading 0: format the cell as Text (or as "
                                       "0000000000) and type it again"), value=_text(raw)))
    text = _text(raw)
    if text == "":
        return None
    if column.name == "tags":
        return [t for t in re.split(r"[,;\s]+", text) if t]
    typed = column.name.endswith(("_port", "maintenance", "_verify_tls"))
    if typed and isinstance(raw, bool | int | float) and float(raw).is_integer():
        return raw if isinstance(raw, bool) else int(raw)
    if column.name.endswith("_port") and re.fullmatch(r"[+-]?[0-9]+", text):
        return int(text)
    return text


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for part in path[:-1]:
        data = data.setdefault(part, {})
    data[path[-1]] = value


def read_endpoints(src: Path, base: Base | None = None) -> list[Endpoint]:
    """Endpoints of a spreadsheet, validated row by row and across rows."""
    sheet = read_sheet(src)
    reader = _RowReader(sheet, base or Base())
    reader.read_header()
    reader.problems.extend(sheet.problems)
    if reader.problems:
        raise InputError(reader.problems)
    rows = reader.endpoints()
    reader.cross_check(rows)
    if reader.problems:
        raise InputError(reader.problems)
    if not rows:
        raise InputError([Problem(sheet.name, sheet.header_row + 1, 1,
                                  Message.of(N_("no endpoint rows under the header")))])
    return [e for _, e in rows]


def inventory_yaml(endpoints: Sequence[Endpoint], base: Base | None, source: str) -> str:
    """A flat YAML inventory of these endpoints (with the base's sections, if any)."""
    base = base or Base()
    sections = base.sections or {}
    doc: dict[str, Any] = {"version": 1}
    if base.province:
        doc["province"] = base.province
    doc["tiers"] = sections.get("tiers", list(base.tiers))
    doc.update({k: sections[k] for k in BASE_SECTIONS[1:] if k in sections})
    defaults = sections.get("defaults") or {}
    doc["endpoints"] = [_entry(e, defaults) for e in endpoints]
    head = (f"# Imported from {source} by `vcfleet inventory import`.\n"
            "# Every endpoint is written out in full (no groups); see docs/spreadsheets.md.\n")
    body = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, default_flow_style=None,
                          width=100)
    return head + body


def _entry(endpoint: Endpoint, defaults: dict[str, Any]) -> dict[str, Any]:
    full = endpoint.model_dump(mode="json")
    entry = _diff(full, defaults, Endpoint)
    # id and name first, as people write them
    return {"id": full["id"], "name": full["name"], **entry}


def _diff(full: dict[str, Any], inherited: dict[str, Any] | None,
          model: type[BaseModel]) -> dict[str, Any]:
    """What to write so that ``full`` results once merged over ``inherited`` and the
    model's own defaults."""
    out: dict[str, Any] = {}
    for key, value in full.items():
        field = model.model_fields[key]
        sub = model_of(field.annotation)
        if inherited is not None and key in inherited:
            below = inherited[key]
            if isinstance(value, dict) and isinstance(below, dict) and sub is not None:
                nested = _diff(value, below, sub)
                if nested:
                    out[key] = nested
            elif isinstance(value, dict) and sub is not None:
                out[key] = _diff(value, None, sub)
            elif value != below:
                out[key] = value
            continue
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        if isinstance(value, dict) and sub is not None:
            if default is None:  # an optional service: write it whole, plain to read
                out[key] = value
                continue
            nested = _diff(value, default if isinstance(default, dict) else None, sub)
            if nested:
                out[key] = nested
        elif field.is_required() or value != default:
            out[key] = value
    return out


def import_file(src: Path, out: Path, base_path: Path | None = None) -> Inventory:
    """Read a spreadsheet, write ``out`` as a YAML inventory, and return it as loaded back."""
    base = load_base(base_path) if base_path is not None else None
    endpoints = read_endpoints(src, base)
    text = inventory_yaml(endpoints, base, src.name)
    inv = parse_inventory(text, str(out), path=out)
    if list(inv.endpoints) != endpoints:  # the writer's own guarantee; never expected
        raise InputError(f"{out}: internal error: the written inventory does not reproduce "
                         f"{src}")
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(Message.of(N_("{path}: cannot write: {error}"), path=out,
                                    error=exc.strerror or exc)) from None
    return inv
