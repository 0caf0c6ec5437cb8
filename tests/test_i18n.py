"""The language of people's words (issue 19, docs/language.md): the language choice,
the catalogs (complete, up to date with the sources), Vietnamese order of names, reasons
that keep English for machines, and the reports in Vietnamese against a simulated fleet."""

from __future__ import annotations

import ast
import asyncio
import json
import os
import pickle
import re
import string
import subprocess
import sys
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from types import ModuleType

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from inventory.loader import DEMO_INVENTORY, load_inventory
from probes.base import ProbeResult
from simulator.faults import parse_faults
from tests.simulated import simulated_fleet
from tests.test_render import sample_report
from vcfleet import i18n
from vcfleet.i18n import resolve_language, set_language, vi_sort_key
from vcfleet.reasons import Reason, reason_text
from vcfleet.render import render_report
from vcfleet.report import CheckReport, judge

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(i18n.__file__).resolve().parent
"""The vcfleet package being tested (in CI the installed wheel, not the checkout)."""
LOCALE = PACKAGE / "locale"
POT = LOCALE / "vcfleet.pot"
VI_PO = LOCALE / "vi" / "LC_MESSAGES" / "vcfleet.po"

ENGLISH_WORDS = ("ready", "degraded", "down", "not checked", "not ready", "by tier",
                 "by district", "readiness report", "reasons", "room", "rooms", "verdict",
                 "district", "sweep", "duration", "checks", "closed", "port", "answer",
                 "refused", "unreachable", "contact", "phone", "every")
"""English verdict, heading and reason words no Vietnamese report may contain."""


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    set_language("en")


# -- the language choice --------------------------------------------------------------


@pytest.mark.parametrize(("option", "env", "expected"), [
    (None, {}, "en"),
    ("vi", {"VCFLEET_LANG": "en", "LANG": "en_US.UTF-8"}, "vi"),
    ("en", {"VCFLEET_LANG": "vi", "LANG": "vi_VN.UTF-8"}, "en"),
    (None, {"VCFLEET_LANG": "vi", "LANG": "en_US.UTF-8"}, "vi"),
    (None, {"VCFLEET_LANG": "", "LANG": "vi_VN.UTF-8"}, "vi"),
    (None, {"LC_ALL": "vi_VN.UTF-8", "LANG": "en_US.UTF-8"}, "vi"),
    (None, {"LC_ALL": "C", "LANG": "vi_VN.UTF-8"}, "en"),
    (None, {"LC_MESSAGES": "vi_VN", "LANG": "C.UTF-8"}, "vi"),
    (None, {"LANG": "fr_FR.UTF-8"}, "en"),
    (None, {"LANG": "vi"}, "vi"),
])
def test_language_resolution_order(option: str | None, env: dict[str, str],
                                   expected: str) -> None:
    assert resolve_language(option, env) == expected


def test_unknown_vcfleet_lang_is_one_line_and_exit_2() -> None:
    env = {**os.environ, "VCFLEET_LANG": "fr"}
    proc = subprocess.run([sys.executable, "-m", "vcfleet", "inventory", "list"], cwd=ROOT,
                          env=env, text=True, capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    assert proc.stderr == ("vcfleet: error: VCFLEET_LANG: unknown language 'fr' "
                           "(expected one of: en, vi)\n")
    bad = subprocess.run([sys.executable, "-m", "vcfleet", "--lang", "fr", "inventory",
                          "list"], cwd=ROOT, text=True, capture_output=True, timeout=60,
                         stdin=subprocess.DEVNULL)
    assert bad.returncode == 2
    assert len(bad.stderr.splitlines()) == 1
    assert "--lang" in bad.stderr
    assert "'fr'" in bad.stderr


def test_the_po_compiles_at_run_time_without_a_built_mo() -> None:
    """An editable install has no .mo: the .po is compiled in memory (docs/decisions.md);
    compiled catalogs are never committed."""
    import gettext

    translations = gettext.GNUTranslations(BytesIO(i18n.compile_po(VI_PO.read_bytes(), "vi")))
    assert translations.gettext("down") == "mất kết nối"
    set_language("vi")
    assert i18n._("ready") == "sẵn sàng"
    if (ROOT / ".git").exists():
        tracked = subprocess.run(["git", "-C", str(ROOT), "ls-files", "*.mo"], text=True,
                                 capture_output=True, timeout=30, check=True).stdout
        assert tracked == ""


# -- the catalogs ---------------------------------------------------------------------


def _catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, locale=locale)


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_message_has_a_vietnamese_entry() -> None:
    """Every msgid of the template is translated in vi: not empty, not fuzzy, with the
    same placeholders, and no entry is left over from a message that is gone."""
    pot, vi = _catalog(POT), _catalog(VI_PO, "vi")
    ids = {m.id for m in pot if m.id}
    problems = []
    for msgid in sorted(ids):
        m = vi.get(msgid)
        if m is None or not m.string:
            problems.append(f"{VI_PO.name}: {msgid!r} has no Vietnamese entry")
        elif m.fuzzy:
            problems.append(f"{VI_PO.name}: {msgid!r} is fuzzy")
        elif _placeholders(msgid) != _placeholders(str(m.string)):
            problems.append(f"{VI_PO.name}: {msgid!r} changes its placeholders")
    problems += [f"{VI_PO.name}: {m.id!r} is not in the template"
                 for m in vi if m.id and m.id not in ids]
    assert not problems, "\n".join(problems)


