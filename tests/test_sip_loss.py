"""SIP under loss against the simulator's seeded user-space shaping: a room whose SIP stack
answers some of the time is never down, a silent one is still down at the deadline."""

from __future__ import annotations

import time
from pathlib import Path

from simulator import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.report import Verdict
from vcfleet.sweep import SweepOptions, parse_checks, run_sweep

ROOMS = 24
HUNG = (3, 11)
"""Rooms (1-based) whose SIP stack never answers."""


async def test_lossy_rooms_are_never_down_and_silent_ones_still_down_fast(
        tmp_path: Path, loopback_prefix: str, seed: int) -> None:
    hung = ",".join(f"cisco-ce-{i}" for i in HUNG)
    faults = parse_faults(f"- select: ''\n  loss_pct: 20\n"
                          f"- select: id={hung}\n  services: {{sip: hang}}\n", "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults, vendors=("cisco_ce",) * ROOMS,
                               seed=seed) as (_, inv):
        options = SweepOptions(checks=parse_checks("sip"), timeouts={"sip": 2.0})
        notes = 0
        for _ in range(2):
            t0 = time.monotonic()
            report = await run_sweep(inv, options=options)
            took = time.monotonic() - t0
            for r in report.endpoints:
                number = int(r.endpoint.id.rsplit("-", 1)[1])
                if number in HUNG:
                    assert r.verdict is Verdict.DOWN, (seed, r.reasons)
                    assert r.reasons[0].startswith("sip: no answer to OPTIONS on 5060/udp in 2 s")
                    continue
                # 20 % loss each way: one exchange fails with p = 0.36, all twelve of a
                # check with p = 5e-6.
                assert r.verdict is Verdict.READY, (seed, r.endpoint.id, r.reasons)
                notes += bool(r.notes)
                for note in r.notes:
                    assert note.startswith("sip: answered after "), note
                    assert note.endswith(" (signalling loss)"), note
            # The silent rooms end with their deadline: no re-probe, no longer wait.
            assert took < 2.0 + 1.0, (seed, took)
    # A first exchange is lost in about a third of the checks: some rooms say so.
    assert notes >= 3, seed
