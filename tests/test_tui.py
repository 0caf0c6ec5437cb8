"""The console driven by a pilot: start, sweep, verdicts, filter, details, report, quit.

Sweeps run for real against TCP listeners on loopback (a small fleet whose
profile is one TCP check): rooms with a listener are ready, the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

import pytest
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.content import Content
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import DataTable

from inventory import Inventory, load_inventory
from tests.test_render import T0, sample_endpoint_report, sample_report
from tui.app import ConsoleApp
from tui.details_screen import DetailsScreen, failure_summary
from tui.filter_box import FilterBox
from tui.flaky_screen import FlakyScreen
from tui.help_screen import HelpScreen
from tui.unit_tree import UnitTree
from vcfleet.history import History, HistoryEntry
from vcfleet.report import EndpointReport, SweepReport, Verdict

UP = ("ubnd-tinh", "ha-trung", "ha-son", "nga-son")
DOWN = ("ha-linh", "nga-an")
FLEET = """\
version: 1
province: Thanh Hóa
tiers: [province, district, commune]
profiles:
  tcp-only: {{checks: [tcp]}}
defaults:
  profile: tcp-only
  vendor: cisco_ce
  services: {{ssh: {{port: {port}}}}}
endpoints:
  - {{id: ubnd-tinh, name: "UBND tỉnh Thanh Hóa", tier: province, address: {p}.1,
     contact: {{name: "Nguyễn Văn Hùng", phone: "0237 3000 000"}}}}
  - {{id: ha-trung, name: "UBND huyện Hà Trung", tier: district, parent: ubnd-tinh,
     district: ha-trung, address: {p}.2}}
  - {{id: nga-son, name: "UBND huyện Nga Sơn", tier: district, parent: ubnd-tinh,
     district: nga-son, address: {p}.3, vendor: poly}}
  - {{id: ha-son, name: "UBND xã Hà Sơn", tier: commune, parent: ha-trung, district: ha-trung,
     address: {p}.4, contact: {{name: "Lê Thị Hằng", phone: "0237 3417 247"}}}}
  - {{id: ha-linh, name: "UBND xã Hà Lĩnh", tier: commune, parent: ha-trung,
     district: ha-trung, address: {p}.5,
     contact: {{name: "Trần Văn Bình", phone: "0237 3411 111"}}}}
  - {{id: nga-an, name: "UBND xã Nga An", tier: commune, parent: nga-son, district: nga-son,
     address: {p}.6, contact: {{name: "Phạm Thị Lan", phone: "0237 3622 222"}}}}
"""


async def _accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


@contextlib.asynccontextmanager
async def listeners(prefix: str, port: int) -> AsyncIterator[None]:
    """TCP listeners for the rooms that are up."""
    addresses = {eid: f"{prefix}.{i + 1}" for i, eid in enumerate(
        ("ubnd-tinh", "ha-trung", "nga-son", "ha-son", "ha-linh", "nga-an"))}
    servers = [await asyncio.start_server(_accept, addresses[eid], port) for eid in UP]
    try:
        yield
    finally:
        for server in servers:
            server.close()
            await server.wait_closed()


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> tuple[Inventory, str, int]:
    import socket

    with socket.socket() as s:  # a port free on loopback for every room address
        s.bind((f"{loopback_prefix}.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(p=loopback_prefix, port=port), encoding="utf-8")
    return load_inventory(path), loopback_prefix, port


@pytest.fixture
def app_factory(tmp_path: Path, fleet: tuple[Inventory, str, int]
                ) -> Callable[[], ConsoleApp]:
    inventory = fleet[0]

    def make() -> ConsoleApp:
        return ConsoleApp(inventory, history_path=tmp_path / "history.sqlite3",
                          report_dir=tmp_path / "reports")
    return make


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 15.0
                   ) -> None:
    """Let the app run until ``condition`` holds; fail after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.05)


def shown_ids(app: ConsoleApp) -> list[str]:
    table = app.fleet.table
    return [str(table.coordinate_to_cell_key((r, 0)).row_key.value)
            for r in range(table.row_count)]


