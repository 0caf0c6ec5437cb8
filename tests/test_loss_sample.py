"""The lossy room's sequential stopping rule (probes/loss_sample.py): the interval, the
rule against seeded binomial draws, the window it makes through the real responder's
shaping, the threshold the sweep hands the probe, and a direction without a loss figure
never passing a room as ready."""

from __future__ import annotations

import asyncio
import bisect
import math
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from inventory import parse_inventory
from probes.base import ProbeResult, Target
from probes.loss_sample import clear_limits, loss_is_clear, wilson_interval, z_score
from probes.webrtc import Settings, _Loopback, probe
from probes.webrtc_responder import Responder
from tests.test_webrtc import TOKEN, EveryFifthRtpLost, assert_no_leaks, target
from vcfleet.i18n import set_language
from vcfleet.reasons import reason_text
from vcfleet.report import CheckReport, Verdict, judge
from vcfleet.sweep import SweepOptions, run_sweep

# -- the interval ---------------------------------------------------------------------


def test_wilson_interval_at_its_closed_forms() -> None:
    z2 = z_score(0.95) ** 2
    assert z_score(0.99) == pytest.approx(2.5758, abs=1e-4)
    # No loss in n packets: [0, z²/(n + z²)]; all lost: [n/(n + z²), 1].
    assert wilson_interval(0, 10, 0.95) == pytest.approx((0.0, z2 / (10 + z2)))
    assert wilson_interval(10, 10, 0.95) == pytest.approx((10 / (10 + z2), 1.0))
    low, high = wilson_interval(15, 300, 0.99)  # a 5 % reading on 300 packets
    assert low == pytest.approx(0.0262, abs=1e-4)
    assert high == pytest.approx(0.0932, abs=1e-4)
    assert wilson_interval(0, 0, 0.99) == (0.0, 1.0)


@pytest.mark.parametrize("counted", [1, 50, 75, 300, 301, 550, 1000])
def test_clear_limits_agree_with_the_interval(counted: int) -> None:
    for confidence in (0.9, 0.99):
        below, above = clear_limits(counted, 0.03, confidence)
        highs = [wilson_interval(k, counted, confidence)[1] for k in range(counted + 1)]
        lows = [wilson_interval(k, counted, confidence)[0] for k in range(counted + 1)]
        assert below == max((k for k, h in enumerate(highs) if h < 0.03), default=-1)
        assert above == min((k for k, lo in enumerate(lows) if lo >= 0.03),
                            default=counted + 1)


def test_the_rule_stops_on_a_clear_side_only() -> None:
    assert loss_is_clear([(300, 60), (300, 0)], 0.03, 0.99)  # 20 % up: degraded anyway
    assert loss_is_clear([(300, 0), (300, 0)], 0.03, 0.99)  # both below (0 to 2.2 %)
    assert not loss_is_clear([(300, 15), (300, 15)], 0.03, 0.99)  # 5 %: 2.6 to 9.3 %
    assert loss_is_clear([(300, 15), (300, 15)], 0.03, 0.95)  # 3.1 to 8.1 %
    assert not loss_is_clear([(300, 0), (300, 15)], 0.03, 0.99)  # one still ambiguous
    assert loss_is_clear([(300, 15), (300, 15)], 0.10, 0.99)  # a laxer threshold
    assert not loss_is_clear([(0, 0), (300, 0)], 0.03, 0.99)  # nothing counted up
    assert loss_is_clear([(0, 0), (300, 60)], 0.03, 0.99)  # ...but down is clearly lossy


# -- the rule against seeded binomial draws -------------------------------------------

STEP = 25
"""Packets a direction per draw: half a second of 20 ms audio."""


def binomial_cdf(n: int, p: float) -> list[float]:
    """P(X <= k) for k = 0..n, X ~ Binomial(n, p)."""
    out, total = [], 0.0
    for k in range(n + 1):
        total += math.comb(n, k) * p ** k * (1 - p) ** (n - k)
        out.append(total)
    return out


def simulate(p: float, rooms: int, seed: int, sequential: bool, cap: int = 550,
             ) -> tuple[float, list[int]]:
    """(share of rooms that read ready, packets a direction at each room's stop) of the
    probe's window, the losses of each direction drawn per half second (``STEP``)."""
    rng = random.Random(seed)
    cdf = binomial_cdf(STEP, p)
    settings = Settings()
    ready, stops = 0, []
    for _ in range(rooms):
        lost = [0, 0]
        n = 0
        while True:
            n += STEP
            for d in (0, 1):
                lost[d] += bisect.bisect_left(cdf, rng.random())
            if n == settings.clean_sample_packets and lost == [0, 0]:
                break
            if n < settings.loss_sample_packets:
                continue
            if not sequential or n >= cap or loss_is_clear(
                    [(n, lost[0]), (n, lost[1])], 0.03, settings.loss_confidence):
                break
        ready += all(k / n < 0.03 for k in lost)
        stops.append(n)
    return ready / rooms, stops


