"""Media without codecs: what the WebRTC probe sends and what the responder reflects.

Nothing here decodes or encodes per frame (DESIGN.md, "Known costs"):

- ``tap_receiver`` takes complete encoded frames out of an ``RTCRtpReceiver``
  before its decoder, so received media costs only SRTP, depacketisation and
  the receiver's statistics (which feed its RTCP receiver reports);
- ``EchoTrack`` hands those frames back to an ``RTCRtpSender`` as
  ``av.Packet``s, which aiortc only packetises;
- ``SyntheticAudioTrack`` / ``SyntheticVideoTrack`` send Opus / VP8 packets
  encoded once per process and reused, paced on the event loop's clock.
"""

from __future__ import annotations

import array
import asyncio
import collections
import fractions
import functools
import random
import time
import weakref
from collections.abc import Callable
from typing import Any

import av
from aiortc import RTCRtpReceiver
from aiortc.jitterbuffer import JitterFrame
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from aiortc.rtp import RtcpReceiverInfo, RtcpRrPacket, RtcpSrPacket

from probes.aiortc_internals import (
    after_rtcp_received,
    datagram_arrival,
    depayloaded,
    receiver_kind,
    receiver_rtcp_ssrc,
    receiver_stream,
    replace_decoder_queue,
    replace_jitter_buffer,
    send_receiver_rtcp,
    stamp_stream_statistics,
)

AUDIO_PTIME_S = 0.020
"""Opus frame duration the probe sends (20 ms, as browsers do)."""
AUDIO_CLOCK = 48_000
"""RTP clock rate of Opus (RFC 7587): jitter in RTCP is counted in these units."""
VIDEO_CLOCK = 90_000
"""RTP clock rate of every video codec."""
VIDEO_FPS = 15

FrameHandler = Callable[[Any, Any], None]
"""``on_frame(codec: RTCRtpCodecParameters, frame)``; ``frame.data`` is the encoded frame."""


class FrameTap:
    """Stands in for an ``RTCRtpReceiver``'s decoder queue: frames go to a callback.

    aiortc's receiver puts ``(codec, encoded_frame)`` into a queue read by a
    decoder thread, and ``None`` when it stops.  The tap passes frames to
    ``on_frame`` on the event loop instead; it says it does not decode
    (``decodes``), so that the receiver starts no decoder thread
    (``aiortc_internals.no_decoder_thread``).  Should one start anyway, its first
    ``get()`` reads ``None`` and it ends at once: nothing is decoded.
    """

    decodes = False
    """Says to ``replace_decoder_queue`` that no decoder thread need start."""

    def __init__(self, on_frame: FrameHandler, meter: bool = False,
                 arrival: Callable[[], float | None] | None = None) -> None:
        self.on_frame = on_frame
        self._arrival = arrival
        self.ended = False
        self.frames = 0
        self.octets = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self.jitter = JitterMeter() if meter else None
        """The interarrival deviation of the frames, when asked for (the probe's audio),
        at each frame's ``arrival()`` (its datagram's kernel arrival; None: now)."""

    def put(self, item: tuple[Any, Any] | None, *_: Any) -> None:
        """Receive one encoded frame from the receiver (None: the receiver stopped)."""
        if item is None:
            self.ended = True
            return
        if self.ended:
            return
        codec, frame = item
        now = time.monotonic()
        if self.first_at is None:
            self.first_at = now
        self.last_at = now
        self.frames += 1
        self.octets += len(frame.data)
        if self.jitter is not None:
            at = self._arrival() if self._arrival is not None else None
            self.jitter.add(at if at is not None else time.time(), frame.timestamp,
                            codec.clockRate)
        self.on_frame(codec, frame)

    def get(self, *_: Any, **__: Any) -> None:
        """What the decoder thread reads: nothing, so it ends."""

    def bitrate_bps(self) -> float | None:
        """Received encoded-media bitrate between the first and the last frame."""
        if self.first_at is None or self.last_at is None or self.last_at <= self.first_at:
            return None
        return self.octets * 8 / (self.last_at - self.first_at)