def verdict_cell(app: ConsoleApp, endpoint_id: str) -> str:
    return str(app.fleet.table.get_cell(endpoint_id, "verdict"))


async def sweep_all(pilot: Pilot[int], app: ConsoleApp) -> None:
    await pilot.press("a")
    await wait_for(pilot, lambda: app.last_report is not None and not app.sweeping)
    await wait_for(pilot, lambda: app.history is not None)


async def test_start_shows_fleet_not_checked(app_factory: Callable[[], ConsoleApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.pause()
        assert shown_ids(app) == ["ubnd-tinh", "ha-trung", "nga-son", "ha-son", "ha-linh",
                                  "nga-an"]
        assert all(verdict_cell(app, e) == "… not checked" for e in shown_ids(app))
        counts = str(app.fleet.header.query_one("#header-counts").render())
        assert "✔ 0 ready" in counts
        assert "… 6 not checked" in counts
        assert app.fleet.query_one(UnitTree).root.children


async def test_sweep_all_shows_verdicts(app_factory: Callable[[], ConsoleApp],
                                        fleet: tuple[Inventory, str, int]) -> None:
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 40)) as pilot:
        await sweep_all(pilot, app)
        for eid in UP:
            assert verdict_cell(app, eid) == "✔ ready"
        for eid in DOWN:
            assert verdict_cell(app, eid) == "✖ down"
        counts = str(app.fleet.header.query_one("#header-counts").render())
        assert "✔ 4 ready" in counts
        assert "✖ 2 down" in counts
        assert "… 0 not checked" in counts
        status = str(app.fleet.header.query_one("#header-status").render())
        assert status.startswith("Last sweep ")
        assert app.history is not None
        assert len(app.history.sweeps()) == 1


async def test_filter_by_district_and_by_accent_free_name(
        app_factory: Callable[[], ConsoleApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("slash")
        await pilot.press(*"district=ha-trung")
        await wait_for(pilot, lambda: shown_ids(app) == ["ha-trung", "ha-son", "ha-linh"])
        await pilot.press("ctrl+u")  # clear the box
        await pilot.press(*"ha son")
        await wait_for(pilot, lambda: shown_ids(app) == ["ha-son"])
        assert str(app.fleet.table.get_cell("ha-son", "name")) == "UBND xã Hà Sơn"
        await pilot.press("enter")
        assert app.focused is app.fleet.table


async def test_keys_typed_right_after_slash_go_to_the_filter_box(
        app_factory: Callable[[], ConsoleApp], fleet: tuple[Inventory, str, int],
        tmp_path: Path) -> None:
    # Issue 14, finding 12: a terminal (tmux send-keys, a fast typist, a paste) delivers
    # "/rt" and Enter together; none of them may reach the table's bindings.
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 40)) as pilot:
        await sweep_all(pilot, app)  # so that "r" would write a report
        for key, char in (("slash", "/"), ("r", "r"), ("t", "t"), ("enter", "\r")):
            app.post_message(events.Key(key, char))  # all queued before any is handled
        await wait_for(pilot, lambda: app.focused is app.fleet.table)
        await pilot.pause(0.3)  # the debounced filter, and any report worker
        assert app.fleet.query_one(FilterBox).value == "rt"
        assert not (tmp_path / "reports").exists()
        assert not app.fleet.query_one(UnitTree).has_class("-hidden")
        assert app.screen is app.fleet
        assert app.fleet.filter.text == "rt"


async def test_filter_by_verdict_after_sweep_and_bad_filter(
        app_factory: Callable[[], ConsoleApp], fleet: tuple[Inventory, str, int]) -> None:
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 40)) as pilot:
        await sweep_all(pilot, app)
        await pilot.press("slash", *"verdict=down")
        await wait_for(pilot, lambda: shown_ids(app) == list(DOWN))
        await pilot.press("ctrl+u", *"colour=red")
        await wait_for(pilot, lambda: app.fleet.query_one("#filter").has_class("-invalid"))
        assert shown_ids(app) == list(DOWN)  # an invalid filter leaves the table alone


