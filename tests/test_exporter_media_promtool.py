"""``/metrics`` after a real media sweep of the simulator passes ``promtool check metrics``:
the WebRTC figures (per direction, the bit rate in bytes per second) follow the
Prometheus naming rules."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool
from tests.simulated import simulated_fleet
from vcfleet.exporter import Exporter, ExporterConfig
from vcfleet.sweep import SweepOptions, parse_checks

pytestmark = [pytest.mark.slow, pytest.mark.timeout(150)]

HTTP = aiohttp.ClientTimeout(total=30)


async def scrape_after_first_sweep(port: int, deadline_s: float) -> str:
    """``/metrics`` once ``/-/ready`` says the first sweep completed."""
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=HTTP) as session, asyncio.timeout(deadline_s):
        while True:
            async with session.get(f"{base}/-/ready") as resp:
                if resp.status == 200:
                    break
            await asyncio.sleep(0.2)
        async with session.get(f"{base}/metrics") as resp:
            assert resp.status == 200
            return await resp.text()


async def test_metrics_after_a_media_sweep_pass_promtool(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    promtool = require_tool("promtool")
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (_, inv):
        assert inv.path is not None
        options = SweepOptions(checks=parse_checks("net,webrtc"), source="serve",
                               media_workers=1, timeouts={"webrtc": 40.0})
        ex = Exporter(ExporterConfig(inventory_path=inv.path, port=0, interval_s=3600,
                                     options=options, process_metrics=False))
        await ex.start()
        try:
            text = await scrape_after_first_sweep(ex.port, 90)
        finally:
            await ex.stop()
    names = {s.name for fam in text_string_to_metric_families(text) for s in fam.samples}
    assert {"vcfleet_webrtc_rtt_seconds", "vcfleet_webrtc_jitter_seconds",
            "vcfleet_webrtc_packet_loss_ratio", "vcfleet_webrtc_mos",
            "vcfleet_webrtc_bitrate_bytes_per_second"} <= names, sorted(names)
    assert 'vcfleet_probe_success{check="webrtc",endpoint="cisco-ce-1"} 1.0' in text or \
        'vcfleet_probe_success{endpoint="cisco-ce-1",check="webrtc"} 1.0' in text, text
    proc = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"], input=text,
                                   capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc
