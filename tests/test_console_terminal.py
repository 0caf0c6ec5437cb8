"""The console needs a terminal: without one, ``vcfleet demo`` and ``vcfleet tui`` say so in
one line (exit code 2) before anything starts; and a console that has ended leaves no
signal handler of Textual's behind (a SIGCONT then was "no running event loop")."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.simulated import write_inventory

pytestmark = pytest.mark.timeout(60)

DEMO_LINE = "vcfleet demo: no terminal ({}): run it in a terminal, or use --headless"
TUI_LINE = "vcfleet tui: no terminal ({}): run it in a terminal, or use vcfleet sweep"


def vcfleet(args: list[str], tmp_path: Path, **streams: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state"),
           "XDG_DATA_HOME": str(tmp_path / "data"), "VCFLEET_HISTORY": str(tmp_path / "h.db")}
    return subprocess.run([sys.executable, "-m", "vcfleet", *args], cwd=ROOT, env=env,
                          text=True, timeout=30, **streams)  # type: ignore[call-overload]


@pytest.mark.parametrize(("command", "line"), [("demo", DEMO_LINE), ("tui", TUI_LINE)])
def test_without_a_terminal_the_console_refuses_in_one_line(
        command: str, line: str, tmp_path: Path, loopback_prefix: str) -> None:
    inventory = write_inventory(tmp_path / "fleet", loopback_prefix)
    proc = vcfleet([command, "--inventory", str(inventory)], tmp_path, input="",
                   capture_output=True)
    expected = line.format("stdin is not one") + "\n"
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", expected)
    assert not (tmp_path / "state").exists()  # the demo started no simulator


@pytest.mark.parametrize(("command", "line"), [("demo", DEMO_LINE), ("tui", TUI_LINE)])
def test_stderr_redirected_is_no_terminal_either(command: str, line: str, tmp_path: Path,
                                                 loopback_prefix: str) -> None:
    """``vcfleet demo 2>log`` in a terminal: the console would draw into the file."""
    inventory = write_inventory(tmp_path / "fleet", loopback_prefix)
    master, slave = pty.openpty()
    try:
        with (tmp_path / "log").open("w") as log:
            proc = vcfleet([command, "--inventory", str(inventory)], tmp_path, stdin=slave,
                           stdout=slave, stderr=log)
    finally:
        os.close(slave)
        os.close(master)
    assert proc.returncode == 2
    assert (tmp_path / "log").read_text() == line.format("stderr is not one") + "\n"
    assert not (tmp_path / "state").exists()


CONSOLE_THEN_SIGCONT = """
import argparse, os, signal, sys
from inventory import load_inventory
from vcfleet.commands import tui
args = argparse.Namespace(checks="net", history=None, no_history=True, report_dir=None)
rc = tui.run_console(load_inventory(sys.argv[1]), args)
os.kill(os.getpid(), signal.SIGCONT)  # e.g. the shell resuming the job after the console
signal.signal(signal.SIGCONT, signal.SIG_DFL)
print("after SIGCONT", rc, file=sys.stderr, flush=True)
"""


def read_until(fd: int, text: bytes, timeout: float) -> bytes:
    """Read the pty until ``text`` shows (or the child closes it, or the deadline)."""
    out = b""
    deadline = time.monotonic() + timeout
    while text not in out and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def test_sigcont_after_the_console_ended_is_harmless(tmp_path: Path,
                                                     loopback_prefix: str) -> None:
    inventory = write_inventory(tmp_path / "fleet", loopback_prefix)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-c", CONSOLE_THEN_SIGCONT, str(inventory)],
                            stdin=slave, stdout=slave, stderr=slave, env=env, cwd=ROOT,
                            start_new_session=True)
    os.close(slave)
    try:
        shown = read_until(master, "Điểm cầu".encode(), 30)
        assert "Điểm cầu".encode() in shown, shown[-2000:]
        os.write(master, b"q")
        after = read_until(master, b"after SIGCONT 0", 20)
        rc = proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        os.close(master)
    assert b"no running event loop" not in after, after[-2000:]
    assert b"after SIGCONT 0" in after, after[-2000:]
    assert rc == 0
