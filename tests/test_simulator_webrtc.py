"""The project's WebRTC echo responder served by the simulator, probed by the loopback probe."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from simulator import parse_faults, webrtc
from tests.simulated import TOKEN, simulated_fleet

pytestmark = pytest.mark.skipif(not webrtc.available(),
                                reason="probes.webrtc_responder is not there")


async def test_responder_listens_per_endpoint_and_checks_the_token(
        tmp_path: Path, loopback_prefix: str) -> None:
    faults = parse_faults("- {select: id=poly-2, services: {webrtc: down}}\n"
                          "- {select: id=yealink-3, services: {webrtc: hang}}\n", "t")
    async with simulated_fleet(tmp_path, loopback_prefix, faults) as (sim, _):
        assert sim.endpoints["cisco-ce-1"].running["webrtc"][0] == "up"
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            url = f"http://{loopback_prefix}.1:8089/whip"
            async with http.post(url, data="v=0\r\n",
                                 headers={"Content-Type": "application/sdp",
                                          "Authorization": "Bearer wrong"}) as r:
                assert r.status == 401
            with pytest.raises(aiohttp.ClientConnectionError):
                await http.post(f"http://{loopback_prefix}.2:8089/whip", data="")
            hung = aiohttp.ClientTimeout(total=1.0)
            with pytest.raises(TimeoutError):  # accepts the connection, never answers
                await http.post(f"http://{loopback_prefix}.3:8089/whip", data="", timeout=hung)


async def test_loopback_probe_sees_the_injected_delay(tmp_path: Path, loopback_prefix: str
                                                      ) -> None:
    from probes.base import Target
    from probes.webrtc import Settings, probe

    faults = parse_faults("- {select: id=yealink-3, delay_ms: 80}\n", "t")
    async with simulated_fleet(tmp_path, loopback_prefix, faults):
        target = Target(address=f"{loopback_prefix}.3", port=8089,
                        url=f"http://{loopback_prefix}.3:8089/whip", token=TOKEN)
        result = await probe(target, Settings(duration_s=2.0))
    assert result.ok, result.reason
    # the responder's media leaves through the endpoint's shaper: +80 ms per round trip
    assert 75.0 <= result.figures["rtt_ms"] <= 200.0, result.figures
