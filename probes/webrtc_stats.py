"""What the WebRTC probe reads besides ``getStats()``: every RTCP report, and its own loop's lag.

- ``RtcpMonitor`` watches one ``RTCRtpSender``: when each of its sender reports
  (SR) left, and every receiver-report block the far end sent about our
  stream.  Each block whose LSR names one of our SRs gives a round-trip sample
  ``arrival - SR departure - DLSR`` (RFC 3550 section 6.4.1).  aiortc itself
  keeps only an average, and only for a block naming the latest SR, which
  leaves a 3 s window with no sample too often.  ``start(interval)`` also sends
  an extra SR every ``interval`` (the same SR aiortc would send): a peer that
  answers each SR with a report (our responder does) then gives a sample every
  interval, whose median shrugs off one late wake-up on either side.
- ``LoopLag`` samples how late the event loop wakes up.  A late loop delays
  every packet's arrival time and every RTCP departure, so large lag means the
  figures describe the prober's CPU, not the network (results are then marked
  ``unreliable``).
"""

from __future__ import annotations

import asyncio
import collections
import statistics
import time
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

from aiortc import RTCRtpSender
from aiortc.rtp import RtcpRrPacket, RtcpSenderInfo, RtcpSrPacket

from probes.aiortc_internals import (
    datagram_arrival,
    hook_sender_rtcp,
    send_sender_rtcp,
    sender_counters,
    sender_ssrc,
)

_FIRST_PACKET_POLL_S = 0.02
"""How soon an extra SR is tried again when nothing has been sent since the last."""


@dataclass(frozen=True, slots=True)
class ReceiverReport:
    """One receiver-report block about our stream, as it arrived."""

    arrival: float
    """Wall-clock arrival time (``time.time()``)."""
    fraction_lost: int
    """Loss since the previous report, as an 8-bit fixed-point fraction (x/256)."""
    packets_lost: int
    """Cumulative packets lost since the stream began."""
    highest_sequence: int
    jitter: int
    """Interarrival jitter in RTP timestamp units (1/48000 s for Opus)."""
    lsr: int
    dlsr: int
    """Delay since the last SR at the far end, in 1/65536 s."""


class RtcpMonitor:
    """Records the SRs one sender sends and the receiver reports that come back."""

    def __init__(self, sender: RTCRtpSender, max_sr: int = 64) -> None:
        self.sender = sender
        self.sr_sent: collections.OrderedDict[int, float] = collections.OrderedDict()
        self.reports: list[ReceiverReport] = []
        self.rtt_samples: list[float] = []
        """Round-trip samples in seconds."""
        self._max_sr = max_sr
        self._task: asyncio.Task[None] | None = None
        self._last_lsr = 0
        hook_sender_rtcp(sender, self._sent, self._received)

    def _sent(self, packet: Any) -> None:
        if isinstance(packet, RtcpSrPacket) and packet.sender_info.ntp_timestamp:
            self._sr(packet.sender_info.ntp_timestamp)

    def _received(self, packet: Any) -> None:
        if isinstance(packet, RtcpRrPacket | RtcpSrPacket):
            self._reports(packet)

    def _sr(self, ntp_timestamp: int) -> None:
        self.sr_sent[(ntp_timestamp >> 16) & 0xFFFFFFFF] = time.time()
        while len(self.sr_sent) > self._max_sr:
            self.sr_sent.popitem(last=False)

    def _reports(self, packet: RtcpRrPacket | RtcpSrPacket) -> None:
        # When its datagram was read from the socket, not after aioice's queue and the
        # DTLS transport's task switch (a busy loop's turn, counted as RTT otherwise).
        now = datagram_arrival(self.sender.transport) or time.time()
        ours = sender_ssrc(self.sender)
        for block in packet.reports:
            if block.ssrc != ours:
                continue
            self.reports.append(ReceiverReport(now, block.fraction_lost, block.packets_lost,
                                               block.highest_sequence, block.jitter,
                                               block.lsr, block.dlsr))
            sent = self.sr_sent.get(block.lsr) if block.lsr else None
            if sent is not None and block.dlsr:
                sample = now - sent - block.dlsr / 65536.0
                if sample >= 0:
                    self.rtt_samples.append(sample)

    def start(self, interval_s: float) -> None:
        """Send an extra SR at once (as soon as a packet has been sent), then every
        ``interval_s`` seconds until ``stop``: the first report back starts the window,
        so it should not wait an interval."""
        if self._task is None:
            self._task = asyncio.create_task(self._extra_reports(interval_s),
                                             name="webrtc-extra-sr")

    async def stop(self) -> None:
        """Stop the extra SRs and wait for the task to end."""
        if self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _extra_reports(self, interval_s: float) -> None:
        wait = 0.0
        while True:
            await asyncio.sleep(wait)
            # The state aiortc's own SR carries: the last packet's NTP and RTP times.
            counters = sender_counters(self.sender)
            lsr = (counters.ntp_timestamp >> 16) & 0xFFFFFFFF
            if not counters.ntp_timestamp or lsr == self._last_lsr:
                # Nothing sent yet, or since the last SR (its LSR would not be unique).
                wait = min(interval_s, _FIRST_PACKET_POLL_S)
                continue
            wait = interval_s
            self._last_lsr = lsr
            info = RtcpSenderInfo(ntp_timestamp=counters.ntp_timestamp,
                                  rtp_timestamp=counters.rtp_timestamp,
                                  packet_count=counters.packet_count & 0xFFFFFFFF,
                                  octet_count=counters.octet_count & 0xFFFFFFFF)
            await send_sender_rtcp(self.sender, [RtcpSrPacket(ssrc=sender_ssrc(self.sender),
                                                              sender_info=info)])

    @property
    def last(self) -> ReceiverReport | None:
        """The latest receiver report, if any came."""
        return self.reports[-1] if self.reports else None


