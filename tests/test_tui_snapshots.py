"""Snapshots of the console's screens from fixed report data (no sweep, no clock,
fixed size; no history but the fixed one of the often-failing screen).  Update
with ``pytest --snapshot-update`` after checking the new SVGs by eye."""

from __future__ import annotations

import dataclasses
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from inventory import Inventory, load_inventory
from probes import ProbeResult
from tests.test_render import T0, sample_report
from tui.app import ConsoleApp
from tui.flaky_screen import FlakyScreen
from vcfleet.history import History
from vcfleet.render.readiness import FAILURE_WINDOW_S
from vcfleet.report import CheckReport, EndpointReport, SweepReport, Verdict, judge

SIZE = (160, 45)


def console() -> ConsoleApp:
    inventory = load_inventory()
    return ConsoleApp(inventory, use_history=False, initial_report=sample_report(inventory),
                      tz=UTC)


@pytest.fixture
def snap(snap_compare: Any) -> Any:
    return snap_compare


async def all_rows(pilot: Pilot[int]) -> None:
    """Wait until the table holds every row (they are added in chunks after the first)."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    await pilot.pause()
    while app.fleet.table.adding_rows:
        await pilot.pause(0.05)


def test_fleet_screen(snap: Any) -> None:
    assert snap(console(), terminal_size=SIZE, run_before=all_rows)


def test_fleet_screen_filtered_on_rooms_down(snap: Any) -> None:
    async def filter_down(pilot: Pilot[int]) -> None:
        await all_rows(pilot)
        await pilot.press("slash", *"verdict=down", "enter")
        await pilot.pause(0.3)

    assert snap(console(), terminal_size=SIZE, run_before=filter_down)


def test_fleet_screen_sorted_by_verdict(snap: Any) -> None:
    async def sort(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await all_rows(pilot)
        app.fleet.table.sort_by("verdict")
        await pilot.pause()

    assert snap(console(), terminal_size=SIZE, run_before=sort)


def test_details_screen(snap: Any) -> None:
    async def open_details(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await all_rows(pilot)
        app.show_details("ha-son")
        await pilot.pause(0.3)

    assert snap(console(), terminal_size=SIZE, run_before=open_details)


def test_details_screen_of_a_room_down(snap: Any) -> None:
    async def open_details(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await all_rows(pilot)
        app.show_details(app.inventory.endpoints[3].id)
        await pilot.pause(0.3)

    assert snap(console(), terminal_size=SIZE, run_before=open_details)


def test_help_screen(snap: Any) -> None:
    async def help_over_all_rows(pilot: Pilot[int]) -> None:
        await all_rows(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap(console(), terminal_size=SIZE, run_before=help_over_all_rows)


def test_fleet_screen_after_live_results(snap: Any) -> None:
    """Results applied cell by cell (the render cache is per cell) show like a rebuild."""
    inventory = load_inventory()
    report = sample_report(inventory)
    app = ConsoleApp(inventory, use_history=False, tz=UTC)

    async def stream(pilot: Pilot[int]) -> None:
        await all_rows(pilot)
        rows = report.endpoints
        app.fleet.sweep_started(len(rows), "")
        for start in range(0, 40, 10):  # four batches, painted in between
            app.post_message(ConsoleApp.SweepProgress(rows[start:start + 10], start + 10))
            await pilot.pause()
        app.fleet.table.move_cursor(row=2)
        await pilot.pause()

    assert snap(app, terminal_size=SIZE, run_before=stream)


def record_week(path: Path, inventory: Inventory) -> None:
    """Six sweeps a day apart up to ``T0``: the rooms down in ``sample_report`` are down
    in all six, the degraded ones degraded in every other (ready in between)."""
    with History(path) as history:
        for k in range(6):
            report = sample_report(inventory, T0 - (5 - k) * 86400)
            rows = tuple(r if r.verdict is not Verdict.DEGRADED or (i + k) % 2 else
                         dataclasses.replace(r, verdict=Verdict.READY, reasons=())
                         for i, r in enumerate(report.endpoints))
            history.record(dataclasses.replace(report, endpoints=rows))


def test_often_failing_screen(snap: Any, tmp_path: Path) -> None:
    inventory = load_inventory()
    record_week(tmp_path / "history.sqlite3", inventory)
    app = ConsoleApp(inventory, history_path=tmp_path / "history.sqlite3",
                     initial_report=sample_report(inventory), tz=UTC)

    async def open_often_failing(pilot: Pilot[int]) -> None:
        await all_rows(pilot)
        while app.history is None:
            await pilot.pause(0.05)
        screen = FlakyScreen(since=T0 - FAILURE_WINDOW_S)
        app.push_screen(screen)
        while not screen.is_mounted or screen.current_room() is None:
            await pilot.pause(0.05)
        await pilot.pause()

    assert snap(app, terminal_size=SIZE, run_before=open_often_failing)


def device_read(i: int, vendor: str) -> ProbeResult:
    """What the i-th room's codec says: clean, or one of a few problems (room 1: several)."""
    cisco = vendor == "cisco_ce"
    mics = [{"kind": "microphone", "name": f"Microphone {n}", "connected": True,
             "muted": i in (1, 6)} for n in (1, 2)]
    details: dict[str, Any] = {
        "registration": {"state": "registered", "registrar": "sip.thanhhoa.gov.vn",
                         "reason": ""},
        "calls": 1 if i in (1, 2) else 0, "standby": (i == 10) if cisco else None,
        "dnd": i == 8,
        "peripherals": [{"kind": "camera", "name": "Camera (input 1)", "connected": i != 4},
                        *mics, {"kind": "display", "name": "Display", "connected": True}],
        "diagnostics": [{"level": "warning", "text": "Ánh sáng yếu"}] if i == 1 else [],
        "software": "ce9.15.3.17" if cisco else "6.2.2.5-501003",
        "uptime_s": 93784.0 if cisco else None}
    if i in (1, 24):
        details["registration"] = {"state": "failed", "registrar": "sip.thanhhoa.gov.vn",
                                   "reason": "403 Forbidden"}
    info = {"call_with": "MCU Thanh Hóa"} if details["calls"] else {}
    return ProbeResult(ok=True, details=details, info=info)


