"""Benchmark: do the figures tell the truth?  Injected delay, jitter, loss and faults vs. verdicts.

    python bench/bench_truth.py [--per-class N] [--sweeps N] [--small] [--burn]
                                [--seed S] [--net A] [--checks sip,webrtc]

Serves the demo fleet (moved to 127.A.x.y, as bench_webrtc.py does) with
``vcfleet simulate --seed S`` and a faults file that puts ``--per-class`` rooms
(chosen with the seed) in each class below, sweeps it ``--sweeps`` times the way
``vcfleet sweep`` does, and prints, in Markdown for docs/webrtc.md:

- per class, the verdicts, and the wrong ones against the verdict the class
  should have (unknown is counted, never wrong: it says "not measured");
- per class, the error against the injected truth of RTT (p50/p99 of |error|),
  of jitter and of loss per direction (mean +- sd), and the share of lossy
  room-directions whose loss lies in the binomial 99 % interval of the packets
  the probe counted (``info.up_packets`` / ``down_packets``).

The truth: ``delay_ms`` is added to what the room sends, so RTT = the median of
the added delay and the down direction carries the jitter; the shaper's delay is
``max(0, delay + U(-jitter, +jitter))`` (docs/simulator.md), whose RFC 3550
jitter is computed here by simulating the estimator on 20 ms packets; loss is
``loss_pct`` each way.  ``--small`` sweeps only the classed rooms; ``--burn``
runs ``python -c "while True: pass"`` pinned to CPU 0 for the whole run.
Figures only, never pass/fail; a shared machine makes them noisy (the load
average is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_webrtc import percentile, write_fleet  # noqa: E402  (bench/ is sys.path[0])
from simulator_proc import start_simulator, stop  # noqa: E402

from inventory import Endpoint, load_inventory  # noqa: E402
from simulator.faults import parse_faults  # noqa: E402
from vcfleet.report import SweepReport, Verdict  # noqa: E402
from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit, run_sweep  # noqa: E402

Z99 = 2.576
"""Two-sided 99 % quantile of the normal law, for the binomial interval."""


@dataclass(frozen=True)
class RoomClass:
    """One class of rooms: the fault injected and the verdict it should give."""

    name: str
    fault: dict[str, Any]
    expected: Verdict
    needs: str = ""
    """A check the class needs in the sweep (sip for SIP statuses, webrtc for media)."""
    without_media: tuple[Verdict, ...] = ()
    """The right verdicts of a sweep without the webrtc check (empty: ``expected``): on
    loopback the kernel answers ICMP, so only SIP shows a room's delay, and loss shows
    in no net check (SIP notes it)."""

    def right(self, checks: set[str]) -> tuple[Verdict, ...]:
        """The verdicts that are right for this class in a sweep of ``checks``."""
        if "webrtc" in checks or not self.without_media:
            return (self.expected,)
        return self.without_media

    @property
    def delay_ms(self) -> float:
        return float(self.fault.get("delay_ms", 0.0))

    @property
    def jitter_ms(self) -> float:
        return float(self.fault.get("jitter_ms", 0.0))

    @property
    def loss(self) -> float:
        return float(self.fault.get("loss_pct", 0.0)) / 100.0


READY, DEGRADED, DOWN = Verdict.READY, Verdict.DEGRADED, Verdict.DOWN

CLASSES = (
    RoomClass("clean", {}, READY),
    RoomClass("delay 40 ms", {"delay_ms": 40}, READY),
    RoomClass("delay 300 ms", {"delay_ms": 300}, DEGRADED),
    RoomClass("jitter 20 on 40 ms", {"delay_ms": 40, "jitter_ms": 20}, READY),
    RoomClass("jitter 20 on 0 ms", {"jitter_ms": 20}, READY),
    # SIP's one RTT is 0-300 ms: past the 250 ms threshold one time in six.
    RoomClass("jitter 150 on 150 ms", {"delay_ms": 150, "jitter_ms": 150}, DEGRADED,
              without_media=(READY, DEGRADED)),
    RoomClass("loss 5 %", {"loss_pct": 5}, DEGRADED, without_media=(READY,)),
    RoomClass("loss 20 %", {"loss_pct": 20}, DEGRADED, without_media=(READY,)),
    RoomClass("media down", {"services": {"webrtc": "down"}}, DOWN, "webrtc"),
    RoomClass("media hang", {"services": {"webrtc": "hang"}}, DOWN, "webrtc"),
    RoomClass("SIP 403", {"services": {"sip": {"status": 403}}}, DEGRADED, "sip"),
    RoomClass("SIP 404", {"services": {"sip": {"status": 404}}}, DEGRADED, "sip"),
    RoomClass("SIP hang", {"services": {"sip": "hang"}}, DOWN, "sip"),
    RoomClass("dead", {"down": True}, DOWN),
)


@dataclass(frozen=True)
class Truth:
    """What a perfect probe would report for a class."""

    rtt_ms: float
    jitter_up_ms: float
    jitter_down_ms: float
    loss: float


def shaper_delay(rng: random.Random, delay_ms: float, jitter_ms: float) -> float:
    """One datagram's added delay, as probes.shaping.Shaper draws it."""
    d = delay_ms + (rng.uniform(-jitter_ms, jitter_ms) if jitter_ms else 0.0)
    return max(0.0, d)


