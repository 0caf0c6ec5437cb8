"""The WebRTC echo responder: WHIP-style signalling, auth, limits, expiry, echo, cleanup.

Real aiortc peers and real HTTP on loopback addresses (``loopback_prefix``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from probes.webrtc_media import SyntheticAudioTrack, opus_packet, tap_receiver
from probes.webrtc_net import close_peer_connection, ice_addresses
from probes.webrtc_responder import Responder

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/sdp"}


@pytest.fixture
async def responder(loopback_prefix: str) -> AsyncIterator[Responder]:
    r = Responder(token=TOKEN, max_sessions=2, connect_timeout_s=1.5, idle_timeout_s=1.5)
    await r.start(f"{loopback_prefix}.1", 0)
    try:
        yield r
    finally:
        await r.stop()
    await assert_no_leaks()


async def assert_no_leaks() -> None:
    """No task but the test's own, no thread but the main one."""
    current = asyncio.current_task()
    for _i in range(300):
        tasks = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not tasks:
            break
        await asyncio.sleep(0.01)
    assert tasks == [], tasks
    threads = [t for t in threading.enumerate() if t is not threading.main_thread()]
    assert threads == [], threads


async def offer_sdp(pc: RTCPeerConnection, *, audio: bool = True, data: bool = False) -> str:
    if audio:
        transceiver = pc.addTransceiver(SyntheticAudioTrack(), direction="sendrecv")
        tap_receiver(transceiver.receiver)
    if data:
        pc.createDataChannel("echo")
    with ice_addresses(["127.0.0.1"]):
        await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    return pc.localDescription.sdp


async def post(url: str, body: str, headers: dict[str, str]) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as http, http.post(url, data=body, headers=headers) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_offer_gets_sendrecv_answer_and_session_url(responder: Responder) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        status, answer, headers = await post(responder.url, await offer_sdp(pc), AUTH)
        assert status == 201
        assert headers["Content-Type"].startswith("application/sdp")
        assert headers["Location"].startswith("/whip/")
        assert "a=sendrecv" in answer
        assert "a=candidate:" in answer
        assert responder.host in answer
        assert len(responder.sessions) == 1
        async with aiohttp.ClientSession() as http:
            session_url = responder.url.rsplit("/whip", 1)[0] + headers["Location"]
            async with http.delete(session_url, headers=AUTH) as r:
                assert r.status == 200
            async with http.delete(session_url, headers=AUTH) as r:
                assert r.status == 404
        assert responder.sessions == {}
    finally:
        await pc.close()


@pytest.mark.parametrize(("headers", "body", "status"), [
    ({"Content-Type": "application/sdp"}, "v=0", 401),
    ({"Authorization": "Bearer wrong", "Content-Type": "application/sdp"}, "v=0", 401),
    ({"Authorization": f"Bearer {TOKEN}", "Content-Type": "text/plain"}, "v=0", 415),
    (AUTH, "this is not SDP", 400),
    (AUTH, "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nnonsense\r\n", 400),
    (AUTH, "v=0\r\n" + "a=x\r\n" * 20_000, 413),
], ids=["no-token", "wrong-token", "wrong-type", "garbage", "broken-sdp", "too-large"])
async def test_bad_requests_are_refused(responder: Responder, headers: dict[str, str], body: str,
                                        status: int) -> None:
    got, text, answer_headers = await post(responder.url, body, headers)
    assert got == status, text
    if status == 401:
        assert answer_headers["WWW-Authenticate"].startswith("Bearer")
    assert responder.sessions == {}


async def test_session_limit_gives_503(responder: Responder) -> None:
    pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(3)]
    try:
        statuses = [(await post(responder.url, await offer_sdp(pc), AUTH))[0] for pc in pcs]
        assert statuses == [201, 201, 503]
        assert len(responder.sessions) == 2
    finally:
        for pc in pcs:
            await pc.close()


async def test_abandoned_session_expires(responder: Responder) -> None:
    # The client posts an offer and goes away: no ICE, no media, no DELETE.
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    status, _, _ = await post(responder.url, await offer_sdp(pc), AUTH)
    await pc.close()
    assert status == 201
    assert len(responder.sessions) == 1
    async with asyncio.timeout(6):
        while responder.sessions:
            await asyncio.sleep(0.1)


async def test_idle_session_expires_after_media_stops(responder: Responder) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    status, answer, _ = await post(responder.url, await offer_sdp(pc), AUTH)
    assert status == 201
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    async with asyncio.timeout(5):
        while not all(s.connected for s in responder.sessions.values()):
            await asyncio.sleep(0.05)
    for sender in pc.getSenders():  # media stops, the connection stays
        await sender.stop()
    async with asyncio.timeout(6):
        while responder.sessions:
            await asyncio.sleep(0.1)
    await pc.close()