def _extracted(tui_folder: Path) -> tuple[tuple[Path, str], ...]:
    """The folders and file patterns babel.cfg extracts (the loaders' own marker too), in
    the imported packages (the installed wheel's in CI, which runs without the sources)."""
    import inventory
    import simulator

    def folder(module: ModuleType) -> Path:
        return Path(module.__file__ or "").resolve().parent

    return ((PACKAGE, "**.py"), (tui_folder, "**.py"), (folder(inventory), "**.py"),
            (folder(simulator), "faults.py"))


def test_the_template_is_up_to_date_with_the_sources() -> None:
    """Re-extracting the messages (babel.cfg) gives the template's msgids exactly."""
    import tui

    with (ROOT / "babel.cfg").open(encoding="utf-8") as f:
        assert ("[python: vcfleet/**.py]\n[python: tui/**.py]\n[python: inventory/**.py]\n"
                "[python: simulator/faults.py]") in f.read()
    found = {msg[2] if isinstance(msg[2], str) else msg[2][0]
             for folder, pattern in _extracted(Path(tui.__file__).resolve().parent)
             for msg in extract_from_dir(str(folder), [(pattern, "python")])}
    assert found == {m.id for m in _catalog(POT) if m.id}, (
        "run: pybabel extract -F babel.cfg --no-location --sort-output "
        "-o vcfleet/locale/vcfleet.pot .  (then update vi.po: docs/language.md)")


# A literal in render/, tui/, the commands or the CLI with two English words side by
# side is an operator-facing sentence or heading: it must be the argument of _() or
# N_().  Machine formats (csv, json) and the CSS are out of scope.
SCANNED = [p for p in (PACKAGE / "render").glob("*.py") if p.name not in ("csv.py", "json.py")]
MARKERS = ("_", "N_", "ngettext")
RICH_STYLE = re.compile(r"(bold|dim|italic) \w+\Z")
ENGLISH_CONSTANTS = {"CSS", "FLAKY_TITLE", "UPSTREAM"}
"""Assignments the scan skips: the CSS, ``FLAKY_TITLE`` (the English title, kept for
callers outside the console; ``flaky_title()`` is marked), and ``tui/fast_table.py``'s
``UPSTREAM`` (why each private name of Textual is used: for programmers)."""
LOG_CALLS = {"debug", "info", "warning", "error", "exception", "critical"}
"""``log.info("...")``: log records stay English (docs/language.md)."""
OPERATOR_ERRORS = {"InputError", "ArgumentTypeError", "SimulatorFailed", "RuntimeError"}
"""Exceptions whose message the CLI or the console shows as it is: in the console and
the commands, what they are raised with is scanned too."""


def _console_and_commands() -> list[Path]:
    import tui

    return [*sorted(Path(tui.__file__).resolve().parent.glob("*.py")),
            *sorted((PACKAGE / "commands").glob("*.py")), PACKAGE / "cli.py",
            PACKAGE / "push" / "progress.py", PACKAGE / "push" / "report.py"]


def _raised(node: ast.Raise) -> str:
    call = node.exc
    func = call.func if isinstance(call, ast.Call) else None
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