async def test_tree_scope_and_sweep_scope(app_factory: Callable[[], ConsoleApp],
                                          fleet: tuple[Inventory, str, int]) -> None:
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 40)) as pilot:
        tree = app.fleet.query_one(UnitTree)
        node = next(n for n in tree.root.children[0].children if "Nga Sơn" in str(n.label))
        tree.select_node(node)
        await wait_for(pilot, lambda: shown_ids(app) == ["nga-son", "nga-an"])
        await pilot.press("s")
        await wait_for(pilot, lambda: app.last_report is not None and not app.sweeping)
        assert verdict_cell(app, "nga-son") == "✔ ready"
        assert verdict_cell(app, "nga-an") == "✖ down"
        assert set(app.results) == {"nga-son", "nga-an"}


async def test_details_screen_and_recheck(app_factory: Callable[[], ConsoleApp],
                                          fleet: tuple[Inventory, str, int]) -> None:
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 50)) as pilot:
        await sweep_all(pilot, app)
        app.fleet.table.move_cursor(row=app.fleet.table.get_row_index("ha-linh"))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen))
        screen = app.screen
        info = str(screen.query_one("#details-info").render())
        assert "Trần Văn Bình" in info
        assert "0237 3411 111" in info
        assert "✖ down" in str(screen.query_one("#details-title").render())
        checks = screen.query_one("#details-checks", DataTable)
        assert checks.row_count == 1
        assert "connection refused" in str(checks.get_row_at(0)[-1])
        history = screen.query_one("#details-history", DataTable)
        await wait_for(pilot, lambda: history.row_count == 1)
        await pilot.press("c")
        await wait_for(pilot, lambda: history.row_count == 2)
        assert str(history.get_row_at(0)[1]) == "✖ down"
        await pilot.press("escape")
        assert app.screen is app.fleet


S = TypeVar("S", bound=Screen[None])


def record_failures(path: Path, inventory: Inventory) -> None:
    """Twelve sweeps of the fleet, an hour apart, ending now: ha-linh fails 5 of them
    (3 down, 2 degraded), nga-an 2 (down), the other rooms none."""
    failing = {"ha-linh": {1: Verdict.DOWN, 4: Verdict.DOWN, 7: Verdict.DOWN,
                           9: Verdict.DEGRADED, 11: Verdict.DEGRADED},
               "nga-an": {2: Verdict.DOWN, 10: Verdict.DOWN}}
    start = time.time() - 12 * 3600
    with History(path) as history:
        for k in range(12):
            at = start + k * 3600
            rows = tuple(EndpointReport(e, failing.get(e.id, {}).get(k, Verdict.READY),
                                        (), {}, at + 1) for e in inventory.endpoints)
            history.record(SweepReport(rows, at, 2.0, source="test"))


async def shown(pilot: Pilot[int], kind: type[S]) -> S:
    """Wait until a screen of this kind is on top and mounted; return it."""
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, kind)
                   and pilot.app.screen.is_mounted)
    screen = pilot.app.screen
    assert isinstance(screen, kind)
    return screen


def flaky_rows(screen: FlakyScreen) -> list[list[str]]:
    table = screen.query_one("#flaky-rooms", DataTable)
    return [[str(cell) for cell in table.get_row_at(r)] for r in range(table.row_count)]


