"""``vcfleet serve --listen '[::1]:PORT'`` prints a URL an operator can paste: ``http://[::1]:PORT/``.

Issue 14, finding 11: it printed ``http://::1:9402/metrics``.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

FLEET = """\
tiers: [province]
endpoints:
  - id: hub
    name: Hub
    tier: province
    address: 127.0.0.9
    vendor: cisco_ce
"""


def first_line(proc: subprocess.Popen[str], timeout_s: float) -> str:
    """The first line the process writes to stderr, within a deadline."""
    assert proc.stderr is not None
    sel = selectors.DefaultSelector()
    sel.register(proc.stderr, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if sel.select(timeout=max(0.0, deadline - time.monotonic())):
            return proc.stderr.readline()
    pytest.fail(f"no line on stderr within {timeout_s} s")


def test_an_ipv6_listen_address_is_printed_in_brackets(tmp_path: Path) -> None:
    try:
        import socket

        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    (tmp_path / "fleet.yaml").write_text(FLEET, encoding="utf-8")
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path), "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcfleet", "serve", "--inventory", str(tmp_path / "fleet.yaml"),
         "--listen", "[::1]:0", "--interval", "0", "--no-history", "--media-workers", "0"],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    try:
        line = first_line(proc, 30)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert re.match(r"serving 1 endpoints on http://\[::1\]:\d+/metrics ", line), line
