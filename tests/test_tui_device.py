"""The console's device view, driven by a pilot: a sweep through the console's own sweep
process reads the simulated codecs (their host keys trusted as ``vcfleet tui`` trusts
them) and the Reg, Call and Periph cells and the details screen show what each said."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from textual.pilot import Pilot

from inventory import Inventory, load_inventory
from probes import ProbeResult
from tests.simulated import PASSWORD
from tests.test_push_sim import Served
from tui import device_view
from tui.app import ConsoleApp
from tui.details_screen import DetailsScreen
from vcfleet.commands.sweep import device_trust
from vcfleet.report import CheckReport, EndpointReport, Verdict
from vcfleet.sweep import SweepOptions

FLEET = """\
tiers: [province, commune]
defaults:
  tier: commune
  credentials: {{username: admin, secret: "file:secret.txt"}}
  services: {{ssh: {{port: 2222}}}}
  profile: codec
profiles:
  codec: {{checks: [device]}}
endpoints:
  - {{id: clean, name: "UBND xã Hà Sơn", address: {p}.1, vendor: cisco_ce}}
  - {{id: unregistered, name: "Sở Tài chính", address: {p}.2, vendor: cisco_ce}}
  - {{id: busy, name: "UBND xã Nga An", address: {p}.3, vendor: poly}}
  - {{id: no-camera, name: "UBND xã Yên Thọ", address: {p}.4, vendor: cisco_ce}}
"""
FAULTS = """\
- {select: id=unregistered, device: {registration: fail}}
- {select: id=busy, device: {in_call: true, microphones: muted}}
- {select: id=no-camera, device: {camera: disconnected, dnd: true}}
"""


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[tuple[Inventory, Path]]:
    folder = tmp_path / "fleet"
    folder.mkdir()
    (folder / "secret.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    path = folder / "fleet.yaml"
    path.write_text(FLEET.format(p=loopback_prefix), encoding="utf-8")
    inventory = load_inventory(path)
    with Served(inventory, FAULTS, tmp_path / "state"):
        yield inventory, tmp_path / "state" / "known_hosts"


async def wait_for(pilot: Pilot[int], condition: Callable[[], bool], timeout: float = 30.0
                   ) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await pilot.pause(0.05)


def cells(app: ConsoleApp, room: str) -> tuple[str, ...]:
    table = app.fleet.table
    return tuple(str(table.get_cell(room, key)) for key, _l, _w in device_view.COLUMNS)


async def test_a_console_sweep_shows_what_each_codec_says(
        fleet: tuple[Inventory, Path], tmp_path: Path) -> None:
    inventory, known_hosts = fleet
    trust = device_trust(inventory, inventory.endpoints, None, known_hosts, "tui")
    app = ConsoleApp(inventory, use_history=False, report_dir=tmp_path,
                     sweep_options=SweepOptions(checks=trust.checks, settings=trust.settings,
                                                source="tui"))
    async with app.run_test(size=(160, 50)) as pilot:
        assert cells(app, "clean") == ("", "", "")  # not checked yet
        await pilot.press("a")
        await wait_for(pilot, lambda: app.last_report is not None and not app.sweeping)
        assert cells(app, "clean") == ("✔ ok", "idle", "✔ 5")
        assert cells(app, "unregistered") == ("✖ fail", "idle", "✔ 5")
        assert cells(app, "busy") == ("✔ ok", "▲ 1", "▲ mute")
        assert cells(app, "no-camera") == ("✔ ok", "▲ dnd", "✖ cam")
        assert app.results["unregistered"].verdict is Verdict.DOWN

        app.show_details("unregistered")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen)
                       and app.screen.is_mounted)
        await pilot.pause()
        device = str(app.screen.query_one("#details-device").render())
        assert "✖ not registered to sip.thanhhoa.gov.vn: 403 Forbidden" in device
        assert "Software  ce" in device
        await pilot.press("escape")

        app.show_details("busy")
        await wait_for(pilot, lambda: isinstance(app.screen, DetailsScreen)
                       and app.screen.is_mounted)
        await pilot.pause()
        device = str(app.screen.query_one("#details-device").render())
        assert "▲ 1 active, with " in device
        assert "connected, muted" in device
        assert "Standby  not reported by this codec" in device  # Poly has no such query


def room_with(result: ProbeResult) -> EndpointReport:
    e = load_inventory().endpoints[1]
    return EndpointReport(e, Verdict.DOWN, (), {"device": CheckReport("device", result, True,
                                                                     0.1)})


def test_a_codec_not_read_is_a_question_mark_and_its_reason() -> None:
    unread = room_with(ProbeResult.failure("login as 'admin' refused (authentication failed)"))
    assert [str(c) for c in device_view.table_cells(unread)] == ["?", "", ""]
    text = device_view.details_text(unread)
    assert text is not None
    assert str(text).strip() == ("Device  not read: login as 'admin' refused "
                                 "(authentication failed)")
    assert device_view.details_text(None) is None


@pytest.mark.parametrize(("seconds", "shown"), [
    (93784.0, "1 d 2 h"), (7500, "2 h 5 min"), (59, "0 min"), (None, "not reported by this codec")])
def test_uptime_in_an_operators_words(seconds: float | None, shown: str) -> None:
    assert device_view.uptime_text(seconds) == shown