def _unmarked(path: Path, *, scan_errors: bool = False) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in MARKERS:
            skip.update(id(a) for a in node.args)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            skip.add(id(node.value))  # docstrings
        targets = node.targets if isinstance(node, ast.Assign) else \
            [node.target] if isinstance(node, ast.AnnAssign) else []
        if any(isinstance(t, ast.Name) and t.id in ENGLISH_CONSTANTS for t in targets):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("strftime", "ValueError"):
            skip.update(id(a) for a in node.args)
        if isinstance(node, ast.Raise) and not (scan_errors
                                                and _raised(node) in OPERATOR_ERRORS):
            skip.update(id(n) for n in ast.walk(node))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in LOG_CALLS and isinstance(node.func.value, ast.Name) \
                and node.func.value.id in ("log", "logger", "logging"):
            skip.update(id(n) for n in ast.walk(node))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in skip:
            text = re.sub(r"<[^>]*>?|\{[^}]*\}|%[A-Za-z]", " ", node.value)
            if re.search(r"[A-Za-z]{2,} [A-Za-z]{2,}", text) and not RICH_STYLE.match(text):
                out.append(f"{path.parent.name}/{path.name}:{node.lineno}:{node.col_offset + 1}: "
                           f"unmarked text {node.value!r}")
    return out


def test_no_operator_facing_string_is_left_unmarked_in_render() -> None:
    assert len(SCANNED) >= 6
    problems = [line for p in sorted(SCANNED) for line in _unmarked(p)]
    assert not problems, "\n".join(problems)


def test_no_operator_facing_string_is_left_unmarked_in_the_console_and_commands() -> None:
    scanned = _console_and_commands()
    assert len(scanned) >= 25
    problems = [line for p in scanned for line in _unmarked(p, scan_errors=True)]
    assert not problems, "\n".join(problems)


def test_the_scan_finds_an_unmarked_error_and_skips_log_records(tmp_path: Path) -> None:
    bad = tmp_path / "commands" / "x.py"
    bad.parent.mkdir()
    bad.write_text('log.info("sweep of %d rooms")\nraise InputError(f"no such room {x}")\n'
                   'raise InputError(_("no room {x}").format(x=x))\n', encoding="utf-8")
    assert _unmarked(bad, scan_errors=True) == [
        "commands/x.py:2:18: unmarked text 'no such room '"]
    assert _unmarked(bad) == []


def test_the_scan_finds_an_unmarked_heading(tmp_path: Path) -> None:
    bad = tmp_path / "render" / "page.py"
    bad.parent.mkdir()
    bad.write_text('TITLE = "Rooms not ready"\nOK = _("Rooms ready")\n', encoding="utf-8")
    assert _unmarked(bad) == ["render/page.py:1:9: unmarked text 'Rooms not ready'"]


# -- conventions ----------------------------------------------------------------------


def test_vietnamese_order_of_names() -> None:
    names = ["Đông Sơn", "Yên Định", "Bá Thước", "Ân Tín", "An Nông", "Dân Lực", "Ăn Ở",
             "Hà Trung", "Hạ Hòa", "Ha Long", "Hả Nội", "Hã Sơn", "Há Vân", "Ô Mai",
             "Ơn Hòa", "Ong Vàng", "ư", "u", "Ủ Ấm"]
    assert sorted(names, key=vi_sort_key) == [
        "An Nông", "Ăn Ở", "Ân Tín", "Bá Thước", "Dân Lực", "Đông Sơn",
        "Ha Long", "Hà Trung", "Hả Nội", "Hã Sơn", "Há Vân", "Hạ Hòa",
        "Ong Vàng", "Ô Mai", "Ơn Hòa", "u", "Ủ Ấm", "ư", "Yên Định"]
    # decomposed input sorts like composed; lower case before upper at a tie
    assert sorted(["Đà", "đà", "Da"], key=vi_sort_key) == ["Da", "đà", "Đà"]
    assert vi_sort_key("Hà") == vi_sort_key("Ha\u0300")


def test_vietnamese_dates_and_decimals() -> None:
    t0 = 1_800_000_000.0  # 2027-01-15 08:00:00 UTC
    set_language("vi")
    assert i18n.format_time(t0) == "15/01/2027 15:00"
    assert i18n.number(12.345, ".2f") == "12,35"
    set_language("en")
    from datetime import UTC
    assert i18n.format_time(t0, UTC) == "2027-01-15 08:00:00 +0000"
    assert i18n.number(12.345, ".2f") == "12.35"


