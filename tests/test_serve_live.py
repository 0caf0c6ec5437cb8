"""``vcfleet serve`` with live device sessions: the exporter keeps one session per codec,
its sweeps' device check reads them (no login per sweep: counted at the simulator),
/metrics shows the codec's own state within seconds of a change, promtool-clean; and,
end to end, a registration fault applied by reloading ``vcfleet simulate``'s faults
file shows as ``vcfleet_device_registered{endpoint=...} 0`` within 5 s."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inventory import load_inventory
from probes.device import Settings
from probes.device_live import LiveSettings
from probes.sshkeys import KnownHosts
from simulator.core import Simulator
from simulator.faults import parse_faults
from tests.conftest import require_tool
from tests.simulated import PASSWORD, free_port
from tests.test_serve_prometheus import line_in, spawned
from vcfleet.exporter import Exporter, ExporterConfig
from vcfleet.sweep import SweepOptions

VENDORS = ("cisco_ce", "poly", "cisco_ce", "yealink")
ROOMS = tuple(f"room-{i}" for i in range(1, len(VENDORS) + 1))
CODECS = ROOMS[:3]


def write_fleet(folder: Path, prefix: str) -> Path:
    """Four rooms at PREFIX.1-4 whose profile runs the device check (room-4: Yealink,
    which has no device API here)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    lines = ["tiers: [province, commune]",
             "defaults:",
             '  credentials: {username: admin, secret: "file:secret.txt"}',
             "  services: {sip: {port: 5060}}",
             "  profile: codec",
             "profiles:",
             "  codec: {checks: [sip, device]}",
             "endpoints:"]
    for i, vendor in enumerate(VENDORS, start=1):
        ssh = ", services: {ssh: {port: 2222}}" if vendor != "yealink" else ""
        lines.append(f"  - {{id: room-{i}, name: 'Điểm cầu {i}', tier: commune, "
                     f"address: {prefix}.{i}, vendor: {vendor}{ssh}}}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
async def served(tmp_path: Path, loopback_prefix: str, seed: int
                 ) -> AsyncIterator[tuple[Simulator, Exporter]]:
    path = write_fleet(tmp_path / "fleet", loopback_prefix)
    sim = Simulator(load_inventory(path), None, tmp_path / "state")
    async with sim:
        settings = Settings(known_hosts=KnownHosts(sim.known_hosts))
        options = SweepOptions(source="serve", media_workers=0, settings={"device": settings})
        config = ExporterConfig(inventory_path=path, port=0, interval_s=0, options=options,
                                process_metrics=False,
                                live=LiveSettings(heartbeat_s=1.0, poll_s=0.5))
        exporter = Exporter(config)
        assert exporter.live is not None
        exporter.live.fleet.rng.seed(seed)
        await exporter.start()
        try:
            yield sim, exporter
        finally:
            await exporter.stop()


async def test_meeting_checks_read_the_live_sessions(tmp_path: Path, loopback_prefix: str
                                                    ) -> None:
    """``vcfleet serve --meetings``: a meeting's scheduled check runs the device check
    through the live sessions, as the scheduled sweeps do: no login at the codecs."""
    from datetime import UTC, datetime, timedelta

    path = write_fleet(tmp_path / "fleet", loopback_prefix)
    start = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    meetings = tmp_path / "meetings.yaml"
    meetings.write_text(f"""\
meetings:
  - id: giao-ban
    title: Giao ban
    start: {start.isoformat()}
    duration: 1h
    rooms: vendor=cisco_ce,poly
    checks: device
    checks_before: [15m]
    organiser: {{name: "Chánh VP", phone: "0237 3852 000"}}
""", encoding="utf-8")
    sim = Simulator(load_inventory(path), None, tmp_path / "state")
    async with sim:
        settings = Settings(known_hosts=KnownHosts(sim.known_hosts))
        options = SweepOptions(source="serve", media_workers=0, settings={"device": settings})
        config = ExporterConfig(inventory_path=path, port=0, interval_s=0, options=options,
                                process_metrics=False, meetings_path=meetings,
                                live=LiveSettings(heartbeat_s=1.0, poll_s=0.5))
        exporter = Exporter(config)
        await exporter.start()
        try:
            assert exporter.meetings is not None
            await until(lambda: all(sample(exporter, "vcfleet_device_session_up", r) == 1
                                    for r in CODECS), 15, "every session up")
            logins = {r: sim.endpoints[r].logins for r in CODECS}
            assert logins == dict.fromkeys(CODECS, 1)
            meeting = exporter.meetings.meetings.get("giao-ban")
            for _ in range(2):
                report = await exporter.meetings.check(meeting)
                assert report is not None
                assert sorted(r.endpoint.id for r in report.endpoints) == list(CODECS)
                for room in report.endpoints:
                    device = room.checks["device"].result
                    assert device.ok, device
                    assert device.details["registration"]["state"] == "registered"
            assert {r: sim.endpoints[r].logins for r in CODECS} == logins  # no new login
        finally:
            await exporter.stop()


def sample(exporter: Exporter, name: str, endpoint: str, **labels: str) -> float | None:
    return exporter.registry.get_sample_value(name, {"endpoint": endpoint, **labels})


async def until(test: Callable[[], bool], within_s: float, what: str) -> float:
    """Seconds until ``test`` holds; fails after ``within_s``."""
    t0 = time.monotonic()
    try:
        async with asyncio.timeout(within_s):
            while not test():
                await asyncio.sleep(0.05)
    except TimeoutError:
        pytest.fail(f"not within {within_s} s: {what}")
    return time.monotonic() - t0


async def test_sweeps_read_the_live_sessions_and_metrics_follow_the_codec(
        served: tuple[Simulator, Exporter]) -> None:
    sim, exporter = served
    await until(lambda: all(sample(exporter, "vcfleet_device_session_up", r) == 1
                            for r in CODECS), 15, "every session up")
    assert {r: sample(exporter, "vcfleet_device_registered", r) for r in ROOMS} == {
        "room-1": 1.0, "room-2": 1.0, "room-3": 1.0, "room-4": None}
    logins = {r: sim.endpoints[r].logins for r in CODECS}
    assert logins == dict.fromkeys(CODECS, 1)
    for _ in range(3):
        report = await exporter.scheduler.sweep_once()
        assert report is not None
        by_id = {e.endpoint.id: e for e in report.endpoints}
        for room in CODECS:
            device = by_id[room].checks["device"].result
            assert device.ok, device
            assert device.details["registration"]["state"] == "registered"
    assert {r: sim.endpoints[r].logins for r in CODECS} == logins  # no login per sweep

    await sim.reload_faults(parse_faults(
        "- {select: id=room-1, device: {registration: fail, camera: disconnected}}\n"
        "- {select: id=room-2, device: {in_call: true}}\n", "faults.yaml"))
    took = await until(lambda: sample(exporter, "vcfleet_device_registered", "room-1") == 0,
                       5, "room-1 unregistered")
    assert took < 5
    assert sample(exporter, "vcfleet_device_peripheral_connected", "room-1",
                  kind="camera") == 0
    await until(lambda: sample(exporter, "vcfleet_device_in_call", "room-2") == 1, 5,
                "room-2 in a call (Poly's poll)")
    report = await exporter.scheduler.sweep_once()
    assert report is not None
    verdicts = {e.endpoint.id: (e.verdict.value, e.reasons) for e in report.endpoints}
    assert verdicts["room-1"][0] == "down"
    assert any("not registered" in str(r) for r in verdicts["room-1"][1]), verdicts
    assert verdicts["room-2"][0] == "degraded"

    await sim.reload_faults(parse_faults("", "faults.yaml"))
    await until(lambda: sample(exporter, "vcfleet_device_registered", "room-1") == 1, 5,
                "room-1 registered again")
    assert {r: sim.endpoints[r].logins for r in CODECS} == logins
    assert exporter.registry.get_sample_value("vcfleet_device_session_logins_total") == 3


async def test_a_lost_session_is_a_reported_state(served: tuple[Simulator, Exporter]) -> None:
    sim, exporter = served
    await until(lambda: sample(exporter, "vcfleet_device_session_up", "room-3") == 1, 15,
                "room-3's session up")
    await sim.reload_faults(parse_faults("- {select: id=room-3, services: {ssh: down}}\n",
                                         "faults.yaml"))
    await until(lambda: sample(exporter, "vcfleet_device_session_up", "room-3") == 0, 5,
                "room-3's session lost")
    assert sample(exporter, "vcfleet_device_registered", "room-3") is None  # not stale data
    assert exporter.registry.get_sample_value("vcfleet_device_sessions", {"state": "lost"}) == 1
    report = await exporter.scheduler.sweep_once()
    assert report is not None
    room = next(e for e in report.endpoints if e.endpoint.id == "room-3")
    assert room.verdict.value == "down"
    assert "session lost since" in room.checks["device"].result.reason


async def test_device_metrics_pass_promtool(served: tuple[Simulator, Exporter],
                                            tmp_path: Path) -> None:
    sim, exporter = served
    await until(lambda: all(sample(exporter, "vcfleet_device_session_up", r) == 1
                            for r in CODECS), 15, "every session up")
    await exporter.scheduler.sweep_once()
    await sim.reload_faults(parse_faults(
        "- {select: id=room-1, device: {diagnostics: [{level: error, text: 'Nóng'}]}}\n",
        "faults.yaml"))
    await until(lambda: sample(exporter, "vcfleet_device_diagnostics", "room-1",
                               level="error") == 1, 5, "room-1's diagnostics message")
    text = exporter.render()
    devices = CollectorRegistry(auto_describe=False)
    devices.register(exporter.devices)
    assert _samples(exporter.devices.render()) == _samples(generate_latest(devices))
    for name in ("vcfleet_device_registered", "vcfleet_device_in_call",
                 "vcfleet_device_standby", "vcfleet_device_peripheral_connected",
                 "vcfleet_device_diagnostics", "vcfleet_device_software_info",
                 "vcfleet_device_session_up"):
        assert f"\n# TYPE {name} ".encode() in text, name
    assert b'vcfleet_device_software_info{endpoint="room-2",version="6.2.2.5-501003"} 1' in text
    assert b'vcfleet_device_standby{endpoint="room-2"}' not in text  # Poly does not say
    proc = await asyncio.create_subprocess_exec(
        require_tool("promtool"), "check", "metrics", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    async with asyncio.timeout(60):
        out, _ = await proc.communicate(text)
    assert proc.returncode == 0, out.decode()


def _samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text.decode()) for s in fam.samples}


