"""``vcfleet demo``: the simulator comes up, the sweep finds the rooms the demo broke,
nothing is left running afterwards (also on Ctrl-C), headless and in tmux, and the
demo keeps its history and simulator state in its own folder, never the operator's.

The demo fleet is copied with its addresses moved to a random part of 127/8, so
that these tests never fight another test (or developer) over the demo's addresses.
"""

from __future__ import annotations

import importlib.util
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from inventory import load_inventory
from simulator import load_faults
from tests.conftest import ROOT, require_tool
from vcfleet.commands.demo import demo_faults_path
from vcfleet.history import History

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(importlib.util.find_spec("vcfleet.commands.simulate") is None,
                       reason="vcfleet simulate is not in this tree yet"),
]

BROKEN_DOWN = {"so-y-te", "thach-cam", "muong-ly", "tam-chung"}
"""Rooms simulator/demo_faults.yaml breaks so that their required SIP check fails."""


def moved_demo_fleet(folder: Path) -> Path:
    """The demo fleet with 127.10.Y.Z -> 127.A.Y.Z and 127.20.Y.Z -> 127.A.(100+Y).Z.

    ``A`` comes from the OS (``secrets``), like ``loopback_prefix``: independent of any
    test seed, so that runs side by side never pick the same block.
    """
    a = 100 + secrets.randbelow(151)
    src = ROOT / "inventory" / "demo"

    def move(m: re.Match[str]) -> str:
        y = int(m.group(2)) + (0 if m.group(1) == "10" else 100)
        return f"address: 127.{a}.{y}."

    text = (src / "thanh-hoa.yaml").read_text(encoding="utf-8")
    (folder / "thanh-hoa.yaml").write_text(
        re.sub(r"address: 127\.(10|20)\.(\d+)\.", move, text), encoding="utf-8")
    for f in [*src.glob("*.txt"), *src.glob("*.pem")]:  # secrets, provisioning files
        shutil.copy(f, folder / f.name)
    return folder / "thanh-hoa.yaml"


