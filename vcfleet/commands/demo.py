"""``vcfleet demo``: the simulated demo fleet, a few rooms broken on purpose, and the
console on it; ``--headless`` runs one sweep and prints the readiness report instead.

The simulator runs as a child process (``vcfleet simulate``) in its own session,
with its output in a log file so that it never draws over the console.  It is
stopped on every way out: quit, Ctrl-C, SIGTERM, SIGHUP, an error; and, on Linux,
the kernel stops it if this process dies without cleaning up.

The demo never touches the operator's data: its history, reports, simulator state
and simulator log live in its own folder, ``demo_dir()`` (docs/console.md says why
one fixed folder rather than a fresh one per run).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import FrameType
from typing import IO

from inventory import InputError
from vcfleet.commands import tui as tui_command
from vcfleet.commands.common import positive_seconds

HELP = "the simulated demo fleet (a few rooms broken) and the console on it"

DEMO_CHECKS = "net,device"
"""Checks of the demo unless --checks says otherwise: the network and what each codec
itself says, trusting the simulator's host keys (``--checks all`` adds WebRTC media,
which needs more CPU than a small machine shared with the simulator has)."""
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 10.0
HISTORY_FILE = "history.sqlite3"
REPORTS = "reports"
SIMULATOR_STATE = "simulator"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet demo`` (those of ``vcfleet tui`` too)."""
    parser.add_argument("--headless", action="store_true",
                        help="no console: run one sweep and print the readiness report")
    parser.add_argument("--faults", metavar="FILE", default=None,
                        help="faults file (default: the demo's own, simulator/demo_faults.yaml)")
    parser.add_argument("--format", choices=("md", "html"), default="md",
                        help="report format of --headless (default: md)")
    parser.add_argument("--ready-timeout", type=positive_seconds, default=READY_TIMEOUT_S,
                        metavar="S",
                        help=f"how long to wait for the simulator (default: {READY_TIMEOUT_S:g})")
    tui_command.add_arguments(parser)
    parser.set_defaults(checks=DEMO_CHECKS)


def demo_dir() -> Path:
    """The demo's own folder: ``platformdirs.user_state_path("vcfleet") / "demo"``
    (``~/.local/state/vcfleet/demo`` on Linux; ``$XDG_STATE_HOME`` moves it).

    It holds ``history.sqlite3``, ``reports/`` (where ``r`` writes), ``simulator/``
    (the simulator's state directory) and the simulator's log while it runs.
    """
    import platformdirs

    return Path(platformdirs.user_state_path("vcfleet")) / "demo"


def demo_faults_path() -> Path:
    """The faults file shipped with vcfleet for the demo."""
    return Path(str(resources.files("simulator") / "demo_faults.yaml"))


def run(args: argparse.Namespace) -> int:
    """Start the simulator, then the console (or one headless sweep); always stop it."""
    from vcfleet.commands.common import inventory_of

    if not args.headless:
        tui_command.require_terminal("demo", "run it in a terminal, or use --headless")
    inventory = inventory_of(args)
    faults = Path(args.faults) if args.faults else demo_faults_path()
    if not faults.is_file():
        raise InputError(f"{faults}: no such faults file")
    assert inventory.path is not None
    folder = demo_dir()
    known_hosts = folder / SIMULATOR_STATE / "known_hosts"  # the simulator writes it
    with _stop_on_signals(), simulated_fleet(inventory.path, faults, len(inventory),
                                             args.ready_timeout, folder):
        if args.headless:
            return _headless(inventory, args, folder / HISTORY_FILE, known_hosts)
        return tui_command.run_console(inventory, args,
                                       subtitle="demo: simulated fleet, some rooms broken",
                                       history_path=folder / HISTORY_FILE,
                                       report_dir=folder / REPORTS, known_hosts=known_hosts)


