"""Every use of a private name of aiortc, in one place (tested against aiortc 1.16).

aiortc has no public way to do what the probe and the echo responder need:
take encoded frames before the decoder, read and send RTCP reports at times of
our choosing, hear keyframe requests, and find the tasks and sockets a peer
connection leaves behind.  The functions here do it, each naming the upstream
name it touches and why; nothing else in vcfleet names a private attribute of
aiortc.  ``UPSTREAM`` lists those names, and tests/test_library_internals.py
checks each against the installed aiortc; docs/webrtc.md ("Private internals
we use") is the reader's list.

A name found missing at run time raises ``UpstreamChanged`` with the same
one-line message as the test, never a bare AttributeError from deep in a call.
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import aiortc.clock
import aiortc.rtcrtpreceiver
from aiortc import (
    RTCCertificate,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpReceiver,
    RTCRtpSender,
)
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.utils import uint16_gt

from probes.upstream import Upstream, UpstreamChanged

RtcpObserver = Callable[[Any], None]
"""Called with one RTCP packet (any ``aiortc.rtp.Rtcp*Packet``)."""


def _aiortc(owner: str, name: str, kind: Literal["field", "method", "function"], why: str,
            parameters: tuple[str, ...] | None = None, source_has: tuple[str, ...] = ()
            ) -> Upstream:
    return Upstream("aiortc", owner, name, kind, why, parameters, source_has)


RECEIVER_DECODER_QUEUE = _aiortc(
    "RTCRtpReceiver", "__decoder_queue", "field",
    "replace_decoder_queue: a FrameTap takes encoded frames before the decoder thread")
RECEIVER_RECEIVE = _aiortc(
    "RTCRtpReceiver", "receive", "method",
    "no_decoder_thread: the receiver starts its decoder thread through its module's "
    "`threading`, which a tapped receiver's (FrameTap) does not need", ("parameters",),
    source_has=("self.__decoder_thread = threading.Thread(", "self.__decoder_queue,",
                "self.__decoder_thread.start()"))
RECEIVER_JITTER_BUFFER = _aiortc(
    "RTCRtpReceiver", "__jitter_buffer", "field",
    "replace_jitter_buffer: an audio echo passes every packet on at once")
RECEIVER_KIND = _aiortc(
    "RTCRtpReceiver", "__kind", "field",
    "receiver_kind: only audio skips the jitter buffer (the receiver's track may not exist yet)")
RECEIVER_HANDLE_RTP = _aiortc(
    "RTCRtpReceiver", "_handle_rtp_packet", "method",
    "depayloaded, replace_*: how each RTP packet reaches the jitter buffer and the decoder queue",
    source_has=("packet._data = depayload(codec, packet.payload)",
                "self.__jitter_buffer.add(packet)",
                "self.__decoder_queue.put((codec, encoded_frame))",
                "if encoded_frame is not None and self.__decoder_thread:"))
RECEIVER_RTCP_SSRC = _aiortc(
    "RTCRtpReceiver", "__rtcp_ssrc", "field",
    "receiver_rtcp_ssrc: the SSRC our own receiver reports carry")
RECEIVER_REMOTE_STREAMS = _aiortc(
    "RTCRtpReceiver", "__remote_streams", "field",
    "receiver_stream: the statistics (loss, jitter, highest sequence) of one remote SSRC")
STREAM_STATISTICS = tuple(_aiortc(
    "StreamStatistics", field, "field",
    "receiver_stream: what a receiver report about the stream carries")
    for field in ("max_seq", "fraction_lost", "packets_lost", "packets_received", "jitter"))
STREAM_STATISTICS_ADD = _aiortc(
    "StreamStatistics", "add", "method",
    "stamp_stream_statistics: the receiver's RFC 3550 jitter counts each packet's kernel "
    "arrival (StampedStatistics.add does what add does, with that time)", ("packet",),
    source_has=("arrival = int(time.time() * self._clockrate)",
                "self._jitter_q4 += diff - ((self._jitter_q4 + 8) >> 4)",
                "self.cycles += 1 << 16"))
RECEIVER_HANDLE_RTCP = _aiortc(
    "RTCRtpReceiver", "_handle_rtcp_packet", "method",
    "after_rtcp_received: answer each sender report at once", ("packet",))
RECEIVER_SEND_RTCP = _aiortc(
    "RTCRtpReceiver", "_send_rtcp", "method",
    "send_receiver_rtcp: send that answer", ("packet",))
RECEIVER_SEND_PLI = _aiortc(
    "RTCRtpReceiver", "_send_rtcp_pli", "method",
    "request_keyframe: the responder forwards a keyframe request to the probe",
    ("media_ssrc",))
SENDER_SSRC = _aiortc(
    "RTCRtpSender", "_ssrc", "field",
    "sender_ssrc: which receiver-report blocks are about our stream")
SENDER_COUNTERS = tuple(_aiortc(
    "RTCRtpSender", name, "field",
    "sender_counters: the state aiortc's own sender report carries, for an extra one")
    for name in ("__ntp_timestamp", "__rtp_timestamp", "__packet_count", "__octet_count"))
SENDER_SEND_RTCP = _aiortc(
    "RTCRtpSender", "_send_rtcp", "method",
    "hook_sender_rtcp, send_sender_rtcp: see every SR leave, and send extra ones", ("packets",))
SENDER_HANDLE_RTCP = _aiortc(
    "RTCRtpSender", "_handle_rtcp_packet", "method",
    "hook_sender_rtcp: see every receiver report about our stream", ("packet",),
    source_has=("self._send_keyframe()",))
SENDER_SEND_KEYFRAME = _aiortc(
    "RTCRtpSender", "_send_keyframe", "method",
    "on_keyframe_request: a PLI/FIR restarts the probe's loop or is forwarded by the responder",
    ())
ICE_GATHERER_CONNECTION = _aiortc(
    "RTCIceGatherer", "_connection", "field",
    "ice_gatherer_connection: the aioice Connection, for its sockets and its consent task")
DTLS_SET_ROLE = _aiortc(
    "RTCDtlsTransport", "_set_role", "method",
    "make_dtls_server: the responder answers setup:passive, so that the probe is the DTLS "
    "client and its 'connected' implies the responder's", ("role",))
PEER_CONNECTION_CREATE_ANSWER = _aiortc(
    "RTCPeerConnection", "createAnswer", "method",
    "make_dtls_server: an answer keeps a DTLS role set before it", (),
    source_has=('if dtlsTransport._role == "auto":', "media.dtls.role = dtlsTransport._role"))
ICE_TRANSPORT_RECV = _aiortc(
    "RTCIceTransport", "_recv", "field",
    "stamp_arrivals: the DTLS transport reads each datagram through it; the datagram's "
    "arrival time (probes.shaping.StampedDatagram) is kept while it is handled")
PEER_CONNECTION_INIT = _aiortc(
    "RTCPeerConnection", "__init__", "method",
    "new_peer_connection: the constructor's one certificate comes from generateCertificate, "
    "which it calls once", ("configuration",),
    source_has=("self.__certificates = [RTCCertificate.generateCertificate()]",))
CLOCK_FUNCTIONS = tuple(_aiortc(
    "aiortc.clock", name, "function",
    "use_fast_clock: the same value read from time, not datetime; every aiortc module "
    "calls it as clock." + name, ())
    for name in ("current_ms", "current_ntp_time"))
PEER_CONNECTION_CERTIFICATES = _aiortc(
    "RTCPeerConnection", "__certificates", "field",
    "share_certificate: a process's peer connections use one DTLS certificate")
CERTIFICATE_SSL_CONTEXT = _aiortc(
    "RTCCertificate", "_create_ssl_context", "method",
    "SharedCertificate: each DTLS transport asks its certificate for an SSL context; "
    "the shared one builds it once", ("srtp_profiles",))
PEER_CONNECTION_CONNECT = _aiortc(
    "RTCPeerConnection", "__connect", "method",
    "connect_tasks: the ICE/DTLS task aiortc does not keep, awaited on close", ())

UPSTREAM: tuple[Upstream, ...] = (
    RECEIVER_DECODER_QUEUE, RECEIVER_RECEIVE, RECEIVER_JITTER_BUFFER, RECEIVER_KIND,
    RECEIVER_HANDLE_RTP,
    RECEIVER_RTCP_SSRC, RECEIVER_REMOTE_STREAMS, *STREAM_STATISTICS, STREAM_STATISTICS_ADD,
    RECEIVER_HANDLE_RTCP,
    RECEIVER_SEND_RTCP, RECEIVER_SEND_PLI, SENDER_SSRC, *SENDER_COUNTERS, SENDER_SEND_RTCP,
    SENDER_HANDLE_RTCP, SENDER_SEND_KEYFRAME, ICE_GATHERER_CONNECTION, DTLS_SET_ROLE,
    PEER_CONNECTION_CREATE_ANSWER, PEER_CONNECTION_CONNECT, ICE_TRANSPORT_RECV,
    PEER_CONNECTION_CERTIFICATES, CERTIFICATE_SSL_CONTEXT, PEER_CONNECTION_INIT,
    *CLOCK_FUNCTIONS)
"""Every private name of aiortc this module touches."""


def _get(obj: object, entry: Upstream) -> Any:
    try:
        return getattr(obj, entry.attribute)
    except AttributeError:
        raise UpstreamChanged(entry) from None


def _replace(obj: object, entry: Upstream, value: object) -> None:
    _get(obj, entry)  # setattr alone would add the attribute and change nothing
    setattr(obj, entry.attribute, value)


# --- RTCRtpReceiver ---------------------------------------------------------------

def replace_decoder_queue(receiver: RTCRtpReceiver, queue: Any) -> None:
    """Give the receiver ``queue`` in place of its decoder queue (``__decoder_queue``).

    The receiver ``put``s ``(codec, encoded_frame)`` on it, and ``None`` when it
    stops; its decoder thread ``get``s from it, unless the queue says it does not
    decode (``decodes = False``): then no thread starts (``no_decoder_thread``).
    Call before the receiver starts.
    """
    _replace(receiver, RECEIVER_DECODER_QUEUE, queue)
    if getattr(queue, "decodes", True) is False:
        no_decoder_thread()


class _NoThread:
    """What a tapped receiver keeps as its decoder thread: nothing runs, nothing to join
    (truthy, as the receiver tests its thread before it hands a frame to the queue)."""

    name = "no-decoder"

    def start(self) -> None:
        """Nothing to start."""

    def join(self, timeout: float | None = None) -> None:
        """Nothing to wait for."""

    def is_alive(self) -> bool:
        """Never running."""
        return False


class _DecoderThreading:
    """``aiortc.rtcrtpreceiver``'s ``threading``: a receiver whose decoder queue does not
    decode (``decodes = False``, a ``FrameTap``) gets a ``_NoThread``; every other
    receiver a real decoder thread, as before."""

    Event = threading.Event

    @staticmethod
    def Thread(*, target: Any, name: str, args: tuple[Any, ...]) -> Any:
        """A decoder thread, or none for a queue that does not decode."""
        if len(args) > 1 and getattr(args[1], "decodes", True) is False:
            return _NoThread()
        return threading.Thread(target=target, name=name, args=args)


def no_decoder_thread() -> None:
    """Make tapped receivers start no decoder thread (aiortc starts one per receiver,
    a few hundred microseconds each; the tap's would only read ``None`` and end).
    Process-wide and idempotent; receivers that decode are untouched."""
    module: Any = aiortc.rtcrtpreceiver
    if not isinstance(module.threading, _DecoderThreading):
        module.threading = _DecoderThreading()


def replace_jitter_buffer(receiver: RTCRtpReceiver, buffer: Any) -> None:
    """Give the receiver ``buffer`` in place of its jitter buffer (``__jitter_buffer``).

    The receiver calls ``buffer.add(packet)`` for each RTP packet and expects
    ``(pli_flag, encoded_frame_or_None)``.
    """
    _replace(receiver, RECEIVER_JITTER_BUFFER, buffer)


def receiver_kind(receiver: RTCRtpReceiver) -> str:
    """``"audio"`` or ``"video"`` (``__kind``), known before the receiver has a track."""
    kind: str = _get(receiver, RECEIVER_KIND)
    return kind


def depayloaded(packet: Any) -> bytes:
    """The codec payload of an RTP packet the receiver has depayloaded (``RtpPacket._data``).

    Only valid inside a jitter buffer's ``add``: the receiver sets it just before.
    """
    try:
        data: bytes = packet._data
    except AttributeError:
        raise UpstreamChanged(RECEIVER_HANDLE_RTP, "no longer leaves _data on the packet") \
            from None
    return data


def receiver_rtcp_ssrc(receiver: RTCRtpReceiver) -> int | None:
    """The SSRC the receiver's own RTCP reports carry (``__rtcp_ssrc``); None before it is set."""
    ssrc: int | None = _get(receiver, RECEIVER_RTCP_SSRC)
    return ssrc


def receiver_stream(receiver: RTCRtpReceiver, ssrc: int) -> Any | None:
    """The receiver's ``StreamStatistics`` of one remote SSRC (``__remote_streams``), if any.

    It has ``max_seq`` (None before a packet), ``fraction_lost``, ``packets_lost``
    and ``jitter``, as a receiver report block carries them.
    """
    streams: dict[int, Any] = _get(receiver, RECEIVER_REMOTE_STREAMS)
    return streams.get(ssrc)


class StampedStatistics(StreamStatistics):
    """aiortc's ``StreamStatistics`` with each packet's arrival taken from its datagram's
    stamp (``datagram_arrival``), not from the clock when aiortc's task got to it.

    ``add`` is aiortc 1.16's, line for line, but for where the arrival comes from
    (``STREAM_STATISTICS_ADD`` checks that upstream's still reads as copied).  A
    packet whose datagram was not stamped uses the time now, as upstream does.
    """

    _vcfleet_arrival: Callable[[], float | None]
    """When the datagram being handled arrived (None: not stamped)."""

    def add(self, packet: Any) -> None:
        """Count one RTP packet (sequence, loss and RFC 3550 jitter, as upstream)."""
        in_order = self.max_seq is None or uint16_gt(packet.sequence_number, self.max_seq)
        self.packets_received += 1
        if self.base_seq is None:
            self.base_seq = packet.sequence_number
        if in_order:
            at = self._vcfleet_arrival()
            arrival = int((at if at is not None else time.time()) * self._clockrate)
            if self.max_seq is not None and packet.sequence_number < self.max_seq:
                self.cycles += 1 << 16
            self.max_seq = packet.sequence_number
            if packet.timestamp != self._last_timestamp and self.packets_received > 1:
                assert self._last_arrival is not None
                assert self._last_timestamp is not None
                diff = abs((arrival - self._last_arrival)
                           - (packet.timestamp - self._last_timestamp))
                self._jitter_q4 += diff - ((self._jitter_q4 + 8) >> 4)
            self._last_arrival = arrival
            self._last_timestamp = packet.timestamp


class _StampedStreams(dict[int, Any]):
    """A receiver's ``__remote_streams``: each new stream's statistics become stamped."""

    def __init__(self, receiver: RTCRtpReceiver) -> None:
        super().__init__()
        self._receiver = weakref.ref(receiver)

    def _arrival(self) -> float | None:
        receiver = self._receiver()
        return datagram_arrival(receiver.transport) if receiver is not None else None

    def __setitem__(self, ssrc: int, stats: Any) -> None:
        if type(stats) is StreamStatistics:
            stamped: Any = stats
            stamped.__class__ = StampedStatistics
            stamped._vcfleet_arrival = self._arrival
        super().__setitem__(ssrc, stats)


def stamp_stream_statistics(receiver: RTCRtpReceiver) -> None:
    """Make the receiver's statistics (its receiver reports' jitter) count each packet
    at its kernel arrival (``StampedStatistics``); call before it receives media."""
    streams: dict[int, Any] = _get(receiver, RECEIVER_REMOTE_STREAMS)
    stamped = _StampedStreams(receiver)
    for ssrc, stats in streams.items():
        stamped[ssrc] = stats
    _replace(receiver, RECEIVER_REMOTE_STREAMS, stamped)


def receiver_streams(receiver: RTCRtpReceiver) -> list[Any]:
    """The receiver's ``StreamStatistics``, one per remote SSRC, oldest first: what its
    ``getStats()`` reads (``packets_received``, ``packets_lost``) without building the
    report (the probe counts them ten times a second)."""
    streams: dict[int, Any] = _get(receiver, RECEIVER_REMOTE_STREAMS)
    return list(streams.values())


async def send_receiver_rtcp(receiver: RTCRtpReceiver, packet: Any) -> None:
    """Send one RTCP packet from the receiver (``_send_rtcp``)."""
    await _get(receiver, RECEIVER_SEND_RTCP)(packet)


async def request_keyframe(receiver: RTCRtpReceiver, media_ssrc: int) -> None:
    """Ask the sender of ``media_ssrc`` for a keyframe with a PLI (``_send_rtcp_pli``)."""
    await _get(receiver, RECEIVER_SEND_PLI)(media_ssrc)


def after_rtcp_received(receiver: RTCRtpReceiver,
                        callback: Callable[[Any, float], Awaitable[None]]) -> None:
    """After the receiver handles each RTCP packet, await ``callback(packet, arrived)``.

    ``arrived`` is the wall-clock time (``time.time()``) at which the packet's
    datagram was read from its socket when ``stamp_arrivals`` watches the transport,
    else when the packet reached the receiver.  Wraps ``_handle_rtcp_packet`` on this instance
    only: aiortc's RTP router calls it through the instance.
    """
    target: Any = receiver
    handle: Callable[[Any], Awaitable[None]] = _get(target, RECEIVER_HANDLE_RTCP)

    async def handle_rtcp(packet: Any) -> None:
        arrived = datagram_arrival(receiver.transport) or time.time()
        await handle(packet)
        await callback(packet, arrived)

    target._handle_rtcp_packet = handle_rtcp


# --- RTCRtpSender -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SenderCounters:
    """What aiortc's own sender report (SR) would carry now."""

    ntp_timestamp: int
    """NTP time at which the last RTP packet left (0 before the first)."""
    rtp_timestamp: int
    """That packet's RTP timestamp."""
    packet_count: int
    """Packets sent so far (not yet wrapped to 32 bits)."""
    octet_count: int
    """Payload octets sent so far (not yet wrapped to 32 bits)."""


def sender_ssrc(sender: RTCRtpSender) -> int:
    """The SSRC of the sender's stream (``_ssrc``)."""
    ssrc: int = _get(sender, SENDER_SSRC)
    return ssrc


def sender_counters(sender: RTCRtpSender) -> SenderCounters:
    """The sender's SR state (``__ntp_timestamp``, ``__rtp_timestamp``, ``__packet_count``,
    ``__octet_count``)."""
    ntp, rtp, packets, octets = (_get(sender, entry) for entry in SENDER_COUNTERS)
    return SenderCounters(ntp, rtp, packets, octets)


async def send_sender_rtcp(sender: RTCRtpSender, packets: list[Any]) -> None:
    """Send RTCP packets from the sender (``_send_rtcp``), as aiortc's own SRs go."""
    await _get(sender, SENDER_SEND_RTCP)(packets)


def hook_sender_rtcp(sender: RTCRtpSender, on_send: RtcpObserver,
                     on_receive: RtcpObserver) -> None:
    """Observe every RTCP packet this sender sends and receives, before aiortc acts on it.

    Wraps ``_send_rtcp`` (called by the sender's RTCP loop) and
    ``_handle_rtcp_packet`` (called by the RTP router) on this instance only.
    """
    target: Any = sender
    send: Callable[[list[Any]], Awaitable[None]] = _get(target, SENDER_SEND_RTCP)
    handle: Callable[[Any], Awaitable[None]] = _get(target, SENDER_HANDLE_RTCP)

    async def send_rtcp(packets: list[Any]) -> None:
        for packet in packets:
            on_send(packet)
        await send(packets)

    async def handle_rtcp(packet: Any) -> None:
        on_receive(packet)
        await handle(packet)

    target._send_rtcp = send_rtcp
    target._handle_rtcp_packet = handle_rtcp


def on_keyframe_request(sender: RTCRtpSender, callback: Callable[[], None]) -> None:
    """Call ``callback()`` instead of forcing a keyframe when a PLI or FIR arrives.

    Replaces ``_send_keyframe``, which the sender's ``_handle_rtcp_packet`` calls:
    our senders send pre-encoded packets, so aiortc has no encoder to ask.
    """
    _replace(sender, SENDER_SEND_KEYFRAME, callback)


# --- RTCIceGatherer, RTCIceTransport, RTCDtlsTransport, RTCPeerConnection ------------

class SharedCertificate(RTCCertificate):
    """A DTLS certificate that many peer connections of one process use, with its SSL
    contexts and fingerprints computed once.

    aiortc gives every peer connection a new ECDSA key and certificate, and every DTLS
    transport a new OpenSSL context built from it: about 1.5 ms of CPU per connection
    on each end, in one piece, before any packet flows.  A browser reuses one certificate
    for many connections (``RTCConfiguration.certificates``); so does the probe, and a new
    one is made every ``SHARED_CERTIFICATE_S``.  The context holds only the certificate,
    key, ciphers and SRTP profiles; each connection still has its own DTLS session.
    """

    def __init__(self, key: Any, cert: Any) -> None:
        super().__init__(key=key, cert=cert)
        self.made_at = time.monotonic()
        self._contexts: dict[tuple[bytes, ...], Any] = {}
        self._fingerprints: list[Any] | None = None

    def getFingerprints(self) -> list[Any]:
        """The certificate's fingerprints (computed once)."""
        if self._fingerprints is None:
            self._fingerprints = super().getFingerprints()
        return list(self._fingerprints)

    def _create_ssl_context(self, srtp_profiles: list[Any]) -> Any:
        key = tuple(profile.openssl_profile for profile in srtp_profiles)
        if key not in self._contexts:
            build: Callable[..., Any] = _get(super(), CERTIFICATE_SSL_CONTEXT)
            self._contexts[key] = build(srtp_profiles)
        return self._contexts[key]


SHARED_CERTIFICATE_S = 3600.0
"""How long one shared certificate serves new connections (aiortc's are valid 30 days)."""
_shared: list[SharedCertificate] = []


def _shared_certificate() -> SharedCertificate:
    now = time.monotonic()
    if not _shared or now - _shared[0].made_at > SHARED_CERTIFICATE_S:
        certificate = SharedCertificate.generateCertificate()
        assert isinstance(certificate, SharedCertificate)
        _shared[:] = [certificate]
    return _shared[0]


def share_certificate(pc: RTCPeerConnection) -> None:
    """Give ``pc`` the process's shared DTLS certificate (``__certificates``).

    Call right after creating ``pc``, before any transceiver exists (aiortc hands the
    certificates to each DTLS transport it creates).
    """
    _replace(pc, PEER_CONNECTION_CERTIFICATES, [_shared_certificate()])


def new_peer_connection(configuration: RTCConfiguration | None = None) -> RTCPeerConnection:
    """A peer connection as the probe and the responder use one: with the process's
    shared certificate, handed to aiortc's constructor in place of the one it would
    make (1.5 % of a media worker; ``share_certificate`` does the same for a connection
    made elsewhere, after the fact), its connect tasks tracked
    (``track_connect_tasks``), and aiortc's clock made cheap (``use_fast_clock``)."""
    use_fast_clock()
    shared = _shared_certificate()
    generate = RTCCertificate.__dict__["generateCertificate"]
    # The constructor's one call (PEER_CONNECTION_INIT); nothing else runs meanwhile.
    RTCCertificate.generateCertificate = classmethod(lambda cls: shared)  # type: ignore[assignment,method-assign]
    try:
        pc = RTCPeerConnection(configuration)
    finally:
        RTCCertificate.generateCertificate = generate  # type: ignore[method-assign]
    track_connect_tasks(pc)
    return pc


UPSTREAM_CLOCK = {"current_ms": aiortc.clock.current_ms,
                  "current_ntp_time": aiortc.clock.current_ntp_time}
"""aiortc's own clock functions, as they were before ``use_fast_clock``."""
_NTP_EPOCH_S = 2_208_988_800
"""Seconds from 1900-01-01 (NTP's epoch) to 1970-01-01 (the Unix epoch)."""


def _current_ms() -> int:
    """``aiortc.clock.current_ms``: milliseconds since the NTP epoch, from ``time``."""
    return (time.time_ns() // 1000 + _NTP_EPOCH_S * 1_000_000) // 1000


def _current_ntp_time() -> int:
    """``aiortc.clock.current_ntp_time``: the 64-bit NTP time now, from ``time``, with
    the microsecond resolution and rounding upstream's ``datetime`` arithmetic has."""
    micros = time.time_ns() // 1000 + _NTP_EPOCH_S * 1_000_000
    seconds, fraction = divmod(micros, 1_000_000)
    return (seconds << 32) | ((fraction << 32) // 1_000_000)


def use_fast_clock() -> None:
    """Make aiortc's clock (``current_ms``, ``current_ntp_time``: called for every RTP
    packet sent and every datagram received) read ``time`` instead of building
    ``datetime`` objects: 3-4 % of a media worker.  The values are upstream's (tests/
    test_library_internals.py compares them).  Process-wide and idempotent."""
    module: Any = aiortc.clock
    module.current_ms = _current_ms
    module.current_ntp_time = _current_ntp_time


_ARRIVALS: weakref.WeakKeyDictionary[Any, list[float | None]] = weakref.WeakKeyDictionary()
"""Per ICE transport: the arrival time of the datagram its DTLS transport handles now."""


def stamp_arrivals(ice_transport: Any) -> None:
    """Keep, while the DTLS transport handles each datagram, the time it arrived.

    Wraps the ICE transport's ``_recv`` (what the DTLS transport awaits for each
    datagram) on this instance: it notes the datagram's ``at`` (a
    ``probes.shaping.StampedDatagram``, stamped by the socket's shaper) or None, which
    ``datagram_arrival`` reads until the next datagram.  Idempotent.
    """
    if ice_transport in _ARRIVALS:
        return
    recv: Callable[[], Awaitable[bytes]] = _get(ice_transport, ICE_TRANSPORT_RECV)
    box: list[float | None] = [None]

    async def stamped_recv() -> bytes:
        data = await recv()
        box[0] = getattr(data, "at", None)
        return data

    ice_transport._recv = stamped_recv
    _ARRIVALS[ice_transport] = box


def datagram_arrival(dtls_transport: Any) -> float | None:
    """When the datagram ``dtls_transport`` is handling arrived (``time.time()``), if its
    ICE transport is watched (``stamp_arrivals``) and the datagram was stamped."""
    box = _ARRIVALS.get(getattr(dtls_transport, "transport", None))
    return box[0] if box is not None else None


def make_dtls_server(transport: Any) -> None:
    """Make an answerer's ``RTCDtlsTransport`` the DTLS server (``_set_role``).

    Call before ``createAnswer``: the answer then says ``a=setup:passive`` and the
    offerer becomes the client, which sends the last flight it needs and is
    connected only once the server's final flight came back.
    """
    _get(transport, DTLS_SET_ROLE)("server")


def ice_gatherer_connection(gatherer: Any) -> Any:
    """The ``aioice.Connection`` of an ``RTCIceGatherer`` (``_connection``)."""
    return _get(gatherer, ICE_GATHERER_CONNECTION)


_CONNECT_QUALNAME = PEER_CONNECTION_CONNECT.where


_CONNECT_TASKS: weakref.WeakKeyDictionary[RTCPeerConnection, list[asyncio.Task[Any]]] = \
    weakref.WeakKeyDictionary()


def track_connect_tasks(pc: RTCPeerConnection) -> None:
    """Note the tasks that run ``pc``'s ``__connect``, so that ``connect_tasks`` need not
    look through every task of the loop (hundreds in a simulator).  Wraps the method
    on this instance; call right after creating ``pc``."""
    connect: Callable[[], Awaitable[None]] = _get(pc, PEER_CONNECTION_CONNECT)
    tasks: list[asyncio.Task[Any]] = []

    async def tracked() -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.append(task)
        await connect()

    _replace(pc, PEER_CONNECTION_CONNECT, tracked)
    _CONNECT_TASKS[pc] = tasks


def connect_tasks(pc: RTCPeerConnection) -> list[asyncio.Task[Any]]:
    """The running tasks of ``pc``'s ``__connect`` (ICE then DTLS).

    aiortc starts it with ``ensure_future`` in ``set*Description`` and keeps no
    reference: a connection made with ``track_connect_tasks`` noted its tasks; any
    other's are found by their coroutine's qualified name and its ``self``.
    """
    tracked = _CONNECT_TASKS.get(pc)
    if tracked is not None:
        return [task for task in tracked if not task.done()]
    out = []
    for task in asyncio.all_tasks():
        coro: Any = task.get_coro()
        if getattr(coro, "__qualname__", "") != _CONNECT_QUALNAME:
            continue
        frame = getattr(coro, "cr_frame", None)
        if frame is not None and frame.f_locals.get("self") is pc:
            out.append(task)
    return out
