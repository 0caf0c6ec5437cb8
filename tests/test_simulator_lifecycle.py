"""The simulator owns its tasks and sockets: after ``stop`` nothing is left running."""

from __future__ import annotations

import asyncio
import os
import resource
import ssl
from pathlib import Path

import aiohttp
import asyncssh
import pytest

from simulator import SimulatorError, parse_faults, raise_file_limit
from tests.simulated import PASSWORD, options_request, simulated_fleet


async def test_stop_leaves_no_task_and_no_listener(tmp_path: Path, loopback_prefix: str) -> None:
    p = loopback_prefix
    before = asyncio.all_tasks()
    faults = parse_faults("- {select: id=poly-2, flap_s: 0.2}\n"
                          "- {select: id=yealink-3, services: {https: hang}, delay_ms: 50}\n",
                          "t")
    async with simulated_fleet(tmp_path, p, faults) as (_sim, _):
        # leave sessions and connections open in every kind of service
        conn = await asyncssh.connect(f"{p}.1", 2222, username="admin", password=PASSWORD,
                                      known_hosts=None, connect_timeout=5)
        shell = await conn.create_process(term_type="vt100")
        sip_reader, sip_writer = await asyncio.open_connection(f"{p}.1", 5060)
        sip_writer.write(options_request(f"{p}.1", 5060, "leak", "TCP"))
        await sip_reader.readuntil(b"\r\n\r\n")
        hang_reader, hang_writer = await asyncio.open_connection(f"{p}.3", 8443)
        loop = asyncio.get_running_loop()
        udp, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol,
                                                     local_addr=("127.0.0.1", 0))
        udp.sendto(options_request(f"{p}.3", 5060, "late"), (f"{p}.3", 5060))  # reply in flight
        ctx = ssl.create_default_context()
        ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        http = aiohttp.ClientSession()
        async with http.get(f"https://{p}.1:8443/status", ssl=ctx) as r:
            assert r.status == 200
        await asyncio.sleep(0.3)
    # the simulator closed its side of everything
    async with asyncio.timeout(5):
        assert await sip_reader.read() == b""
        assert await hang_reader.read() == b""
        await shell.wait_closed()
    conn.close()
    sip_writer.close()
    hang_writer.close()
    udp.close()
    await http.close()
    await asyncio.sleep(0.1)
    left = {t for t in asyncio.all_tasks() - before if t is not asyncio.current_task()}
    assert not left, left
    for i, port in ((1, 2222), (1, 5060), (2, 8443), (3, 8443), (1, 8089)):
        try:
            _, w = await asyncio.open_connection(f"{p}.{i}", port)
        except OSError:
            continue
        w.close()
        raise AssertionError(f"{p}.{i}:{port} still listens")


async def test_workers_serve_reload_and_stop(tmp_path: Path, loopback_prefix: str) -> None:
    p = loopback_prefix
    vendors = ("cisco_ce", "poly", "yealink", "cisco_ce")
    async with simulated_fleet(tmp_path, p, vendors=vendors, workers=2) as (sim, _):
        pids = sim.pids()
        assert len(pids) == 2
        assert await _listens(f"{p}.1", 8443)
        assert await _listens(f"{p}.2", 8443)
        await sim.reload_faults(parse_faults("- {select: 'id=cisco-ce-1,poly-2', down: true}\n",
                                             "t"))
        assert not await _listens(f"{p}.1", 8443)  # served by worker 0
        assert not await _listens(f"{p}.2", 8443)  # served by worker 1
        assert await _listens(f"{p}.4", 2222)
        await sim.reload_faults(parse_faults("[]", "t"))
        assert await _listens(f"{p}.2", 8443)
    assert sim.pids() == []
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        raise AssertionError(f"worker {pid} still runs")


async def _listens(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(5):
            _, w = await asyncio.open_connection(host, port)
    except OSError:
        return False
    w.close()
    return True


def test_file_limit_is_raised_or_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (64, 64))

    def refuse(*_: object) -> None:
        raise ValueError("not allowed")

    monkeypatch.setattr(resource, "setrlimit", refuse)
    with pytest.raises(SimulatorError) as err:
        raise_file_limit(348)
    assert str(err.value) == (
        "the open-file limit is 64 (hard 64) and cannot be raised to the 8608 that 348 "
        "endpoints need: raise it (ulimit -n 8608) or serve fewer endpoints")
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(resource, "setrlimit", lambda _, limits: calls.append(limits))
    assert raise_file_limit(10) == 496
    assert calls == [(496, 496)]