def _headless(inventory: object, args: argparse.Namespace, history_path: Path,
              known_hosts: Path) -> int:
    import asyncio

    from inventory import Inventory
    from vcfleet.history import History
    from vcfleet.render.html import render_html
    from vcfleet.render.markdown import render_markdown
    from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit, run_sweep

    assert isinstance(inventory, Inventory)
    raise_open_file_limit(4096)
    from vcfleet.commands.sweep import device_trust

    trust = device_trust(inventory, inventory.endpoints, parse_checks(args.checks),
                         known_hosts, "demo")
    options = SweepOptions(checks=trust.checks, settings=trust.settings, source="demo")
    print(f"vcfleet demo: sweeping {len(inventory)} rooms…", file=sys.stderr, flush=True)
    report = asyncio.run(run_sweep(inventory, None, options))
    history = None if args.no_history else History(args.history or history_path)
    try:
        if history is not None:
            history.record(report)
        render = render_html if args.format == "html" else render_markdown
        sys.stdout.write(render(report, inventory, history))
    finally:
        if history is not None:
            history.close()
    # The demo breaks rooms on purpose: rooms not ready are its success, not a failure.
    return 1 if report.cancelled else 0


# -- the simulator as a child process --------------------------------------------------


class SimulatorFailed(InputError):
    """The simulator did not come up; its log says why."""


@contextlib.contextmanager
def simulated_fleet(inventory_path: Path, faults: Path, rooms: int,
                    ready_timeout: float = READY_TIMEOUT_S, folder: Path | None = None,
                    ) -> Iterator[subprocess.Popen[str]]:
    """``vcfleet simulate`` for this inventory, running until the block ends; its state
    directory and log in ``folder`` (default: ``demo_dir()``)."""
    folder = folder or demo_dir()
    folder.mkdir(parents=True, exist_ok=True)
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in finally
        "w+", dir=folder, prefix="simulator-", suffix=".log", delete=False)
    cmd = [sys.executable, "-m", "vcfleet", "simulate", "--inventory", str(inventory_path),
           "--faults", str(faults), "--state-dir", str(folder / SIMULATOR_STATE)]
    print(f"vcfleet demo: starting the simulated fleet ({rooms} rooms; log {log.name})…",
          file=sys.stderr, flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                            text=True, start_new_session=True, preexec_fn=_die_with_parent)
    try:
        _wait_ready(proc, ready_timeout, log.name)
        print(f"vcfleet demo: simulator ready in {time.monotonic() - t0:.1f} s",
              file=sys.stderr, flush=True)
        yield proc
    finally:
        stop_process_group(proc)
        log.close()
        if proc.returncode in (0, -signal.SIGTERM, -signal.SIGKILL):
            with contextlib.suppress(OSError):
                os.unlink(log.name)


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when the demo process dies."""
    if sys.platform.startswith("linux"):
        import ctypes

        with contextlib.suppress(Exception):
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PDEATHSIG


def _wait_ready(proc: subprocess.Popen[str], timeout: float, log_name: str) -> None:
    lines: queue.Queue[str | None] = queue.Queue()
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, lines), daemon=True).start()
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SimulatorFailed(f"vcfleet demo: the simulator was not ready within "
                                  f"{timeout:g} s (log: {log_name})")
        try:
            line = lines.get(timeout=min(left, 1.0))
        except queue.Empty:
            continue
        if line is None:
            raise SimulatorFailed(f"vcfleet demo: the simulator exited before it was ready: "
                                  f"{_tail(log_name)} (log: {log_name})")
        if line.startswith("ready"):
            return


def _pump(stream: IO[str], lines: queue.Queue[str | None]) -> None:
    """Read the child's stdout to its end (so that it never blocks on a full pipe)."""
    with contextlib.suppress(ValueError, OSError):
        for line in stream:
            lines.put(line)
    lines.put(None)


def _tail(log_name: str) -> str:
    with contextlib.suppress(OSError):
        text = Path(log_name).read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text.splitlines()[-1]
    return "no output"


def stop_process_group(proc: subprocess.Popen[str], timeout: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM the child's process group, SIGKILL what is left after ``timeout``."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
        break
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # stray simulator workers


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGTERM and SIGHUP leave through ``finally`` blocks, like Ctrl-C does."""
    def leave(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, leave) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
