"""Benchmark: push a 3-setting change to all 348 demo endpoints against ``vcfleet simulate``.

    python bench/bench_push.py [--concurrency N] [--driver asyncssh|netmiko] [--demo-addresses]

Starts ``vcfleet simulate`` on a copy of the demo fleet (its 127.10.x.y and
127.20.x.y addresses moved to random 127.N.x.y blocks so that it never collides with a
simulator someone else runs, and its provisioning server moved to a free port;
``--demo-addresses`` keeps them), waits for its ``ready`` line, then times
``vcfleet push`` as an operator runs it: a first push that changes 3 settings on
every room (Cisco and Poly over SSH, Yealink through the provisioning server the
push runs), and the same push again, which must change nothing.  Prints wall time,
the CPU seconds of ``vcfleet push`` and of the simulator (its process group), and
the outcome counts; the target is 0 skipped and at most 15 s for the first push.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

from simulator_proc import group_cpu, start_simulator, stop  # noqa: E402  (bench/ is sys.path[0])

sys.path.insert(0, str(ROOT))
from inventory.demofleet import DEMO_FILES  # noqa: E402

DEMO = ROOT / "inventory" / "demo"
TEMPLATE = """\
description: benchmark - new SIP proxy and NTP server, auto-answer on
settings:
  sip.proxy: sip2.thanhhoa.gov.vn
  ntp.server: ntp2.thanhhoa.gov.vn
  conference.auto_answer: true
"""
TARGET_S = 15.0


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fleet_copy(folder: Path, keep_addresses: bool) -> Path:
    """The demo inventory (and its secret files) in ``folder``, addresses moved."""
    for name in DEMO_FILES:
        shutil.copy(DEMO / name, folder / name)
    text = (DEMO / "thanh-hoa.yaml").read_text(encoding="utf-8")
    if not keep_addresses:
        base = random.randint(60, 90)
        blocks = {"10": str(base), "20": str(base + 1)}
        text = re.sub(r"\b127\.(10|20)\.(\d+)\.(\d+)\b",
                      lambda m: f"127.{blocks[m.group(1)]}.{m.group(2)}.{m.group(3)}", text)
        text = text.replace("127.0.0.1:8446", f"127.0.0.1:{free_port()}")
    path = folder / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def push(inventory: Path, template: Path, known_hosts: Path, audit: Path,
         extra: list[str]) -> tuple[float, float, int, str]:
    """Run ``vcfleet push``; (wall seconds, CPU seconds of the push, exit status, output)."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "vcfleet", "push", str(template), "--inventory", str(inventory),
         "--known-hosts", str(known_hosts), "--audit-log", str(audit), *extra],
        capture_output=True, text=True, timeout=600, check=False)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.returncode, done.stdout + done.stderr


def counts(output: str) -> str:
    """The summary table's rows as ``label=N`` words."""
    rows = (re.match(r"^(\S.*?)\s{2,}(\d+)$", ln) for ln in output.splitlines())
    return ", ".join(f"{m.group(1)}={m.group(2)}" for m in rows if m)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", default="64")
    parser.add_argument("--driver", default="asyncssh", choices=("asyncssh", "netmiko"))
    parser.add_argument("--simulator-workers", default=None, metavar="N|auto",
                        help="vcfleet simulate --workers (default: the simulator's own)")
    parser.add_argument("--demo-addresses", action="store_true",
                        help="serve the demo fleet at its own 127.10.x.y addresses")
    args = parser.parse_args()
    extra = ["--concurrency", args.concurrency, "--driver", args.driver]
    with tempfile.TemporaryDirectory(prefix="vcfleet-bench-push-") as tmp:
        folder = Path(tmp)
        extra += ["--provisioning-store", str(folder / "store"),
                  "--provisioning-audit-log", str(folder / "provisioning-audit.jsonl")]
        inventory = fleet_copy(folder, args.demo_addresses)
        template = folder / "template.yaml"
        template.write_text(TEMPLATE, encoding="utf-8")
        sim, ready = start_simulator(inventory, folder / "state",
                                     workers=args.simulator_workers)
        print(f"simulator: {ready}")
        try:
            known, audit = folder / "state" / "known_hosts", folder / "audit.jsonl"
            sim0 = group_cpu(sim.pid)
            first, cpu1, status1, out1 = push(inventory, template, known, audit, extra)
            sim1 = group_cpu(sim.pid)
            again, cpu2, status2, out2 = push(inventory, template, known, audit, extra)
            sim2 = group_cpu(sim.pid)
            backups = folder / "backups"
            start = time.monotonic()
            done = subprocess.run(
                [sys.executable, "-m", "vcfleet", "backup", "-o", str(backups), "--inventory",
                 str(inventory), "--known-hosts", str(known), "--concurrency", args.concurrency,
                 "--provisioning-store", str(folder / "store")],
                capture_output=True, text=True, timeout=600, check=False)
            backup_s = time.monotonic() - start
            files = sorted(p.name for p in backups.iterdir()) if backups.is_dir() else []
        finally:
            stop(sim)
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} before the end")
        print(f"first push (3 settings, concurrency {args.concurrency}, {args.driver}): "
              f"{first:.1f} s wall, {cpu1:.1f} CPU-s in vcfleet push, {sim1 - sim0:.1f} CPU-s "
              f"in the simulator, exit {status1}: {counts(out1)}")
        print(f"same push again (idempotent): {again:.1f} s wall, {cpu2:.1f} CPU-s, "
              f"{sim2 - sim1:.1f} CPU-s in the simulator, exit {status2}: {counts(out2)}")
        rooms = {name.rsplit(".", 1)[0] for name in files}
        both = sum(f"{r}.cfg" in files and f"{r}.json" in files for r in rooms)
        print(f"backup of every room: {backup_s:.1f} s wall, exit {done.returncode}: .cfg and "
              f".json for {both} rooms")
        skipped = re.search(r"^skipped\s{2,}(\d+)$", out1, re.MULTILINE)
        none_skipped = skipped is not None and skipped.group(1) == "0"
        verdict = ("met" if first <= TARGET_S and status1 == 0 and none_skipped
                   else "MISSED")
        print(f"push_348_endpoints_seconds {first:.2f} (target <= {TARGET_S:.0f} s with 0 "
              f"skipped: {verdict})")
        if status1 != 0:
            print(out1[-3000:], file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(main())
