"""Each fault kind of the faults file, observed from outside with real clients."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path

import asyncssh
import pytest

from inventory import InputError, load_inventory
from simulator import load_faults, parse_faults
from tests.simulated import PASSWORD, options_request, simulated_fleet

DATA = Path(__file__).parent / "data"
DEADLINE = 5.0


async def tcp_state(host: str, port: int, wait: float = 0.5) -> str:
    """``refused``, ``silent`` (accepts, sends nothing) or ``talks``."""
    try:
        async with asyncio.timeout(DEADLINE):
            reader, writer = await asyncio.open_connection(host, port)
    except OSError:
        return "refused"
    try:
        try:
            data = await asyncio.wait_for(reader.read(100), wait)
        except TimeoutError:
            return "silent"
        return "talks" if data else "closed"
    finally:
        writer.close()


async def sip_udp_answers(host: str, wait: float = 0.5) -> bool:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class P(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(P, local_addr=("127.0.0.1", 0))
    try:
        transport.sendto(options_request(host, 5060, "probe"), (host, 5060))
        try:
            await asyncio.wait_for(got, wait)
        except TimeoutError:
            return False
        return True
    finally:
        transport.close()


async def ssh_login(host: str, **kw: object) -> str:
    async with asyncssh.connect(host, 2222, username="admin", password=PASSWORD,
                                known_hosts=None, connect_timeout=DEADLINE, **kw) as conn:
        r = await conn.run("xStatus SystemUnit Uptime", timeout=DEADLINE)
        return str(r.stdout)


def test_faults_file_errors_point_at_line_and_column() -> None:
    with pytest.raises(InputError) as err:
        load_faults(DATA / "faults-invalid.yaml")
    lines = err.value.lines()
    path = str(DATA / "faults-invalid.yaml")
    assert lines[0] == (f"{path}:2:19: fault 1: services.sip: 'broken' is not allowed; "
                        "expected 'down', 'hang' or {status: N} (a SIP status 100-699)")
    assert lines[1].startswith(f"{path}:3:11: fault 2: select: invalid selector")
    assert lines[2] == f"{path}:4:13: fault 2: loss_pct: input should be less than or equal to 100"
    assert lines[3].startswith(f"{path}:6:20: fault 3: reject_settings: unknown setting key(s) "
                               "no.such.key")
    assert lines[4].startswith(f"{path}:7:3: fault 3: unknown key 'colour'")
    assert len(lines) == 5


def test_demo_faults_parse_and_later_items_override() -> None:
    faults = load_faults(DATA / "faults-demo.yaml")
    inv = load_inventory()
    assert faults.for_endpoint(inv.get("so-noi-vu"), inv).down
    merged = parse_faults("- {select: '', delay_ms: 10, services: {sip: hang}}\n"
                          "- {select: 'id=ubnd-tinh', delay_ms: 30, services: {ssh: down}}\n",
                          "inline").for_endpoint(inv.get("ubnd-tinh"), inv)
    assert merged.delay_ms == 30
    assert merged.services == {"sip": "hang", "ssh": "down"}
    assert parse_faults("", "empty").rules == ()


async def test_down_service_faults_and_live_reload(tmp_path: Path, loopback_prefix: str
                                                   ) -> None:
    p = loopback_prefix
    faults = parse_faults("- {select: id=cisco-ce-1, down: true}\n"
                          "- {select: id=poly-2, services: {ssh: hang, sip: hang, "
                          "https: down}}\n", "t")
    async with simulated_fleet(tmp_path, p, faults) as (sim, _):
        # down: nothing listens at all
        assert await tcp_state(f"{p}.1", 2222) == "refused"
        assert await tcp_state(f"{p}.1", 8443) == "refused"
        assert await tcp_state(f"{p}.1", 5060) == "refused"
        assert not await sip_udp_answers(f"{p}.1")
        # per service: hang accepts and never answers (SSH sends no banner); down refuses
        assert await tcp_state(f"{p}.2", 2222) == "silent"
        assert await tcp_state(f"{p}.2", 5060) == "silent"
        assert not await sip_udp_answers(f"{p}.2")
        assert await tcp_state(f"{p}.2", 8443) == "refused"
        # untouched endpoint
        assert await tcp_state(f"{p}.3", 5060) == "silent"  # SIP over TCP waits for a request
        assert await sip_udp_answers(f"{p}.3")
        # an SSH client gives up waiting for the banner
        with pytest.raises((asyncssh.Error, TimeoutError, OSError)):
            async with asyncssh.connect(f"{p}.2", 2222, username="admin", password=PASSWORD,
                                        known_hosts=None, connect_timeout=1.0):
                pass
        assert sim.endpoints["poly-2"].running["ssh"][0] == "hang"


async def test_reload_applies_live_without_touching_healthy_endpoints(
        tmp_path: Path, loopback_prefix: str) -> None:
    p = loopback_prefix
    async with (simulated_fleet(tmp_path, p) as (sim, _),
                asyncssh.connect(f"{p}.2", 2222, username="admin", password=PASSWORD,
                                 known_hosts=None, connect_timeout=DEADLINE) as conn):
        await sim.reload_faults(parse_faults("- {select: id=cisco-ce-1, down: true}\n", "t"))
        assert await tcp_state(f"{p}.1", 2222) == "refused"
        r = await conn.run("systemsetting get autoanswer", timeout=DEADLINE)
        assert r.stdout == "systemsetting autoanswer no\n"  # session still open
        await sim.reload_faults(parse_faults("[]", "t"))
        assert await tcp_state(f"{p}.1", 2222) == "talks"
        r = await conn.run("version", timeout=DEADLINE)
        assert r.exit_status == 0


async def test_auth_fail_and_reject_settings(tmp_path: Path, loopback_prefix: str) -> None:
    p = loopback_prefix
    faults = parse_faults("- {select: id=cisco-ce-1, auth: fail}\n"
                          "- {select: 'vendor=cisco_ce,poly', reject_settings: [sip.proxy]}\n"
                          "- {select: id=cisco-ce-1, auth: fail}\n", "t")
    async with simulated_fleet(tmp_path, p, faults, vendors=("cisco_ce", "poly", "cisco_ce")
                               ) as (_sim, _):
        with pytest.raises(asyncssh.PermissionDenied):
            await ssh_login(f"{p}.1")
        async with asyncssh.connect(f"{p}.3", 2222, username="admin", password=PASSWORD,
                                    known_hosts=None, connect_timeout=DEADLINE) as conn:
            r = await conn.run("xConfiguration SIP Proxy 1 Address: 10.0.0.9", timeout=DEADLINE)
            assert r.exit_status == 1
            assert r.stdout == ('*r Configuration (status=Error):\n'
                                '*r Configuration Reason: "Permission denied."\n'
                                '*r Configuration XPath: "Configuration/SIP/Proxy[1]/Address"\n'
                                "** end\n\nERROR\n")
            r = await conn.run("xConfiguration SIP DisplayName: ok", timeout=DEADLINE)
            assert r.exit_status == 0
        async with asyncssh.connect(f"{p}.2", 2222, username="admin", password=PASSWORD,
                                    known_hosts=None, connect_timeout=DEADLINE) as conn:
            r = await conn.run("systemsetting sipproxyserver 10.0.0.9", timeout=DEADLINE)
            assert r.stdout == "error: setting is locked by the provisioning server\n"
            r = await conn.run("systemsetting autoanswer yes", timeout=DEADLINE)
            assert r.stdout == "systemsetting autoanswer yes\n"


async def test_flap_alternates_up_and_down(tmp_path: Path, loopback_prefix: str) -> None:
    p = loopback_prefix
    faults = parse_faults("- {select: id=yealink-3, flap_s: 0.6}\n", "t")
    async with simulated_fleet(tmp_path, p, faults) as _:
        seen: list[tuple[float, bool]] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < 2.6:
            seen.append((time.monotonic() - t0, await tcp_state(f"{p}.3", 8443, 0.05)
                         != "refused"))
            await asyncio.sleep(0.1)
    states = [up for _, up in seen]
    changes = sum(1 for a, b in itertools.pairwise(states) if a != b)
    assert states[0] is True
    assert 3 <= changes <= 5, seen
    assert any(not up for t, up in seen if 0.7 < t < 1.1), seen
    assert all(up for t, up in seen if t < 0.5), seen