def rfc3550_jitter(delay_ms: float, jitter_ms: float, seed: int, packets: int = 20_000,
                   spacing_ms: float = 20.0) -> float:
    """The RFC 3550 interarrival jitter a receiver converges to on this shaper's delays.

    As aiortc's receiver statistics compute it: in arrival order, over the packets
    that arrive in sequence (a packet overtaken by a later one is skipped), so that
    a jitter wider than the packet spacing reads lower than E|X1 - X2|.
    """
    if not jitter_ms:
        return 0.0
    rng = random.Random(seed)
    sent = [i * spacing_ms for i in range(packets)]
    arrivals = sorted((t + shaper_delay(rng, delay_ms, jitter_ms), t) for t in sent)
    jitter, total, count = 0.0, 0.0, 0
    last: tuple[float, float] | None = None
    for arrival, t in arrivals:
        if last is not None and t < last[1]:
            continue  # out of order: not counted
        if last is not None:
            jitter += (abs((arrival - last[0]) - (t - last[1])) - jitter) / 16.0
            total, count = total + jitter, count + 1
        last = (arrival, t)
    return total / count


def truth_of(room_class: RoomClass, seed: int) -> Truth:
    """The injected truth of a class (RTT: the median added delay; loopback ~0.1 ms)."""
    rng = random.Random(seed)
    delays = [shaper_delay(rng, room_class.delay_ms, room_class.jitter_ms)
              for _ in range(20_001)]
    return Truth(rtt_ms=statistics.median(delays), jitter_up_ms=0.0,
                 jitter_down_ms=rfc3550_jitter(room_class.delay_ms, room_class.jitter_ms, seed),
                 loss=room_class.loss)


def supported(room_class: RoomClass) -> bool:
    """Whether this simulator's faults file accepts the class's fault."""
    try:
        parse_faults(faults_yaml([(room_class, ["x"])]), "probe.yaml")
    except Exception:
        return False
    return True


def faults_yaml(assigned: list[tuple[RoomClass, list[str]]]) -> str:
    """The faults file: one item per class, selecting its rooms by id."""
    import yaml

    items = [{"select": "id=" + ",".join(ids), **room_class.fault}
             for room_class, ids in assigned if room_class.fault and ids]
    return yaml.safe_dump(items, sort_keys=False, allow_unicode=True)


