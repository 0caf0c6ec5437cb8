"""Console benchmark: time to first paint with the 348-room demo fleet, and the longest
UI stall while a full sweep streams its results into the table.

    python bench/bench_tui.py                 # synthetic probes: results over ~6 s
    python bench/bench_tui.py --simulator     # real net checks against vcfleet simulate
    python bench/bench_tui.py --simulator --checks net,webrtc   # and the media loopback

Targets (issue 7): first paint < 2 s; longest stall < 100 ms.  The stall is measured
two ways on the UI's event loop: the lateness of a 5 ms ticker (any blocking work
shows up there: message handling, layout, painting) and the time spent applying
each chunk of results to the table (at most ``APPLY_CHUNK`` per frame).  The console
runs its sweeps in a child process; with ``--simulator`` the simulator's processes
share the same cores.  Figures on a shared 2-core machine are noisy.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TICK_S = 0.005


class SyntheticProbe:
    """A probe that answers after a random delay, with figures (picklable: the console
    runs its sweeps in a child process)."""

    def __init__(self, spread_s: float, seed: int = 7) -> None:
        self.spread_s = spread_s
        self.rng = random.Random(seed)

    async def __call__(self, target: Any, settings: Any) -> Any:
        from probes.base import ProbeResult

        rng = self.rng
        await asyncio.sleep(rng.uniform(0.05, self.spread_s))
        if rng.random() < 0.03:
            return ProbeResult.failure("no answer (synthetic)")
        return ProbeResult(True, {"rtt_ms": rng.uniform(1, 300), "mos": rng.uniform(3.2, 4.4)},
                           {"up": {"jitter_ms": rng.uniform(0, 40), "loss_ratio": 0.0},
                            "down": {"jitter_ms": rng.uniform(0, 10), "loss_ratio": 0.01}})


def synthetic_options(spread_s: float) -> Any:
    """Sweep options whose every probe answers after a random delay, with figures."""
    from bench_tui import SyntheticProbe  # by its module's name: the sweep process imports it

    from vcfleet.sweep import SweepOptions

    kinds = ("icmp", "tcp", "sip", "https", "dns", "webrtc")
    answer = SyntheticProbe(spread_s)
    return SweepOptions(source="bench", runners=dict.fromkeys(kinds, answer),
                        settings={k: object() for k in kinds}, timeouts=dict.fromkeys(kinds, 30))


@contextlib.contextmanager
def simulated_demo_fleet() -> Iterator[Path]:
    """The demo fleet moved to a free part of 127/8, served by ``vcfleet simulate``."""
    from tests.test_demo import moved_demo_fleet
    from vcfleet.commands.demo import demo_faults_path, simulated_fleet

    with tempfile.TemporaryDirectory(prefix="vcfleet-bench-tui-") as tmp:
        path = moved_demo_fleet(Path(tmp))
        with simulated_fleet(path, demo_faults_path(), 348):
            yield path


class LagMonitor:
    """How late a 5 ms ticker on the event loop wakes up: the UI's stalls."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.at: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            t0 = loop.time()
            await asyncio.sleep(TICK_S)
            self.lags.append(loop.time() - t0 - TICK_S)
            self.at.append(t0)