async def test_often_failing_rooms_worst_first(app_factory: Callable[[], ConsoleApp],
                                               fleet: tuple[Inventory, str, int],
                                               tmp_path: Path) -> None:
    record_failures(tmp_path / "history.sqlite3", fleet[0])
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.history is not None)
        await pilot.press("f")
        screen = await shown(pilot, FlakyScreen)
        await wait_for(pilot, lambda: len(flaky_rows(screen)) == 2)
        worst, second = flaky_rows(screen)
        assert worst[:6] == ["… not checked", "UBND xã Hà Lĩnh", "huyện Hà Trung", "5 of 12",
                             "3", "2"]
        assert second[:6] == ["… not checked", "UBND xã Nga An", "huyện Nga Sơn", "2 of 12",
                              "2", "0"]
        status = str(screen.query_one("#flaky-status").render())
        assert status.startswith("2 rooms were down or degraded at least once since ")
        await pilot.press("enter")
        details = await shown(pilot, DetailsScreen)
        assert details.endpoint.id == "ha-linh"
        summary = details.query_one("#details-history-summary")
        await wait_for(pilot, lambda: "Failed" in str(summary.render()))
        assert str(summary.render()) == "Failed 5 of the last 12 sweeps (3 down, 2 degraded)."
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        await pilot.press("down", "enter")
        assert (await shown(pilot, DetailsScreen)).endpoint.id == "nga-an"
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen)
        assert screen.current_room() == "nga-an"  # the list was read again, cursor kept
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.fleet)


async def test_often_failing_without_history_or_failures(fleet: tuple[Inventory, str, int],
                                                         tmp_path: Path) -> None:
    for use_history, expected in ((False, "History not available"),
                                  (True, "No room failed in the last 7 days.")):
        app = ConsoleApp(fleet[0], use_history=use_history,
                         history_path=tmp_path / "empty.sqlite3")
        async with app.run_test(size=(160, 40)) as pilot:
            opened = use_history
            await wait_for(pilot, lambda app=app, opened=opened:
                           (app.history is not None) == opened)
            await pilot.press("f")
            screen = await shown(pilot, FlakyScreen)
            status, text = screen.query_one("#flaky-status"), expected
            await wait_for(pilot, lambda status=status, text=text: text in str(status.render()))
            assert not flaky_rows(screen)
            await pilot.press("enter")  # nothing to open
            await pilot.press("escape")
            await wait_for(pilot, lambda app=app: app.screen is app.fleet)


async def test_details_summary_of_a_room_always_ready(app_factory: Callable[[], ConsoleApp],
                                                      fleet: tuple[Inventory, str, int],
                                                      tmp_path: Path) -> None:
    record_failures(tmp_path / "history.sqlite3", fleet[0])
    app = app_factory()
    async with app.run_test(size=(160, 50)) as pilot:
        await wait_for(pilot, lambda: app.history is not None)
        app.show_details("nga-son")
        details = await shown(pilot, DetailsScreen)
        summary = details.query_one("#details-history-summary")
        await wait_for(pilot, lambda: str(summary.render()) == "Ready in the last 12 sweeps.")
        assert details.query_one("#details-history", DataTable).row_count == 12


def test_failure_summary_wording() -> None:
    def entries(*verdicts: Verdict) -> list[HistoryEntry]:
        return [HistoryEntry(0.0, v, (), {}, "test") for v in verdicts]

    assert failure_summary([]) == "No sweep of this room recorded yet."
    assert failure_summary(entries(Verdict.DOWN)) == "Failed the last sweep (1 down)."
    assert failure_summary(entries(Verdict.READY)) == "Ready in the last sweep."
    assert failure_summary(entries(Verdict.READY, Verdict.DEGRADED, Verdict.READY)) == \
        "Failed 1 of the last 3 sweeps (1 degraded)."


async def test_report_export(app_factory: Callable[[], ConsoleApp],
                             fleet: tuple[Inventory, str, int], tmp_path: Path) -> None:
    app = app_factory()
    async with listeners(fleet[1], fleet[2]), app.run_test(size=(160, 40)) as pilot:
        await pilot.press("r")  # nothing swept yet: a notice, no file
        await pilot.pause()
        assert not (tmp_path / "reports").exists()
        await sweep_all(pilot, app)
        await pilot.press("r")
        await wait_for(pilot, lambda: bool(app.last_export))
        html, md = app.last_export
        assert html.suffix == ".html"
        assert md.parent == tmp_path / "reports"
        text = md.read_text(encoding="utf-8")
        assert "UBND xã Hà Lĩnh (ha-linh)" in text
        assert "0237 3411 111" in text
        assert "4 ready" in text
        assert "Phạm Thị Lan" in html.read_text(encoding="utf-8")
        status = str(app.fleet.header.query_one("#header-status").render())
        assert str(md) in status


