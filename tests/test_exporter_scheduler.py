"""Scheduled sweeps: a fixed cadence, never two at once, overruns counted; loop lag measured."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from inventory import load_inventory
from probes import ProbeResult, Target
from tests.test_serve_http import write_inventory
from vcfleet.exporter import ExporterState
from vcfleet.exporter import scheduler as scheduler_module
from vcfleet.exporter.scheduler import LoopLagMonitor, SweepScheduler
from vcfleet.sweep import SweepOptions


def state_for(tmp_path: Path, prefix: str, interval_s: float) -> ExporterState:
    path = tmp_path / "fleet.yaml"
    write_inventory(path, prefix, count=3)
    inv = load_inventory(path)
    return ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=interval_s)


class SlowCheck:
    """A tcp stand-in that takes ``delay_s`` and records how many sweeps overlap."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.in_flight = 0
        self.most_in_flight = 0
        self.starts: list[float] = []

    async def __call__(self, target: Target, settings: object) -> ProbeResult:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        self.starts.append(time.monotonic())
        try:
            await asyncio.sleep(self.delay_s)
            return ProbeResult(ok=True, figures={"connect_ms": 1.0})
        finally:
            self.in_flight -= 1


async def test_overrunning_sweeps_are_counted_not_stacked(tmp_path: Path,
                                                          loopback_prefix: str) -> None:
    state = state_for(tmp_path, loopback_prefix, interval_s=0.2)
    check = SlowCheck(0.5)
    options = SweepOptions(runners={"tcp": check}, concurrency=1)  # one room at a time
    sched = SweepScheduler(state, options)
    sched.start()
    try:
        async with asyncio.timeout(20):
            while state.sweeps_overrun < 2:
                await asyncio.sleep(0.05)
    finally:
        await sched.stop()
    assert check.most_in_flight == 1  # never two sweeps (nor two rooms) at once
    assert state.report is not None
    assert state.sweeps_total >= 2
    assert not state.sweep_in_progress


async def test_sweeps_keep_their_cadence(tmp_path: Path, loopback_prefix: str) -> None:
    state = state_for(tmp_path, loopback_prefix, interval_s=0.5)
    check = SlowCheck(0.25)  # were the next start end + interval, gaps would be 0.75 s
    sched = SweepScheduler(state, SweepOptions(runners={"tcp": check}))
    sched.start()
    try:
        async with asyncio.timeout(20):
            # sweeps_total counts a sweep when it starts, a moment before its checks do:
            # wait for the fourth sweep's three checks themselves
            while len(check.starts) < 4 * 3:
                await asyncio.sleep(0.02)
    finally:
        await sched.stop()
    sweep_starts = check.starts[::3]  # three rooms per sweep, started together
    # starts follow first + n x interval: the 0.25 s sweeps do not push the cadence back
    mean_gap = (sweep_starts[3] - sweep_starts[0]) / 3
    assert 0.45 < mean_gap < 0.65, sweep_starts
    assert state.sweeps_overrun == 0


async def test_a_crashing_sweep_is_counted_and_the_old_report_kept(
        tmp_path: Path, loopback_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    state = state_for(tmp_path, loopback_prefix, interval_s=60)
    sched = SweepScheduler(state, SweepOptions(runners={"tcp": SlowCheck(0.0)}))
    first = await sched.sweep_once()
    assert first is not None

    async def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("engine bug")

    monkeypatch.setattr(scheduler_module, "run_sweep", broken)
    assert await sched.sweep_once() is None
    assert (state.sweeps_total, state.sweeps_failed) == (2, 1)
    assert state.report is first
    assert "engine bug" in state.last_sweep_error


async def test_loop_lag_is_measured(tmp_path: Path, loopback_prefix: str) -> None:
    state = state_for(tmp_path, loopback_prefix, interval_s=60)
    monitor = LoopLagMonitor(state, period_s=0.05)
    monitor.start()
    try:
        await asyncio.sleep(0.12)
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop on purpose
        async with asyncio.timeout(5):
            while state.loop_lag_s < 0.2:
                await asyncio.sleep(0.01)
    finally:
        await monitor.stop()
    assert state.loop_lag_s < 1.0
