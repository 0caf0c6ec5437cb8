"""Start and stop ``vcfleet simulate`` as a subprocess, for the benchmarks.

The simulator runs in its own process group, so that ``stop`` ends its worker
processes too (and ``os.getpgid``-based CPU accounting sees them); its stderr goes
to ``simulator.log`` in the state folder, so that a talkative simulator never fills
a pipe, and the log's tail explains a simulator that did not become ready.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def start_simulator(inventory: Path, state: Path, *, workers: str | None = None,
                    faults: Path | None = None, timeout_s: float = 300.0,
                    seed: int | None = None) -> tuple[subprocess.Popen[str], str]:
    """``vcfleet simulate`` on the inventory; returns it and its ``ready`` line."""
    _exit_on_sigterm()
    state.mkdir(parents=True, exist_ok=True)
    log_path = state / "simulator.log"
    cmd = [sys.executable, "-m", "vcfleet", "simulate", "--inventory", str(inventory),
           "--state-dir", str(state), *(["--workers", workers] if workers else []),
           *(["--faults", str(faults)] if faults else []),
           *(["--seed", str(seed)] if seed is not None else [])]
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=log, text=True,
                                start_new_session=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith("ready"):
            return proc, line.strip()
        if not line and proc.poll() is not None:
            break
    stop(proc)
    why = log_path.read_text(errors="replace").strip()[-500:]
    raise RuntimeError(f"vcfleet simulate did not become ready within {timeout_s:g} s "
                       f"(exit {proc.returncode}): {why}")


def stop(proc: subprocess.Popen[str]) -> None:
    """Stop the simulator (its process group: the workers too) and wait for it."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) of the live processes of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # pgrp
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _exit_on_sigterm() -> None:
    # The simulator has its own process group, so a benchmark ended by SIGTERM (say,
    # by `timeout`) would leave it running: make SIGTERM unwind through `finally`.
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