def device_report(inventory: Inventory) -> SweepReport:
    """``sample_report`` with a device check for every Cisco and Poly room, judged again."""
    base = sample_report(inventory)
    rows: list[EndpointReport] = []
    for i, r in enumerate(base.endpoints):
        if r.endpoint.vendor not in ("cisco_ce", "poly"):
            rows.append(r)
            continue
        checks = {**r.checks, "device": CheckReport("device", device_read(i, r.endpoint.vendor),
                                                    True, 0.2)}
        judged = judge(r.endpoint, checks)
        rows.append(dataclasses.replace(judged, finished_at=r.finished_at))
    return dataclasses.replace(base, endpoints=tuple(rows), checks=("sip", "webrtc", "device"))


def device_console() -> ConsoleApp:
    inventory = load_inventory()
    return ConsoleApp(inventory, use_history=False, initial_report=device_report(inventory),
                      tz=UTC)


def test_fleet_screen_with_the_device_columns(snap: Any) -> None:
    """Reg, Call and Periph: registered or not, busy / do-not-disturb / standby, a
    peripheral unplugged or microphones muted."""
    async def scrolled(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await all_rows(pilot)
        await pilot.press("t")  # the unit tree hidden: the device columns in view
        await pilot.pause()

    assert snap(device_console(), terminal_size=SIZE, run_before=scrolled)


def test_details_screen_shows_the_device(snap: Any) -> None:
    async def open_details(pilot: Pilot[int]) -> None:
        app = pilot.app
        assert isinstance(app, ConsoleApp)
        await all_rows(pilot)
        app.show_details(app.inventory.endpoints[1].id)
        await pilot.pause(0.3)

    assert snap(device_console(), terminal_size=SIZE, run_before=open_details)
