"""Benchmark: ``vcfleet serve``'s live device sessions to the 348-room demo fleet.

    python bench/bench_live.py [--net N] [--idle-s 30] [--sweeps 3] [--poll-s S]
                               [--heartbeat-s S]

Starts ``vcfleet simulate`` as a subprocess on the demo fleet moved to 127.N.x.y, every
room on a profile that runs the device check (as bench_device.py does), then an
exporter in this process with live device sessions and no scheduled sweeps, and prints:

- opening: wall time until every codec's session is up, and the CPU it cost the
  exporter and the simulator (logins, first reads), per session;
- keeping: CPU per minute of the exporter and the simulator while nothing changes
  (Cisco heartbeats, Poly's polls, SSH keepalives), per session;
- sweeps: a ``--checks device`` sweep reading the live views: wall, exporter CPU, and
  the sessions' logins before and after (no new login).

Figures only, never pass/fail.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_device import device_fleet  # noqa: E402  (bench/ is sys.path[0])
from simulator_proc import group_cpu, start_simulator, stop  # noqa: E402

from probes.device import Settings  # noqa: E402
from probes.device_live import LiveSettings  # noqa: E402
from probes.sshkeys import KnownHosts  # noqa: E402
from vcfleet.exporter import Exporter, ExporterConfig  # noqa: E402
from vcfleet.sweep import SweepOptions, raise_open_file_limit  # noqa: E402


async def measure(inventory: Path, known_hosts: Path, pgid: int, idle_s: float,
                  sweeps: int, live: LiveSettings) -> None:
    """Open the sessions, keep them idle, sweep through them; print each phase."""
    raise_open_file_limit(4096)
    settings = Settings(known_hosts=KnownHosts(known_hosts))
    options = SweepOptions(checks=frozenset({"device"}), source="serve", media_workers=0,
                           settings={"device": settings})
    exporter = Exporter(ExporterConfig(inventory_path=inventory, port=0, interval_s=0,
                                       options=options, process_metrics=False,
                                       live=live))
    assert exporter.live is not None
    fleet = exporter.live.fleet
    sim0, cpu0, wall0 = group_cpu(pgid), time.process_time(), time.monotonic()
    await exporter.start()
    try:
        n = len(fleet.sessions)
        async with asyncio.timeout(300):
            while any(v.state != "up" for v in fleet.views().values()):
                await asyncio.sleep(0.05)
        wall, cpu, sim = (time.monotonic() - wall0, time.process_time() - cpu0,
                          group_cpu(pgid) - sim0)
        print(f"  opening   {n} sessions up in {wall:5.2f} s; CPU: exporter {cpu:5.2f} s "
              f"({1000 * cpu / n:4.1f} ms/session), simulator {sim:5.2f} s "
              f"({1000 * sim / n:4.1f} ms/session)", flush=True)
        sim0, cpu0 = group_cpu(pgid), time.process_time()
        await asyncio.sleep(idle_s)
        cpu, sim = time.process_time() - cpu0, group_cpu(pgid) - sim0
        per_min = 60.0 / idle_s
        print(f"  keeping   over {idle_s:g} s, CPU per minute: exporter {cpu * per_min:5.2f} s "
              f"({1000 * cpu * per_min / n:4.1f} ms/session), simulator "
              f"{sim * per_min:5.2f} s ({1000 * sim * per_min / n:4.1f} ms/session); "
              f"{sum(v.state == 'up' for v in fleet.views().values())} up", flush=True)
        for _ in range(sweeps):
            logins = fleet.logins
            cpu0, wall0 = time.process_time(), time.monotonic()
            report = await exporter.scheduler.sweep_once()
            wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
            assert report is not None
            s = report.summary()
            print(f"  sweep     {len(report.endpoints)} rooms in {wall:5.2f} s, exporter CPU "
                  f"{cpu:5.2f} s; {s['ready']} ready, {s['degraded']} degraded, "
                  f"{s['down']} down; logins {logins} -> {fleet.logins}", flush=True)
    finally:
        await exporter.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--net", type=int, default=None,
                        help="first second octet of the moved addresses (default: random)")
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--sweeps", type=int, default=3)
    parser.add_argument("--poll-s", type=float, default=LiveSettings().poll_s,
                        help=f"Poly's poll interval (default: {LiveSettings().poll_s:g})")
    parser.add_argument("--heartbeat-s", type=float, default=LiveSettings().heartbeat_s,
                        help=f"Cisco's heartbeat (default: {LiveSettings().heartbeat_s:g})")
    args = parser.parse_args()
    net = args.net if args.net is not None else random.randint(60, 200)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          "(figures are noisy on a shared machine)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vcfleet-bench-live-") as tmp:
        folder = Path(tmp)
        inventory = device_fleet(folder, net)
        proc, ready = start_simulator(inventory, folder / "state", workers="auto")
        print(f"demo fleet of 348 at 127.{net}.x.y; simulator: {ready}", flush=True)
        try:
            asyncio.run(measure(inventory, folder / "state" / "known_hosts", proc.pid,
                                max(1.0, args.idle_s), max(0, args.sweeps),
                                LiveSettings(poll_s=args.poll_s, heartbeat_s=args.heartbeat_s)))
        finally:
            stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
