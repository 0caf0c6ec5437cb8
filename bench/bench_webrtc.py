"""Benchmark: a full ``--checks net,webrtc`` sweep of the 348-room demo fleet, RTT truth.

    python bench/bench_webrtc.py [--repeat N] [--workers N] [--sim-workers N|auto]
                                 [--checks net,webrtc] [--net A] [--timeline]

Starts ``vcfleet simulate`` as a subprocess (on a copy of the demo inventory moved
to 127.A.x.y, so that it never collides with another simulator on the machine)
with a faults file that injects known delays on some rooms, waits for its
``ready`` line, then runs the sweep in this process the way ``vcfleet sweep``
does (the engine starts the WebRTC worker pool, ``vcfleet.media``).  Prints:

- wall time of the sweep (target: under 60 s), the verdict summary;
- CPU seconds of the prober (this process and its pool workers) and of the
  simulator (its processes, measured from /proc), and peak RSS of each;
- the webrtc check: how many measured, failed (with the commonest reasons),
  unreliable (prober or responder overloaded);
- RTT error against the injected delay (true RTT = delay_ms + the loopback's
  ~0.1 ms), p50 / p99 / max of |error| and how many rooms are within 10 ms
  (target: all), over the reliable results and over all results;
- where a media check's time goes: the wait for a pool slot, the worker round
  trip, and the probe's phases (signalling, ICE, DTLS, the wait for the first
  report or echo, the window, the tail, DELETE, close), p50 / p90 / max each; the
  pool's limits and probes in flight over the sweep; CPU per room and how busy
  the two cores were; which side's lag made each unreliable probe run; with
  ``--timeline``, the pool second by second (probes in flight / limit / worst lag).

Figures only, never pass/fail; a shared machine makes them noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator_proc import start_simulator, stop  # noqa: E402  (bench/ is sys.path[0])

from inventory import Inventory, load_inventory  # noqa: E402
from inventory.demofleet import DEMO_DIR, DEMO_FILES  # noqa: E402
from simulator.faults import load_faults  # noqa: E402
from vcfleet.media import MediaPool  # noqa: E402
from vcfleet.report import SweepReport  # noqa: E402
from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit, run_sweep  # noqa: E402

READY_TIMEOUT_S = 300.0
FAULTS = """\
# Known delays (true RTT = delay_ms): departments 20 ms, two districts 60 and 150 ms.
- select: "tier=department"
  delay_ms: 20
- select: "district=nga-son"
  delay_ms: 60
- select: "district=tho-xuan"
  delay_ms: 150
"""


def write_fleet(folder: Path, net: int) -> Path:
    """The demo fleet moved to 127.``net``+ (each distinct 127.A becomes net, net+1, ...)."""
    for name in DEMO_FILES:
        shutil.copy(DEMO_DIR / name, folder / name)
    seen: dict[str, int] = {}

    def sub(m: re.Match[str]) -> str:
        seen.setdefault(m.group(1), net + len(seen))
        return f"127.{seen[m.group(1)]}."

    text = (DEMO_DIR / "thanh-hoa.yaml").read_text(encoding="utf-8")
    path = folder / "fleet.yaml"
    path.write_text(re.sub(r"\b127\.(\d+)\.", sub, text), encoding="utf-8")
    return path


def group_usage(pgid: int) -> tuple[float, int]:
    """(CPU seconds, sum of peak RSS in KiB) of the live processes of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    cpu, rss = 0.0, 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(stat[2]) != pgid:  # field 5 (pgrp), after pid and (comm)
                continue
            cpu += (int(stat[11]) + int(stat[12])) / tick
            status = (entry / "status").read_text()
            hwm = re.search(r"VmHWM:\s+(\d+)", status)
            rss += int(hwm.group(1)) if hwm else 0
        except (OSError, IndexError, ValueError):
            continue
    return cpu, rss


def true_delays(inv: Inventory, faults_path: Path) -> dict[str, float]:
    """Injected delay per endpoint id, as the simulator applies the faults file."""
    faults = load_faults(faults_path)
    return {e.id: float(faults.for_endpoint(e, inv).delay_ms) for e in inv.endpoints}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report_errors(label: str, errors: list[float]) -> None:
    if not errors:
        print(f"  RTT error ({label}): no results")
        return
    absolute = [abs(e) for e in errors]
    within = sum(1 for e in absolute if e <= 10.0)
    print(f"  RTT error ({label}, n={len(errors)}): p50 {percentile(absolute, 0.5):.2f} ms  "
          f"p99 {percentile(absolute, 0.99):.2f} ms  max {max(absolute):.2f} ms  "
          f"mean signed {statistics.mean(errors):+.2f} ms  within 10 ms: {within}/{len(errors)}")


