"""Sweeps in a child process (``vcfleet.sweep_process``): real TCP checks against
loopback listeners, run by a real child; cancel, a killed child, options that cannot
travel, log records and closing.  The runners below are module-level so that the
child can import them by name."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from inventory import Inventory
from probes.base import ProbeResult, Target
from tests.test_sweep_engine import _close, _inventory, _listen
from vcfleet.report import EndpointReport, Verdict
from vcfleet.sweep import SweepOptions, parse_checks
from vcfleet.sweep_process import SweepProcess, SweepProcessError

pytestmark = pytest.mark.timeout(90)


async def hang(target: Target, settings: Any) -> ProbeResult:
    """A check that never answers."""
    await asyncio.sleep(3600)
    raise AssertionError("unreachable")


async def chatty(target: Target, settings: Any) -> ProbeResult:
    """A check that logs a warning, then passes."""
    logging.getLogger("vcfleet.test_child").warning("checked %s", target.name)
    return ProbeResult(True, {"rtt_ms": 1.0})


@pytest.fixture
def sweeper(tmp_path: Path) -> Any:
    processes: list[SweepProcess] = []

    def make(inventory: Inventory, **kwargs: Any) -> SweepProcess:
        process = SweepProcess(inventory, stderr_path=tmp_path / "child.log", **kwargs)
        processes.append(process)
        return process
    yield make
    for process in processes:
        process.close()


async def test_sweep_in_child_reports_rooms_as_they_finish(loopback_prefix: str,
                                                           sweeper: Any) -> None:
    servers, port = await _listen(loopback_prefix, 5)
    try:
        inv = _inventory(loopback_prefix, 6, port)  # the 6th address has no listener
        process = sweeper(inv)
        batches: list[tuple[EndpointReport, ...]] = []
        counts: list[int] = []

        def progress(reports: tuple[EndpointReport, ...], done: int) -> None:
            batches.append(reports)
            counts.append(done)

        ids = [e.id for e in inv.endpoints]
        report = await asyncio.to_thread(process.run, ids, SweepOptions(source="test"),
                                         progress, flush_s=0.05)
    finally:
        await _close(servers)
    assert report.summary() == {"total": 6, "ready": 5, "degraded": 0, "down": 1}
    assert report.get("e5").reasons == (f"tcp: connection refused on port {port}",)  # type: ignore[union-attr]
    assert report.get("e0").checks["tcp"].result.figures["connect_ms"] >= 0  # type: ignore[union-attr]
    assert report.source == "test"
    assert sorted(r.endpoint.id for batch in batches for r in batch) == sorted(ids)
    assert counts[-1] == 6
    assert counts == sorted(counts)
    assert process.alive  # ready for the next sweep


async def test_cancel_returns_what_finished(loopback_prefix: str, sweeper: Any) -> None:
    servers, port = await _listen(loopback_prefix, 1)
    try:
        inv = _inventory(loopback_prefix, 3, port)
        process = sweeper(inv)
        options = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": hang},
                               timeouts={"tcp": 60.0})
        running = asyncio.create_task(asyncio.to_thread(
            process.run, [e.id for e in inv.endpoints], options))
        await asyncio.sleep(1.0)
        assert not running.done()
        t0 = time.monotonic()
        process.cancel()
        report = await asyncio.wait_for(running, 10)
    finally:
        await _close(servers)
    assert time.monotonic() - t0 < 5
    assert report.cancelled
    assert {r.verdict for r in report.endpoints} == {Verdict.UNKNOWN}


async def test_cancel_while_the_child_starts_cancels_the_sweep(loopback_prefix: str,
                                                              sweeper: Any) -> None:
    inv = _inventory(loopback_prefix, 2, 9)
    process = sweeper(inv)  # not started: run() starts it (a second or more)
    options = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": hang},
                           timeouts={"tcp": 60.0})
    running = asyncio.create_task(asyncio.to_thread(process.run, ["e0", "e1"], options))
    await asyncio.sleep(0.05)
    process.cancel()
    report = await asyncio.wait_for(running, 30)
    assert report.cancelled
    assert {r.verdict for r in report.endpoints} == {Verdict.UNKNOWN}
    assert process.alive  # cancelled, not killed


async def test_a_killed_child_fails_the_sweep_and_the_next_one_starts_anew(
        loopback_prefix: str, sweeper: Any) -> None:
    inv = _inventory(loopback_prefix, 2, 9)
    process = sweeper(inv)
    await asyncio.to_thread(process.start)
    first = process.pid
    assert first is not None
    options = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": hang},
                           timeouts={"tcp": 60.0})
    running = asyncio.create_task(asyncio.to_thread(process.run, ["e0", "e1"], options))
    await asyncio.sleep(0.5)
    os.kill(first, signal.SIGKILL)
    with pytest.raises(SweepProcessError, match=r"ended unexpectedly \(exit code -9; see "):
        await asyncio.wait_for(running, 10)
    quick = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": chatty})
    report = await asyncio.to_thread(process.run, ["e0"], quick)
    assert report.summary()["ready"] == 1
    assert process.pid != first


async def test_options_that_cannot_travel_are_refused_clearly(loopback_prefix: str,
                                                              sweeper: Any) -> None:
    inv = _inventory(loopback_prefix, 1, 9)
    process = sweeper(inv)

    async def local(target: Target, settings: Any) -> ProbeResult:
        return ProbeResult(True, {})

    options = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": local})
    with pytest.raises(SweepProcessError, match="cannot be sent to the sweep process"):
        await asyncio.to_thread(process.run, ["e0"], options)
    quick = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": chatty})
    report = await asyncio.to_thread(process.run, ["e0"], quick)  # still usable
    assert report.summary()["ready"] == 1


async def test_unknown_room_and_child_logs(loopback_prefix: str, sweeper: Any,
                                           caplog: pytest.LogCaptureFixture) -> None:
    inv = _inventory(loopback_prefix, 1, 9)
    process = sweeper(inv)
    with pytest.raises(SweepProcessError, match="no room 'nope' in the inventory"):
        await asyncio.to_thread(process.run, ["nope"], SweepOptions())
    caplog.set_level(logging.WARNING)
    quick = SweepOptions(checks=parse_checks("tcp"), runners={"tcp": chatty})
    await asyncio.to_thread(process.run, ["e0"], quick)
    assert ("vcfleet.test_child", logging.WARNING, "checked e0") in caplog.record_tuples


async def test_close_stops_the_child_and_removes_an_empty_log(
        loopback_prefix: str, tmp_path: Path) -> None:
    inv = _inventory(loopback_prefix, 1, 9)
    process = SweepProcess(inv, stderr_path=tmp_path / "child.log")
    await asyncio.to_thread(process.start)
    pid = process.pid
    assert pid is not None
    assert (tmp_path / "child.log").exists()
    await asyncio.to_thread(process.close)
    assert not process.alive
    assert not (tmp_path / "child.log").exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(SweepProcessError, match="closed"):
        process.run(["e0"], SweepOptions())
