"""``vcfleet simulate`` as a subprocess: ready line, SIGHUP and control reloads, clean exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.simulated import free_port, write_inventory

DEADLINE = 30.0


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", "simulate", *args,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


async def line_of(proc: asyncio.subprocess.Process) -> str:
    assert proc.stdout is not None
    async with asyncio.timeout(DEADLINE):
        return (await proc.stdout.readline()).decode().strip()


async def port_open(host: str, port: int) -> bool:
    try:
        async with asyncio.timeout(5):
            _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    return True


async def finish(proc: asyncio.subprocess.Process, sig: int) -> tuple[int, str]:
    proc.send_signal(sig)
    async with asyncio.timeout(DEADLINE):
        _, err = await proc.communicate()
    return int(proc.returncode or 0), err.decode()


async def test_ready_reload_on_sighup_and_control_then_clean_exit(
        tmp_path: Path, loopback_prefix: str) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix)
    faults = tmp_path / "faults.yaml"
    faults.write_text("[]\n")
    control = free_port()
    proc = await spawn("--inventory", str(inv), "--faults", str(faults), "--workers", "0",
                       "--state-dir", str(tmp_path / "state"),
                       "--control", f"127.0.0.1:{control}")
    try:
        ready = await line_of(proc)
        assert ready.startswith("ready 3 endpoints in "), ready
        host = f"{loopback_prefix}.1"
        assert await port_open(host, 2222)
        faults.write_text("- {select: id=cisco-ce-1, down: true}\n")
        proc.send_signal(signal.SIGHUP)
        assert (await line_of(proc)).startswith("reloaded 1 fault item(s)")
        assert not await port_open(host, 2222)
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            async with http.post(f"http://127.0.0.1:{control}/reload", data="[]") as r:
                assert r.status == 200
                assert json.loads(await r.text()) == {"ok": True, "items": 0}
            assert (await line_of(proc)).startswith("reloaded 0 fault item(s)")
            assert await port_open(host, 2222)
            async with http.post(f"http://127.0.0.1:{control}/reload", data="- {oops: 1}") as r:
                assert r.status == 400
                body = json.loads(await r.text())
                assert body["ok"] is False
                assert any("unknown key 'oops'" in p for p in body["problems"])
        assert await port_open(host, 2222)  # a bad reload leaves the faults in force
    finally:
        rc, err = await finish(proc, signal.SIGTERM)
    assert rc == 0, err
    assert not await port_open(f"{loopback_prefix}.1", 2222)


async def test_workers_serve_every_endpoint(tmp_path: Path, loopback_prefix: str) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix,
                          vendors=("cisco_ce", "poly", "yealink", "cisco_ce"))
    proc = await spawn("--inventory", str(inv), "--workers", "2",
                       "--state-dir", str(tmp_path / "state"))
    try:
        ready = await line_of(proc)
        assert ready.startswith("ready 4 endpoints in "), ready
        assert ready.endswith("(2 workers)"), ready
        for i in (1, 2, 3, 4):
            assert await port_open(f"{loopback_prefix}.{i}", 8443)
        # workers never overwrite the parent's known_hosts with their shard's
        known = (tmp_path / "state" / "known_hosts").read_text().splitlines()
        assert sorted(line.split()[0] for line in known) == [
            f"[{loopback_prefix}.{i}]:2222" for i in (1, 2, 4)]
    finally:
        rc, err = await finish(proc, signal.SIGINT)
    assert rc == 0, err
    for i in (1, 2, 3, 4):
        assert not await port_open(f"{loopback_prefix}.{i}", 8443)


async def test_select_serves_a_subset(tmp_path: Path, loopback_prefix: str) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix)
    proc = await spawn("--inventory", str(inv), "--select", "vendor=poly,yealink",
                       "--workers", "0", "--state-dir", str(tmp_path / "state"))
    try:
        assert (await line_of(proc)).startswith("ready 2 endpoints in ")
        assert not await port_open(f"{loopback_prefix}.1", 8443)
        assert await port_open(f"{loopback_prefix}.2", 8443)
    finally:
        rc, err = await finish(proc, signal.SIGINT)
    assert rc == 0, err


async def test_bad_faults_file_is_one_line_and_exit_2(tmp_path: Path, loopback_prefix: str
                                                      ) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix)
    faults = tmp_path / "faults.yaml"
    faults.write_text("- select: id=x\n  loss_pct: lots\n")
    proc = await spawn("--inventory", str(inv), "--faults", str(faults),
                       "--state-dir", str(tmp_path / "state"))
    async with asyncio.timeout(DEADLINE):
        out, err = await proc.communicate()
    assert proc.returncode == 2
    assert out == b""
    lines = err.decode().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"{faults}:2:13: fault 1: loss_pct:")


@pytest.mark.parametrize("workers", ["0", "1"])
async def test_address_in_use_is_one_line_and_exit_2(tmp_path: Path, loopback_prefix: str,
                                                     workers: str) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix)
    with socket.socket() as squatter:
        squatter.bind((f"{loopback_prefix}.2", 8443))
        squatter.listen()
        proc = await spawn("--inventory", str(inv), "--workers", workers,
                           "--state-dir", str(tmp_path / "state"))
        async with asyncio.timeout(DEADLINE):
            out, err = await proc.communicate()
    assert proc.returncode == 2
    assert out == b""
    lines = err.decode().splitlines()
    assert lines == [f"cannot listen on {loopback_prefix}.2:8443 (https of poly-2): "
                     "Address already in use"], lines
    for i in (1, 3):
        assert not await port_open(f"{loopback_prefix}.{i}", 8443)


async def test_a_dead_worker_stops_the_simulator_with_status_1(
        tmp_path: Path, loopback_prefix: str) -> None:
    inv = write_inventory(tmp_path / "fleet", loopback_prefix)
    proc = await spawn("--inventory", str(inv), "--workers", "2",
                       "--state-dir", str(tmp_path / "state"))
    try:
        assert (await line_of(proc)).startswith("ready 3 endpoints")
        path = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
        children = (await asyncio.to_thread(path.read_text)).split()
        assert len(children) == 2
        os.kill(int(children[1]), signal.SIGKILL)
        async with asyncio.timeout(DEADLINE):
            _, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 1
    assert err.decode().splitlines() == [
        "vcfleet simulate: simulator worker 1 exited unexpectedly (status -9)"]