class JitterMeter:
    """The mean interarrival deviation |D| (RFC 3550 section 6.4.1) of a stream, in seconds.

    RFC 3550's jitter is an estimator that moves by 1/16 of each |D|: it starts at 0,
    and on a path that reorders (a jitter wider than the packet spacing) it counts only
    the packets that arrive in order, as aiortc's receiver does, so that it settles
    over seconds and one reading spreads widely (±6 ms at 38 ms for 150 ± 150 ms of
    injected jitter).  The mean of |D| over the same in-order pairs is what that
    estimator converges to, without the start at 0 and with a spread that shrinks with
    the number of pairs (``pairs``).  ``restart`` begins a new mean (the window).
    """

    def __init__(self) -> None:
        self.total = 0.0
        self.pairs = 0
        self._last: tuple[float, int] | None = None

    def add(self, arrival: float, timestamp: int, clock: int) -> None:
        """One packet: ``arrival`` in seconds, ``timestamp`` its RTP timestamp."""
        last = self._last
        if last is not None:
            advance = (timestamp - last[1]) & 0xFFFFFFFF
            if not advance or advance >= 1 << 31:
                return  # out of order (or a repeat): not counted, as aiortc does
            self.total += abs((arrival - last[0]) - advance / clock)
            self.pairs += 1
        self._last = (arrival, timestamp)

    def restart(self) -> None:
        """Begin a new mean from the next packet pair."""
        self.total, self.pairs = 0.0, 0

    def mean_s(self) -> float | None:
        """The mean |D| in seconds, None before any pair."""
        return self.total / self.pairs if self.pairs else None


class PassThroughBuffer:
    """Stands in for an audio receiver's jitter buffer: every packet is a frame, at once.

    aiortc's audio jitter buffer holds four packets (80 ms) before releasing one,
    and after a lost packet it discards good ones until the gap leaves its
    window: fine before a decoder, wrong for an echo, whose media would stall and
    thin out well beyond the real loss.  An Opus RTP packet is a whole frame, so
    no reassembly is needed.
    """

    capacity = 1

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        """Turn a depayloaded RTP packet into a frame right away."""
        return False, JitterFrame(data=depayloaded(packet), timestamp=packet.timestamp)


def tap_receiver(receiver: RTCRtpReceiver, on_frame: FrameHandler | None = None,
                 meter: bool = False) -> FrameTap:
    """Take the receiver's encoded frames before its decoder; call before it starts.

    Audio also skips the receiver's jitter buffer (``PassThroughBuffer``), so each
    of its frames is one packet, and ``meter`` measures their interarrival deviation
    (``FrameTap.jitter``) at each datagram's kernel arrival.  The receiver's
    statistics count each packet at that arrival too (``stamp_stream_statistics``:
    the jitter its receiver reports carry); its NACKs and RTCP reports are untouched.
    """
    audio = receiver_kind(receiver) == "audio"
    tap = FrameTap(on_frame or _ignore, meter=meter and audio,
                   arrival=functools.partial(_arrival_at, weakref.ref(receiver)))
    stamp_stream_statistics(receiver)
    if audio:
        replace_jitter_buffer(receiver, PassThroughBuffer())
    replace_decoder_queue(receiver, tap)
    return tap


def _arrival_at(receiver: weakref.ref[RTCRtpReceiver]) -> float | None:
    """When the datagram the receiver is handling now arrived (its kernel stamp), if known.

    An audio frame reaches the tap in the same step as its one datagram
    (``PassThroughBuffer``), so the datagram's stamp is the frame's arrival."""
    alive = receiver()
    return datagram_arrival(alive.transport) if alive is not None else None


