"""The device check against the simulator over real SSH: clean Cisco and Poly rooms,
every device fault, and host-key, login and deadline failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from inventory import Inventory
from probes.device import DeviceTarget, Settings, probe
from probes.sshkeys import KnownHosts
from simulator import Simulator, parse_faults
from tests.simulated import PASSWORD, simulated_fleet
from tests.test_simulator_device import ALL_FAULTS

KEYS = {"ok", "registration", "calls", "standby", "dnd", "peripherals", "diagnostics",
        "software", "uptime_s"}


@pytest.fixture
async def fleet(tmp_path: Path, loopback_prefix: str
                ) -> AsyncIterator[tuple[Simulator, Inventory, str]]:
    async with simulated_fleet(tmp_path, loopback_prefix,
                               vendors=("cisco_ce", "poly")) as (sim, inv):
        yield sim, inv, loopback_prefix


def target(prefix: str, n: int, **kw: Any) -> DeviceTarget:
    vendor = "cisco_ce" if n == 1 else "poly"
    args: dict[str, Any] = {"address": f"{prefix}.{n}", "port": 2222, "name": f"room-{n}",
                            "vendor": vendor, "username": "admin", "password": PASSWORD}
    args.update(kw)
    return DeviceTarget(**args)


def settings(sim: Simulator, **kw: Any) -> Settings:
    return Settings(known_hosts=KnownHosts(sim.known_hosts), **kw)


async def test_clean_cisco_room(fleet: tuple) -> None:
    sim, _, p = fleet
    result = await probe(target(p, 1), settings(sim))
    out = result.to_json()
    assert set(out) == KEYS, out
    uptime = out.pop("uptime_s")
    assert isinstance(uptime, float)
    assert uptime >= 0
    assert out == {
        "ok": True,
        "registration": {"state": "registered", "registrar": "sip.thanhhoa.gov.vn",
                         "reason": ""},
        "calls": 0, "standby": False, "dnd": False,
        "peripherals": [
            {"kind": "camera", "name": "Camera (input 1)", "connected": True},
            {"kind": "microphone", "name": "Microphone 1", "connected": True, "muted": False},
            {"kind": "microphone", "name": "Microphone 2", "connected": True, "muted": False},
            {"kind": "display", "name": "Display", "connected": True},
            {"kind": "touch_panel", "name": "Cisco TelePresence Touch", "connected": True}],
        "diagnostics": [], "software": "ce9.15.3.17"}


async def test_clean_poly_room(fleet: tuple) -> None:
    sim, _, p = fleet
    out = (await probe(target(p, 2), settings(sim))).to_json()
    assert out == {
        "ok": True,
        "registration": {"state": "registered", "registrar": "sip.thanhhoa.gov.vn",
                         "reason": ""},
        "calls": 0, "standby": None, "dnd": False,
        "peripherals": [{"kind": "camera", "name": "Camera", "connected": True},
                        {"kind": "microphone", "name": "Microphones", "connected": True,
                         "muted": False}],
        "diagnostics": [], "software": "6.2.2.5-501003", "uptime_s": None}


async def test_every_device_fault(fleet: tuple) -> None:
    sim, _, p = fleet
    await sim.reload_faults(parse_faults(ALL_FAULTS, "faults.yaml"))
    for reg in (sim.endpoints["cisco-ce-1"].registration, sim.endpoints["poly-2"].registration):
        assert reg is not None
        await reg.attempt()  # the REGISTER the reload started, awaited here
    result = await probe(target(p, 1), settings(sim))
    out = result.to_json()
    assert out["registration"] == {"state": "failed", "registrar": "sip.thanhhoa.gov.vn",
                                   "reason": "403 Forbidden"}
    assert out["calls"] == 1
    assert out["info"] == {"call_with": "MCU Thanh Hóa"}
    assert out["standby"] is True
    assert out["dnd"] is True
    kinds = {(x["kind"], x["name"]): x for x in out["peripherals"]}
    assert kinds[("camera", "Camera (input 1)")]["connected"] is False
    assert kinds[("microphone", "Microphone 1")]["muted"] is True
    assert kinds[("microphone", "Microphone 1")]["connected"] is True
    assert kinds[("display", "Display (output 1)")]["connected"] is False
    assert out["diagnostics"] == [{"level": "error", "text": "Máy quay không phản hồi"},
                                  {"level": "critical", "text": "Nhiệt độ quá cao"}]
    assert out["software"] == "ce9.8.1"
    poly = (await probe(target(p, 2), settings(sim))).to_json()
    assert poly["registration"] == {"state": "failed", "registrar": "sip.thanhhoa.gov.vn",
                                    "reason": "sipserver offline"}
    assert poly["calls"] == 1
    assert poly["info"] == {"call_with": "MCU Thanh Hóa"}
    assert poly["dnd"] is True
    assert poly["peripherals"] == [
        {"kind": "camera", "name": "Camera", "connected": False},
        {"kind": "microphone", "name": "Microphones", "connected": True, "muted": True}]
    assert poly["software"] == "ce9.8.1"
    await sim.reload_faults(parse_faults(
        "- {select: '', device: {microphones: disconnected}}\n", "f"))
    out = (await probe(target(p, 1), settings(sim))).to_json()
    mics = [x for x in out["peripherals"] if x["kind"] == "microphone"]
    assert [m["connected"] for m in mics] == [False, False]
    assert [m["muted"] for m in mics] == [False, False]
    poly = (await probe(target(p, 2), settings(sim))).to_json()
    assert poly["peripherals"][1] == {"kind": "microphone", "name": "Microphones",
                                      "connected": False, "muted": False}


async def test_a_pushed_wrong_proxy_reads_as_not_registered(fleet: tuple) -> None:
    sim, _, p = fleet
    device = sim.device("cisco-ce-1")
    device.set("SIP Proxy 1 Address", "sip2.thanhhoa.gov.vn")
    registration = sim.endpoints["cisco-ce-1"].registration
    assert registration is not None
    await registration.attempt()
    out = (await probe(target(p, 1), settings(sim))).to_json()
    assert out["registration"] == {"state": "failed", "registrar": "sip2.thanhhoa.gov.vn",
                                   "reason": "DNS lookup failed"}


async def test_host_keys_logins_and_deadlines(fleet: tuple, tmp_path: Path) -> None:
    sim, _, p = fleet
    empty = Settings(known_hosts=KnownHosts(tmp_path / "empty_known_hosts"))
    result = await probe(target(p, 1), empty)
    assert not result.ok
    assert result.reason.startswith(f"cannot check: unknown host key for [{p}.1]:2222 (SHA256:")
    assert "--accept-new-host-keys" in result.reason
    assert result.unchecked  # a trust never set up is not the room's fault: unknown, not down
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    (tmp_path / "wrong_known_hosts").write_text(f"[{p}.1]:2222 {other}\n", encoding="utf-8")
    wrong = await probe(target(p, 1), Settings(known_hosts=KnownHosts(tmp_path /
                                                                      "wrong_known_hosts")))
    assert not wrong.ok
    assert not wrong.unchecked  # a changed key may be an impersonation: a failure
    assert "differs from the one in" in wrong.reason
    accept = Settings(known_hosts=KnownHosts(tmp_path / "new_known_hosts", accept_new=True))
    assert (await probe(target(p, 1), accept)).ok
    assert f"[{p}.1]:2222 ssh-ed25519 " in (tmp_path / "new_known_hosts").read_text()
    result = await probe(target(p, 1, password="wrong"), settings(sim))
    assert result.reason == "login as 'admin' refused (authentication failed)"
    assert PASSWORD not in repr(target(p, 1))
    result = await probe(target(p, 1, port=2299), settings(sim))
    assert result.reason.startswith(f"cannot connect to {p}.1:2299")
    await sim.reload_faults(parse_faults("- {select: id=cisco-ce-1, services: {ssh: hang}}\n",
                                         "f"))
    result = await probe(target(p, 1), settings(sim, connect_s=0.5))
    assert result.reason == f"no SSH session within 0.5 s ({p}.1:2222)"
    assert (await probe(target(p, 1), Settings())).unchecked
    assert (await probe(target(p, 3, vendor="lifesize"), settings(sim))).reason == (
        "vendor lifesize has no device API here")  # Yealink's: tests/test_device_yealink.py
