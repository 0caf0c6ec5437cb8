"""WebRTC media loopback: real RTP to the site's echo responder and back, measured.

The probe offers a ``sendrecv`` audio (and optionally video) session to the
responder at ``Target.url`` (WHIP-style, ``Target.token`` as bearer token),
sends synthetic Opus for ``Settings.duration_s`` and reads what RTCP and its
own receiver say (docs/webrtc.md has the derivations and the units):

- ``setup_ms`` = ``signalling_ms`` (HTTP offer/answer) + ``ice_ms`` (gathering
  and connectivity checks) + ``dtls_ms`` (handshake), plus local overhead;
- ``rtt_ms``: median of the RTCP round-trip samples (our SR, the responder's
  RR with LSR/DLSR);
- ``up`` (probe to site, from the responder's receiver reports): ``jitter_ms``,
  ``loss_ratio``; ``down`` (site to probe, from our receiver): ``jitter_ms``,
  ``loss_ratio``, ``bitrate_bps``;
- ``mos`` from rtt, the worse direction's jitter and the worse direction's loss.

Loss is counted over one window per direction (RFC 3550 A.3): up between the
responder's first and last receiver report, down from our receiver's counters
between the window's start and end.  The window begins once the responder
provably decrypts (its first report about our stream, or the first echoed
packet), and the probe is the DTLS client (the responder answers
``setup:passive``), so its "connected" already implies the responder's.  A
direction counted on fewer than ``min_loss_packets`` has no ``loss_ratio``
(``info`` says "insufficient sample").  A room that lost packets measures on past
``loss_sample_packets`` while its loss is ambiguous against the threshold it is
judged by (``loss_threshold``, ``probes.loss_sample``), within its budget.

Setup waits ``connect_timeout_s`` while nothing answers, and
``lossy_connect_timeout_s`` once ICE has or any datagram came from the
responder: a room whose path carries something but whose ICE or handshake does
not finish is an ok result with ``degraded`` set ("lossy media path: ..."), which the
verdict reads as degraded, not down; a connected path whose
echo or reports never come is a failure (down).

``unreliable`` is set when this process's event loop, or the responder's
(``X-Loop-Lag-Ms`` on ending the session), lagged during the media window: a
95th percentile above ``max_loop_lag_ms`` or one stall above ``max_stall_ms``.
Arrivals are timed by the kernel, so lag below those does not reach a figure; above
them the stream sent was not a call's steady one.

Every peer connection is closed and every task ended on all paths, also when
the caller cancels the probe at its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)
from aiortc.rtcconfiguration import RTCBundlePolicy
from yarl import URL

from probes.aiortc_internals import new_peer_connection, on_keyframe_request, receiver_streams
from probes.base import OwnDeadline, ProbeResult, Target
from probes.loss_sample import DEFAULT_THRESHOLD, loss_is_clear
from probes.mos import estimate_mos
from probes.shaping import Shaper
from probes.webrtc_media import (
    AUDIO_CLOCK,
    VIDEO_CLOCK,
    FrameTap,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    tap_receiver,
)
from probes.webrtc_net import (
    close_peer_connection,
    ice_addresses,
    route_source_address,
    shape_connection,
)
from probes.webrtc_stats import LoopLag, ReceiverReport, RtcpMonitor

log = logging.getLogger(__name__)

_POLL_S = 0.1
"""How often the window looks at its counters (whether the sample suffices)."""
_RESULT_MARGIN_S = 0.5
"""Of the budget, kept for the result's way back to the sweep (a worker's channel)."""


@dataclass
class Settings(OwnDeadline):
    """How the WebRTC loopback probe runs (defaults suit a LAN or a province WAN)."""

    duration_s: float = 3.0
    """Media window of a room whose path shows loss or jitter, from the moment the
    responder provably decrypts; a clean room ends sooner (``clean_sample_packets``),
    a lossy one later (``loss_sample_packets``)."""
    clean_sample_packets: int = 75
    """A room that lost nothing ends its window once each direction counted this many
    packets (1.5 s of audio), with ``min_rtt_samples`` and both jitters below
    ``quiet_jitter_ms``.  A room losing 5 % each way shows no loss in 75 packets each way
    with probability 0.05 % (0.95^150), one losing 3 % (the default threshold) 1 %; any
    loss seen measures on to ``loss_sample_packets``.  The RFC 3550 jitter estimator
    (gain 1/16) is 99 % converged after 75 packets."""
    quiet_jitter_ms: float = 10.0
    """Jitter (either direction) at or above which the room is measured for the whole
    ``duration_s`` and on to ``jitter_sample_pairs``."""
    jitter_sample_pairs: int = 150
    """A jittery room measures on until the down jitter is the mean of this many packet
    pairs that arrived in order.  On a path that reorders, few do (150 ± 150 ms of
    injected jitter: 1 in 6, so 150 pairs take 9 s): the mean's spread there is 5.3 ms
    on 48 pairs (3 s) and 3.1 ms on 150, so such a room, 8.5 ms above the 30 ms
    threshold, reads below it 5 % of the time on 3 s and 0.3 % on 150 pairs (seeded
    simulation of the shaper; without reordering 150 pairs take 3 s)."""
    min_rtt_samples: int = 5
    """Round-trip samples a clean room needs before its window may end."""
    max_window_s: float = 12.0
    """The longest window, whatever the sample still wants (the check's budget usually
    ends it first)."""
    audio: bool = True
    """Send synthetic Opus (20 ms packets, about 32 kbit/s); its figures are the primary ones."""
    video: bool = False
    """Also send synthetic VP8 (320x180, 15 fps); adds ``video_*`` figures per direction."""
    ice_servers: list[str] = field(default_factory=list)
    """STUN/TURN URLs.  None by default: on a closed network a STUN server stalls
    every gathering for 5 s."""
    ice_username: str | None = None
    """TURN username, for every TURN URL in ``ice_servers``."""
    ice_credential: str | None = field(default=None, repr=False)
    """TURN password."""
    ice_address: str | None = None
    """Local address for ICE host candidates.  None: the address the routing table
    uses to reach the responder; "" (empty): every interface (aioice's default)."""
    signalling_timeout_s: float = 3.0
    """Deadline of the HTTP offer/answer exchange."""
    connect_timeout_s: float = 4.0
    """Deadline of ICE and DTLS, once the answer is in, while nothing answers at all (a
    dead room fails fast)."""
    lossy_connect_timeout_s: float = 9.0
    """Deadline of ICE and DTLS once anything came back (ICE completed, or any datagram
    from the responder: its checks, an answer to ours, a DTLS record): under loss ICE
    checks retransmit at 0.5 s doubling and DTLS flights
    retransmit after 1, 2 and 4 s.  A room whose ICE works but whose handshake does
    not finish by then is degraded ("lossy media path"), not down."""
    rtcp_grace_s: float = 2.0
    """How long, after the connection is up, the first receiver report or echoed packet
    may take (each proves the responder decrypts what we send), and after the window,
    the first round-trip sample."""
    loss_sample_packets: int = 300
    """When a packet was lost, the window grows until each direction counted this many
    packets (6 s of audio; the binomial standard deviation at 5 % is 1.3 points on 300
    packets, 1.8 on 150), and on while the loss is still ambiguous (``loss_confidence``)."""
    loss_threshold: float | None = field(default=None, metadata={"gt": 0.0, "lt": 1.0})
    """The loss ratio the room is judged by (None: 0.03, the inventory's default); the
    sweep fills it from the room's thresholds (``thresholds.loss_ratio``), as it fills
    ``timeout_s``.  Only the window's length depends on it, never a figure."""
    loss_confidence: float = field(default=0.95, metadata={"gt": 0.0, "lt": 1.0})
    """After ``loss_sample_packets``, a room measures on (within ``max_window_s`` and the
    budget) while its loss is ambiguous: some direction's Wilson interval at this
    confidence contains ``loss_threshold`` and none lies wholly at or above it
    (``probes.loss_sample.loss_is_clear``); it stops once a direction is clearly at or
    above the threshold, or both are clearly below.  Seeded simulation of the window
    (``bench/bench_loss_rule.py``, a million rooms a row, at most 11 s of window, what a
    15 s check leaves): a 5 % room read ready (both directions below 3 %) 0.156 % of
    the time on the fixed 300 packets, 0.056 % with the rule (0.046 % of that is the
    clean sample's: no loss in 75 packets each way); its window grows from 6.0 s to
    6.4 s on average (p90 7.6 s, 3 % of the rooms to the budget); a 20 % room's stays
    6 s; a 1 % room reads ready 99.30 % -> 99.99 %.  The level changes how long the
    ambiguous rooms count, not who reads ready: at 99 % a 5 % room reads ready 0.060 %
    with a mean window of 7.2 s and p90 11 s (docs/webrtc.md)."""
    min_loss_packets: int = 50
    """Below this many packets in a direction (one second of audio), its loss is
    reported as an insufficient sample and not judged: the 99 % binomial half-width at
    3 % loss is then above 6 points, twice the threshold.  The window measures on
    (within ``max_window_s`` and the budget) until each direction counted this many.  A
    room with a direction still short is never ready on the other's figure: degraded
    ("lossy media path") when the budget cut its window, else unknown (``judge``)."""
    close_timeout_s: float = 1.5
    """Deadline for closing the peer connection and ending the session (DELETE)."""
    sender_report_interval_s: float = 0.25
    """Extra RTCP sender reports, each a round-trip sample when the responder answers it
    (vcfleet's does at once; others in their own 0.5-1.5 s rhythm)."""
    verify_tls: bool = True
    """Verify the responder's certificate when its URL is https."""
    max_loop_lag_ms: float = 50.0
    """Event-loop lag (95th percentile over the media window, here or at the responder)
    above which the result is marked unreliable.  The figures do not depend on the lag:
    every arrival is the kernel's stamp (``probes.timestamps.LastArrival``) and every
    send time is taken as the datagram leaves (RTP timestamps, SRs, the responder's
    DLSR).  What lag changes is the stream: a sender late by L sends L / 20 ms packets
    at once, so above a few packets' worth the path was not measured with the steady
    stream a call sends (10 ms before vcfleet timed arrivals by the kernel)."""
    max_stall_ms: float = 1000.0
    """Longest single event-loop stall (here or at the responder) over the media window
    above which the result is marked unreliable, which a percentile does not see: after
    a stall of S ms a sender sends S / 20 ms packets at once (50 after one second, about
    7 kB), a burst a real path's policer may drop.  (250 ms before kernel stamps, when a
    stall of S ms added S/16 to the RFC 3550 jitter.)"""
    timeout_s: float | None = None
    """The whole probe's budget (None: the check's deadline, which the sweep fills in):
    the handshake and the window are cut so that the session ends (DELETE, close) and
    the probe reports what it saw before the engine's deadline."""


async def probe(target: Target, settings: Settings | None = None) -> ProbeResult:
    """Run one media loopback against the responder at ``target.url``."""
    settings = settings or Settings()
    if not target.url:
        return ProbeResult.failure("no WebRTC responder URL for this endpoint")
    if not (settings.audio or settings.video):
        return ProbeResult.failure("nothing to send: both audio and video are off")
    run = _Loopback(target, settings)
    try:
        result = await run.measure()
    finally:
        await run.close()
    return run.with_close_time(result)


class _Failed(Exception):
    """The loopback failed; the message is the result's reason."""


_STUN_COOKIE = b"\x21\x12\xa4\x42"
"""RFC 5389's magic cookie, bytes 4-7 of every STUN message."""
_BINDING_REQUEST = 0x0001
_BINDING_ANSWERS = (0x0101, 0x0111)
"""Binding success and error responses."""
MIN_CHECKS_FOR_ESTIMATE = 3
"""ICE check transmissions below which no loss figure is estimated from them."""


def _stun_type(data: Any) -> int | None:
    """The STUN message type of a datagram, or None when it is not STUN (RFC 7983)."""
    if len(data) < 20 or data[0] > 3 or data[4:8] != _STUN_COOKIE:
        return None
    return int.from_bytes(data[0:2], "big")


class _Hearing(Shaper):
    """No impairment: notes when the first datagram from the responder arrives, and
    counts our ICE checks and the answers to them.

    Any datagram (an answer to our ICE checks, the responder's own checks, a DTLS
    record) proves the path carries something, so setup may take the long deadline.
    Each transmission of a check (retransmissions keep their transaction id) is
    answered when both it and its answer get through, with probability (1 - p)^2 for
    a loss p each way: ``loss_estimate`` says what the counts imply.
    """

    def __init__(self, on_first: Callable[[], None]) -> None:
        super().__init__()
        self.first_at: float | None = None
        self._on_first = on_first
        self.checks_sent = 0
        """Transmissions of our binding requests (ICE checks, consent checks)."""
        self.checks_answered = 0
        """Answers to them that came back (success or error)."""
        self._transactions: set[bytes] = set()

    def send(self, send: Callable[..., Any], *args: Any) -> None:
        """Count our ICE checks, then send."""
        data = args[0]
        if _stun_type(data) == _BINDING_REQUEST:
            self.checks_sent += 1
            self._transactions.add(bytes(data[8:20]))
        super().send(send, *args)

    def receive(self, deliver: Callable[..., Any], data: Any, addr: Any) -> None:
        """Note the first arrival and answers to our checks, then deliver (RTCP stamped
        with its arrival)."""
        if self.first_at is None:
            self.first_at = time.monotonic()
            self._on_first()
        if _stun_type(data) in _BINDING_ANSWERS and bytes(data[8:20]) in self._transactions:
            self.checks_answered += 1
        super().receive(deliver, data, addr)

    def loss_estimate(self) -> str:
        """What the ICE checks say about loss, for a "lossy media path" reason ("" when
        too few were sent).  Assumes the same loss each way; none answered names no
        figure, since one direction alone may be dead."""
        sent, answered = self.checks_sent, min(self.checks_answered, self.checks_sent)
        if sent < MIN_CHECKS_FOR_ESTIMATE:
            return ""
        counts = f"{answered} of {sent} ICE checks answered"
        if not answered:
            return counts
        each_way = 1.0 - (answered / sent) ** 0.5
        return f"{counts}: about {each_way * 100:.0f} % loss each way"


class _Lossy(Exception):
    """ICE works but the DTLS handshake did not finish: degraded, not down."""


@dataclass
class _Stream:
    """One media kind of the loopback: what we send, what came back, what RTCP said."""

    kind: str
    clock: int
    transceiver: RTCRtpTransceiver
    track: SyntheticAudioTrack | SyntheticVideoTrack
    tap: FrameTap
    rtcp: RtcpMonitor
    baseline: tuple[int, int] | None = None
    """Our receiver's (packets expected, packets lost) when the window began."""


class _Loopback:
    """One probe run: owns the peer connection, the HTTP session and the timeline."""

    def __init__(self, target: Target, settings: Settings) -> None:
        self.target = target
        self.settings = settings
        self.url = str(target.url)
        self.times: dict[str, float] = {}
        self.pc: RTCPeerConnection | None = None
        self.http: aiohttp.ClientSession | None = None
        self.session_url: str | None = None
        self.streams: list[_Stream] = []
        self.lag: LoopLag | None = None
        self.state_changed = asyncio.Event()
        self.hearing: _Hearing | None = None
        self.responder_lag_ms: tuple[float, float] | None = None
        """(95th percentile, max) event-loop lag the responder reported over the session."""
        self.cut_by_budget = False
        """The budget, not the sample, ended the window."""

    def _mark(self, name: str) -> None:
        self.times.setdefault(name, time.monotonic())

    def _ms(self, start: str, end: str) -> float:
        return (self.times[end] - self.times[start]) * 1000.0

    async def measure(self) -> ProbeResult:
        """Connect, send for the window, and turn what was seen into a result."""
        self._mark("start")
        self.lag = LoopLag.of_running_loop()
        self.lag.acquire()
        try:
            await self._connect()
            await self._media_window()
            await self._stop_media()  # nothing more to measure: spare both ends the CPU
            await self._end_session(self.settings.close_timeout_s)  # its answer has its lag
            self._mark("ended")
            return await self._result()
        except _Failed as exc:
            return ProbeResult.failure(str(exc), **self._setup_figures())
        except _Lossy as exc:
            info: dict[str, str | int | float | bool] = {}
            estimate = ""
            if self.hearing is not None:
                info = {"ice_checks_sent": self.hearing.checks_sent,
                        "ice_checks_answered": self.hearing.checks_answered}
                estimate = self.hearing.loss_estimate()
            return ProbeResult(ok=True, figures=self._setup_figures(), info=info,
                               degraded=f"lossy media path: {exc}"
                               + (f" ({estimate})" if estimate else ""))

    def _budget_end(self) -> float:
        """Monotonic time by which the media must end, so that ending the session and
        closing (each within ``close_timeout_s``, one after the other) and the way back to
        the sweep fit the budget."""
        if self.settings.timeout_s is None:
            return float("inf")
        reserve = 2 * self.settings.close_timeout_s + _RESULT_MARGIN_S
        return self.times["start"] + self.settings.timeout_s - reserve

    # -- connection ---------------------------------------------------------------------

    def _configuration(self) -> RTCConfiguration:
        s = self.settings
        servers = [RTCIceServer(urls=url, username=s.ice_username, credential=s.ice_credential)
                   if url.startswith(("turn:", "turns:")) else RTCIceServer(urls=url)
                   for url in s.ice_servers]
        return RTCConfiguration(iceServers=servers, bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)

    async def _local_addresses(self) -> list[str] | None:
        if self.settings.ice_address is not None:
            return [self.settings.ice_address] if self.settings.ice_address else None
        host = URL(self.url).host or self.target.address
        try:
            return [await route_source_address(host)]
        except OSError as exc:
            raise _Failed(f"no route to the responder {host}: {exc.strerror or exc}") from exc

    async def _connect(self) -> None:
        pc = self.pc = new_peer_connection(self._configuration())
        pc.on("iceconnectionstatechange", self._on_state)
        pc.on("connectionstatechange", self._on_state)
        if self.settings.audio:
            self._add_stream("audio", SyntheticAudioTrack(), AUDIO_CLOCK)
        if self.settings.video:
            self._add_stream("video", SyntheticVideoTrack(), VIDEO_CLOCK)
        addresses = await self._local_addresses()
        offer = await pc.createOffer()
        self._mark("gather")
        with ice_addresses(addresses):
            await pc.setLocalDescription(offer)
        self.hearing = _Hearing(self.state_changed.set)
        shape_connection(pc, self.hearing)  # before any await: no datagram unheard
        self._mark("gathered")
        assert pc.localDescription is not None
        answer = await self._signal(pc.localDescription.sdp)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        except Exception as exc:  # aiortc's parser raises many kinds on garbage
            raise _Failed(f"responder sent an invalid SDP answer ({type(exc).__name__}: "
                          f"{_first_line(str(exc))})") from exc
        self._mark("answer_applied")
        await self._wait_connected()

    def _add_stream(self, kind: str, track: SyntheticAudioTrack | SyntheticVideoTrack,
                    clock: int) -> None:
        assert self.pc is not None
        transceiver = self.pc.addTransceiver(track, direction="sendrecv")
        tap = tap_receiver(transceiver.receiver, meter=True)
        if isinstance(track, SyntheticVideoTrack):
            # A keyframe request (the responder forwards the client's) restarts the loop.
            on_keyframe_request(transceiver.sender, track.restart_cycle)
        self.streams.append(_Stream(kind, clock, transceiver, track, tap,
                                    RtcpMonitor(transceiver.sender)))

    def _on_state(self) -> None:
        pc = self.pc
        if pc is None:
            return
        if pc.iceConnectionState == "completed":
            self._mark("ice_done")
        if pc.connectionState == "connected":
            self._mark("connected")
        self.state_changed.set()

    async def _signal(self, offer: str) -> str:
        s = self.settings
        headers = {"Content-Type": "application/sdp"}
        if self.target.token:
            headers["Authorization"] = f"Bearer {self.target.token}"
        # One connection for the offer and the DELETE (kept alive in between, closed
        # with the session): a second TCP (and TLS) handshake per room cost both ends
        # CPU.  aiohttp retries the idempotent DELETE once if the responder closed it.
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=s.signalling_timeout_s),
            connector=aiohttp.TCPConnector(ssl=s.verify_tls, limit=1))
        self._mark("offer_sent")
        try:
            async with self.http.post(self.url, data=offer.encode(), headers=headers) as resp:
                body = await resp.text(errors="replace")
                self._mark("answer_received")
                self._check_answer(resp, body)
                location = resp.headers.get("Location")
                if location:
                    self.session_url = str(resp.url.join(URL(location)))
                return body
        except TimeoutError as exc:
            raise _Failed(f"no SDP answer from the responder within "
                          f"{s.signalling_timeout_s:g} s") from exc
        except aiohttp.ClientConnectorError as exc:
            why = exc.os_error.strerror or str(exc.os_error)
            raise _Failed(f"responder unreachable at {self.url}: {why}") from exc
        except aiohttp.ClientError as exc:
            raise _Failed(f"signalling failed: {type(exc).__name__}: {exc}") from exc

    def _check_answer(self, resp: aiohttp.ClientResponse, body: str) -> None:
        detail = _first_line(body)
        if resp.status in (401, 403):
            raise _Failed(f"responder refused the token (HTTP {resp.status})")
        if resp.status == 503:
            raise _Failed(f"responder busy (HTTP 503): {detail}")
        if resp.status != 201:
            raise _Failed(f"responder answered HTTP {resp.status} instead of 201: {detail}")
        if resp.content_type != "application/sdp":
            raise _Failed(f"responder answered {resp.content_type}, not application/sdp")

    async def _wait_connected(self) -> None:
        """Wait for DTLS: a short deadline while nothing answers, a long one once ICE does."""
        assert self.pc is not None
        s = self.settings
        begun = time.monotonic()
        try:
            while self.pc.connectionState != "connected":
                if self.pc.connectionState in ("failed", "closed"):
                    raise _Failed(self._connect_failure())
                limit = s.lossy_connect_timeout_s if self._heard() else s.connect_timeout_s
                end = min(begun + max(limit, s.connect_timeout_s), self._budget_end())
                self.state_changed.clear()
                async with asyncio.timeout(max(0.0, end - time.monotonic())):
                    await self.state_changed.wait()
        except TimeoutError:
            waited = time.monotonic() - begun
            if self.pc.iceConnectionState in ("connected", "completed"):
                raise _Lossy(f"ICE works but the DTLS handshake did not finish in "
                             f"{waited:.1f} s") from None
            if self._heard():
                raise _Lossy(f"the responder answers but ICE did not complete in "
                             f"{waited:.1f} s") from None
            raise _Failed(f"no media path within {waited:.0f} s (ICE connectivity checks "
                          "unanswered: UDP blocked or responder not listening)") from None
        self._mark("connected")

    def _heard(self) -> bool:
        """Whether anything came back: ICE done, or any datagram from the responder."""
        assert self.pc is not None
        return (self.pc.iceConnectionState in ("connected", "completed")
                or (self.hearing is not None and self.hearing.first_at is not None))

    def _connect_failure(self) -> str:
        assert self.pc is not None
        if "ice_done" not in self.times:
            return "ICE failed: no candidate pair works (UDP blocked?)"
        return "DTLS handshake failed"

    # -- media --------------------------------------------------------------------------

    async def _media_window(self) -> None:
        """Measure from the moment the responder provably decrypts what we send.

        That is its first receiver report about our stream or the first echoed
        packet: a handshake that finished late at the responder would otherwise count
        the packets it dropped meanwhile as loss.  The window then lasts
        ``duration_s``, longer when packets were lost (``loss_sample_packets``).
        """
        s = self.settings
        primary = self.streams[0]
        self._mark("media_start")
        for stream in self.streams:
            stream.rtcp.start(s.sender_report_interval_s)
        end_by = self._budget_end()
        first_by = min(time.monotonic() + s.rtcp_grace_s, end_by)
        while (not primary.rtcp.reports and not primary.tap.frames
               and time.monotonic() < first_by):
            await asyncio.sleep(0.02)
        if not primary.rtcp.reports and not primary.tap.frames:
            raise _Failed(f"connected, but no echo and no receiver report came in "
                          f"{s.rtcp_grace_s:g} s (responder not reflecting)")
        self._mark("window_start")
        for stream in self.streams:
            stream.baseline = _inbound_counters(stream)
            if stream.tap.jitter is not None:
                stream.tap.jitter.restart()
        await self._measure_until_enough(end_by)
        self._mark("window_end")
        # The first round-trip sample, and a report written after the window began.
        deadline = min(time.monotonic() + s.rtcp_grace_s, end_by)
        while (not primary.tap.frames or not primary.rtcp.rtt_samples
               or len(primary.rtcp.reports) < 2) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        self._mark("media_end")
        window = s.duration_s + s.rtcp_grace_s
        if not any(st.tap.frames for st in self.streams):
            raise _Failed(f"no media came back from the responder in {window:g} s "
                          "(echo missing)")
        if not primary.rtcp.reports:
            raise _Failed(f"no RTCP receiver report from the responder in {window:g} s "
                          "(up direction unmeasured)")
        if not primary.rtcp.rtt_samples:
            raise _Failed(f"no RTCP round-trip sample from the responder in {window:g} s")

    async def _measure_until_enough(self, end_by: float) -> None:
        """Measure until the sample suffices, within the budget (``end_by``).

        A clean room (nothing lost, quiet jitter) ends once each direction counted
        ``clean_sample_packets`` and ``min_rtt_samples`` came; otherwise the window lasts
        ``duration_s``, until each direction counted ``min_loss_packets``, while a packet
        was lost until the loss sample suffices (``_loss_done``), while the jitter is not
        quiet until the down jitter counted ``jitter_sample_pairs``.  The down jitter is
        sampled on the way.
        """
        s = self.settings
        primary = self.streams[0]
        full_end = min(self.times["window_start"] + s.duration_s, end_by)
        longest_end = self.times["window_start"] + max(s.duration_s, s.max_window_s)
        while True:
            now = time.monotonic()
            if now >= end_by:
                self.cut_by_budget = True
                return
            up = _up_interval(primary.rtcp.reports) or (0, 0)
            down = _interval(primary.baseline, _inbound_counters(primary)) or (0, 0)
            loud = self._loud(primary)
            if now >= full_end:
                jitter_done = (not loud or primary.tap.jitter is None
                               or primary.tap.jitter.pairs >= s.jitter_sample_pairs)
                if (self._loss_done(up, down) and jitter_done) or now >= longest_end:
                    return
            elif (max(up[1], down[1]) <= 0 and not loud
                  and min(up[0], down[0]) >= s.clean_sample_packets
                  and len(primary.rtcp.rtt_samples) >= s.min_rtt_samples):
                return
            await asyncio.sleep(min(_POLL_S, max(0.0, end_by - now)))

    def _loss_done(self, up: tuple[int, int], down: tuple[int, int]) -> bool:
        """Whether each direction's (packets counted, lost) suffices for its loss: at
        least ``min_loss_packets``; when a packet was lost, at least
        ``loss_sample_packets`` and no longer ambiguous (``loss_confidence``).  A
        direction that counted nothing at all (no echo, fewer than two receiver reports)
        does not hold the window: waiting would not help, and the result says so."""
        s = self.settings
        short = [n for n, _ in (up, down) if n < s.min_loss_packets]
        if short:
            return not any(short)
        counted = min(up[0], down[0])
        if up[1] <= 0 and down[1] <= 0:
            return True
        threshold = DEFAULT_THRESHOLD if s.loss_threshold is None else s.loss_threshold
        return (counted >= s.loss_sample_packets
                and loss_is_clear((up, down), threshold, s.loss_confidence))

    def _loud(self, stream: _Stream) -> bool:
        """Whether the jitter seen so far, either way, is at or above ``quiet_jitter_ms``."""
        report = stream.rtcp.last
        up_ms = report.jitter * 1000.0 / stream.clock if report is not None else 0.0
        return max(up_ms, _down_jitter_ms(stream) or 0.0) >= self.settings.quiet_jitter_ms

    async def _stop_media(self) -> None:
        """Stop the extra sender reports and our media (the echo stops with it)."""
        for stream in self.streams:
            await stream.rtcp.stop()
            stream.track.stop()

    def _setup_figures(self) -> dict[str, float]:
        t = self.times
        out: dict[str, float] = {}
        if "answer_received" in t:
            out["signalling_ms"] = self._ms("offer_sent", "answer_received")
        if "connected" in t:
            ice_end = "ice_done" if "ice_done" in t else "connected"
            out["ice_ms"] = self._ms("gather", "gathered") + self._ms("answer_applied", ice_end)
            out["dtls_ms"] = self._ms(ice_end, "connected")
            out["setup_ms"] = self._ms("start", "connected")
        return {k: round(v, 2) for k, v in out.items()}

    async def _result(self) -> ProbeResult:
        primary = self.streams[0]
        s = self.settings
        rtt_ms = statistics.median(primary.rtcp.rtt_samples) * 1000.0
        up: dict[str, float] = {}
        down: dict[str, float] = {}
        info: dict[str, str | int | float | bool] = {}
        for stream in self.streams:
            prefix = "" if stream is primary else f"{stream.kind}_"
            for direction, into, figures in (
                    ("up", up, _up_figures(stream)),
                    ("down", down, await _down_figures(stream))):
                packets = int(figures.pop("packets", 0))
                info[f"{prefix}{direction}_packets"] = packets
                if "loss_ratio" not in figures or packets < s.min_loss_packets:
                    # No figure (fewer than two reports, nothing counted) or too few.
                    figures.pop("loss_ratio", None)
                    info[f"{prefix}{direction}_loss"] = (
                        f"insufficient sample ({packets} < {s.min_loss_packets} packets)")
                _merge(into, prefix, figures)
        jitter = max(up.get("jitter_ms", 0.0), down.get("jitter_ms", 0.0))
        loss = max(up.get("loss_ratio", 0.0), down.get("loss_ratio", 0.0))
        figures = self._setup_figures()
        figures["rtt_ms"] = round(rtt_ms, 2)
        figures["mos"] = round(estimate_mos(rtt_ms, jitter, loss), 3)
        assert self.lag is not None
        p95, worst = self.lag.summary(self.times["window_start"], self.times["media_end"])
        info |= {
            "rtt_samples": len(primary.rtcp.rtt_samples),
            "loop_lag_p95_ms": round(p95 * 1000.0, 1),
            "loop_lag_max_ms": round(worst * 1000.0, 1),
            "packets_sent": primary.track.sent,
            "window_s": round(self._ms("window_start", "media_end") / 1000.0, 2),
            "preroll_ms": round(self._ms("connected", "window_start"), 1),
            "tail_ms": round(self._ms("window_end", "media_end"), 1),
            "end_ms": round(self._ms("media_end", "ended"), 1),
        }
        stalls = [("prober", p95, worst)]
        if self.responder_lag_ms is not None:
            info["responder_lag_p95_ms"], info["responder_lag_max_ms"] = self.responder_lag_ms
            stalls.append(("responder", self.responder_lag_ms[0] / 1000.0,
                           self.responder_lag_ms[1] / 1000.0))
        overloaded = [who for who, lag_p95, lag_max in stalls
                      if lag_p95 * 1000.0 > s.max_loop_lag_ms
                      or lag_max * 1000.0 > s.max_stall_ms]
        if overloaded:
            info["overloaded"] = " and ".join(overloaded)
        return ProbeResult(ok=True, figures=figures, directions={"up": up, "down": down},
                           info=info, unreliable=bool(overloaded),
                           degraded=self._cut_short(info))

    def _cut_short(self, info: dict[str, str | int | float | bool]) -> str:
        """"lossy media path" when the budget cut the window before a direction counted
        enough packets for its loss: under heavy loss the handshake's retransmissions
        (1, 2, 4 s) spent the check's deadline, which says the path is lossy."""
        if not self.cut_by_budget:
            return ""
        short = [d for d in ("up", "down") if f"{d}_loss" in info]
        if not short:
            return ""
        setup_s = self._ms("start", "connected") / 1000.0
        window_s = self._ms("window_start", "media_end") / 1000.0
        return (f"lossy media path: setup took {setup_s:.1f} s, leaving {window_s:.1f} s of "
                f"media before the check's deadline, too few packets to count "
                f"{' and '.join(short)} loss")

    # -- cleanup ------------------------------------------------------------------------

    def with_close_time(self, result: ProbeResult) -> ProbeResult:
        """``result`` with ``info.close_ms`` (how long ``close`` took), when it has info."""
        if not result.info or "closed" not in self.times:
            return result
        info = {**result.info, "close_ms": round(self._ms("closing", "closed"), 1)}
        return dataclasses.replace(result, info=info)

    async def close(self) -> None:
        """Close the peer connection, end the session at the responder, stop sampling."""
        self._mark("closing")
        timeout = self.settings.close_timeout_s
        for stream in self.streams:
            await stream.rtcp.stop()
        jobs = []
        if self.pc is not None:
            jobs.append(close_peer_connection(self.pc, timeout))
        if self.http is not None:
            jobs.append(self._end_session(timeout))
        if jobs:
            for outcome in await asyncio.gather(*jobs, return_exceptions=True):
                if isinstance(outcome, BaseException):
                    log.debug("closing the loopback to %s: %r", self.url, outcome)
        if self.lag is not None:
            lag, self.lag = self.lag, None
            await lag.release()
        self._mark("closed")

    async def _end_session(self, timeout: float) -> None:
        """DELETE the session (once), note the responder's lag, close the HTTP client."""
        http, self.http = self.http, None
        if http is None:
            return
        try:
            if self.session_url:
                headers = {"Authorization": f"Bearer {self.target.token}"} if self.target.token \
                    else {}
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with asyncio.timeout(timeout):
                        async with http.delete(self.session_url, headers=headers) as resp:
                            await resp.read()
                            self.responder_lag_ms = _parse_lag(resp.headers.get("X-Loop-Lag-Ms"))
        finally:
            await http.close()


