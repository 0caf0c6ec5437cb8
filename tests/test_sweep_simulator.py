"""Readiness sweeps end to end against the fleet simulator (in-process, on loopback).

The issue's "done when": endpoints that are down, or whose SIP is down or hangs,
are down with the right reason; ``delay_ms: 300`` shows in the SIP OPTIONS RTT and
makes the room degraded; healthy rooms are ready; a sweep where 10 % of the fleet
hangs on every port still finishes within its per-check deadline plus 1 s.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from inventory import Inventory
from inventory.model import WebrtcService
from simulator import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.report import SweepReport, Verdict
from vcfleet.sweep import SweepOptions, parse_checks, run_sweep

NET = parse_checks("net")

FAULTS = """
- select: id=cisco-ce-2
  down: true
- select: id=cisco-ce-3
  services: {sip: down}
- select: id=cisco-ce-4
  services: {sip: hang}
- select: id=cisco-ce-5
  delay_ms: 300
"""


def _reasons(report: SweepReport, endpoint_id: str) -> tuple[str, ...]:
    found = report.get(endpoint_id)
    assert found is not None
    return found.reasons


async def test_faults_give_the_right_verdicts_and_reasons(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    faults = parse_faults(FAULTS, "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults,
                               vendors=("cisco_ce",) * 6) as (_, inv):
        options = SweepOptions(checks=NET, timeouts={"icmp": 2, "sip": 1.4, "https": 2})
        report = await run_sweep(inv, options=options)
    verdicts = {r.endpoint.id: r.verdict for r in report.endpoints}
    assert verdicts == {
        "cisco-ce-1": Verdict.READY, "cisco-ce-2": Verdict.DOWN, "cisco-ce-3": Verdict.DOWN,
        "cisco-ce-4": Verdict.DOWN, "cisco-ce-5": Verdict.DEGRADED, "cisco-ce-6": Verdict.READY,
    }
    # A room that is down entirely: SIP (required) closed; HTTPS (advisory) refused too.
    assert _reasons(report, "cisco-ce-2") == (
        "sip: SIP port 5060/udp closed (ICMP port unreachable)",
        "https: connection refused on port 8443")
    assert _reasons(report, "cisco-ce-3") == (
        "sip: SIP port 5060/udp closed (ICMP port unreachable)",)
    assert _reasons(report, "cisco-ce-4") == (
        "sip: no answer to OPTIONS on 5060/udp in 1.4 s (8 transmissions)",)
    slow = report.get("cisco-ce-5")
    assert slow is not None
    rtt = slow.figure("sip", "rtt_ms")
    assert rtt is not None
    assert rtt >= 300
    assert slow.reasons == (f"sip: round-trip time {rtt:.0f} ms >= 250 ms",)
    healthy = report.get("cisco-ce-1")
    assert healthy is not None
    assert healthy.checks["sip"].result.info["status"] == 200
    assert healthy.figure("sip", "rtt_ms") is not None
    assert healthy.figure("https", "cert_expiry_days") is not None
    # ICMP is answered by the kernel on loopback: it cannot show the added delay.
    assert slow.figure("icmp", "rtt_ms") is not None


async def test_a_tenth_of_the_fleet_hanging_on_every_port(tmp_path: Path,
                                                          loopback_prefix: str) -> None:
    hang = "{sip: hang, ssh: hang, https: hang, webrtc: hang}"
    faults = parse_faults(f"- select: id=cisco-ce-3,cisco-ce-14\n  services: {hang}\n",
                          "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults,
                               vendors=("cisco_ce",) * 20) as (_, inv):
        deadline = 1.0
        options = SweepOptions(checks=parse_checks("icmp,sip,tcp,https"),
                               timeouts={"icmp": deadline, "sip": deadline, "https": deadline,
                                         "tcp": deadline})
        t0 = time.monotonic()
        report = await run_sweep(inv, options=options)
        elapsed = time.monotonic() - t0
    assert elapsed < deadline + 1.0
    hung = {r.endpoint.id for r in report.endpoints if r.verdict is Verdict.DOWN}
    assert hung == {"cisco-ce-3", "cisco-ce-14"}
    reasons = _reasons(report, "cisco-ce-3")
    assert reasons[0].startswith("sip: no answer to OPTIONS on 5060/udp in 1 s")
    assert "https: no TLS handshake within 1 s" in reasons
    for r in report.endpoints:
        if r.endpoint.id in hung:
            continue
        assert r.verdict is Verdict.READY, (r.endpoint.id, r.reasons)
        assert set(r.checks) == {"icmp", "sip", "https"}
        assert all(c.result.ok for c in r.checks.values())


async def test_a_room_whose_token_does_not_resolve_is_unknown_not_down(
        tmp_path: Path, loopback_prefix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # Issue 14, finding 9: the room is healthy; this machine lacks the secret.
    monkeypatch.delenv("VCFLEET_NOPE", raising=False)
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (_, inv):
        room = inv.endpoints[0]
        webrtc = (room.services.webrtc or WebrtcService()).model_copy(
            update={"token": "env:VCFLEET_NOPE"})
        broken = room.model_copy(update={"services": room.services.model_copy(
            update={"webrtc": webrtc}), "profile": "standard"})
        fleet = Inventory(endpoints=(broken,), tiers=inv.tiers, profiles=inv.profiles,
                          path=inv.path)
        # No media workers: the webrtc check must not need to run to be judged.
        options = SweepOptions(checks=parse_checks("sip,webrtc"), timeouts={"sip": 1.5},
                               media_workers=0)
        report = await run_sweep(fleet, options=options)
    found = report.get(room.id)
    assert found is not None
    assert found.verdict is Verdict.UNKNOWN
    assert found.checks["sip"].result.ok
    assert found.reasons == ("webrtc: cannot check: environment variable VCFLEET_NOPE "
                             "is not set",)
    doc = report.to_json()
    assert doc["summary"] == {"total": 1, "ready": 0, "degraded": 0, "down": 0, "unknown": 1}
    assert doc["endpoints"][0]["verdict"] == "unknown"
