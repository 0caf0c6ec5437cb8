"""``/probe?module=webrtc`` against the simulator's echo responder: the media figures
arrive in base units, per direction, through the exporter's long-lived worker pool."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.simulated import simulated_fleet
from vcfleet.exporter import Exporter, ExporterConfig
from vcfleet.sweep import SweepOptions

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def values(text: str) -> dict[tuple[str, str], float]:
    return {(s.name, s.labels.get("direction", "")): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


async def test_probe_webrtc_module(tmp_path: Path, loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (_, inv):
        assert inv.path is not None
        ex = Exporter(ExporterConfig(inventory_path=inv.path, port=0, interval_s=0,
                                     options=SweepOptions(source="serve", media_workers=1)))
        await ex.start()
        try:
            url = f"http://127.0.0.1:{ex.port}/probe?target=cisco-ce-1&module=webrtc"
            headers = {"X-Prometheus-Scrape-Timeout-Seconds": "40"}
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as s, \
                    s.get(url, headers=headers) as resp:
                status, text = resp.status, await resp.text()
            pool_started = ex._media_pool is not None
        finally:
            await ex.stop()
    assert status == 200, text
    got = values(text)
    assert got[("vcfleet_probe_module_success", "")] == 1.0, text
    assert got[("vcfleet_probe_success", "")] == 1.0
    assert pool_started
    assert 0 < got[("vcfleet_webrtc_rtt_seconds", "")] < 0.2  # seconds, not ms
    assert 1.0 <= got[("vcfleet_webrtc_mos", "")] <= 4.5
    assert 0 < got[("vcfleet_webrtc_setup_seconds", "")] < 15
    for direction in ("up", "down"):
        assert 0 <= got[("vcfleet_webrtc_jitter_seconds", direction)] < 0.1
        assert 0 <= got[("vcfleet_webrtc_packet_loss_ratio", direction)] <= 1
