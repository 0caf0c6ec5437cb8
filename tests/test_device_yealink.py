"""The device check of Yealink rooms, over their HTTPS API, against the simulator.

Same JSON and verdicts as the SSH vendors (tests/test_device_check.py): registration and
peripherals are read, each ``device:`` fault Yealink's API shows gives its verdict, and a
refused login (``auth: fail``) is a clear reason.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from inventory import Inventory, load_inventory
from probes.device import DeviceTarget, Settings, probe
from simulator import Simulator
from simulator.faults import parse_faults
from tests.simulated import PASSWORD, write_inventory
from tests.test_push_sim import Served
from vcfleet.checks import target_for
from vcfleet.cli import main


@pytest.fixture
async def rooms(tmp_path: Path, loopback_prefix: str) -> AsyncIterator[tuple[Simulator,
                                                                            Inventory]]:
    inv = load_inventory(write_inventory(tmp_path / "fleet", loopback_prefix,
                                         ("yealink",) * 3))
    async with Simulator(inv, None, tmp_path / "state") as sim:
        yield sim, inv


def target(inv: Inventory, n: int) -> DeviceTarget:
    built = target_for(inv, inv.get(f"yealink-{n}"), "device")
    assert isinstance(built, DeviceTarget)
    return built


SETTINGS = Settings(timeout_s=10.0, software_min={"yealink": "84.86"})


def test_the_target_is_the_https_port_with_the_room_credentials(tmp_path: Path) -> None:
    inv = load_inventory(write_inventory(tmp_path, "127.0.0", ("yealink",)))
    built = target(inv, 1)
    assert (built.address, built.port, built.vendor, built.username) == (
        "127.0.0.1", 8443, "yealink", "admin")
    assert built.url == "https://127.0.0.1:8443"
    assert built.verify_tls is False
    assert built.password == PASSWORD
    assert PASSWORD not in repr(built)


async def test_a_clean_room_is_read(rooms: tuple[Simulator, Inventory]) -> None:
    _, inv = rooms
    result = await probe(target(inv, 1), SETTINGS)
    assert result.ok, result.reason
    details = result.details
    assert details["registration"] == {"state": "registered",
                                       "registrar": "sip.thanhhoa.gov.vn", "reason": ""}
    assert details["calls"] == 0
    assert (details["standby"], details["dnd"], details["diagnostics"]) == (None, False, [])
    assert details["peripherals"] == [
        {"kind": "camera", "name": "MVC860 camera", "connected": True},
        {"kind": "microphone", "name": "MVC860 microphone array", "connected": True,
         "muted": False},
        {"kind": "display", "name": "HDMI 1", "connected": True}]
    assert details["software"] == "84.86.0.30"
    assert isinstance(result.figures["uptime_s"], float)


async def test_faults_are_read(rooms: tuple[Simulator, Inventory]) -> None:
    sim, inv = rooms
    await sim.reload_faults(parse_faults(
        "- select: id=yealink-1\n"
        "  device: {in_call: true, dnd: true, microphones: muted, software: '84.80.0.1'}\n"
        "- select: id=yealink-2\n"
        "  device: {camera: disconnected, display: disconnected, registration: fail}\n"
        "- select: id=yealink-3\n"
        "  auth: fail\n", "faults.yaml"))
    one = await probe(target(inv, 1), SETTINGS)
    assert one.ok, one.reason
    assert (one.details["calls"], one.details["dnd"]) == (1, True)
    assert one.info == {"call_with": "MCU Thanh Hóa"}
    assert one.details["peripherals"][1]["muted"] is True
    assert one.details["software"] == "84.80.0.1"
    deadline = time.monotonic() + 10.0
    while True:
        two = await probe(target(inv, 2), SETTINGS)
        if two.details["registration"]["state"] == "failed" or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert two.details["registration"] == {"state": "failed",
                                           "registrar": "sip.thanhhoa.gov.vn",
                                           "reason": "403 Forbidden"}
    assert [p["connected"] for p in two.details["peripherals"]] == [False, True, False]
    three = await probe(target(inv, 3), SETTINGS)
    assert not three.ok
    assert three.reason == "login as 'admin' refused (authentication failed)"


async def test_unreachable_and_untrusted(rooms: tuple[Simulator, Inventory]) -> None:
    sim, inv = rooms
    await sim.reload_faults(parse_faults("- {select: id=yealink-1, services: {https: down}}\n",
                                         "faults.yaml"))
    down = await probe(target(inv, 1), SETTINGS)
    assert not down.ok
    assert (down.reason or "").startswith(
        f"cannot connect to {inv.get('yealink-1').address}:8443: "), down.reason
    # verify_tls: true (a site with its own CA): the simulator's self-signed one is refused
    verified = dataclasses.replace(target(inv, 2), verify_tls=True)
    result = await probe(verified, SETTINGS)
    assert not result.ok
    assert (result.reason or "").startswith("TLS certificate not trusted: "), result.reason


# -- the sweep: the same verdicts as the SSH vendors -------------------------------------


def sweep(tmp: Path, inventory: Path) -> tuple[int, dict[str, Any]]:
    out = tmp / "sweep.json"
    code = main(["sweep", "--inventory", str(inventory), "--checks", "device",
                 "--format", "json", "-o", str(out), "--no-history", "--no-progress",
                 "--known-hosts", str(tmp / "known_hosts")])
    return code, json.loads(out.read_text(encoding="utf-8"))


def test_sweep_verdicts_of_yealink_rooms(tmp_path: Path, loopback_prefix: str) -> None:
    path = write_inventory(tmp_path / "fleet", loopback_prefix, ("yealink",) * 4)
    with path.open("a", encoding="utf-8") as out:  # the rooms' profile runs the device check
        out.write("profiles:\n  standard: {checks: [sip, device]}\n")
    faults = ("- {select: id=yealink-2, device: {camera: disconnected}}\n"
              "- {select: id=yealink-3, device: {dnd: true}}\n"
              "- {select: id=yealink-4, auth: fail}\n")
    with Served(load_inventory(path), faults, tmp_path / "state"):
        code, report = sweep(tmp_path, path)
    assert code == 1
    by_id = {e["id"]: e for e in report["endpoints"]}
    assert by_id["yealink-1"]["verdict"] == "ready", by_id["yealink-1"]["reasons"]
    device = by_id["yealink-1"]["checks"]["device"]
    assert device["ok"] is True
    assert device["registration"]["state"] == "registered"
    assert [p["kind"] for p in device["peripherals"]] == ["camera", "microphone", "display"]
    assert by_id["yealink-2"]["verdict"] == "down"
    assert "device: camera disconnected: MVC860 camera" in by_id["yealink-2"]["reasons"]
    assert by_id["yealink-3"]["verdict"] == "degraded"
    assert "device: will not auto-answer: do not disturb" in by_id["yealink-3"]["reasons"]
    assert by_id["yealink-4"]["verdict"] == "down"
    assert any("login as 'admin' refused (authentication failed)" in r
               for r in by_id["yealink-4"]["reasons"]), by_id["yealink-4"]["reasons"]