# -- reasons --------------------------------------------------------------------------


def _judged() -> tuple[str, ...]:
    inv = load_inventory(DEMO_INVENTORY)
    sip = ProbeResult.failure("SIP port 5060/udp closed (ICMP port unreachable)")
    media = ProbeResult(True, {"rtt_ms": 310.0}, {"up": {"loss_ratio": 0.052}})
    return judge(inv.endpoints[0], {"sip": CheckReport("sip", sip, True, 0.1),
                                    "webrtc": CheckReport("webrtc", media, True, 3.0)}).reasons


def test_reasons_keep_english_for_machines_and_translate_for_people() -> None:
    reasons = _judged()
    english = ["sip: SIP port 5060/udp closed (ICMP port unreachable)",
               "webrtc: round-trip time 310 ms >= 250 ms",
               "webrtc: packet loss up 5.2% >= 3%"]
    assert list(reasons) == english
    assert json.loads(json.dumps(list(reasons))) == english
    assert all(isinstance(r, Reason) for r in reasons)
    assert pickle.loads(pickle.dumps(reasons)) == reasons
    assert pickle.loads(pickle.dumps(reasons[0])).msgid == reasons[0].msgid
    set_language("vi")
    vietnamese = ["sip: cổng SIP 5060/udp đóng (ICMP báo cổng không tới được)",
                  "webrtc: thời gian khứ hồi 310 ms >= 250 ms",
                  "webrtc: mất gói chiều đi 5,2% >= 3%"]
    assert [reason_text(r) for r in reasons] == vietnamese
    # read back from JSON or the history store: plain strings, recognised the same way
    assert [reason_text(str(r)) for r in reasons] == vietnamese
    assert reason_text("https: something new") == "https: something new"
    assert list(reasons) == english


def test_reports_in_vietnamese_have_no_english_words() -> None:
    inv = load_inventory(DEMO_INVENTORY)
    report = sample_report(inv, count=40)
    set_language("vi")
    for fmt in ("md", "html", "table"):
        _assert_vietnamese(render_report(report, fmt, inv), fmt)


def _assert_vietnamese(text: str, where: str) -> None:
    # Tier names are the inventory's data (its ``tiers:``), shown as written.
    tiers = r"(province|department|district|commune)"
    text = re.sub(rf"<td>{tiers}</td>|^\| {tiers} \||^{tiers} ", " ", text, flags=re.M)
    text = re.sub(r"<style>.*?</style>|<[^>]*>", " ", text, flags=re.S)
    text = re.sub(r"\([a-z0-9-]+\)|\b[a-z0-9]+(?:-[a-z0-9]+)+\b", " ", text)  # room ids
    # the sample report's own made-up probe sentence, not one of the probes'
    text = text.lower().replace("no answer to options within 2 s", "")
    found = [w for w in ENGLISH_WORDS if re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)]
    assert not found, f"{where}: English words {found}"


def test_xlsx_of_the_meeting_is_vietnamese() -> None:
    pytest.importorskip("openpyxl")
    from vcfleet.render import meeting

    set_language("vi")
    assert [i18n._(h) for h in meeting.XLSX_COLUMNS][:6] == [
        "mã", "tên", "cấp", "huyện", "trạng thái", "lý do"]
    assert i18n._(meeting.CHANGE_WORDS["newly_down"]) == "bị mất kết nối"


# -- the CLI against a simulated fleet ------------------------------------------------