async def bench(inventory_path: Path | None, options: Any, size: tuple[int, int]
                ) -> dict[str, float]:
    t_start = time.perf_counter()
    from inventory import load_inventory
    from tui.app import ConsoleApp

    t_import = time.perf_counter()
    inventory = load_inventory(inventory_path)
    t_inventory = time.perf_counter()
    app = ConsoleApp(inventory, sweep_options=options, use_history=False)
    batches: list[float] = []
    original = app.fleet.table.update_results

    def timed_update(reports: Any) -> int:
        t0 = time.perf_counter()
        changed = original(reports)
        batches.append(time.perf_counter() - t0)
        return changed

    app.fleet.table.update_results = timed_update  # type: ignore[method-assign]
    async with app.run_test(size=size) as pilot, asyncio.timeout(600):
        while app.fleet.first_paint_at is None:
            await asyncio.sleep(0.005)
        t_paint = app.fleet.first_paint_at
        while app.fleet.table.adding_rows or app.workers:  # rows, probe imports
            await pilot.pause(0.01)
        await pilot.pause()
        t_all = time.perf_counter()
        monitor = LagMonitor()
        monitor.start()
        t_sweep = time.perf_counter()
        await pilot.press("a")
        while app.sweeping or app.fleet.applying:
            await asyncio.sleep(0.05)
        if app.last_report is None:
            raise SystemExit(f"bench_tui: the sweep failed: {app.sweep_problem}")
        sweep_s = time.perf_counter() - t_sweep
        await pilot.pause()
        await monitor.stop()
        summary = app.last_report.summary()
    lags = sorted(monitor.lags)
    if monitor.lags:
        worst = max(range(len(monitor.lags)), key=monitor.lags.__getitem__)
        print(f"  (worst stall began {monitor.at[worst] - monitor.at[0]:.2f} s after "
              f"the sweep key; sweep took {sweep_s:.2f} s)", file=sys.stderr)
    return {
        "import_s": t_import - t_start,
        "inventory_s": t_inventory - t_import,
        "first_paint_s": t_paint - t_start,
        "first_paint_after_start_s": t_paint - t_inventory,
        "all_rows_s": t_all - t_start,
        "sweep_s": sweep_s,
        "ready": summary["ready"], "degraded": summary["degraded"], "down": summary["down"],
        "batches": len(batches),
        "batch_max_ms": max(batches, default=0) * 1000,
        "batch_mean_ms": statistics.fmean(batches) * 1000 if batches else 0.0,
        "lag_max_ms": lags[-1] * 1000 if lags else 0.0,
        "lag_p99_ms": lags[int(len(lags) * 0.99)] * 1000 if lags else 0.0,
        "ticks": len(lags),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", default="net",
                        help="check kinds with --simulator (default: net)")
    parser.add_argument("--simulator", action="store_true",
                        help="sweep the simulated demo fleet with net checks")
    parser.add_argument("--spread", type=float, default=6.0,
                        help="synthetic probes answer within this many seconds")
    parser.add_argument("--size", default="160x45", help="terminal size (default 160x45)")
    args = parser.parse_args()
    from inventory import InputError
    from vcfleet.sweep import parse_checks

    try:
        checks = parse_checks(args.checks)
    except InputError as exc:
        parser.error(str(exc))  # one line, exit code 2
    try:
        width, height = (int(v) for v in args.size.split("x"))
    except ValueError:
        parser.error(f"--size: expected COLUMNSxROWS, e.g. 160x45, not {args.size!r}")
    if args.simulator:
        from vcfleet.sweep import SweepOptions

        with simulated_demo_fleet() as path:
            figures = asyncio.run(bench(path, SweepOptions(checks=checks,
                                                           source="bench"), (width, height)))
        mode = f"simulated demo fleet, {args.checks} checks"
    else:
        figures = asyncio.run(bench(None, synthetic_options(args.spread), (width, height)))
        mode = f"synthetic probes over {args.spread:g} s"
    print(f"bench_tui ({mode}, 348 rooms, terminal {args.size})")
    print(f"  time to first paint      {figures['first_paint_s']:.2f} s  (target < 2 s; "
          f"imports {figures['import_s']:.2f} s, inventory {figures['inventory_s']:.2f} s, "
          f"app {figures['first_paint_after_start_s']:.2f} s); all 348 rows "
          f"{figures['all_rows_s']:.2f} s")
    print(f"  full sweep               {figures['sweep_s']:.1f} s: {figures['ready']} ready, "
          f"{figures['degraded']} degraded, {figures['down']} down; "
          f"{figures['batches']} table updates")
    print(f"  longest UI stall         {figures['lag_max_ms']:.0f} ms  (target < 100 ms; "
          f"p99 {figures['lag_p99_ms']:.0f} ms over {figures['ticks']} ticks of "
          f"{TICK_S * 1000:g} ms)")
    print(f"  applying results         max {figures['batch_max_ms']:.1f} ms, "
          f"mean {figures['batch_mean_ms']:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
