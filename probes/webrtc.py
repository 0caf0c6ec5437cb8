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

``unreliable`` is set when this process's event loop lagged during the media
window, or when the responder says (``X-Loop-Lag-Ms`` on ending the session)
that its loop did: the figures would then measure a CPU, not the network.
Every peer connection is closed and every task ended on all paths, also when
the caller cancels the probe at its deadline.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import statistics
import time
from dataclasses import dataclass, field

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

from probes.aiortc_internals import on_keyframe_request
from probes.base import EngineDeadline, ProbeResult, Target
from probes.mos import estimate_mos
from probes.webrtc_media import (
    AUDIO_CLOCK,
    VIDEO_CLOCK,
    FrameTap,
    SyntheticAudioTrack,
    SyntheticVideoTrack,
    tap_receiver,
)
from probes.webrtc_net import close_peer_connection, ice_addresses, route_source_address
from probes.webrtc_stats import LoopLag, RtcpMonitor

log = logging.getLogger(__name__)


@dataclass
class Settings(EngineDeadline):
    """How the WebRTC loopback probe runs (defaults suit a LAN or a province WAN)."""

    duration_s: float = 3.0
    """Media window, from the moment the connection is up."""
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
    """Deadline of ICE and DTLS, once the answer is in."""
    rtcp_grace_s: float = 2.0
    """Extra media time allowed after the window for the first echoed packet and the
    first RTCP round-trip sample (each comes 1-3 s into the media; later under loss)."""
    close_timeout_s: float = 1.5
    """Deadline for closing the peer connection and ending the session (DELETE)."""
    sender_report_interval_s: float = 0.25
    """Extra RTCP sender reports, each a round-trip sample when the responder answers it
    (vcfleet's does at once; others in their own 0.5-1.5 s rhythm)."""
    verify_tls: bool = True
    """Verify the responder's certificate when its URL is https."""
    max_loop_lag_ms: float = 10.0
    """Event-loop lag (95th percentile over the media window) above which the
    result is marked unreliable."""


async def probe(target: Target, settings: Settings | None = None) -> ProbeResult:
    """Run one media loopback against the responder at ``target.url``."""
    settings = settings or Settings()
    if not target.url:
        return ProbeResult.failure("no WebRTC responder URL for this endpoint")
    if not (settings.audio or settings.video):
        return ProbeResult.failure("nothing to send: both audio and video are off")
    run = _Loopback(target, settings)
    try:
        return await run.measure()
    finally:
        await run.close()


class _Failed(Exception):
    """The loopback failed; the message is the result's reason."""


