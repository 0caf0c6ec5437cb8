"""The webrtc check in a real sweep of the simulator: worker pool, faults, verdicts, JSON."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.faults import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.report import UNRELIABLE_REASON, EndpointReport, Verdict
from vcfleet.sweep import SweepOptions, run_sweep

FAULTS = """
- select: "vendor=poly"
  delay_ms: 80
- select: "vendor=yealink"
  loss_pct: 20
"""


def trusted(room: EndpointReport) -> bool:
    """False when a stalled prober or responder made the room unknown (never a verdict)."""
    if room.verdict is Verdict.UNKNOWN:
        assert room.reasons == (f"webrtc: {UNRELIABLE_REASON}",), room.reasons
        return False
    return True


@pytest.mark.timeout(120)
async def test_sweep_runs_webrtc_in_the_pool_and_sees_the_faults(
        tmp_path: Path, loopback_prefix: str, seed: int) -> None:
    # The probe's own defaults: under 20 % loss each way it waits for DTLS once ICE has
    # answered, counts loss from the moment the responder decrypts, and measures on to
    # 300 packets a direction, so that the loss room is degraded whatever the timing
    # (the seed, printed on failure, repeats the simulator's losses).
    faults = parse_faults(FAULTS, "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults, seed=seed) as (_, inv):
        options = SweepOptions(checks=frozenset({"webrtc"}), media_workers=1)
        report = await run_sweep(inv, options=options)
    by_vendor = {r.endpoint.vendor: r for r in report.endpoints}
    cisco, poly, yealink = by_vendor["cisco_ce"], by_vendor["poly"], by_vendor["yealink"]
    for r in report.endpoints:
        check = r.checks["webrtc"]
        assert check.result.ok, check.result.reason
        if r is not yealink or not check.result.degraded:
            doc = check.to_json()
            assert {"rtt_ms", "mos", "setup_ms", "up", "down"} <= set(doc)
            assert {"jitter_ms", "loss_ratio"} <= set(doc["up"]) & set(doc["down"])
    if trusted(cisco):
        assert cisco.verdict is Verdict.READY, cisco.reasons
        assert cisco.figure("webrtc", "rtt_ms") < 40  # type: ignore[operator]
    if trusted(poly):
        assert 79 <= poly.figure("webrtc", "rtt_ms") <= 120  # type: ignore[operator]
    # Loss is judged even when a stall made the other figures untrusted.
    assert yealink.verdict is Verdict.DEGRADED, yealink.reasons
    lossy = yealink.checks["webrtc"].result
    if lossy.degraded:
        # At 20 % each way a DTLS handshake outlasts its 9 s now and then (flights
        # retransmit after 1, 2, 4 s): degraded all the same, with the reason.
        assert lossy.degraded.startswith("lossy media path: "), lossy.degraded
        return
    assert any("packet loss" in reason for reason in yealink.reasons), yealink.reasons
    for direction in ("up", "down"):
        packets = lossy.info[f"{direction}_packets"]
        assert packets >= 150, (direction, packets)  # type: ignore[operator]
        # 20 % on at least 150 packets: 0.08 is 3.7 binomial standard deviations below.
        assert yealink.figure("webrtc", "loss_ratio", direction) > 0.08  # type: ignore[operator]
