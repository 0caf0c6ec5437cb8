"""``vcfleet responder`` as a process: ready line, a real probe against it, clean stop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from probes.base import Target
from probes.webrtc import Settings, probe
from tests.conftest import ROOT


def test_token_is_required() -> None:
    env = {k: v for k, v in os.environ.items() if k != "VCFLEET_RESPONDER_TOKEN"}
    proc = subprocess.run([sys.executable, "-m", "vcfleet", "responder", "--listen",
                           "127.0.0.1:0"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("no token: give --token-file FILE or set "
                                   "$VCFLEET_RESPONDER_TOKEN (or --no-auth for a closed lab)")


def test_bad_listen_address() -> None:
    proc = subprocess.run([sys.executable, "-m", "vcfleet", "responder", "--no-auth",
                           "--listen", "nowhere"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "--listen: expected HOST:PORT, got 'nowhere'"


@pytest.mark.timeout(90)
async def test_serves_a_probe_and_stops_on_sigterm(tmp_path: Path, loopback_prefix: str) -> None:
    token_file = tmp_path / "token.txt"
    token_file.write_text("s3cret\n")
    host = f"{loopback_prefix}.7"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", "responder", "--listen", f"{host}:0",
        "--token-file", str(token_file), cwd=ROOT, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            line = (await proc.stdout.readline()).decode().strip()
        assert line.startswith(f"ready http://{host}:")
        url = line.split()[1]
        result = await probe(Target(host, url=url, token="s3cret"), Settings(duration_s=1.5))
        assert result.ok, result.reason
        assert result.figures["rtt_ms"] < 100
    finally:
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(20):
            _, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