async def vcfleet(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """``vcfleet ARGS`` in a subprocess with ``env`` (default: this one's), no history."""
    full = {**(os.environ if env is None else env), "VCFLEET_HISTORY": ":memory:"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", *args, cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def _mask(text: str) -> str:
    return re.sub(r"\d+[.,]\d+ (s|giây)|\d\d:\d\d(:\d\d)?", "T", text)


async def test_sweep_reports_in_vietnamese_and_english(tmp_path: Path,
                                                       loopback_prefix: str) -> None:
    faults = parse_faults("- select: tag=poly\n  services: {sip: down}\n", "faults.yaml")
    plain = {k: v for k, v in os.environ.items()
             if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "VCFLEET_LANG")}
    async with simulated_fleet(tmp_path, loopback_prefix, faults) as (_, inv):
        args = ("sweep", "--inventory", str(inv.path), "--checks", "sip", "--format")
        code, md_vi, err = await vcfleet("--lang", "vi", *args, "md")
        _, html_vi, _ = await vcfleet(*args, "html", "--lang", "vi")
        _, md_en, _ = await vcfleet("--lang", "en", *args, "md", env=plain)
        _, md_default, _ = await vcfleet(*args, "md", env={**plain, "LANG": "C.UTF-8"})
        _, md_locale, _ = await vcfleet(*args, "md", env={**plain, "LANG": "vi_VN.UTF-8"})
        _, js, _ = await vcfleet(*args, "json", "--lang", "vi")
    assert code == 1, err
    assert "## Chưa sẵn sàng" in md_vi
    assert "mất kết nối" in md_vi
    assert "cổng SIP 5060/udp đóng" in md_vi
    _assert_vietnamese(md_vi, "md")
    assert html_vi.startswith('<!DOCTYPE html>\n<html lang="vi">')
    _assert_vietnamese(html_vi, "html")
    assert "## Not ready" in md_en
    assert "SIP port 5060/udp closed" in md_en
    assert _mask(md_en) == _mask(md_default)
    assert _mask(md_locale) == _mask(md_vi)
    doc = json.loads(js)  # machines' words stay English
    down = [e for e in doc["endpoints"] if e["verdict"] == "down"]
    assert down
    assert down[0]["reasons"][0].startswith("sip: SIP port 5060/udp closed")


def test_the_organisers_page_and_workbook_in_vietnamese(tmp_path: Path) -> None:
    """The meeting's page and XLSX from the history store: reasons read back as plain
    strings are translated too, times are dd/mm/yyyy, headings Vietnamese."""
    from openpyxl import load_workbook

    from vcfleet.history import History
    from vcfleet.meetings import parse_meetings
    from vcfleet.meetings.check import last_changes
    from vcfleet.render.meeting import page_html, page_xlsx
    from vcfleet.report import SweepReport

    inv = load_inventory(DEMO_INVENTORY)
    meetings = parse_meetings(
        "meetings:\n  - id: m1\n    title: Giao ban\n    start: 2026-12-03T08:00:00+07:00\n"
        "    rooms: tier=department\n    organiser: {name: An, phone: '0237'}\n", "m.yaml")
    meeting = meetings.get("m1")
    rooms = meetings.rooms(meeting, inv)
    sip = ProbeResult.failure("SIP port 5060/udp closed (ICMP port unreachable)")
    ok = ProbeResult(True, {"rtt_ms": 2.0})

    def report(at: float, bad: int) -> SweepReport:
        rows = tuple(judge(e, {"sip": CheckReport("sip", sip if i == bad else ok, True, 0.1)})
                     for i, e in enumerate(rooms))
        return SweepReport(rows, started_at=at, duration_s=1.0, source="meeting")

    with History(tmp_path / "h.sqlite3") as history:
        history.record(report(1_800_000_000.0, 0), meeting="m1")
        history.record(report(1_800_000_600.0, 1), meeting="m1")
        current, changes = last_changes(history, "m1")
    assert current is not None
    set_language("vi")
    page = page_html(meeting, rooms, current, changes)
    assert "cổng SIP 5060/udp đóng (ICMP báo cổng không tới được)" in page
    assert "15/01/2027 15:10" in page
    _assert_vietnamese(page, "meeting page")
    book = load_workbook(BytesIO(page_xlsx(meeting, rooms, current, changes)))
    assert book.sheetnames == ["Điểm cầu", "Cuộc họp", "Thay đổi"]
    sheet = book["Điểm cầu"]
    assert [c.value for c in sheet[1]][:6] == ["mã", "tên", "cấp", "huyện", "trạng thái",
                                               "lý do"]
    first = [c.value for c in sheet[2]]
    assert first[4] == "mất kết nối"
    assert first[5] == "sip: cổng SIP 5060/udp đóng (ICMP báo cổng không tới được)"
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", first[8])
    change = [c.value for c in book["Thay đổi"][2]]
    assert change[1] == "bị mất kết nối"
    assert change[3:5] == ["sẵn sàng", "mất kết nối"]