def answer_sender_reports(receiver: RTCRtpReceiver) -> None:
    """Make the receiver answer every RTCP sender report (SR) with a receiver report at once.

    aiortc reports every 0.5-1.5 s, which gives a 3 s probe one or two round-trip
    samples, and a single late wake-up then decides its RTT.  Answering each SR
    (RFC 3550 allows reports at any time; they are ordinary RRs with LSR/DLSR)
    gives the probe a sample per SR it sends.
    """
    after_rtcp_received(receiver, functools.partial(_answer_sender_report, receiver))


async def _answer_sender_report(receiver: RTCRtpReceiver, packet: Any, arrived: float) -> None:
    if not isinstance(packet, RtcpSrPacket):
        return
    ssrc_of_reports = receiver_rtcp_ssrc(receiver)
    stream = receiver_stream(receiver, packet.ssrc)
    if ssrc_of_reports is None or stream is None or stream.max_seq is None:
        return
    delay = max(1, int((time.time() - arrived) * 65536))
    report = RtcpReceiverInfo(
        ssrc=packet.ssrc, fraction_lost=stream.fraction_lost, packets_lost=stream.packets_lost,
        highest_sequence=stream.max_seq, jitter=stream.jitter,
        lsr=(packet.sender_info.ntp_timestamp >> 16) & 0xFFFFFFFF, dlsr=delay)
    await send_receiver_rtcp(receiver, RtcpRrPacket(ssrc=ssrc_of_reports, reports=[report]))


def _ignore(codec: Any, frame: Any) -> None:
    return None


class EchoTrack(MediaStreamTrack):
    """Sends back, as ``av.Packet``s, the encoded frames a ``FrameTap`` received.

    Each packet is stamped with the responder's own clock when the sender takes
    it, so that the RTP timestamps of the echo describe when the responder sent
    it: the probe's down jitter then measures the down path alone, not the up
    path's jitter reflected back.
    """

    def __init__(self, kind: str, max_queue: int = 32) -> None:
        super().__init__()
        self.kind = kind
        self._queue: collections.deque[bytes] = collections.deque(maxlen=max_queue)
        self._ready = asyncio.Event()
        self._clock: int | None = None
        self._time_base: fractions.Fraction | None = None
        self._origin = time.monotonic()
        self._last_pts = -1
        self.mime_type: str | None = None
        """The codec of the frames echoed (the sender must be using the same)."""
        self.dropped = 0

    def push(self, codec: Any, frame: Any) -> None:
        """Queue one received frame for echo (the oldest goes if the sender lags)."""
        if self.mime_type is None:
            self.mime_type = codec.mimeType.lower()
            self._clock = int(codec.clockRate)
            self._time_base = fractions.Fraction(1, self._clock)
        elif codec.mimeType.lower() != self.mime_type:
            self.dropped += 1  # a codec switch cannot be echoed without transcoding
            return
        if len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(frame.data)
        self._ready.set()

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        """The next frame to send, as a pre-encoded packet."""
        while not self._queue:
            if self.readyState != "live":
                raise MediaStreamError
            self._ready.clear()
            await self._ready.wait()
        if self.readyState != "live":
            raise MediaStreamError
        assert self._clock is not None
        assert self._time_base is not None
        packet = av.Packet(self._queue.popleft())
        pts = max(int((time.monotonic() - self._origin) * self._clock), self._last_pts + 1)
        self._last_pts = pts
        packet.pts = pts
        packet.time_base = self._time_base
        return packet

    def stop(self) -> None:
        """End the track and wake its sender."""
        super().stop()
        self._ready.set()