@dataclass
class _Stream:
    """One media kind of the loopback: what we send, what came back, what RTCP said."""

    kind: str
    clock: int
    transceiver: RTCRtpTransceiver
    track: SyntheticAudioTrack | SyntheticVideoTrack
    tap: FrameTap
    rtcp: RtcpMonitor


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
        self.responder_lag_ms: tuple[float, float] | None = None
        """(95th percentile, max) event-loop lag the responder reported over the session."""

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
            await self._end_session(self.settings.close_timeout_s)  # its answer has its lag
            return await self._result()
        except _Failed as exc:
            return ProbeResult.failure(str(exc), **self._setup_figures())

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
        pc = self.pc = RTCPeerConnection(self._configuration())
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
        tap = tap_receiver(transceiver.receiver)
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
        self.http = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=s.signalling_timeout_s),
            connector=aiohttp.TCPConnector(ssl=s.verify_tls, force_close=True))
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
        assert self.pc is not None
        timeout = self.settings.connect_timeout_s
        try:
            async with asyncio.timeout(timeout):
                while self.pc.connectionState != "connected":
                    if self.pc.connectionState in ("failed", "closed"):
                        raise _Failed(self._connect_failure())
                    self.state_changed.clear()
                    await self.state_changed.wait()
        except TimeoutError as exc:
            stage = ("ICE connectivity checks unanswered: UDP blocked or responder not "
                     "listening" if "ice_done" not in self.times else "DTLS handshake unfinished")
            raise _Failed(f"no media path within {timeout:g} s ({stage})") from exc
        self._mark("connected")

    def _connect_failure(self) -> str:
        assert self.pc is not None
        if "ice_done" not in self.times:
            return "ICE failed: no candidate pair works (UDP blocked?)"
        return "DTLS handshake failed"

    # -- media --------------------------------------------------------------------------

    async def _media_window(self) -> None:
        s = self.settings
        self._mark("media_start")
        for stream in self.streams:
            stream.rtcp.start(s.sender_report_interval_s)
        await asyncio.sleep(s.duration_s)
        # Under heavy loss the responder may finish DTLS (and echo) later than we did.
        deadline = time.monotonic() + s.rtcp_grace_s
        primary = self.streams[0]
        while ((not primary.tap.frames or not primary.rtcp.rtt_samples)
               and time.monotonic() < deadline):
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
        rtt_ms = statistics.median(primary.rtcp.rtt_samples) * 1000.0
        up: dict[str, float] = {}
        down: dict[str, float] = {}
        for stream in self.streams:
            prefix = "" if stream is primary else f"{stream.kind}_"
            _merge(up, prefix, _up_figures(stream, rtt_ms / 1000.0))
            _merge(down, prefix, await _down_figures(stream))
        jitter = max(up.get("jitter_ms", 0.0), down.get("jitter_ms", 0.0))
        loss = max(up.get("loss_ratio", 0.0), down.get("loss_ratio", 0.0))
        figures = self._setup_figures()
        figures["rtt_ms"] = round(rtt_ms, 2)
        figures["mos"] = round(estimate_mos(rtt_ms, jitter, loss), 3)
        assert self.lag is not None
        p95, worst = self.lag.summary(self.times["media_start"], self.times["media_end"])
        limit = self.settings.max_loop_lag_ms
        unreliable = p95 * 1000.0 > limit
        info: dict[str, str | int | float | bool] = {
            "rtt_samples": len(primary.rtcp.rtt_samples),
            "loop_lag_p95_ms": round(p95 * 1000.0, 1),
            "loop_lag_max_ms": round(worst * 1000.0, 1),
            "packets_sent": primary.track.sent,
        }
        if self.responder_lag_ms is not None:
            info["responder_lag_p95_ms"], info["responder_lag_max_ms"] = self.responder_lag_ms
            unreliable = unreliable or self.responder_lag_ms[0] > limit
        return ProbeResult(ok=True, figures=figures, directions={"up": up, "down": down},
                           info=info, unreliable=unreliable)

    # -- cleanup ------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the peer connection, end the session at the responder, stop sampling."""
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


async def _down_figures(stream: _Stream) -> dict[str, float]:
    out: dict[str, float] = {}
    report = await stream.transceiver.receiver.getStats()
    for stats in report.values():
        if stats.type == "inbound-rtp":
            lost = max(0, stats.packetsLost)
            expected = stats.packetsReceived + lost
            out["jitter_ms"] = round(stats.jitter * 1000.0 / stream.clock, 3)
            out["loss_ratio"] = round(lost / expected, 4) if expected else 0.0
            break
    bitrate = stream.tap.bitrate_bps()
    if bitrate is not None:
        out["bitrate_bps"] = round(bitrate)
    return out


def _up_figures(stream: _Stream, rtt_s: float) -> dict[str, float]:
    report = stream.rtcp.last
    if report is None:
        return {}
    # Packets the responder could have seen when it wrote the report: those we
    # sent at least one round trip before the report arrived.
    expected = bisect.bisect_right(stream.track.send_times, report.arrival - rtt_s)
    lost = max(0, report.packets_lost)
    return {
        "jitter_ms": round(report.jitter * 1000.0 / stream.clock, 3),
        "loss_ratio": round(min(1.0, lost / expected), 4) if expected else 0.0,
        "fraction_lost": round(report.fraction_lost / 256.0, 4),
    }


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
