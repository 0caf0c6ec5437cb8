"""Benchmark: a ``--checks device`` sweep of the demo fleet against the simulator.

    python bench/bench_device.py [--repeat 3] [--net N] [--no-cli] [--max-sessions N]
                                  [--default-ciphers]

Starts ``vcfleet simulate`` as a subprocess on a copy of the 348-room demo fleet moved to
127.N.x.y (as bench_sweep.py does; its profile runs the device check), waits for
its ``ready`` line, and sweeps it with ``--checks device``, trusting the simulator's host
keys (``STATE_DIR/known_hosts``, as the push benchmark does):

- logins: SSH logins alone (connect, key exchange, host-key check, password, close) to
  every Cisco and Poly room, with the check's ciphers and concurrency: the floor;
- in-process: ``run_sweep`` in this interpreter (wall and CPU of this process);
- CLI: ``vcfleet sweep --checks device --known-hosts ... --format json`` as a subprocess.

For each it prints the wall time, the prober's CPU and the simulator's CPU (its process
group: parent and workers, from /proc) in total and per checked room (Yealink rooms are
read over their HTTPS API, the others over SSH).  Issue 16's target: 348 rooms within 5 s
wall.  Figures only, never pass/fail; each run is repeated and best and median printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_sweep import write_fleet  # noqa: E402  (bench/ is sys.path[0])
from simulator_proc import group_cpu, start_simulator, stop  # noqa: E402

from inventory import load_inventory  # noqa: E402
from probes.device import Settings  # noqa: E402
from probes.sshkeys import KnownHosts  # noqa: E402
from vcfleet.sweep import SweepOptions, raise_open_file_limit, run_sweep  # noqa: E402


def device_fleet(folder: Path, net: int) -> Path:
    """The moved demo fleet (its ``standard`` profile runs the device check)."""
    return write_fleet(folder, 348, net)


Run = tuple[float, float, float, dict[str, Any]]
"""(wall s, prober CPU s, simulator CPU s, summary with checked rooms and reasons)."""


def sweep_in_process(inventory: Path, known_hosts: Path, pgid: int, max_sessions: int) -> Run:
    """One device sweep run here."""
    inv = load_inventory(inventory)
    raise_open_file_limit(4096)
    settings = Settings(known_hosts=KnownHosts(known_hosts), max_sessions=max_sessions)
    options = SweepOptions(checks=frozenset({"device"}), settings={"device": settings})
    sim0, wall0, cpu0 = group_cpu(pgid), time.monotonic(), time.process_time()
    report = asyncio.run(run_sweep(inv, options=options))
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    reasons = Counter(reason for r in report.endpoints for reason in r.reasons)
    summary: dict[str, Any] = dict(report.summary())
    summary["checked"] = sum("device" in r.checks for r in report.endpoints)
    summary["reasons"] = reasons.most_common(3)
    return wall, cpu, group_cpu(pgid) - sim0, summary


def login_floor(inventory: Path, known_hosts: Path, pgid: int, max_sessions: int) -> Run:
    """SSH logins alone (TCP, key exchange, host-key check, password, close), with the
    device check's ciphers and concurrency, for every room it would check: the floor."""
    import asyncssh

    from probes import device
    from vcfleet.checks import target_for

    inv = load_inventory(inventory)
    known = KnownHosts(known_hosts)
    targets = [t for e in inv.endpoints
               if isinstance(t := target_for(inv, e, "device"), device.DeviceTarget)
               and t.vendor in device.VENDORS]  # SSH; a Yealink room logs in over HTTPS

    async def logins() -> None:
        sem = asyncio.Semaphore(max_sessions)

        async def one(t: device.DeviceTarget) -> None:
            async with sem:
                conn = await asyncssh.connect(
                    t.address, t.port, username=t.username, password=t.password,
                    client_keys=None, agent_path=None, config=None,
                    preferred_auth="password,keyboard-interactive",
                    known_hosts=(known.trusted(t.address, t.port), [], []),
                    encryption_algs=device.ENCRYPTION_ALGS)
                conn.close()
                await conn.wait_closed()

        await asyncio.gather(*(one(t) for t in targets))

    sim0, wall0, cpu0 = group_cpu(pgid), time.monotonic(), time.process_time()
    asyncio.run(logins())
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    summary = {"checked": len(targets), "total": len(inv.endpoints), "ready": len(targets),
               "degraded": 0, "down": 0}
    return wall, cpu, group_cpu(pgid) - sim0, summary