def assign(endpoints: list[Endpoint], classes: list[RoomClass], per_class: int,
           seed: int) -> dict[str, RoomClass]:
    """Room id -> class: ``per_class`` rooms each (seeded), the rest clean."""
    ids = sorted(e.id for e in endpoints)
    random.Random(seed).shuffle(ids)
    out: dict[str, RoomClass] = {}
    faulted = [c for c in classes if c.fault]
    for n, room_class in enumerate(faulted):
        for room in ids[n * per_class:(n + 1) * per_class]:
            out[room] = room_class
    clean = next(c for c in classes if not c.fault)
    for room in ids[len(faulted) * per_class:]:
        out[room] = clean
    return out


@dataclass
class Tally:
    """What one class's room-runs gave."""

    verdicts: Counter[str] = field(default_factory=Counter)
    wrong: Counter[str] = field(default_factory=Counter)
    """Wrong verdicts by their first reason (digits folded)."""
    unknown: Counter[str] = field(default_factory=Counter)
    rtt_err: list[float] = field(default_factory=list)
    jitter_err: dict[str, list[float]] = field(
        default_factory=lambda: {"up": [], "down": []})
    loss_err: dict[str, list[float]] = field(default_factory=lambda: {"up": [], "down": []})
    loss_within: dict[str, list[bool]] = field(default_factory=lambda: {"up": [], "down": []})
    noted: int = 0
    """Room-runs with a note (a SIP answer after unanswered transmissions, a 401)."""


def fold(reason: str) -> str:
    import re

    return re.sub(r"\d+(\.\d+)?", "N", reason)[:110]


def tally(report: SweepReport, classes: dict[str, RoomClass], truths: dict[str, Truth],
          tallies: dict[str, Tally], checks: set[str]) -> None:
    """Add one sweep's results to the per-class tallies."""
    for r in report.endpoints:
        room_class = classes[r.endpoint.id]
        t = tallies.setdefault(room_class.name, Tally())
        t.verdicts[r.verdict.value] += 1
        t.noted += bool(r.notes)
        first = fold(r.reasons[0]) if r.reasons else "-"
        check = r.checks.get("webrtc")
        if r.verdict is Verdict.UNKNOWN:
            unreliable = next((c for c in r.checks.values() if c.result.unreliable), check)
            info = unreliable.result.info if unreliable is not None else {}
            t.unknown[f"{first} ({info.get('overloaded', '?')} stalled: prober max "
                      f"{info.get('loop_lag_max_ms', '?')} ms, responder max "
                      f"{info.get('responder_lag_max_ms', '?')} ms)"] += 1
        elif r.verdict not in room_class.right(checks):
            seen = ""
            if check is not None and r.verdict is Verdict.READY:  # what the figures were
                res = check.result
                seen = " (" + ", ".join(
                    f"{d} loss {figs.get('loss_ratio', 'none')} of "
                    f"{res.info.get(d + '_packets', '?')} packets"
                    for d, figs in res.directions.items()) + (
                    f", window {res.info.get('window_s', '?')} s)")
            t.wrong[f"{r.verdict.value}: {first}{seen}"] += 1
        if check is None or not check.result.ok or check.result.unreliable:
            continue
        res, truth = check.result, truths[room_class.name]
        if "rtt_ms" in res.figures:
            t.rtt_err.append(res.figures["rtt_ms"] - truth.rtt_ms)
        for direction, jitter_truth in (("up", truth.jitter_up_ms),
                                        ("down", truth.jitter_down_ms)):
            figs = res.directions.get(direction, {})
            if "jitter_ms" in figs:
                t.jitter_err[direction].append(figs["jitter_ms"] - jitter_truth)
            if "loss_ratio" in figs:
                t.loss_err[direction].append(figs["loss_ratio"] - truth.loss)
                n = int(res.info.get(f"{direction}_packets", 0) or 0)
                if truth.loss and n:
                    half = Z99 * math.sqrt(truth.loss * (1 - truth.loss) / n)
                    t.loss_within[direction].append(
                        abs(figs["loss_ratio"] - truth.loss) <= half + 1e-4)