def _inbound_counters(stream: _Stream) -> tuple[int, int] | None:
    """Our receiver's cumulative (packets expected, packets lost) of the echo, if any came
    (the counts of its ``getStats()`` inbound-rtp entry: the latest remote stream's)."""
    streams = receiver_streams(stream.transceiver.receiver)
    if not streams:
        return None
    stats = streams[-1]
    return stats.packets_received + stats.packets_lost, stats.packets_lost


def _interval(start: tuple[int, int] | None,
              end: tuple[int, int] | None) -> tuple[int, int] | None:
    """(expected, lost) between two cumulative counts (RFC 3550 A.3); None before any packet."""
    if end is None:
        return None
    base = start or (0, 0)
    return end[0] - base[0], end[1] - base[1]


def _up_interval(reports: list[ReceiverReport]) -> tuple[int, int] | None:
    """(expected, lost) between the responder's first and last report about our stream.

    The first report proves the responder decrypts; its statistics began with the
    first packet it could.  Sequence numbers are unwrapped from 16 bits (aiortc
    reports the highest sequence number without its cycle count).
    """
    if len(reports) < 2:
        return None
    first, last = reports[0], reports[-1]
    expected = (last.highest_sequence - first.highest_sequence) & 0xFFFF
    return expected, last.packets_lost - first.packets_lost


