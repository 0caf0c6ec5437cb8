"""Round-trip samples count from the socket, not from where aiortc hands a report over.

Between a datagram's read from its socket and the probe's (or the responder's) RTCP
handler lie aioice's queue and the DTLS transport's task switch: a turn of a busy event
loop.  The shaper on each ICE socket stamps RTP and RTCP datagrams with the kernel's
arrival time (``probes.shaping.stamp_media``, tests/test_kernel_arrival.py); the probe's
arrival time and the responder's delay since the last SR (DLSR) use that stamp, so the
wait inside a busy loop is not counted as network round-trip time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from probes.base import Target
from probes.shaping import StampedDatagram, stamp_media
from probes.webrtc import Settings, probe
from probes.webrtc_responder import Responder
from tests.simulated import LoopStaller, running_responder

TOKEN = "probe-token"
STALL_S = 0.030


def test_rtp_and_rtcp_datagrams_are_stamped_and_nothing_else() -> None:
    sr = bytes([0x80, 200, 0, 6]) + bytes(24)
    rtp = bytes([0x80, 111, 0, 1]) + bytes(12)  # RTP (Opus)
    for media in (sr, rtp):
        stamped = stamp_media(media, lambda: 1234.5)
        assert isinstance(stamped, StampedDatagram)
        assert stamped == media
        assert stamped.at == 1234.5
    for other in (bytes([0x00, 0x01, 0x00, 0x00]) + bytes(16),  # STUN binding request
                  bytes([22, 0xFE, 0xFD]) + bytes(10),  # DTLS handshake record
                  b"\x80"):  # too short to tell
        assert stamp_media(other) is other


def _is_sr(data: Any) -> bool:
    """An SRTCP sender report (packet type 200)."""
    return len(data) >= 2 and 127 < data[0] < 192 and data[1] == 200


@pytest.fixture
async def slow_responder(loopback_prefix: str) -> AsyncIterator[Responder]:
    """A responder whose event loop is busy for 30 ms right after each SR is read: time
    the SR spent inside the responder, which its DLSR must include."""
    async with running_responder(f"{loopback_prefix}.1", LoopStaller(_is_sr, STALL_S),
                                 TOKEN) as r:
        yield r


async def test_time_an_sr_waits_inside_the_responder_is_not_round_trip_time(
        slow_responder: Responder) -> None:
    settings = Settings(duration_s=1.5, signalling_timeout_s=3.0, connect_timeout_s=3.0,
                        rtcp_grace_s=2.0)
    result = await probe(Target(slow_responder.host, port=slow_responder.port, name="room",
                                url=slow_responder.url, token=TOKEN), settings)
    assert result.ok, result.reason
    shaper = slow_responder.shaper
    assert isinstance(shaper, LoopStaller)
    assert shaper.stalls >= 3
    # Counted from aiortc's handler, every sample would be >= 30 ms (true RTT: ~0.1 ms).
    # The prober shares the loop and its stalls (so the result may be flagged
    # unreliable); its figures are still what this test is about.
    assert result.figures["rtt_ms"] < STALL_S * 1000 / 2, result.figures