def summarize(report: SweepReport, delays: dict[str, float]) -> None:
    checks = [(r.endpoint.id, r.checks["webrtc"].result) for r in report.endpoints
              if "webrtc" in r.checks]
    ok = [(i, res) for i, res in checks if res.ok]
    failed = Counter(re.sub(r"\d+(\.\d+)?", "N", res.reason) for _, res in checks if not res.ok)
    unreliable = [i for i, res in ok if res.unreliable]
    print(f"  webrtc: {len(checks)} checks, {len(ok)} measured, {len(checks) - len(ok)} failed, "
          f"{len(unreliable)} unreliable", flush=True)
    for reason, count in failed.most_common(4):
        print(f"      {count:4d} x {reason}")
    errors_all = [res.figures["rtt_ms"] - delays[i] for i, res in ok]
    errors_reliable = [res.figures["rtt_ms"] - delays[i] for i, res in ok if not res.unreliable]
    report_errors("reliable", errors_reliable)
    report_errors("all measured", errors_all)
    by_delay: dict[float, list[float]] = {}
    for i, res in ok:
        by_delay.setdefault(delays[i], []).append(res.figures["rtt_ms"])
    for delay, rtts in sorted(by_delay.items()):
        print(f"      injected {delay:5.0f} ms: n={len(rtts):3d}  median RTT "
              f"{statistics.median(rtts):7.2f} ms  max {max(rtts):7.2f} ms")
    setup = [res.figures["setup_ms"] for _, res in ok]
    if setup:
        print(f"  setup: median {statistics.median(setup):.0f} ms, p99 "
              f"{percentile(setup, 0.99):.0f} ms", flush=True)


class TimedPool(MediaPool):
    """The sweep's media pool, timing each admission and each worker round trip, and
    sampling its limits and probes in flight."""

    def __init__(self, workers: int | None) -> None:
        super().__init__(workers)
        self.waits: list[float] = []
        self.runs: list[float] = []
        self.samples: list[tuple[float, int, int, float]] = []
        """(time, probes admitted, total limit, worst worker lag in ms)."""
        self.unreliable: list[dict[str, Any]] = []
        """The info of every probe run that came back unreliable (retried or not)."""

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        t0 = time.monotonic()
        async with super().slot():
            self.waits.append(time.monotonic() - t0)
            yield

    async def _run(self, target: Any, settings: Any) -> Any:
        t0 = time.monotonic()
        try:
            result = await super()._run(target, settings)
        finally:
            self.runs.append(time.monotonic() - t0)
        if result.unreliable:
            self.unreliable.append(dict(result.info))
        return result

    async def sample(self) -> None:
        t0 = time.monotonic()
        while True:
            await asyncio.sleep(0.25)
            lags = [w.lag_ms for w in self.workers]
            self.samples.append((time.monotonic() - t0, self._reserved, self._total_limit(),
                                 max(lags, default=0.0)))


def spread(values: list[float]) -> str:
    if not values:
        return "-"
    return (f"{percentile(values, 0.5):7.0f} {percentile(values, 0.9):7.0f} "
            f"{max(values):7.0f}")


def timeline(pool: TimedPool) -> None:
    """The pool second by second: probes in flight, total limit, worst worker lag."""
    print("  timeline (s: in flight / limit / worst lag ms):")
    line: list[str] = []
    for t, admitted, limit, lag in pool.samples[3::4]:
        line.append(f"{t:4.0f}: {admitted:2d}/{limit:2d}/{lag:4.1f}")
        if len(line) == 6:
            print("    " + "   ".join(line))
            line = []
    if line:
        print("    " + "   ".join(line))


def breakdown(report: SweepReport, pool: TimedPool) -> None:
    """Where the media checks' time went (ms), and the pool's concurrency over the sweep."""
    checks = [r.checks["webrtc"] for r in report.endpoints if "webrtc" in r.checks]
    ok = [c.result for c in checks if c.result.ok and "window_s" in c.result.info]
    rows: list[tuple[str, list[float]]] = [
        ("check (engine: slot wait + run + retry)", [c.duration_s * 1000 for c in checks]),
        ("slot wait", [w * 1000 for w in pool.waits]),
        ("worker round trip", [r * 1000 for r in pool.runs]),
    ]
    for name in ("signalling_ms", "ice_ms", "dtls_ms", "setup_ms"):
        rows.append((f"probe: {name[:-3]}", [r.figures[name] for r in ok if name in r.figures]))
    for name in ("preroll_ms", "tail_ms", "end_ms", "close_ms"):
        rows.append((f"probe: {name[:-3]}", [float(r.info[name]) for r in ok if name in r.info]))
    rows.insert(-3, ("probe: window", [float(r.info["window_s"]) * 1000 for r in ok]))
    print(f"  time per media check (ms), {len(checks)} checks, {len(pool.runs)} probe runs "
          f"({len(pool.runs) - len(checks)} retries):")
    print(f"      {'':42s} {'p50':>7s} {'p90':>7s} {'max':>7s}")
    for name, values in rows:
        print(f"      {name:42s} {spread(values)}")
    if pool.unreliable:
        why: Counter[str] = Counter()
        for info in pool.unreliable:
            for who, prefix in (("prober", "loop_lag"), ("responder", "responder_lag")):
                if float(info.get(f"{prefix}_max_ms", 0.0)) > 250.0:
                    why[f"{who} stall > 250 ms"] += 1
                elif float(info.get(f"{prefix}_p95_ms", 0.0)) > 10.0:
                    why[f"{who} lag p95 > 10 ms"] += 1
        print(f"  unreliable probe runs: {len(pool.unreliable)} ("
              + ", ".join(f"{k}: {v}" for k, v in why.most_common()) + ")")
    if pool.samples:
        busy = [s for s in pool.samples if s[1]]
        in_flight = [float(s[1]) for s in busy] or [0.0]
        limits = [float(s[2]) for s in busy] or [0.0]
        print(f"  pool: {pool.size} workers; probes in flight mean {statistics.mean(in_flight):.1f}"
              f" max {max(in_flight):.0f}; total limit min {min(limits):.0f} mean "
              f"{statistics.mean(limits):.1f} max {max(limits):.0f}; worker lag p50 "
              f"{percentile([s[3] for s in busy] or [0.0], 0.5):.1f} ms p90 "
              f"{percentile([s[3] for s in busy] or [0.0], 0.9):.1f} ms; "
              f"{sum(1 for s in busy if s[1] >= s[2])} of {len(busy)} samples at the limit")