@pytest.mark.timeout(30)
def test_a_five_percent_room_reads_ready_less_than_once_in_a_thousand() -> None:
    t0 = time.process_time()
    fixed, _ = simulate(0.05, 20_000, 15, sequential=False)
    ready, stops = simulate(0.05, 20_000, 15, sequential=True)
    one, _ = simulate(0.01, 5_000, 16, sequential=True)
    heavy, heavy_stops = simulate(0.20, 2_000, 17, sequential=True)
    elapsed = time.process_time() - t0
    # Fixed 300 packets: both directions below 3 % about 0.15 % of the time (plus the
    # 0.05 % that show no loss in the clean sample's 75 packets each way).
    assert 0.0010 < fixed < 0.0030, fixed
    assert ready < 0.0010, ready  # degraded with probability >= 99.9 %
    assert one > 0.995, one  # a 1 % room still reads ready
    assert heavy == 0.0
    assert max(heavy_stops) == 300  # 20 %: clearly above on its 300 packets
    assert 300 < sum(stops) / len(stops) < 450, sum(stops) / len(stops)
    assert elapsed < 3.0, elapsed  # tens of thousands of rooms, fast on a busy machine


# -- through the real responder's shaping ---------------------------------------------


class EveryNthRtpLost(EveryFifthRtpLost):
    """Exactly one RTP packet in ``every`` lost in each direction (ICE, DTLS and RTCP
    pass): a loss with no binomial noise, e.g. 4 % (``every=25``), near the 3 % threshold."""

    def __init__(self, every: int) -> None:
        super().__init__()
        self.every = every

    def _lost(self, way: str, data: object) -> bool:
        packet = bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else b""
        if len(packet) < 12 or not 128 <= packet[0] <= 191 or 192 <= packet[1] <= 223:
            return False
        self.rtp[way] += 1
        return self.rtp[way] % self.every == 0


async def measure(host: str, shaper: Any, settings: Settings) -> ProbeResult:
    r = Responder(token=TOKEN, shaper=shaper)
    await r.start(host, 0)
    try:
        return await probe(target(r), settings)
    finally:
        await r.stop()


@pytest.mark.timeout(60)
async def test_a_room_near_the_threshold_measures_past_its_loss_sample(
        loopback_prefix: str) -> None:
    # 4 % each way, exactly: 12 of 300 packets, whose 95 % interval (2.3 to 6.9 %)
    # contains 3 %, so the window goes on to max_window_s.  The same room judged by a
    # 10 % threshold is clearly below on its 300 packets, and a 20 % room clearly
    # above: both stop there.  A clean room stops at its 75.
    near, lax, heavy = await asyncio.gather(
        measure(f"{loopback_prefix}.1", EveryNthRtpLost(25), Settings(max_window_s=9.0)),
        measure(f"{loopback_prefix}.2", EveryNthRtpLost(25),
                Settings(max_window_s=9.0, loss_threshold=0.10)),
        measure(f"{loopback_prefix}.3", EveryNthRtpLost(5), Settings(max_window_s=9.0)))
    clean = await measure(f"{loopback_prefix}.4", None, Settings())
    for result in (near, lax, heavy, clean):
        assert result.ok, result.reason
        assert not result.degraded, result.degraded
    await assert_no_leaks()
    packets = {name: min(int(r.info["up_packets"]), int(r.info["down_packets"]))
               for name, r in (("near", near), ("lax", lax), ("heavy", heavy),
                               ("clean", clean))}
    windows = {name: r.info["window_s"] for name, r in (("near", near), ("lax", lax),
                                                        ("heavy", heavy), ("clean", clean))}
    if any(r.unreliable for r in (near, lax, heavy)):
        pytest.skip(f"a stalled loop made the window's timing untrustworthy: {windows}")
    assert packets["near"] >= 380, (packets, windows)  # on past 300, to about 9 s
    assert float(near.info["window_s"]) >= 8.0, windows
    for name in ("lax", "heavy"):
        assert 300 <= packets[name] < 350, (packets, windows)
    assert near.directions["up"]["loss_ratio"] == pytest.approx(0.04, abs=0.005)
    assert heavy.directions["down"]["loss_ratio"] == pytest.approx(0.2, abs=0.02)
    if not clean.unreliable:
        assert 75 <= packets["clean"] < 150, (packets, windows)


# -- the threshold the sweep hands the probe ------------------------------------------