def processes_mentioning(text: str) -> list[str]:
    """Command lines of running processes that mention ``text``."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if text in cmd:
            out.append(f"{proc.name}: {cmd}")
    return out


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def env_for(tmp_path: Path) -> dict[str, str]:
    """The user's folders (XDG) and the operator's history store inside ``tmp_path``."""
    return {**os.environ, "VCFLEET_HISTORY": str(tmp_path / "history.sqlite3"),
            "XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
            "PYTHONUNBUFFERED": "1"}


def test_shipped_faults_break_the_rooms_the_docs_name() -> None:
    faults = load_faults(demo_faults_path())
    inv = load_inventory()
    broken = {e.id for rule in faults.rules for e in inv.select(rule.select)}
    assert broken >= BROKEN_DOWN
    assert {"na-meo", "so-xay-dung", "quan-son"} <= broken


DEVICE_BROKEN = {
    "so-tai-chinh": ("✖ down", "device: not registered to "),
    "yen-tho": ("✖ down", "device: camera disconnected: "),
    "tp-sam-son": ("▲ degraded", "device: busy: in a call"),
    "so-tu-phap": ("▲ degraded", "device: microphones muted: "),
}
"""Rooms whose codec demo_faults.yaml breaks: verdict and the start of the reason."""


@pytest.mark.timeout(240)
def test_headless_demo_shows_what_the_codecs_say(tmp_path: Path) -> None:
    """The device check (in the demo's default checks, tests/test_device_defaults.py)
    trusts the demo simulator's host keys: the codecs it broke are named with their
    problem, the others are read.  Only the device check, so that a loaded machine's
    network figures cannot hide the device reasons."""
    fleet = moved_demo_fleet(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "vcfleet", "demo", "--headless", "--checks", "device",
         "--inventory", str(fleet)],
        cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for room, (verdict, reason) in DEVICE_BROKEN.items():
        line = next((li for li in out.splitlines() if f"({room})" in li), "")
        assert line.startswith(f"| {verdict} |"), (room, line)
        assert reason in line, (room, line)
    assert "cannot check" not in out  # every Cisco and Poly key was trusted
    assert not processes_mentioning(str(fleet))


@pytest.mark.timeout(240)
def test_headless_demo_reports_the_broken_rooms_and_cleans_up(tmp_path: Path) -> None:
    fleet = moved_demo_fleet(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "vcfleet", "demo", "--headless", "--checks", "net",
         "--inventory", str(fleet)],
        cwd=ROOT, env=env_for(tmp_path), capture_output=True, text=True, timeout=200)
    assert proc.returncode == 0, proc.stderr
    assert "simulator ready" in proc.stderr
    out = proc.stdout
    assert out.startswith("# Readiness report — Thanh Hóa")
    down = set(re.findall(r"^\| ✖ down \| .*? \(([a-z0-9-]+)\) \|", out, re.M))
    assert down == BROKEN_DOWN
    assert "(so-xay-dung)" in out  # HTTPS down: degraded
    assert not processes_mentioning(str(fleet))
    # the operator's store ($VCFLEET_HISTORY, the user data dir) and the simulator's
    # default state are untouched; the demo's folder has the sweep and the state
    assert not (tmp_path / "history.sqlite3").exists()
    assert not (tmp_path / "data").exists()
    assert not (tmp_path / "state" / "vcfleet" / "simulator").exists()
    demo = tmp_path / "state" / "vcfleet" / "demo"
    assert (demo / "simulator" / "tls" / "cert.pem").is_file()
    assert not list(demo.glob("simulator-*.log"))  # a clean stop removes the log
    history = History(demo / "history.sqlite3")
    try:
        assert [s.source for s in history.sweeps(limit=5)] == ["demo"]
    finally:
        history.close()


@pytest.mark.timeout(240)
def test_ctrl_c_stops_the_simulator(tmp_path: Path) -> None:
    fleet = moved_demo_fleet(tmp_path)
    log = tmp_path / "stderr.txt"
    with log.open("w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "vcfleet", "demo", "--headless", "--checks", "net",
             "--inventory", str(fleet)],
            cwd=ROOT, env=env_for(tmp_path), stdout=subprocess.DEVNULL, stderr=err, text=True)
        try:
            # Interrupt while the demo waits for its simulator: the headless sweep takes
            # about a second, so an interrupt after "ready" could land after it finished
            # (exit 0) or while Python leaves (-SIGINT); the simulator takes seconds to
            # bind 348 rooms, so here the demo is surely still running.
            wait_until(lambda: bool(processes_mentioning(f"simulate --inventory {fleet}")),
                       60, "the simulator to start")
            assert "simulator ready" not in log.read_text()
            proc.send_signal(signal.SIGINT)
            rc = proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert rc == 130, log.read_text()
    assert log.read_text().splitlines()[-1] == "vcfleet: interrupted"
    wait_until(lambda: not processes_mentioning(f"simulate --inventory {fleet}"), 20,
               "the simulator to stop")


@pytest.mark.timeout(300)
def test_demo_in_tmux_shows_the_broken_rooms_red(tmp_path: Path) -> None:
    tmux = require_tool("tmux")
    fleet = moved_demo_fleet(tmp_path)
    session = f"vcfleet-demo-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in (("XDG_STATE_HOME", tmp_path / "state"),
                                            ("XDG_DATA_HOME", tmp_path / "data")))
    command = (f"cd {ROOT} && env {env} {sys.executable} -m vcfleet demo --checks net "
               f"--inventory {fleet} --report-dir {tmp_path}; echo DEMO-EXITED $?; sleep 60")

    def screen() -> str:
        return subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                              text=True, timeout=10).stdout

    def keys(*k: str) -> None:
        subprocess.run([tmux, "send-keys", "-t", session, *k], check=True, timeout=10)

    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "60",
                    command], check=True, timeout=10)
    try:
        wait_until(lambda: "348 not checked" in screen(), 150, "the console")
        assert "UBND tỉnh Thanh Hóa" in screen()
        keys("a")
        wait_until(lambda: "Last sweep" in screen(), 120, "the sweep to complete")
        assert "0 not checked" in screen()
        keys("/")
        # Type only once the filter has focus (its footer binding shows): letters that
        # reach the table first would fire its one-key bindings.
        wait_until(lambda: "Back to table" in screen(), 20, "the filter box to take focus")
        keys("verdict=down")
        wait_until(lambda: "✔ ready" not in screen() and "✖ down" in screen(), 20,
                   "the filter")
        keys("Enter")
        inv = load_inventory(fleet)
        shown = {e.id for e in inv.endpoints
                 for line in screen().splitlines()
                 if "✖ down" in line and f" {e.name[:30]}" in line}
        assert shown == BROKEN_DOWN, screen()
        keys("q")
        wait_until(lambda: "DEMO-EXITED 0" in screen(), 60, "the demo to quit")
        wait_until(lambda: not processes_mentioning(f"simulate --inventory {fleet}"), 20,
                   "the simulator to stop")
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True, timeout=10)