async def sweep_once(inv: Inventory, checks: str, workers: int | None,
                     show_timeline: bool = False) -> SweepReport:
    pool = TimedPool(workers)
    t0 = time.monotonic()
    await pool.start()
    print(f"  media pool started in {time.monotonic() - t0:.1f} s", flush=True)
    sampler = asyncio.create_task(pool.sample())
    try:
        options = SweepOptions(checks=parse_checks(checks), runners={"webrtc": pool})
        report = await run_sweep(inv, options=options)
    finally:
        sampler.cancel()
        await asyncio.gather(sampler, return_exceptions=True)
        await pool.stop()
    breakdown(report, pool)
    if show_timeline:
        timeline(pool)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None, help="media worker processes")
    parser.add_argument("--sim-workers", default="auto", help="simulator worker processes")
    parser.add_argument("--checks", default="net,webrtc")
    parser.add_argument("--net", type=int, default=None, help="first 127.A octet to use")
    parser.add_argument("--timeline", action="store_true",
                        help="print the pool's probes in flight, limit and lag each second")
    args = parser.parse_args()
    raise_open_file_limit(8192)
    net = args.net or random.randint(60, 200)
    with tempfile.TemporaryDirectory(prefix="vcfleet-bench-webrtc-") as tmp:
        folder = Path(tmp)
        inventory = write_fleet(folder, net)
        faults = folder / "faults.yaml"
        faults.write_text(FAULTS, encoding="utf-8")
        inv = load_inventory(inventory)
        delays = true_delays(inv, faults)
        print(f"fleet: {len(inv.endpoints)} rooms at 127.{net}+, injected delays "
              f"{dict(sorted(Counter(delays.values()).items()))} (ms: rooms)", flush=True)
        sim, ready = start_simulator(inventory, folder / "state", workers=args.sim_workers,
                                     faults=faults, timeout_s=READY_TIMEOUT_S)
        print(f"simulator: {ready}", flush=True)
        try:
            for run in range(1, args.repeat + 1):
                sim_cpu0, _ = group_usage(sim.pid)
                children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                wall0, cpu0 = time.monotonic(), time.process_time()
                report = asyncio.run(sweep_once(inv, args.checks, args.workers, args.timeline))
                wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                workers_cpu = (children.ru_utime - children0.ru_utime
                               + children.ru_stime - children0.ru_stime)
                sim_cpu, sim_rss = group_usage(sim.pid)
                sim_cpu -= sim_cpu0
                s = report.summary()
                print(f"run {run}: sweep of {s['total']} rooms ({args.checks}) in {wall:.1f} s: "
                      f"{s['ready']} ready, {s['degraded']} degraded, {s['down']} down",
                      flush=True)
                for e in report.endpoints:  # on this fleet every room should be ready
                    if e.verdict.value != "ready":
                        print(f"  not ready: {e.endpoint.id} {e.verdict.value}: "
                              f"{'; '.join(e.reasons)}", flush=True)
                self_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                rooms = max(1, s["total"])
                print(f"  CPU: prober {cpu + workers_cpu:.1f} s (this process {cpu:.1f} s, "
                      f"media workers {workers_cpu:.1f} s), simulator "
                      f"{sim_cpu:.1f} s; load average {os.getloadavg()[0]:.1f}")
                print(f"  CPU per room: prober {(cpu + workers_cpu) / rooms * 1000:.0f} ms "
                      f"(media workers {workers_cpu / rooms * 1000:.0f} ms), simulator "
                      f"{sim_cpu / rooms * 1000:.0f} ms; the sweep kept "
                      f"{(cpu + workers_cpu + sim_cpu) / wall:.2f} of {os.cpu_count()} cores "
                      f"busy", flush=True)
                print(f"  peak RSS: this process {self_rss / 1024:.0f} MiB, largest media "
                      f"worker {children.ru_maxrss / 1024:.0f} MiB, simulator (sum) "
                      f"{sim_rss / 1024:.0f} MiB", flush=True)
                summarize(report, delays)
        finally:
            stop(sim)


if __name__ == "__main__":
    main()