class _PacedPacketTrack(MediaStreamTrack):
    """Sends a cycle of pre-encoded packets at a fixed rate on the monotonic clock.

    Each packet's timestamp is the moment it is handed to the sender, not its
    slot on the ideal grid: a late wake-up of this process then shifts the
    timestamp with the packet, and does not show as network jitter at the far end.
    """

    def __init__(self, packets: list[bytes], interval_s: float, clock: int) -> None:
        super().__init__()
        self._packets = [av.Packet(p) for p in packets]
        self._interval = interval_s
        self._clock = clock
        self._last_pts = -1
        self._time_base = fractions.Fraction(1, clock)
        self._start: float | None = None
        self._index = 0
        self.sent = 0
        self.send_times: list[float] = []
        """Wall-clock time (``time.time()``) at which each packet was handed to the sender."""

    def restart_cycle(self) -> None:
        """Send the first packet of the cycle next (a keyframe, for video)."""
        self._index = 0

    async def recv(self) -> av.Packet:  # type: ignore[type-arg]
        """The next packet, when its time has come."""
        if self.readyState != "live":
            raise MediaStreamError
        # time.monotonic(), not loop.time(): uvloop's clock (the media workers' loop)
        # has whole milliseconds and is read once per loop iteration, and a timestamp
        # off by that would show as jitter at the far end.
        if self._start is None:
            self._start = time.monotonic()
        else:
            wait = self._start + self.sent * self._interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            if self.readyState != "live":
                raise MediaStreamError
        packet = self._packets[self._index]
        self._index = (self._index + 1) % len(self._packets)
        pts = max(round((time.monotonic() - self._start) * self._clock), self._last_pts + 1)
        self._last_pts = pts
        packet.pts = pts
        packet.time_base = self._time_base
        self.sent += 1
        self.send_times.append(time.time())
        return packet


class SyntheticAudioTrack(_PacedPacketTrack):
    """20 ms Opus packets (encoded once per process) at 50 packets a second."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__([opus_packet()], AUDIO_PTIME_S, AUDIO_CLOCK)


class SyntheticVideoTrack(_PacedPacketTrack):
    """A two-second loop of VP8 frames (encoded once per process) at 15 frames a second."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__(vp8_packets(), 1.0 / VIDEO_FPS, VIDEO_CLOCK)


@functools.cache
def opus_packet() -> bytes:
    """One 20 ms Opus packet of noise-like sound at about 32 kbit/s (speech-sized)."""
    ctx = av.CodecContext.create("libopus", "w")
    ctx.sample_rate, ctx.layout, ctx.format, ctx.bit_rate = AUDIO_CLOCK, "stereo", "s16", 32_000
    ctx.time_base = fractions.Fraction(1, AUDIO_CLOCK)
    rng = random.Random(7)
    packets: list[bytes] = []
    for i in range(8):
        # Gaussian noise (sigma 3000, interleaved stereo s16); int() truncates as a cast would.
        samples = array.array("h", (int(rng.gauss(0, 3000)) for _ in range(960 * 2)))
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(samples.tobytes())  # s16 is native-endian, as array is
        frame.sample_rate, frame.pts = AUDIO_CLOCK, i * 960
        packets += [bytes(p) for p in ctx.encode(frame)]
    return packets[-1]


@functools.cache
def vp8_packets(frames: int = 2 * VIDEO_FPS) -> list[bytes]:
    """A loop of VP8 frames (320x180, a moving gradient), the first a keyframe."""
    width, height = 320, 180
    ctx = av.CodecContext.create("libvpx", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base, ctx.bit_rate = fractions.Fraction(1, VIDEO_CLOCK), 250_000
    ctx.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0"}
    out: list[bytes] = []
    for i in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma, *chroma = frame.planes
        # Luma: a horizontal ramp moving 8 levels a frame; chroma: neutral grey.
        ramp = bytes((x + i * 8) % 256 for x in range(width))
        luma.update(_pad_rows(luma, ramp))
        for plane in chroma:
            plane.update(_pad_rows(plane, bytes([128]) * plane.width))
        frame.pts = i * (VIDEO_CLOCK // VIDEO_FPS)
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


def _pad_rows(plane: av.video.plane.VideoPlane, row: bytes) -> bytes:
    """Every row of ``plane`` set to ``row``, padded to the plane's line size."""
    return (row + bytes(plane.line_size - len(row))) * plane.height