class LoopLag:
    """Samples the running event loop's wake-up lag; one per loop, shared by its probes.

    ``acquire()`` starts the sampler on first use and ``release()`` stops it (and
    awaits its task) with the last user, so that nothing outlives the probes.
    """

    INTERVAL_S = 0.010
    _per_loop: ClassVar[weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLag]] = (
        weakref.WeakKeyDictionary())

    def __init__(self, history: int = 6000) -> None:
        self.samples: collections.deque[tuple[float, float]] = collections.deque(maxlen=history)
        """(monotonic time, lag in seconds)."""
        self._users = 0
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def of_running_loop(cls) -> LoopLag:
        """The sampler of the running loop."""
        loop = asyncio.get_running_loop()
        if loop not in cls._per_loop:
            cls._per_loop[loop] = cls()
        return cls._per_loop[loop]

    def acquire(self) -> None:
        """Start sampling (or keep sampling for one more user)."""
        self._users += 1
        if self._task is None:
            self._task = asyncio.create_task(self._sample(), name="webrtc-loop-lag")

    async def release(self) -> None:
        """One user fewer; the last one stops the sampler."""
        self._users -= 1
        if self._users <= 0 and self._task is not None:
            task, self._task = self._task, None
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _sample(self) -> None:
        # time.monotonic(), not loop.time(): uvloop's clock (the media workers' loop) is
        # read once per loop iteration in whole milliseconds, so a stall inside one
        # iteration would not show in it.
        while True:
            due = time.monotonic() + self.INTERVAL_S
            await asyncio.sleep(self.INTERVAL_S)
            now = time.monotonic()
            self.samples.append((now, max(0.0, now - due)))

    def between(self, start: float, end: float) -> list[float]:
        """Lag samples (seconds) taken between two monotonic times (in time order)."""
        # From the newest back: the samples are in time order, and a window is the last
        # few seconds of a history of a minute (a whole scan cost 0.26 ms a probe).
        found: list[float] = []
        for t, lag in reversed(self.samples):
            if t < start:
                break
            if t <= end:
                found.append(lag)
        found.reverse()
        return found

    def summary(self, start: float, end: float) -> tuple[float, float]:
        """(95th percentile, maximum) lag in seconds between two monotonic times."""
        lags = self.between(start, end)
        if not lags:
            return 0.0, 0.0
        if len(lags) < 2:
            return lags[0], lags[0]
        p95 = statistics.quantiles(lags, n=20, method="inclusive")[-1]
        return p95, max(lags)