def mean_sd(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    if not values:
        return "-"
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values) * scale:+.{digits}f} ± {sd * scale:.{digits}f}"


def print_tables(tallies: dict[str, Tally], classes: list[RoomClass],
                 truths: dict[str, Truth], checks: set[str]) -> None:
    print("\n| class | should be | room-runs | ready | degraded | down | unknown | wrong "
          "| with a note |")
    print("| --- | --- | --: | --: | --: | --: | --: | --: | --: |")
    for c in classes:
        t = tallies.get(c.name)
        if t is None:
            continue
        v = t.verdicts
        right = " or ".join(r.value for r in c.right(checks))
        print(f"| {c.name} | {right} | {sum(v.values())} | {v['ready']} | "
              f"{v['degraded']} | {v['down']} | {v['unknown']} | {sum(t.wrong.values())} "
              f"| {t.noted} |")
    print("\n| class | true RTT / jitter down (ms) | RTT \\|err\\| p50 / p99 (ms) | "
          "jitter err up / down (ms) | loss err up / down (points) | "
          "loss in binomial 99 % up / down |")
    print("| --- | --- | --- | --- | --- | --- |")
    for c in classes:
        t = tallies.get(c.name)
        if t is None or c.fault.get("services") or c.fault.get("down") or not t.rtt_err:
            continue
        truth = truths[c.name]
        rtt = [abs(e) for e in t.rtt_err]
        rtt_text = (f"{percentile(rtt, 0.5):.2f} / {percentile(rtt, 0.99):.2f}"
                    if rtt else "-")
        within = " / ".join(
            f"{sum(t.loss_within[d])}/{len(t.loss_within[d])}" if t.loss_within[d] else "-"
            for d in ("up", "down"))
        print(f"| {c.name} | {truth.rtt_ms:.1f} / {truth.jitter_down_ms:.2f} | {rtt_text} | "
              f"{mean_sd(t.jitter_err['up'])} / {mean_sd(t.jitter_err['down'])} | "
              f"{mean_sd(t.loss_err['up'], 100)} / {mean_sd(t.loss_err['down'], 100)} | "
              f"{within} |")
    for c in classes:
        t = tallies.get(c.name)
        if t is None:
            continue
        for label, counter in (("wrong", t.wrong), ("unknown", t.unknown)):
            for reason, count in counter.most_common(4):
                print(f"    {c.name}: {count} x {label} {reason}")


def print_check_stats(report: SweepReport) -> None:
    """How long the webrtc checks took, and how many stayed unreliable after the retry."""
    checks = [r.checks["webrtc"] for r in report.endpoints if "webrtc" in r.checks]
    if not checks:
        return
    durations = sorted(c.duration_s for c in checks)
    unreliable = Counter(str(c.result.info.get("overloaded")) for c in checks
                         if c.result.unreliable)
    lossy = sum(1 for c in checks if c.result.ok and c.result.degraded.startswith("lossy"))
    print(f"#   webrtc checks: duration p50 {percentile(durations, 0.5):.1f} s, p99 "
          f"{percentile(durations, 0.99):.1f} s, max {durations[-1]:.1f} s; unreliable after "
          f"the retry: {dict(unreliable)}; lossy media path: {lossy}", flush=True)


def print_net_stats(report: SweepReport) -> None:
    """Per net check kind: how many ran, failed, stayed unreliable, and how long they took;
    for SIP how many needed more than one transmission."""
    for kind in ("icmp", "tcp", "sip", "https"):
        checks = [r.checks[kind] for r in report.endpoints if kind in r.checks]
        if not checks:
            continue
        durations = sorted(c.duration_s for c in checks)
        failed = sum(1 for c in checks if not c.result.ok)
        unreliable = sum(1 for c in checks if c.result.unreliable)
        extra = ""
        if kind == "sip":
            sent = Counter(int(c.result.info.get("transmissions", 0) or 0) for c in checks
                           if c.result.ok)
            extra = f"; answered after transmissions: {dict(sorted(sent.items()))}"
        print(f"#   {kind}: {len(checks)} checks, {failed} failed, {unreliable} unreliable, "
              f"duration p50 {percentile(durations, 0.5):.2f} s, p99 "
              f"{percentile(durations, 0.99):.2f} s, max {durations[-1]:.2f} s{extra}",
              flush=True)