FLEET = """\
thresholds: {loss_ratio: 0.05}
profiles:
  strict: {checks: [webrtc], thresholds: {loss_ratio: 0.02}}
  loose: {checks: [webrtc]}
  fixed: {checks: [webrtc], settings: {webrtc: {loss_threshold: 0.2}}}
defaults:
  services:
    webrtc: {port: 8089, path: /whip}
endpoints:
  - {id: hub, name: Hub, tier: province, address: 127.0.0.1, vendor: poly, profile: loose}
  - {id: room, name: Room, tier: commune, parent: hub, address: 127.0.0.2, vendor: poly,
     profile: strict}
  - {id: own, name: Own, tier: commune, parent: hub, address: 127.0.0.3, vendor: poly,
     profile: fixed}
"""


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, {"hub": 0.05, "room": 0.02, "own": 0.2}),
    ({"loss_ratio": 0.1}, {"hub": 0.1, "room": 0.1, "own": 0.2}),
])
async def test_the_sweep_hands_the_probe_the_loss_threshold_of_each_room(
        tmp_path: Path, overrides: dict[str, float], expected: dict[str, float]) -> None:
    inv = parse_inventory(FLEET, str(tmp_path / "fleet.yaml"))
    seen: dict[str, float | None] = {}

    async def runner(t: Target, settings: Settings) -> ProbeResult:
        seen[t.name] = settings.loss_threshold
        return ProbeResult(ok=True)

    options = SweepOptions(runners={"webrtc": runner}, thresholds=overrides)
    await run_sweep(inv, options=options)
    assert seen == expected


# -- a direction without a loss figure ------------------------------------------------


def webrtc_result(up: dict[str, float], down: dict[str, float], **kw: Any) -> ProbeResult:
    info = {f"{d}_loss": "insufficient sample (40 < 50 packets)"
            for d, figs in (("up", up), ("down", down)) if "loss_ratio" not in figs}
    return ProbeResult(ok=True, figures={"rtt_ms": 5.0, "mos": 4.4},
                       directions={"up": up, "down": down}, info=info, **kw)


def verdict_of(result: ProbeResult) -> tuple[Verdict, tuple[str, ...]]:
    parse = parse_inventory(FLEET, "fleet.yaml")
    report = judge(parse.get("hub"), {"webrtc": CheckReport("webrtc", result, True, 1.0)})
    return report.verdict, report.reasons


@pytest.mark.parametrize(("up", "down", "kw", "verdict", "reasons"), [
    # One direction's 0 % does not make the room ready: it is unknown, with the why.
    ({"loss_ratio": 0.0, "jitter_ms": 1.0}, {"jitter_ms": 1.0}, {}, Verdict.UNKNOWN,
     ("webrtc: packet loss down not measured: insufficient sample (40 < 50 packets)",)),
    ({"jitter_ms": 1.0}, {"jitter_ms": 1.0}, {}, Verdict.UNKNOWN,
     ("webrtc: packet loss up not measured: insufficient sample (40 < 50 packets)",
      "webrtc: packet loss down not measured: insufficient sample (40 < 50 packets)")),
    # The other direction's loss past the threshold degrades it all the same.
    ({"loss_ratio": 0.08}, {"jitter_ms": 1.0}, {}, Verdict.DEGRADED,
     ("webrtc: packet loss up 8.0% >= 3%",)),
    # The budget cut its window: the probe says "lossy media path".
    ({"loss_ratio": 0.0}, {"jitter_ms": 1.0},
     {"degraded": "lossy media path: setup took 9.1 s, leaving 1.2 s of media before the "
                  "check's deadline, too few packets to count down loss"},
     Verdict.DEGRADED,
     ("webrtc: lossy media path: setup took 9.1 s, leaving 1.2 s of media before the "
      "check's deadline, too few packets to count down loss",)),
    ({"loss_ratio": 0.0}, {"loss_ratio": 0.01}, {}, Verdict.READY, ()),
])
def test_a_direction_without_a_loss_figure_never_passes_a_room_as_ready(
        up: dict[str, float], down: dict[str, float], kw: dict[str, Any], verdict: Verdict,
        reasons: Sequence[str]) -> None:
    assert verdict_of(webrtc_result(up, down, **kw)) == (verdict, tuple(reasons))


def test_the_unmeasured_direction_is_said_in_vietnamese() -> None:
    _, reasons = verdict_of(webrtc_result({"loss_ratio": 0.0}, {"jitter_ms": 1.0}))
    set_language("vi")
    try:
        assert reason_text(reasons[0]) == \
            "webrtc: mất gói chiều về chưa đo được: mẫu không đủ (40 < 50 gói)"
        assert reason_text(str(reasons[0])) == reason_text(reasons[0])  # read back from JSON
    finally:
        set_language("en")


def test_the_window_waits_for_each_direction_to_count_its_minimum() -> None:
    run = _Loopback(Target("127.0.0.1", url="http://127.0.0.1:9/whip"), Settings())
    assert not run._loss_done((40, 0), (300, 0))  # up short of min_loss_packets
    assert run._loss_done((60, 0), (60, 0))  # nothing lost: enough for a 0
    assert not run._loss_done((200, 10), (200, 10))  # lost, short of loss_sample_packets
    assert run._loss_done((300, 60), (300, 0))  # clearly above
    assert not run._loss_done((300, 12), (300, 12))  # 4 %: ambiguous at 95 %
    assert run._loss_done((300, 15), (300, 15))  # 5 %: clearly above (3.1 to 8.1 %)
    lax = _Loopback(Target("127.0.0.1"), Settings(loss_threshold=0.15))
    assert lax._loss_done((300, 12), (300, 15))  # clearly below a 15 % threshold
    assert run._loss_done((0, 0), (300, 0))  # nothing up at all: waiting will not help