async def test_audio_and_data_channel_are_echoed(responder: Responder) -> None:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = SyntheticAudioTrack()
    transceiver = pc.addTransceiver(track, direction="sendrecv")
    tap = tap_receiver(transceiver.receiver)
    channel = pc.createDataChannel("echo")
    echoed: asyncio.Queue[str] = asyncio.Queue()
    channel.on("message", echoed.put_nowait)
    channel.on("open", lambda: channel.send("xin chào"))
    with ice_addresses(["127.0.0.1"]):
        await pc.setLocalDescription(await pc.createOffer())
    assert pc.localDescription is not None
    try:
        status, answer, _ = await post(responder.url, pc.localDescription.sdp, AUTH)
        assert status == 201
        await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        async with asyncio.timeout(8):
            assert await echoed.get() == "xin chào"
            while tap.frames < 20:
                await asyncio.sleep(0.05)
        # Echoed frames are the very packets sent: reflected, not re-encoded.
        assert tap.octets == tap.frames * len(opus_packet())
    finally:
        await pc.close()


async def test_stop_closes_every_session(loopback_prefix: str) -> None:
    responder = Responder(token=None, max_sessions=4)
    await responder.start(f"{loopback_prefix}.2", 0)
    pcs = [RTCPeerConnection(RTCConfiguration(iceServers=[])) for _ in range(2)]
    try:
        for pc in pcs:
            status, answer, _ = await post(responder.url, await offer_sdp(pc),
                                           {"Content-Type": "application/sdp"})
            assert status == 201
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
        assert len(responder.sessions) == 2
        closing = [s.pc for s in responder.sessions.values()]
    finally:
        await responder.stop()
        for pc in pcs:
            await close_peer_connection(pc, 3)
    assert responder.sessions == {}
    assert all(pc.connectionState == "closed" for pc in closing)
    await assert_no_leaks()


# A browser-style offer as Chrome writes it after gathering (BUNDLE, rtcp-mux, msid,
# RTX, header extensions, several codecs, a data channel), typed for this test.
BROWSER_OFFER = "\r\n".join([
    "v=0",
    "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1 2",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream1",
    "m=audio 50000 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
    "c=IN IP4 127.0.0.1",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host generation 0",
    "a=ice-ufrag:Brws",
    "a=ice-pwd:browserpassword1234567890",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:0",
    "a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:stream1 audio1",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=rtcp-fb:111 transport-cc",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
    "a=fmtp:63 111/111",
    "a=rtpmap:9 G722/8000",
    "a=rtpmap:0 PCMU/8000",
    "a=rtpmap:8 PCMA/8000",
    "a=rtpmap:13 CN/8000",
    "a=rtpmap:110 telephone-event/48000",
    "a=rtpmap:126 telephone-event/8000",
    "a=ssrc:1001 cname:browsercname",
    "a=ssrc:1001 msid:stream1 audio1",
    "m=video 50000 UDP/TLS/RTP/SAVPF 96 97 98 99 45 46",
    "c=IN IP4 127.0.0.1",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:Brws",
    "a=ice-pwd:browserpassword1234567890",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:1",
    "a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
    "a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid",
    "a=sendrecv",
    "a=msid:stream1 video1",
    "a=rtcp-mux",
    "a=rtcp-rsize",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 goog-remb",
    "a=rtcp-fb:96 ccm fir",
    "a=rtcp-fb:96 nack",
    "a=rtcp-fb:96 nack pli",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=96",
    "a=rtpmap:98 VP9/90000",
    "a=fmtp:98 profile-id=0",
    "a=rtpmap:99 rtx/90000",
    "a=fmtp:99 apt=98",
    "a=rtpmap:45 AV1/90000",
    "a=rtpmap:46 rtx/90000",
    "a=fmtp:46 apt=45",
    "a=ssrc-group:FID 2001 2002",
    "a=ssrc:2001 cname:browsercname",
    "a=ssrc:2002 cname:browsercname",
    "m=application 50000 UDP/DTLS/SCTP webrtc-datachannel",
    "c=IN IP4 127.0.0.1",
    "a=ice-ufrag:Brws",
    "a=ice-pwd:browserpassword1234567890",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 " + ":".join(["AB"] * 32),
    "a=setup:actpass",
    "a=mid:2",
    "a=sctp-port:5000",
    "a=max-message-size:262144",
    "",
])


async def test_browser_style_offer_gets_a_standard_answer(responder: Responder) -> None:
    status, answer, _ = await post(responder.url, BROWSER_OFFER, AUTH)
    assert status == 201, answer
    lines = answer.splitlines()
    assert "a=group:BUNDLE 0 1 2" in lines
    media = [line.split()[0] for line in lines if line.startswith("m=")]
    assert media == ["m=audio", "m=video", "m=application"]
    assert all(not line.startswith("m=") or line.split()[1] != "0" for line in lines)
    assert lines.count("a=sendrecv") == 2  # the echo goes back on each track
    assert "a=rtpmap:111 opus/48000/2" in lines
    assert "a=rtpmap:96 VP8/90000" in lines
    # The responder is the DTLS server, so that the client's "connected" implies ours.
    assert "a=setup:passive" in lines
    assert "a=setup:active" not in lines
    assert any(line.startswith("a=fingerprint:sha-256 ") for line in lines)
    assert "a=sctp-port:5000" in lines
    assert len(responder.sessions) == 1  # ICE will fail (no browser): the watchdog ends it