def sweep_cli(inventory: Path, known_hosts: Path, pgid: int) -> Run:
    """``vcfleet sweep --checks device`` as a subprocess."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sim0, wall0 = group_cpu(pgid), time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "vcfleet", "sweep", "--inventory", str(inventory), "--checks",
         "device", "--known-hosts", str(known_hosts), "--format", "json", "--no-history"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    wall = time.monotonic() - wall0
    sim = group_cpu(pgid) - sim0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"vcfleet sweep exited {proc.returncode}: {proc.stderr.strip()}")
    report = json.loads(proc.stdout)
    summary = dict(report["summary"])
    summary["checked"] = sum("device" in e["checks"] for e in report["endpoints"])
    return wall, cpu, sim, summary


def show(label: str, runs: list[Run]) -> None:
    walls = [r[0] for r in runs]
    cpu, sim = statistics.median(r[1] for r in runs), statistics.median(r[2] for r in runs)
    s = runs[-1][3]
    n = max(1, s["checked"])
    print(f"  {label:<11} wall best {min(walls):5.2f} s  median {statistics.median(walls):5.2f} s"
          f"   CPU median: prober {cpu:5.2f} s ({1000 * cpu / n:4.1f} ms/room), simulator "
          f"{sim:5.2f} s ({1000 * sim / n:4.1f} ms/room)", flush=True)
    print(f"              last: {s['checked']} rooms; {s['ready']} ready, "
          f"{s['degraded']} degraded, {s['down']} down, {s.get('unknown', 0)} unknown of "
          f"{s['total']}", flush=True)
    for reason, count in s.get("reasons", []):
        print(f"      {count:5d} x {reason}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--net", type=int, default=None,
                        help="first second octet of the moved addresses (default: random)")
    parser.add_argument("--no-cli", action="store_true", help="skip the CLI runs")
    parser.add_argument("--default-ciphers", action="store_true",
                        help="offer asyncssh's default cipher order (ChaCha20 first) instead "
                             "of the device check's (AES-GCM first), in-process runs")
    parser.add_argument("--max-sessions", type=int, default=Settings().max_sessions,
                        help="SSH sessions at once, in-process runs "
                             f"(default: {Settings().max_sessions})")
    args = parser.parse_args()
    net = args.net if args.net is not None else random.randint(60, 200)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} "
          "(figures are noisy on a shared machine)", flush=True)
    with tempfile.TemporaryDirectory(prefix="vcfleet-bench-device-") as tmp:
        folder = Path(tmp)
        inventory = device_fleet(folder, net)
        t0 = time.monotonic()
        proc, ready = start_simulator(inventory, folder / "state", workers="auto")
        print(f"demo fleet of 348 at 127.{net}.x.y; simulator: {ready} "
              f"(waited {time.monotonic() - t0:.1f} s)", flush=True)
        known = folder / "state" / "known_hosts"
        if args.default_ciphers:
            from probes import device

            device.ENCRYPTION_ALGS = ()  # type: ignore[assignment]  # () is asyncssh's default
        try:
            repeat = max(1, args.repeat)
            show("logins", [login_floor(inventory, known, proc.pid, args.max_sessions)
                            for _ in range(repeat)])
            show("in-process", [sweep_in_process(inventory, known, proc.pid, args.max_sessions)
                                for _ in range(repeat)])
            if not args.no_cli:
                show("CLI", [sweep_cli(inventory, known, proc.pid) for _ in range(repeat)])
        finally:
            stop(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
