"""Live device sessions (probes/device_live.py) against the simulator on loopback: one
login per codec, Cisco's pushed changes and Poly's polls in the view within seconds,
a lost session reported and reopened with backoff; the stream parser and the backoff
on their own."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from probes import device, device_poly
from probes.base import ProbeResult
from probes.device import DeviceTarget, Settings
from probes.device_live import (
    POLY_QUICK,
    CiscoStream,
    LiveFleet,
    LiveSettings,
    LiveView,
    backoff,
)
from probes.sshkeys import KnownHosts
from simulator.core import Simulator
from simulator.faults import parse_faults
from tests.simulated import PASSWORD, simulated_fleet

CISCO, POLY = "cisco-ce-1", "poly-2"
FAST = LiveSettings(poll_s=0.3, heartbeat_s=0.5, backoff_s=0.1, backoff_max_s=0.4,
                    start_rate=100.0)


def targets(prefix: str, known: Path) -> dict[str, tuple[DeviceTarget, Settings]]:
    settings = Settings(known_hosts=KnownHosts(known), command_s=2.0)
    return {name: (DeviceTarget(f"{prefix}.{i}", 2222, name=name, vendor=vendor,
                                username="admin", password=PASSWORD), settings)
            for i, (name, vendor) in enumerate(((CISCO, "cisco_ce"), (POLY, "poly")), 1)}


async def until(fleet: LiveFleet, name: str, test: Callable[[LiveView], bool],
                within_s: float = 5.0) -> LiveView:
    """The view of ``name`` once ``test`` holds (fails after ``within_s``)."""
    view = fleet.views()[name]
    try:
        async with asyncio.timeout(within_s):
            while not test(view := fleet.views()[name]):
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"{name}: not within {within_s} s; last view {view}")
    return view


def registration(view: LiveView) -> str:
    assert view.result is not None
    return str(view.result.details["registration"]["state"])


def calls(view: LiveView) -> int:
    return int(view.result.details["calls"]) if view.result is not None else -1


@pytest.fixture
async def live(tmp_path: Path, loopback_prefix: str, seed: int
               ) -> AsyncIterator[tuple[Simulator, LiveFleet, str]]:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce", "poly")) as (
            sim, _):
        fleet = LiveFleet(FAST, random.Random(seed))
        try:
            await fleet.update(targets(loopback_prefix, sim.known_hosts))
            yield sim, fleet, loopback_prefix
        finally:
            await fleet.stop()


async def fault(sim: Simulator, text: str) -> None:
    await sim.reload_faults(parse_faults(text, "faults.yaml"))


def up(view: LiveView) -> bool:
    return view.state == "up"


async def test_changes_reach_the_view_without_new_logins(
        live: tuple[Simulator, LiveFleet, str]) -> None:
    sim, fleet, _ = live
    for name in (CISCO, POLY):
        view = await until(fleet, name, up)
        assert registration(view) == "registered", view
        assert view.result is not None
        assert view.result.ok
    await fault(sim, f"- {{select: id={CISCO}, device: {{registration: fail, in_call: true}}}}\n"
                     f"- {{select: id={POLY}, device: {{registration: fail}}}}\n")
    view = await until(fleet, CISCO, lambda v: up(v) and registration(v) == "failed"
                       and calls(v) == 1)
    assert view.result is not None
    assert view.result.details["registration"]["reason"] == "403 Forbidden"
    assert view.result.info["call_with"] == "MCU Thanh Hóa"
    await until(fleet, POLY, lambda v: up(v) and registration(v) == "failed")
    await fault(sim, "")
    await until(fleet, CISCO, lambda v: up(v) and registration(v) == "registered"
                and calls(v) == 0)  # the call's ghost removed it
    await until(fleet, POLY, lambda v: up(v) and registration(v) == "registered")
    await asyncio.sleep(1.2)  # a few heartbeats and polls: still the one session each
    assert {n: v.state for n, v in fleet.views().items()} == {CISCO: "up", POLY: "up"}
    assert {n: sim.endpoints[n].logins for n in (CISCO, POLY)} == {CISCO: 1, POLY: 1}
    assert fleet.logins == 2


async def test_a_lost_session_is_reported_and_reopened(
        live: tuple[Simulator, LiveFleet, str]) -> None:
    sim, fleet, _ = live
    await until(fleet, CISCO, up)
    await fault(sim, f"- {{select: id={CISCO}, services: {{ssh: down}}}}\n")
    view = await until(fleet, CISCO, lambda v: v.state == "lost")
    result = view.probe_result()
    assert not result.ok
    assert result.reason.startswith("session lost since ")
    assert "closed the session" in result.reason or "SSH session failed" in result.reason, \
        result.reason
    assert view.result is None  # nothing of the codec's last state is shown as current
    lost = await until(fleet, CISCO, lambda v: "cannot connect" in v.reason)  # reconnecting
    assert lost.state == "lost", lost
    await fault(sim, "")
    view = await until(fleet, CISCO, up)
    assert registration(view) == "registered"
    assert sim.endpoints[CISCO].logins == 2


async def test_a_bug_while_reading_is_a_lost_session_not_a_stale_view(
        live: tuple[Simulator, LiveFleet, str], monkeypatch: pytest.MonkeyPatch) -> None:
    sim, fleet, _ = live
    await until(fleet, CISCO, up)

    def broken(vendor: str, text: str) -> ProbeResult:
        raise ValueError("unparsable")

    monkeypatch.setattr(device, "result_of", broken)
    await fault(sim, f"- {{select: id={CISCO}, device: {{dnd: true}}}}\n")
    view = await until(fleet, CISCO, lambda v: v.state == "lost")
    assert view.reason == "session error: ValueError: unparsable"
    monkeypatch.undo()
    view = await until(fleet, CISCO, up)
    assert view.result is not None
    assert view.result.details["dnd"] is True


async def test_the_check_reads_the_live_view(live: tuple[Simulator, LiveFleet, str]) -> None:
    sim, fleet, prefix = live
    wanted = targets(prefix, sim.known_hosts)
    for _name, (target, settings) in wanted.items():
        result = await fleet.check(target, settings)
        assert result.ok, result
        assert result.details["registration"]["state"] == "registered", result
    assert fleet.logins == 2 == sum(sim.endpoints[n].logins for n in wanted)
    other = DeviceTarget(f"{prefix}.1", 2222, name="not-live", vendor="cisco_ce",
                         username="admin", password=PASSWORD)
    assert (await fleet.check(other, wanted[CISCO][1])).ok  # logs in as the check does
    assert sim.endpoints[CISCO].logins == 2
    assert fleet.logins == 2


async def test_an_unknown_host_key_is_unchecked_not_down(tmp_path: Path, loopback_prefix: str,
                                                         seed: int) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (sim, _):
        fleet = LiveFleet(FAST, random.Random(seed))
        empty = tmp_path / "empty_known_hosts"
        try:
            await fleet.update({CISCO: targets(loopback_prefix, empty)[CISCO]})
            view = await until(fleet, CISCO, lambda v: v.state == "lost")
            result = view.probe_result()
            assert result.unchecked, result
            assert "unknown host key" in result.reason, result
            assert sim.endpoints[CISCO].logins == 0
        finally:
            await fleet.stop()
        assert not empty.exists()  # never recorded


async def test_update_keeps_bounds_and_closes_removed_sessions(tmp_path: Path,
                                                               loopback_prefix: str,
                                                               seed: int) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce", "poly")) as (
            sim, _):
        fleet = LiveFleet(LiveSettings(max_sessions=1, poll_s=0.3), random.Random(seed))
        try:
            wanted = targets(loopback_prefix, sim.known_hosts)
            await fleet.update(wanted)
            assert list(fleet.sessions) == [CISCO]
            await until(fleet, CISCO, up)
            await fleet.update({POLY: wanted[POLY]})
            assert list(fleet.sessions) == [POLY]
            await until(fleet, POLY, up)
            async with asyncio.timeout(5):
                while sim.endpoints[CISCO].device.state.listeners:  # its feedback detached
                    await asyncio.sleep(0.05)
        finally:
            await fleet.stop()


def test_cisco_stream_applies_lines_in_order_and_removes_ghosts() -> None:
    s = CiscoStream()
    s.feed("*s Call 3 Status: Connected\r\n*s Call 3 RemoteNumber: \"mcu\"\r\n** end\r\n\r")
    s.feed("\nOK\r\n*s Call 4 Status: Dialling\r\n*s Call 3 (ghost=True):\r\n** en")
    assert s.replies == 1
    assert s.leaves == {"Call 4 Status": "Dialling"}
    s.feed("d\r\n*s Standby State: Standby\r\nERROR\r\nCommand not recognized.\r\n")
    assert s.replies == 3
    assert "*s Standby State: Standby" in s.text()


def test_poly_quick_commands_are_the_checks() -> None:
    assert set(POLY_QUICK) < set(device_poly.COMMANDS)
    assert POLY_QUICK[0] == "status"  # what decides whether the others are asked


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_doubles_up_to_its_cap_with_jitter(attempt: int, seed: int) -> None:
    live = LiveSettings(backoff_s=1.0, backoff_max_s=20.0)
    rng = random.Random(seed)
    base = min(20.0, 2.0 ** attempt)
    waits = [backoff(attempt, live, rng) for _ in range(200)]
    assert all(base / 2 <= w < base for w in waits), (seed, attempt)
    assert len(set(waits)) > 100  # jittered, not one value