def _down_jitter_ms(stream: _Stream) -> float | None:
    """The down jitter of the window so far (ms): the meter's mean; None without a meter
    (video: the receiver's RFC 3550 reading is used) or before a pair."""
    mean = stream.tap.jitter.mean_s() if stream.tap.jitter is not None else None
    return None if mean is None else mean * 1000.0


async def _down_figures(stream: _Stream) -> dict[str, float]:
    out: dict[str, float] = {}
    report = await stream.transceiver.receiver.getStats()
    for stats in report.values():
        if stats.type == "inbound-rtp":
            mean = _down_jitter_ms(stream)
            out["jitter_ms"] = round(stats.jitter * 1000.0 / stream.clock if mean is None
                                     else mean, 3)
            counts = _interval(stream.baseline,
                               (stats.packetsReceived + stats.packetsLost, stats.packetsLost))
            if counts is not None:
                out |= _loss(*counts)
            break
    bitrate = stream.tap.bitrate_bps()
    if bitrate is not None:
        out["bitrate_bps"] = round(bitrate)
    return out


def _up_figures(stream: _Stream) -> dict[str, float]:
    report = stream.rtcp.last
    if report is None:
        return {}
    out = {
        "jitter_ms": round(report.jitter * 1000.0 / stream.clock, 3),
        "fraction_lost": round(report.fraction_lost / 256.0, 4),
    }
    counts = _up_interval(stream.rtcp.reports)
    if counts is not None:
        out |= _loss(*counts)
    return out


def _loss(expected: int, lost: int) -> dict[str, float]:
    """``loss_ratio`` and ``packets`` (the sample it is counted on) of one interval."""
    if expected <= 0:
        return {"packets": 0.0}
    return {"loss_ratio": round(min(1.0, max(0, lost) / expected), 4), "packets": float(expected)}


def _parse_lag(header: str | None) -> tuple[float, float] | None:
    """``"p95=1.2, max=4.0"`` as (1.2, 4.0); None when absent or malformed."""
    if not header:
        return None
    try:
        fields = dict(part.strip().split("=", 1) for part in header.split(","))
        return float(fields["p95"]), float(fields["max"])
    except (KeyError, ValueError):
        return None


def _merge(into: dict[str, float], prefix: str, figures: dict[str, float]) -> None:
    for name, value in figures.items():
        into[prefix + name] = value


def _first_line(text: str, limit: int = 120) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]
