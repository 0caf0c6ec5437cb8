"""Media figures are timed by the kernel's receive stamps, not by when a busy loop reads.

A datagram that arrives while the event loop runs other callbacks waits in its socket;
``probes.timestamps.LastArrival`` reads the kernel's stamp of the datagram being handled
(``SIOCGSTAMPNS``), and the shaper on each ICE socket stamps every RTP and RTCP datagram
with it.  The round-trip samples, the probe's down jitter and the responder's up jitter
(aiortc's RFC 3550 estimator, ``StampedStatistics``) all count from that stamp, so a
stall at either end does not show as network jitter or delay.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvloop

from probes.base import Target
from probes.timestamps import LastArrival
from probes.webrtc import Settings, probe
from probes.webrtc_responder import Responder
from tests.simulated import LoopStaller, running_responder

TOKEN = "probe-token"
STALL_S = 0.060


class _Recorder(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.arrival: LastArrival | None = None
        self.seen: list[tuple[bytes, float, float]] = []

    def connection_made(self, transport: Any) -> None:
        self.arrival = LastArrival(transport.get_extra_info("socket").fileno())

    def datagram_received(self, data: bytes, addr: Any) -> None:
        assert self.arrival is not None
        self.seen.append((data, self.arrival(), time.time()))


async def _stamps_while_blocked(host: str) -> tuple[list[tuple[bytes, float, float]],
                                                     list[float]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(_Recorder, local_addr=(host, 0))
    sent: list[float] = []
    try:
        assert proto.arrival is not None
        assert proto.arrival.kernel
        addr = transport.get_extra_info("sockname")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:

            def busy() -> None:  # the loop is stuck in here while both datagrams arrive
                for name in (b"a", b"b"):
                    sent.append(time.time())
                    sender.sendto(name, addr)
                    time.sleep(0.020)
                time.sleep(0.060)

            loop.call_soon(busy)
            deadline = loop.time() + 2.0
            while len(proto.seen) < 2 and loop.time() < deadline:
                await asyncio.sleep(0.005)
    finally:
        transport.close()
    return proto.seen, sent


@pytest.mark.parametrize("loop_kind", ["asyncio", "uvloop"])
def test_last_arrival_is_the_kernels_stamp_of_the_datagram_being_handled(
        loop_kind: str, loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    run = asyncio.run if loop_kind == "asyncio" else uvloop.run
    seen, sent = run(_stamps_while_blocked(host))
    assert [data for data, _, _ in seen] == [b"a", b"b"]
    for (_, stamp, handled), at in zip(seen, sent, strict=True):
        assert at <= stamp < at + 0.005  # on arrival, within the loopback's microseconds
        assert handled - stamp > 0.050  # read once the loop was free, 60-80 ms later


def _is_rtp(data: Any) -> bool:
    """An SRTP packet that is not RTCP (RFC 5761: packet types 192-208 are RTCP)."""
    return len(data) >= 2 and 127 < data[0] < 192 and not 192 <= data[1] <= 208


@pytest.fixture
async def stalling_responder(loopback_prefix: str) -> AsyncIterator[Responder]:
    """A responder whose event loop (shared with the probe here) stalls 60 ms after every
    tenth RTP datagram it reads: both ends are late to read and to send."""
    staller = LoopStaller(_is_rtp, STALL_S, every=10, seed=11)
    async with running_responder(f"{loopback_prefix}.1", staller, TOKEN) as r:
        yield r


async def test_stalls_at_both_ends_do_not_show_as_jitter_or_delay(
        stalling_responder: Responder) -> None:
    settings = Settings(duration_s=2.0, signalling_timeout_s=3.0, connect_timeout_s=3.0)
    result = await probe(Target(stalling_responder.host, port=stalling_responder.port,
                                name="room", url=stalling_responder.url, token=TOKEN),
                         settings)
    assert result.ok, result.reason
    shaper = stalling_responder.shaper
    assert isinstance(shaper, LoopStaller)
    assert shaper.stalls >= 5
    # Timed when the loop read each packet, 60 ms stalls every 10 packets made the
    # up jitter read 10 ms (vcfleet before kernel stamps); the result is flagged
    # unreliable (the stalls are seen), but its figures stay true.
    assert result.unreliable
    assert result.directions["up"]["jitter_ms"] < 2.5, result.directions
    assert result.directions["down"]["jitter_ms"] < 2.5, result.directions
    assert result.figures["rtt_ms"] < 5.0, result.figures
