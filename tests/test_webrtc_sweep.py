"""The webrtc check in a real sweep of the simulator: worker pool, faults, verdicts, JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from probes.webrtc import Settings
from simulator.faults import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.report import Verdict
from vcfleet.sweep import SweepOptions, run_sweep

FAULTS = """
- select: "vendor=poly"
  delay_ms: 80
- select: "vendor=yealink"
  loss_pct: 20
"""


@pytest.mark.timeout(120)
async def test_sweep_runs_webrtc_in_the_pool_and_sees_the_faults(
        tmp_path: Path, loopback_prefix: str, seed: int) -> None:
    faults = parse_faults(FAULTS, "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults, seed=seed) as (_, inv):
        # At 20 % loss each way DTLS may need several retransmission rounds (1 s, 2 s,
        # 4 s...): give the connection time, as an operator would for such a site.
        settings = Settings(connect_timeout_s=10.0, rtcp_grace_s=4.0)
        options = SweepOptions(checks=frozenset({"webrtc"}), media_workers=1,
                               settings={"webrtc": settings}, timeouts={"webrtc": 30.0})
        report = await run_sweep(inv, options=options)
    by_vendor = {r.endpoint.vendor: r for r in report.endpoints}
    for r in report.endpoints:
        check = r.checks["webrtc"]
        assert check.result.ok, check.result.reason
        doc = check.to_json()
        assert {"rtt_ms", "mos", "setup_ms", "up", "down"} <= set(doc)
        assert {"jitter_ms", "loss_ratio"} <= set(doc["up"]) & set(doc["down"])
    cisco, poly, yealink = by_vendor["cisco_ce"], by_vendor["poly"], by_vendor["yealink"]
    assert cisco.verdict is Verdict.READY, cisco.reasons
    assert cisco.figure("webrtc", "rtt_ms") < 40  # type: ignore[operator]
    assert 79 <= poly.figure("webrtc", "rtt_ms") <= 120  # type: ignore[operator]
    assert yealink.verdict is Verdict.DEGRADED
    assert any("packet loss" in reason for reason in yealink.reasons), yealink.reasons
    assert yealink.figure("webrtc", "loss_ratio", "up") > 0.08  # type: ignore[operator]
    assert yealink.figure("webrtc", "loss_ratio", "down") > 0.08  # type: ignore[operator]
