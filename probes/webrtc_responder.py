"""The site-side WebRTC echo responder: WHIP-style signalling, media reflected as it came.

A client (the vcfleet probe, or a browser page) ``POST``s an ``application/sdp``
offer to the responder URL (default path ``/whip``) with ``Authorization:
Bearer <token>``; the responder answers ``201 Created`` with the SDP answer and
a ``Location`` session URL, which the client ``DELETE``s to end the session
(RFC 9725's exchange, non-trickle ICE).  The answer is ``sendrecv``: every
audio and video track received is sent back on the same transceiver, and every
data-channel message is sent back on its channel.

Media is reflected without decoding or re-encoding: complete encoded frames
are taken from each receiver before its decoder (``webrtc_media.tap_receiver``)
and handed to the sender as ``av.Packet``s, which aiortc only packetises.
aiortc's RTCP stays in place, so the client gets receiver reports (loss,
jitter, LSR/DLSR for the round-trip time) about what it sent.

Ending a session (``DELETE``) answers with ``X-Loop-Lag-Ms: p95=..., max=...``:
the responder's event-loop lag since media connected.  A responder whose loop lagged
stamped and reflected packets late, so the probe marks its figures unreliable.

The responder limits concurrent sessions (503 when full) and expires sessions
whose media never connected, went idle or lived too long.  An optional
``probes.shaping.Shaper`` impairs its media sockets (the fleet simulator
injects faults that way).  Many responders can live in one process:

    responder = Responder(token="s3cret", shaper=Shaper(delay_ms=40))
    await responder.start("127.10.0.1", 8089)
    ...
    await responder.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import logging
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiortc import (
    RTCConfiguration,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpTransceiver,
    RTCSessionDescription,
)

from probes.aiortc_internals import (
    make_dtls_server,
    new_peer_connection,
    on_keyframe_request,
    request_keyframe,
)
from probes.httpserver import GuardedSite, HttpLimits, body_deadline
from probes.shaping import Shaper
from probes.webrtc_media import EchoTrack, answer_sender_reports, tap_receiver
from probes.webrtc_net import close_peer_connection, ice_addresses, shape_connection
from probes.webrtc_stats import LoopLag

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
"""Largest offer accepted (browsers' offers are 3-10 KB)."""
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass
class Session:
    """One client's echo session."""

    id: str
    pc: RTCPeerConnection
    created: float = field(default_factory=time.monotonic)
    last_activity: float = field(default_factory=time.monotonic)
    """Monotonic time of the last media frame or data-channel message received."""
    connected: bool = False
    connected_at: float | None = None
    """Monotonic time at which media connected."""
    echoes: list[EchoTrack] = field(default_factory=list)
    tasks: set[asyncio.Future[Any]] = field(default_factory=set)
    timer: asyncio.TimerHandle | None = None
    lag: LoopLag | None = None
    """The loop-lag sampler this session holds (released when it closes)."""

    def touch(self) -> None:
        """Record activity (keeps the session from expiring)."""
        self.last_activity = time.monotonic()


class Responder:
    """A WHIP-style echo responder; ``start``/``stop`` it, or mount ``app()`` yourself."""

    def __init__(
        self,
        token: str | None = None,
        *,
        path: str = "/whip",
        max_sessions: int = 8,
        connect_timeout_s: float = 15.0,
        idle_timeout_s: float = 15.0,
        session_timeout_s: float = 600.0,
        shaper: Shaper | None = None,
        media_addresses: Sequence[str] | None = None,
        ice_servers: Sequence[str] = (),
        cors_origin: str = "*",
        close_timeout_s: float = 3.0,
        limits: HttpLimits | None = None,
    ) -> None:
        """``token`` None disables authentication (tests and closed labs only).

        ``media_addresses``: host addresses for ICE (None: the address ``start``
        binds, or every interface when that is a wildcard).  ``ice_servers``:
        STUN/TURN URLs, none by default (no gathering stall on a closed network).
        """
        self.token = token
        self.path = "/" + path.strip("/")
        self.max_sessions = max_sessions
        self.connect_timeout_s = connect_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.session_timeout_s = session_timeout_s
        self.shaper = shaper
        self.media_addresses = list(media_addresses) if media_addresses else None
        self.ice_servers = list(ice_servers)
        self.cors_origin = cors_origin
        self.close_timeout_s = close_timeout_s
        self.limits = limits or HttpLimits()
        self.sessions: dict[str, Session] = {}
        self.sessions_total = 0
        """Sessions ever accepted (for tests and the simulator's counters)."""
        self._closing: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.host = ""
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (its cleanup closes every session)."""
        app = web.Application(client_max_size=MAX_SDP_BYTES,
                              middlewares=[body_deadline(self.limits)])
        session_path = self.path + "/{session}"
        app.router.add_post(self.path, self._post)
        app.router.add_route("OPTIONS", self.path, self._options)
        app.router.add_delete(session_path, self._delete)
        app.router.add_route("OPTIONS", session_path, self._options)

        async def cleanup(_: web.Application) -> None:
            await self.close_sessions()

        app.on_cleanup.append(cleanup)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 8089) -> None:
        """Serve on ``host:port`` (port 0: any free port, see ``self.port``)."""
        if self.media_addresses is None and host not in WILDCARDS:
            self.media_addresses = [host]
        runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                               **self.limits.handler_args())
        await runner.setup()
        try:
            site = GuardedSite(runner, host, port, self.limits)
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self.host, self.port = host, int(address[1])

    @property
    def url(self) -> str:
        """The responder URL (after ``start``)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}{self.path}"

    async def stop(self) -> None:
        """Close every session and stop serving."""
        await self.close_sessions()
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def close_sessions(self) -> None:
        """Close every session's peer connection and wait for all of them."""
        for session_id in list(self.sessions):
            self._end(session_id, "responder stopping")
        if self._closing:
            await asyncio.gather(*self._closing, return_exceptions=True)

    # -- HTTP ---------------------------------------------------------------------------

    def _cors(self, response: web.StreamResponse) -> web.StreamResponse:
        if self.cors_origin:
            response.headers["Access-Control-Allow-Origin"] = self.cors_origin
            response.headers["Access-Control-Expose-Headers"] = "Location"
        return response

    def _error(self, status: int, message: str, **headers: str) -> web.Response:
        return self._cors(web.Response(status=status, text=message + "\n", headers=headers))  # type: ignore[return-value]

    def _authorized(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.headers.get("Authorization", "").encode()
        return hmac.compare_digest(given, f"Bearer {self.token}".encode())

    async def _options(self, request: web.Request) -> web.Response:
        response = web.Response(status=204, headers={
            "Access-Control-Allow-Methods": "POST, DELETE, OPTIONS",
            "Access-Control-Allow-Headers": "Authorization, Content-Type",
            "Accept-Post": "application/sdp",
        })
        self._cors(response)
        return response

    async def _post(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "missing or wrong bearer token",
                               **{"WWW-Authenticate": 'Bearer realm="vcfleet-responder"'})
        if request.content_type != "application/sdp":
            return self._error(415, "the offer must be sent as application/sdp")
        if len(self.sessions) >= self.max_sessions:
            return self._error(503, f"session limit reached ({self.max_sessions})",
                               **{"Retry-After": "5"})
        try:
            offer = await request.text()  # 413 from aiohttp beyond MAX_SDP_BYTES
        except UnicodeDecodeError as exc:
            return self._error(400, f"invalid SDP offer: not {exc.encoding} text "
                                    f"(byte {exc.start})")
        if len(self.sessions) >= self.max_sessions:
            return self._error(503, f"session limit reached ({self.max_sessions})",
                               **{"Retry-After": "5"})
        session = Session(secrets.token_urlsafe(12), self._new_peer_connection())
        self.sessions[session.id] = session  # counts against the limit from now on
        session.lag = LoopLag.of_running_loop()
        session.lag.acquire()
        try:
            answer = await self._answer(session, offer)
        except _BadOffer as exc:
            self._end(session.id, "bad offer")
            return self._error(400, f"invalid SDP offer: {exc}")
        except Exception as exc:
            self._end(session.id, "signalling failed")
            log.warning("cannot answer an offer: %s: %s", type(exc).__name__, exc)
            return self._error(500, f"cannot answer: {exc}")
        except BaseException:
            self._end(session.id, "signalling cancelled")
            raise
        if session.id not in self.sessions:  # stopped while answering
            return self._error(503, "responder stopping")
        self.sessions_total += 1
        self._arm_watchdog(session)
        location = f"{self.path}/{session.id}"
        response = web.Response(status=201, text=answer, content_type="application/sdp",
                                headers={"Location": location})
        self._cors(response)
        return response

    async def _delete(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "missing or wrong bearer token",
                               **{"WWW-Authenticate": 'Bearer realm="vcfleet-responder"'})
        session = self.sessions.get(request.match_info["session"])
        if session is None:
            return self._error(404, "no such session")
        headers = {}
        if session.lag is not None:
            # Over the media only: a stall while answering or handshaking moves no
            # reflected packet.
            p95, worst = session.lag.summary(session.connected_at or session.created,
                                             time.monotonic())
            headers["X-Loop-Lag-Ms"] = f"p95={p95 * 1000:.1f}, max={worst * 1000:.1f}"
        task = self._end(session.id, "client ended it")
        if task is not None:
            await asyncio.wait([task], timeout=self.close_timeout_s)
        response = web.Response(status=200, headers=headers)
        self._cors(response)
        response.headers["Access-Control-Expose-Headers"] = "Location, X-Loop-Lag-Ms"
        return response

    # -- sessions -----------------------------------------------------------------------

    def _new_peer_connection(self) -> RTCPeerConnection:
        servers = [RTCIceServer(urls=url) for url in self.ice_servers]
        return new_peer_connection(RTCConfiguration(iceServers=servers))

    async def _answer(self, session: Session, offer: str) -> str:
        pc = session.pc
        if not re.search(r"^m=", offer, re.MULTILINE):
            raise _BadOffer("no media section")
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        except Exception as exc:  # aiortc's parser raises many kinds on garbage
            raise _BadOffer(f"{type(exc).__name__}: {exc}") from exc
        if not pc.getTransceivers() and pc.sctp is None:
            raise _BadOffer("no audio, video or data section that can be answered")
        for transceiver in pc.getTransceivers():
            self._reflect(session, transceiver)
            # The probe is then the DTLS client: its handshake ends only after ours, so
            # its "connected" means we decrypt what it sends from then on.
            make_dtls_server(transceiver.receiver.transport)
        if pc.sctp is not None:
            make_dtls_server(pc.sctp.transport)

        @pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            def on_message(message: Any) -> None:
                session.touch()
                if channel.readyState == "open":
                    channel.send(message)

            channel.on("message", on_message)

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState == "connected":
                session.connected = True
                session.connected_at = time.monotonic()
                session.touch()
            elif pc.connectionState in ("failed", "closed"):
                self._end(session.id, f"connection {pc.connectionState}")

        answer = await pc.createAnswer()
        with ice_addresses(self.media_addresses):
            await pc.setLocalDescription(answer)  # gathers the ICE candidates
        # Before any further await: ICE checks start on the next loop iteration.
        # An unimpaired room gets a no-op shaper: it stamps RTCP arrivals (the delay
        # since the last SR is counted from the socket, as RFC 3550 means it).
        shape_connection(pc, self.shaper or Shaper())
        description = pc.localDescription
        if description is None or "a=candidate:" not in description.sdp:
            raise RuntimeError(f"no ICE candidate on {self.media_addresses or 'any address'}")
        return str(description.sdp)

    def _reflect(self, session: Session, transceiver: RTCRtpTransceiver) -> None:
        if transceiver.kind not in ("audio", "video"):
            return
        echo = EchoTrack(transceiver.kind)
        session.echoes.append(echo)

        def on_frame(codec: Any, frame: Any) -> None:
            session.last_activity = time.monotonic()
            echo.push(codec, frame)

        tap_receiver(transceiver.receiver, on_frame)
        answer_sender_reports(transceiver.receiver)
        transceiver.sender.replaceTrack(echo)
        transceiver.direction = "sendrecv"
        # A keyframe request from the client goes to whoever encodes: the client.
        on_keyframe_request(transceiver.sender,
                            functools.partial(self._forward_keyframe_request, session,
                                              transceiver))

    def _forward_keyframe_request(self, session: Session, transceiver: RTCRtpTransceiver
                                  ) -> None:
        sources = transceiver.receiver.getSynchronizationSources()
        if not sources:
            return
        task = asyncio.ensure_future(request_keyframe(transceiver.receiver, sources[0].source))
        session.tasks.add(task)
        task.add_done_callback(session.tasks.discard)

    def _arm_watchdog(self, session: Session) -> None:
        loop = asyncio.get_running_loop()
        session.timer = loop.call_later(1.0, self._watch, session)

    def _watch(self, session: Session) -> None:
        if self.sessions.get(session.id) is not session:
            return
        now = time.monotonic()
        if not session.connected and now - session.created > self.connect_timeout_s:
            self._end(session.id, f"no media connection within {self.connect_timeout_s:g} s")
        elif session.connected and now - session.last_activity > self.idle_timeout_s:
            self._end(session.id, f"no media for {self.idle_timeout_s:g} s")
        elif now - session.created > self.session_timeout_s:
            self._end(session.id, f"session older than {self.session_timeout_s:g} s")
        else:
            self._arm_watchdog(session)

    def _end(self, session_id: str, why: str) -> asyncio.Task[None] | None:
        """Forget a session and close it in the background; the closing task, if any."""
        session = self.sessions.pop(session_id, None)
        if session is None:
            return None
        log.debug("session %s ends: %s", session_id, why)
        if session.timer is not None:
            session.timer.cancel()
        task = asyncio.create_task(self._close(session), name=f"responder-close:{session_id}")
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)
        return task

    async def _close(self, session: Session) -> None:
        for echo in session.echoes:
            echo.stop()
        for task in session.tasks:
            task.cancel()
        try:
            await close_peer_connection(session.pc, self.close_timeout_s)
        except TimeoutError:
            log.warning("session %s: peer connection did not close within %g s",
                        session.id, self.close_timeout_s)
        except Exception:
            log.debug("session %s: error while closing", session.id, exc_info=True)
        with contextlib.suppress(Exception):
            await asyncio.gather(*session.tasks, return_exceptions=True)
        if session.lag is not None:
            lag, session.lag = session.lag, None
            await lag.release()


class _BadOffer(ValueError):
    """The client's offer cannot be answered."""