# -- end to end: vcfleet serve and vcfleet simulate as commands ----------------------------


async def scrape(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as resp:
        return await resp.text()


def registered(text: str, room: str) -> float | None:
    found = re.search(rf'^vcfleet_device_registered{{endpoint="{room}"}} (\S+)$', text,
                      re.MULTILINE)
    return float(found.group(1)) if found else None


@pytest.mark.slow
@pytest.mark.timeout(120)
async def test_a_faults_reload_shows_in_serve_within_5_s(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    inventory = write_fleet(tmp_path / "fleet", loopback_prefix)
    faults = tmp_path / "faults.yaml"
    faults.write_text("[]\n", encoding="utf-8")
    state = tmp_path / "state"
    vcfleet = [sys.executable, "-m", "vcfleet"]
    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    with spawned([*vcfleet, "simulate", "--inventory", str(inventory), "--faults", str(faults),
                  "--state-dir", str(state), "--workers", "0"], tmp_path / "sim.log") as sim:
        await line_in(tmp_path / "sim.log", r"^ready", sim)
        with spawned([*vcfleet, "serve", "--inventory", str(inventory), "--listen",
                      f"127.0.0.1:{port}", "--interval", "60", "--no-history",
                      "--known-hosts", str(state / "known_hosts")],
                     tmp_path / "serve.log") as serve:
            await line_in(tmp_path / "serve.log", r"^serving", serve)
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
                async with asyncio.timeout(30):
                    while registered(await scrape(http, url), "room-1") != 1:
                        await asyncio.sleep(0.2)
                for fault, want in (("{registration: fail}", 0.0), (None, 1.0)):
                    text = f"- {{select: id=room-1, device: {fault}}}\n" if fault else "[]\n"
                    faults.write_text(text, encoding="utf-8")
                    sim.send_signal(signal.SIGHUP)
                    t0 = time.monotonic()
                    got = None
                    while time.monotonic() - t0 < 5.0:
                        got = registered(await scrape(http, url), "room-1")
                        if got == want:
                            break
                        await asyncio.sleep(0.1)
                    assert got == want, (fault, got, (tmp_path / "serve.log").read_text())
                    print(f"{fault or 'cleared'}: {time.monotonic() - t0:.2f} s")


def test_a_yealink_room_gets_no_ssh_session(tmp_path: Path, loopback_prefix: str) -> None:
    """A Yealink room's device API is HTTPS, read per sweep: serve opens no SSH session
    to it (its check falls back to the ordinary probe), while the codecs get theirs."""
    from vcfleet.exporter.live import LiveDevices
    path = write_fleet(tmp_path / "fleet", loopback_prefix)
    text = path.read_text(encoding="utf-8").replace(
        "vendor: yealink}", "vendor: yealink, services: {https: {port: 8443}}}")
    path.write_text(text, encoding="utf-8")
    known = tmp_path / "known_hosts"
    known.write_text("", encoding="utf-8")
    inv = load_inventory(path)
    live = LiveDevices(SweepOptions(settings={"device": Settings(known_hosts=KnownHosts(known))}))
    assert sorted(live.wanted(inv, inv.endpoints)) == ["room-1", "room-2", "room-3"]
