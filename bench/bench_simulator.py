"""Benchmark: start-up time, idle CPU and memory of ``vcfleet simulate`` for a fleet.

    python bench/bench_simulator.py [--inventory PATH] [--workers 0 2] [--idle-s 5]

The demo fleet lives at 127.10.x.y and 127.20.x.y; so that the benchmark does not
collide with a simulator someone else runs, it serves a copy moved to 127.N.x.y
and 127.N+1.x.y (a random N, or ``--net N``).

For each worker count, starts ``vcfleet simulate`` in a fresh state directory
(host keys already made, as after the first run), and prints the time to the
``ready`` line, the CPU all its processes use while idle (as a share of one core),
and the resident memory of all its processes.  Figures only; never pass/fail.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return out


def cpu_s(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLK_TCK


def rss_mb(pids: list[int]) -> float:
    total = 0
    for p in pids:
        try:
            total += int(Path(f"/proc/{p}/statm").read_text().split()[1])
        except OSError:
            continue
    return total * PAGE / 2**20


def run(inventory: str | None, workers: int, idle_s: float, state_dir: Path) -> None:
    cmd = [sys.executable, "-m", "vcfleet", "simulate", "--workers", str(workers),
           "--state-dir", str(state_dir)]
    if inventory:
        cmd += ["--inventory", inventory]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        ready_s = time.monotonic() - t0
        if not line.startswith("ready"):
            print(f"workers={workers}: did not start ({line!r})")
            return
        time.sleep(1.0)  # let start-up work settle
        pids = tree(proc.pid)
        c0 = cpu_s(pids)
        time.sleep(idle_s)
        idle = (cpu_s(pids) - c0) / idle_s
        print(f"workers={workers}: {line}; ready after {ready_s:.2f} s (incl. interpreter); "
              f"idle CPU {idle * 100:.1f} % of a core over {idle_s:.0f} s; "
              f"RSS {rss_mb(pids):.0f} MiB in {len(pids)} process(es)")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            t1 = time.monotonic()
            proc.wait(30)
            print(f"workers={workers}: stopped in {time.monotonic() - t1:.2f} s, "
                  f"exit status {proc.returncode}")
        except subprocess.TimeoutExpired:
            proc.kill()
            print(f"workers={workers}: did not stop within 30 s")


def relocated_demo(folder: Path, net: int) -> str:
    """A copy of the demo fleet at 127.NET.x.y and 127.NET+1.x.y (secret files beside it)."""
    import shutil

    from inventory import DEMO_INVENTORY

    for f in DEMO_INVENTORY.parent.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    text = DEMO_INVENTORY.read_text(encoding="utf-8")
    moved = folder / DEMO_INVENTORY.name
    text = text.replace("address: 127.10.", f"address: 127.{net}.")
    moved.write_text(text.replace("address: 127.20.", f"address: 127.{net + 1}."),
                     encoding="utf-8")
    return str(moved)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", help="inventory (default: the 348-room demo fleet)")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--idle-s", type=float, default=5.0)
    parser.add_argument("--net", type=int, help="serve the demo fleet at 127.NET(+1).x.y")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = Path(tmp) / "state"
        if not args.inventory:
            import random

            net = args.net or random.randint(30, 98)
            args.inventory = relocated_demo(Path(tmp), net)
            print(f"demo fleet moved to 127.{net}.x.y and 127.{net + 1}.x.y")
        t0 = time.monotonic()
        subprocess.run([sys.executable, "-c",
                        "from pathlib import Path; from inventory import load_inventory; "
                        "from simulator.core import prepare_state; "
                        f"prepare_state(Path({str(state_dir)!r}), "
                        f"load_inventory({args.inventory!r}))"], check=True)
        print(f"host keys and certificate created in {time.monotonic() - t0:.2f} s "
              "(incl. interpreter)")
        for workers in args.workers:
            run(args.inventory, workers, args.idle_s, state_dir)


if __name__ == "__main__":
    main()
