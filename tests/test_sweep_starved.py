"""A starved prober never becomes a verdict: a net check that runs out of time while the
sweep's event loop stalls is measured once more, and is unknown if it stalls again.

The stall is real (the event loop is blocked with ``time.sleep``, as a competing
process or a burst of TLS handshakes would hold it) and the probe is the real SIP
probe against the simulator; the stand-in runner only chooses when the loop blocks.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from pathlib import Path
from typing import Any

from probes import ProbeResult, Target
from probes.sip import probe as sip_probe
from simulator import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.report import STARVED_REASON, Verdict
from vcfleet.sweep import STALL_S, LoopWatch, SweepOptions, Turns, parse_checks, run_sweep

SIP = parse_checks("sip")
DEADLINE_S = 0.6
STALL = 0.9
"""Longer than the deadline and the engine's grace: the stalled check times out."""


def stalling(stall_on: set[tuple[str, int]]) -> tuple[Any, Counter[str]]:
    """The real SIP probe, after blocking the loop on the listed (room, attempt)s."""
    calls: Counter[str] = Counter()

    async def runner(target: Target, settings: Any) -> ProbeResult:
        calls[target.name] += 1
        if (target.name, calls[target.name]) in stall_on:
            time.sleep(STALL)  # noqa: ASYNC251  (the point: the prober's loop is starved)
        return await sip_probe(target, settings)

    return runner, calls


async def test_a_check_starved_once_is_measured_again(tmp_path: Path,
                                                      loopback_prefix: str) -> None:
    faults = parse_faults("- {select: id=cisco-ce-2, services: {sip: hang}}\n", "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults,
                               vendors=("cisco_ce",) * 2) as (_, inv):
        runner, calls = stalling({("cisco-ce-1", 1)})
        options = SweepOptions(checks=SIP, timeouts={"sip": DEADLINE_S}, runners={"sip": runner})
        report = await run_sweep(inv, options=options)
    ready, silent = report.endpoints
    # cisco-ce-1 ran out of time while the loop was blocked: measured again, ready.
    assert calls["cisco-ce-1"] == 2
    assert ready.verdict is Verdict.READY, ready.reasons
    assert not ready.checks["sip"].result.unreliable
    # cisco-ce-2 started after the stall and is really silent: down, measured once.
    assert calls["cisco-ce-2"] == 1
    assert silent.verdict is Verdict.DOWN
    assert silent.reasons[0].startswith("sip: no answer to OPTIONS on 5060/udp in 0.6 s")


async def test_a_check_starved_twice_is_unknown_never_down(tmp_path: Path,
                                                           loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (_, inv):
        runner, calls = stalling({("cisco-ce-1", 1), ("cisco-ce-1", 2)})
        options = SweepOptions(checks=SIP, timeouts={"sip": DEADLINE_S}, runners={"sip": runner})
        report = await run_sweep(inv, options=options)
    room = report.endpoints[0]
    assert calls["cisco-ce-1"] == 2
    assert room.verdict is Verdict.UNKNOWN
    assert room.reasons == (f"sip: {STARVED_REASON}",)
    result = room.checks["sip"].result
    assert result.unreliable
    assert not result.ok
    assert result.info["overloaded"] == "prober"
    assert float(result.info["loop_lag_max_ms"]) >= STALL_S * 1000
    assert room.checks["sip"].to_json()["unreliable"] is True


async def test_a_refused_port_is_down_after_the_stalled_check(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    faults = parse_faults("- {select: id=cisco-ce-1, services: {sip: down}}\n", "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults,
                               vendors=("cisco_ce",)) as (_, inv):
        runner, calls = stalling({("cisco-ce-1", 1)})
        options = SweepOptions(checks=SIP, timeouts={"sip": DEADLINE_S}, runners={"sip": runner})
        report = await run_sweep(inv, options=options)
    room = report.endpoints[0]
    # The stall hid the ICMP port unreachable; measured again, the port is closed.
    assert calls["cisco-ce-1"] == 2
    assert room.verdict is Verdict.DOWN, room.reasons
    assert room.reasons == ("sip: SIP port 5060/udp closed (ICMP port unreachable)",)


async def test_the_loop_watch_reports_the_worst_stall_and_the_total() -> None:
    watch = LoopWatch()
    watch.start()
    try:
        start = time.monotonic()
        await asyncio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251  (a real stall of the loop)
        await asyncio.sleep(0.05)
        end = time.monotonic()
    finally:
        watch.stop()
    worst, total = watch.lag(start, end)
    assert 0.25 <= worst <= total
    assert watch.lag(end + 1, end + 2) == (0.0, 0.0)


async def test_a_limited_kind_keeps_to_its_floor_while_the_loop_lags() -> None:
    watch = LoopWatch()
    turns = Turns(128, watch)
    most = 0

    async def check() -> None:
        nonlocal most
        async with turns.lease():
            most = max(most, turns.held)
            await asyncio.sleep(0.05)

    watch._late.append((time.monotonic() + 60, 0.1))  # the loop lags (for the next minute)
    await asyncio.gather(*(check() for _ in range(40)))
    assert most == Turns.FLOOR
    most = 0
    watch._late.clear()  # on time again: the kind's own limit
    await asyncio.gather(*(check() for _ in range(40)))
    assert most == 40
