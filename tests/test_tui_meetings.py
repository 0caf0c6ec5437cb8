"""The console's meetings view, driven by a pilot: list with countdown, choose a meeting
(table, header and sweeps scoped to its rooms), changes since its last check, the
organiser's page from ``r``."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from textual.widgets import DataTable

from inventory import Inventory, load_inventory
from tests.test_tui import FLEET, listeners, shown_ids, wait_for
from tui.app import ConsoleApp
from tui.meetings_screen import MeetingsScreen
from vcfleet.meetings import parse_meetings

TZ = timezone(timedelta(hours=7))
ROOMS = ["ha-trung", "ha-son", "ha-linh", "nga-an"]
"""district=ha-trung plus nga-an."""


def meetings_text(start: datetime) -> str:
    past = datetime(2020, 1, 1, 14, tzinfo=TZ).isoformat()
    return f"""\
meetings:
  - id: hop-huyen
    title: "Họp huyện Hà Trung"
    start: {start.isoformat(timespec="seconds")}
    rooms: district=ha-trung
    extra_rooms: [nga-an]
    organiser: {{name: "Chánh VP", phone: "0237 3852 000"}}
  - id: hop-cu
    title: "Họp đã qua"
    start: {past}
    rooms: tier=province
"""


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> tuple[Inventory, str, int]:
    with socket.socket() as s:
        s.bind((f"{loopback_prefix}.1", 0))
        port = s.getsockname()[1]
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.format(p=loopback_prefix, port=port), encoding="utf-8")
    return load_inventory(path), loopback_prefix, port


def header(app: ConsoleApp, part: str) -> str:
    return str(app.fleet.header.query_one(f"#header-{part}").render())


async def test_meetings_view_scopes_the_console_to_a_meeting(
        tmp_path: Path, fleet: tuple[Inventory, str, int]) -> None:
    inventory, prefix, port = fleet
    start = datetime.now(TZ).replace(microsecond=0) + timedelta(hours=1, minutes=30)
    meetings = parse_meetings(meetings_text(start), "meetings.yaml")
    app = ConsoleApp(inventory, history_path=tmp_path / "history.sqlite3",
                     report_dir=tmp_path / "reports", meetings=meetings)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.history is not None)
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(app.screen, MeetingsScreen))
        table = app.screen.query_one(DataTable)
        assert table.row_count == 1  # the past meeting is kept, not listed
        assert str(table.get_cell("hop-huyen", "countdown")).startswith("in 1 h 2")
        assert str(table.get_cell("hop-huyen", "rooms")) == "4"
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen is app.fleet)
        assert shown_ids(app) == ROOMS
        assert header(app, "title") == "Họp huyện Hà Trung — 4 rooms"
        assert "… 4 not checked" in header(app, "counts")
        await wait_for(pilot, lambda: "has not been checked yet" in header(app, "status"))

        # the first check: nothing listens, every room down
        await pilot.press("s")
        await wait_for(pilot, lambda: app.last_report is not None and not app.sweeping)
        assert sorted(r.endpoint.id for r in app.last_report.endpoints) == sorted(ROOMS)
        await wait_for(pilot, lambda: "First check" in header(app, "status"))
        assert "✖ 4 down" in header(app, "counts")
        # the second: the rooms with listeners recovered
        async with listeners(prefix, port):
            await pilot.press("s")
            await wait_for(pilot, lambda: "recovered" in header(app, "status"))
        status = header(app, "status")
        assert "UBND huyện Hà Trung (ha-trung) recovered at" in status
        assert "UBND xã Hà Sơn (ha-son) recovered at" in status
        assert "nga-an" not in status
        assert app.history is not None
        assert len(app.history.meeting_checks("hop-huyen", limit=5)) == 2

        await pilot.press("r")
        await wait_for(pilot, lambda: bool(app.last_export))
        html_path, xlsx_path = app.last_export
        assert html_path.suffix == ".html"
        assert xlsx_path.suffix == ".xlsx"
        page = html_path.read_text(encoding="utf-8")
        assert "Họp huyện Hà Trung" in page
        assert "0237 3622 222" in page  # Nga An's contact: down, whom to phone

        # a unit of the tree leaves the meeting
        tree = app.fleet.query_one("#units")
        tree.focus()
        await pilot.press("home", "enter")
        await wait_for(pilot, lambda: app.meeting is None)
        assert len(shown_ids(app)) == 6
        assert header(app, "title").startswith("Thanh Hóa — 6 rooms")


async def test_without_a_meetings_file_there_is_no_meetings_view(
        tmp_path: Path, fleet: tuple[Inventory, str, int]) -> None:
    app = ConsoleApp(fleet[0], use_history=False, report_dir=tmp_path / "reports")
    async with app.run_test(size=(160, 40)) as pilot:
        await pilot.press("m")
        await pilot.pause(0.2)
        assert app.screen is app.fleet
        assert app.check_action("meetings", ()) is False
