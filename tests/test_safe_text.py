"""Outside text never reaches the operator's terminal raw (issue 14, finding 2).

The inventory refuses control characters and bidi overrides in its text fields at
load time, with a located error; and every printer of outside text (tables, CSV,
JSON, Markdown, HTML, push reports, the console) escapes them anyway, for an
inventory built through the Python API (which bypasses the loader) and for
reasons and device output that no loader checks.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from inventory import Endpoint, InputError, Inventory
from inventory.loader import parse_inventory
from inventory.model import Contact
from probes.base import ProbeResult
from tui.app import ConsoleApp
from tui.unit_tree import UnitTree
from vcfleet.push.engine import EndpointResult, Outcome, PushReport
from vcfleet.push.report import print_push_report, push_json
from vcfleet.render import render_report as render
from vcfleet.render.csv import render_csv
from vcfleet.render.table import render_table
from vcfleet.report import CheckReport, EndpointReport, SweepReport, Verdict
from vcfleet.safe_text import safe_block, safe_json, safe_line

# What must never reach a terminal: C0 controls but LF (and CR only in CRLF), DEL, C1,
# bidi marks, overrides and isolates, line separators.
RAW = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029"
                 r"\u202a-\u202e\u2066-\u2069]|\r(?!\n)")
TITLE = "\x1b]0;pwned\x07"
"""OSC 0 "set window title", as the issue found it retitling the console's terminal."""
HOSTILE = {
    "osc-title": f"Evil{TITLE} room",
    "osc-2-st": "Evil\x1b]2;pwned\x1b\\ room",
    "csi-colour": "Red\x1b[31m room\x1b[0m",
    "bel": "Ring\x07 room",
    "c1-csi": "C1\x9b31m room",
    "c1-osc": "C1\x9d0;pwned\x9c room",
    "bidi-override": "Phòng \u202eevil\u202c",
    "bidi-isolate": "Phòng \u2067evil\u2069",
    "newline": "two\nlines",
    "carriage-return": "over\rwrite",
    "backspace": "erase\x08\x08",
    "del": "del\x7f",
    "nul": "nul\x00",
}


# -- the sanitiser ----------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_safe_line_leaves_nothing_that_acts(text: str) -> None:
    shown = safe_line(text)
    assert RAW.search(shown) is None
    assert "\n" not in shown
    assert "\t" not in shown


def test_safe_line_shows_what_was_there() -> None:
    assert safe_line(f"Evil{TITLE}") == "Evil\\x1b]0;pwned\\x07"
    assert safe_line("a\u202eb\x9b") == "a\\u202eb\\x9b"
    assert safe_line("UBND xã Hà Linh — ✔") == "UBND xã Hà Linh — ✔"  # text stays as it is


def test_safe_block_keeps_lines_and_tabs() -> None:
    assert safe_block("a\tb\r\nc\x1b[2J\n") == "a\tb\nc\\x1b[2J\n"


def test_safe_json_is_the_same_json_value() -> None:
    data = {"name": "".join(HOSTILE.values())}
    text = safe_json(json.dumps(data, ensure_ascii=False))
    assert RAW.search(text) is None
    assert json.loads(text) == data


# -- the loader refuses them ---------------------------------------------------------------

FLEET = """\
version: 1
endpoints:
  - id: hub
    name: {name}
    tier: province
    address: 127.0.0.1
    vendor: cisco_ce
"""


@pytest.mark.parametrize(("name", "code", "position"), [
    ('"Evil\\x1b]0;pwned\\x07"', 0x1B, 5),
    ('"Ring\\a"', 0x07, 5),
    ('"C1\\x9b31m"', 0x9B, 3),
    ('"Phòng \\u202eevil"', 0x202E, 7),
    ('"Phòng \\u2066evil"', 0x2066, 7),
    ('"two\\nlines"', 0x0A, 4),
    ('"tab\\there"', 0x09, 4),
])
def test_loader_refuses_control_characters_in_names(name: str, code: int, position: int
                                                    ) -> None:
    with pytest.raises(InputError) as caught:
        parse_inventory(FLEET.format(name=name), "fleet.yaml")
    assert caught.value.lines() == [
        f"fleet.yaml:4:11: endpoint 'hub': name: control or bidi character U+{code:04X} at "
        f"position {position}: remove it (it would act on the terminal that shows this text)"]


@pytest.mark.parametrize("field", ["model", "contact: {name", "contact: {phone"])
def test_loader_refuses_control_characters_in_other_text(field: str) -> None:
    line = f'    {field}: "x\\x1b[2J"' + ("}" if "{" in field else "")
    text = FLEET.format(name="Hub") + line + "\n"
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "fleet.yaml")
    assert "control or bidi character U+001B at position 2" in caught.value.text


# -- every output format escapes them --------------------------------------------------------


def hostile_endpoint(i: int, name: str) -> Endpoint:
    """An endpoint with a hostile name and contact, built without the loader's checks."""
    return Endpoint.model_construct(
        id=f"room-{i}", name=name, tier="province", address=f"127.0.0.{i + 1}",
        vendor="cisco_ce", model=f"Room\x1b[5m{i}", district=None,
        contact=Contact.model_construct(name=f"Ann\x9b{i}", phone="=1+2"))