async def test_help_and_quit(app_factory: Callable[[], ConsoleApp]) -> None:
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is app.fleet)
        await pilot.press("q")
        await wait_for(pilot, lambda: app.return_code is not None)
    assert app.return_code == 0


async def test_quit_during_a_sweep_cancels_it(tmp_path: Path) -> None:
    inventory = load_inventory()  # the demo fleet; nothing listens on most of it here
    app = ConsoleApp(inventory, use_history=False)
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("a")
        await wait_for(pilot, lambda: app.sweeping)
        await pilot.press("q")
    assert app.return_code == 0


def test_sort_by_verdict_puts_worst_first() -> None:
    from tui.endpoint_table import _sort_value
    from tui.verdicts import verdict_text
    from vcfleet.render.verdicts import WORST_FIRST

    ranks = [_sort_value("verdict", verdict_text(v)) for v in WORST_FIRST]
    assert ranks == sorted(ranks) == list(range(len(WORST_FIRST)))


def _chars(lines: list[list[Segment]]) -> list[tuple[str, Style]]:
    return [(ch, segment.style or Style.null()) for line in lines for segment in line
            for ch in segment.text]


async def test_table_cells_draw_as_datatable_draws_them(tmp_path: Path) -> None:
    """The table's own one-line cell drawing gives DataTable's characters and styles,
    for every visible cell, under the cursor and not, before and after results."""
    inventory = load_inventory()
    app = ConsoleApp(inventory, use_history=False, initial_report=sample_report(inventory))
    async with app.run_test(size=(160, 40)) as pilot:
        table = app.fleet.table
        await wait_for(pilot, lambda: not table.adding_rows)
        table.update_results([sample_endpoint_report(inventory, 1, T0 + 60)])
        await pilot.pause()
        base = table.rich_style
        compared = 0
        for row in range(12):
            for column, col in enumerate(table.ordered_columns):
                width = col.get_render_width(table)
                for cursor in (False, True):
                    ours = table._render_cell(row, column, base, width, cursor)
                    theirs = DataTable._render_cell(table, row, column, base, width, cursor)
                    assert _chars(ours) == _chars(theirs), (row, col.key.value, cursor)
                    compared += 1
        assert compared == 12 * len(table.ordered_columns) * 2


async def test_names_are_shown_literally_not_as_markup(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text('endpoints:\n  - {id: r1, name: "Phòng [bold]họp[/bold] [1]",'
                    ' tier: commune, address: 127.0.0.1, vendor: cisco_ce}\n',
                    encoding="utf-8")
    app = ConsoleApp(load_inventory(path), use_history=False)
    async with app.run_test(size=(120, 20)) as pilot:
        await wait_for(pilot, lambda: app.fleet.table.row_count == 1)
        await pilot.pause()
        cell = app.fleet.table._render_cell(0, 1, app.fleet.table.rich_style, 32)
        assert "".join(ch for ch, _ in _chars(cell)).strip() == "Phòng [bold]họp[/bold] [1]"


async def test_brackets_in_a_filter_and_a_sweep_label_are_text(
        app_factory: Callable[[], ConsoleApp]) -> None:
    """Typed text reaches the table's title and the status line as text, not markup
    (``[/x`` would otherwise be a markup error)."""
    app = app_factory()
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("slash", *"[/x] [b]")
        await wait_for(pilot, lambda: "[/x] [b]" in Content.from_markup(
            str(app.fleet.table.border_title)).plain)
        await pilot.press("enter", "s")  # sweep the (empty) scope: a notice, no crash
        await pilot.pause(0.2)
        app.fleet.show_status("Sweeping [/x] [b]…")
        await pilot.pause()
        status = app.fleet.header.query_one("#header-status")
        assert "Sweeping [/x] [b]…" in str(status.render())
