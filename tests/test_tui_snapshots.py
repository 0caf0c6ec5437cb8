"""Snapshots of the console's screens from fixed report data (no sweep, no clock,
no history, fixed size).  Update with ``pytest --snapshot-update`` after checking
the new SVGs by eye."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import pytest
from textual.pilot import Pilot

from inventory import load_inventory
from tests.test_render import sample_report
from tui.app import ConsoleApp

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