@pytest.fixture
def hostile() -> tuple[Inventory, SweepReport]:
    endpoints = [hostile_endpoint(i, name) for i, name in enumerate(
        [*HOSTILE.values(), '=HYPERLINK("http://evil/?"&A1)', "a | b", "<script>x</script>"])]
    inv = Inventory(endpoints=tuple(endpoints), province=f"Tỉnh{TITLE}")
    reports = []
    for i, e in enumerate(endpoints):
        result = ProbeResult.failure(f"device said: {TITLE}\x1b[2J{e.name}")
        check = CheckReport("sip", result, True, 0.1)
        verdict = (Verdict.DOWN, Verdict.DEGRADED, Verdict.READY)[i % 3] \
            if i < len(HOSTILE) else Verdict.DOWN
        reasons = () if verdict is Verdict.READY else (f"sip: {TITLE}\x9b2J",)
        reports.append(EndpointReport(e, verdict, reasons, {"sip": check}, 1.0))
    return inv, SweepReport(tuple(reports), 1_800_000_000.0, 1.0, ("sip",), f"name={TITLE}")


@pytest.mark.parametrize("fmt", ["table", "json", "csv", "md", "html"])
def test_no_sweep_format_writes_raw_control_characters(
        hostile: tuple[Inventory, SweepReport], fmt: str) -> None:
    inv, report = hostile
    text = render(report, fmt, inv)
    found = RAW.search(text)
    assert found is None, f"{fmt} carries {found.group()!r}"
    if fmt == "json":
        assert json.loads(text)["endpoints"][0]["name"] == HOSTILE["osc-title"]


def test_html_escapes_markup(hostile: tuple[Inventory, SweepReport]) -> None:
    text = render(hostile[1], "html", hostile[0])
    assert "<script>" not in text
    assert "&lt;script&gt;x&lt;/script&gt;" in text


def test_markdown_escapes_pipes_and_leading_formula_characters(
        hostile: tuple[Inventory, SweepReport]) -> None:
    text = render(hostile[1], "md", hostile[0])
    assert "a \\| b (room-14)" in text
    assert '| \\=HYPERLINK("http://evil/?"&A1) (room-13) |' in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    header = table[0]
    cells = len(re.findall(r"(?<!\\)\|", header))
    for line in table[2:len(HOSTILE) + 5]:
        if line.startswith(("| Tier", "| District")):
            break
        assert len(re.findall(r"(?<!\\)\|", line)) == cells, line


def test_csv_guards_formula_cells(hostile: tuple[Inventory, SweepReport]) -> None:
    text = render(hostile[1], "csv", hostile[0])
    assert "'=HYPERLINK(" in text
    assert ',=' not in text


def test_tables_escape_cells() -> None:
    rows = [[name, 1] for name in HOSTILE.values()]
    for text in (render_table(("name", "n"), rows), render_csv(("name", "n"), rows)):
        assert RAW.search(text) is None


def test_push_report_escapes_device_errors(hostile: tuple[Inventory, SweepReport]) -> None:
    e = hostile[0].endpoints[0]
    result = EndpointResult(e, Outcome.FAILED, error=f"device said {TITLE}\x9b2J")
    report = PushReport((result,), 1.0, False)
    out = io.StringIO()
    print_push_report(report, out, dry_run=False)
    assert RAW.search(out.getvalue()) is None
    assert RAW.search(push_json(report, dry_run=False)) is None


# -- the console ---------------------------------------------------------------------------


async def test_console_shows_no_raw_control_character(
        hostile: tuple[Inventory, SweepReport], tmp_path: Path) -> None:
    inv, report = hostile
    app = ConsoleApp(inv, use_history=False, initial_report=report,
                     report_dir=tmp_path / "reports")
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for endpoint_report in report.endpoints:  # as a sweep would deliver them
            app.results[endpoint_report.endpoint.id] = endpoint_report
        app.fleet.table.update_results(list(report.endpoints))
        await pilot.pause()
        screens = [app.export_screenshot()]
        tree = app.fleet.query_one(UnitTree)
        labels = [str(tree.root.label)] + [str(n.label) for n in tree.root.children]
        app.fleet.table.move_cursor(row=0)
        await pilot.press("enter")
        await pilot.pause(0.3)
        screens.append(app.export_screenshot())
        app.notify(f"sweep failed: {TITLE}\x9b2J")
        await pilot.pause()
        screens.append(app.export_screenshot())
        for title in (app.title, app.sub_title, app.screen.title or "",
                      app.screen.sub_title or ""):
            assert "pwned" not in title  # the window title never comes from a room name
    for text in (*screens, *labels):
        found = RAW.search(text)
        assert found is None, f"the console shows {found.group()!r}"
    assert "Evil\\x1b]0;pwned\\x07 room" in screens[0].replace("&#160;", " ")