def start_burner() -> subprocess.Popen[bytes]:
    """A competing process burning CPU 0."""
    return subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])


async def sweep_once(inv: Any, endpoints: list[Endpoint] | None, checks: str,
                     workers: int | None) -> SweepReport:
    options = SweepOptions(checks=parse_checks(checks), media_workers=workers)
    return await run_sweep(inv, endpoints, options=options)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="sweep only the classed rooms")
    parser.add_argument("--burn", action="store_true", help="burn CPU 0 with another process")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--net", type=int, default=None, help="first 127.A octet to use")
    parser.add_argument("--checks", default="sip,webrtc")
    parser.add_argument("--workers", type=int, default=None, help="media worker processes")
    parser.add_argument("--sim-workers", default="auto")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 31)
    net = args.net or random.Random(seed).randint(60, 200)
    raise_open_file_limit(8192)
    checks = set(parse_checks(args.checks) or ())
    classes = [c for c in CLASSES if (not c.needs or c.needs in checks)]
    skipped = [c.name for c in classes if not supported(c)]
    classes = [c for c in classes if c.name not in skipped]
    truths = {c.name: truth_of(c, seed) for c in classes}
    burner = start_burner() if args.burn else None
    try:
        with tempfile.TemporaryDirectory(prefix="vcfleet-bench-truth-") as tmp:
            folder = Path(tmp)
            inventory = write_fleet(folder, net)
            inv = load_inventory(inventory)
            by_room = assign(list(inv.endpoints), classes, args.per_class, seed)
            groups = [(c, sorted(i for i, rc in by_room.items() if rc is c)) for c in classes]
            faults = folder / "faults.yaml"
            faults.write_text(faults_yaml(groups), encoding="utf-8")
            swept = None
            if args.small:
                clean = next(c for c in classes if not c.fault)
                keep = {i for i, rc in by_room.items() if rc is not clean}
                keep |= set(sorted(i for i, rc in by_room.items() if rc is clean)
                            [:args.per_class])
                swept = [e for e in inv.endpoints if e.id in keep]
            print(f"# bench_truth: seed {seed}, fleet at 127.{net}+, {len(swept or inv.endpoints)} "
                  f"of {len(inv.endpoints)} rooms swept, {args.sweeps} sweeps of {args.checks}, "
                  f"{args.per_class} rooms a class, burner: {'CPU 0' if burner else 'none'}")
            if skipped:
                print(f"# skipped (the faults file does not accept them yet): {skipped}")
            sim, ready = start_simulator(inventory, folder / "state", workers=args.sim_workers,
                                         faults=faults, seed=seed)
            print(f"# simulator: {ready}", flush=True)
            tallies: dict[str, Tally] = {}
            try:
                for n in range(1, args.sweeps + 1):
                    wall0 = time.monotonic()
                    report = asyncio.run(sweep_once(inv, swept, args.checks, args.workers))
                    s = report.summary()
                    print(f"# sweep {n}: {s['total']} rooms in {time.monotonic() - wall0:.1f} s, "
                          f"{s}, load average {os.getloadavg()[0]:.1f}", flush=True)
                    print_check_stats(report)
                    print_net_stats(report)
                    tally(report, by_room, truths, tallies, checks)
                    if n < args.sweeps:  # so far, in case the run is cut short
                        print_tables(tallies, classes, truths, checks)
            finally:
                stop(sim)
            print(f"\n# all {args.sweeps} sweeps:")
            print_tables(tallies, classes, truths, checks)
    finally:
        if burner is not None:
            burner.terminate()
            burner.wait(10)


if __name__ == "__main__":
    main()
