"""SIP OPTIONS and the HTTPS status page of simulated endpoints, with real clients."""

from __future__ import annotations

import asyncio
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from inventory import Inventory
from simulator import Simulator
from tests.simulated import options_request, parse_response, simulated_fleet

DEADLINE = 5.0


@pytest.fixture
async def fleet(tmp_path: Path, loopback_prefix: str
                ) -> AsyncIterator[tuple[Simulator, Inventory, str]]:
    async with simulated_fleet(tmp_path, loopback_prefix) as (sim, inv):
        yield sim, inv, loopback_prefix


class _Client(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def udp_exchange(host: str, port: int, payloads: list[bytes], wait: float = DEADLINE
                       ) -> list[bytes]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Client, local_addr=("127.0.0.1", 0))
    try:
        for p in payloads:
            transport.sendto(p, (host, port))
        out = []
        try:
            while True:
                out.append(await asyncio.wait_for(client.replies.get(), wait))
        except TimeoutError:
            return out
    finally:
        transport.close()


async def test_options_over_udp(fleet: tuple) -> None:
    _, _, prefix = fleet
    host = f"{prefix}.1"
    call_id = uuid.uuid4().hex
    [reply] = await udp_exchange(host, 5060, [options_request(host, 5060, call_id)], wait=1.0)
    code, h = parse_response(reply)
    assert reply.startswith(b"SIP/2.0 200 OK\r\n")
    assert code == 200
    [via] = h["via"]
    assert via.startswith("SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bK" + call_id)
    assert ";rport=" in via
    assert ";received=127.0.0.1" in via
    assert h["from"] == [f"<sip:probe@127.0.0.1>;tag=t{call_id}"]
    assert h["to"][0].startswith(f"<sip:{host}:5060>;tag=")
    assert h["call-id"] == [call_id]
    assert h["cseq"] == ["1 OPTIONS"]
    assert h["content-length"] == ["0"]
    assert "OPTIONS" in h["allow"][0]
    assert h["accept"] == ["application/sdp"]


async def test_options_response_copies_the_timestamp(fleet: tuple) -> None:
    """RFC 3261 8.2.6.1: the prober learns which transmission was answered."""
    _, _, prefix = fleet
    host = f"{prefix}.1"
    request = options_request(host, 5060, uuid.uuid4().hex).replace(
        b"Content-Length: 0", b"Timestamp: 1764270000.125\r\nContent-Length: 0")
    [reply] = await udp_exchange(host, 5060, [request], wait=1.0)
    assert parse_response(reply)[1]["timestamp"] == ["1764270000.125"]


async def test_options_over_tcp_and_other_methods(fleet: tuple) -> None:
    _, _, prefix = fleet
    host = f"{prefix}.3"  # the Yealink: SIP without SSH
    async with asyncio.timeout(DEADLINE):
        reader, writer = await asyncio.open_connection(host, 5060)
        try:
            writer.write(options_request(host, 5060, "c1", "TCP"))
            reply = await reader.readuntil(b"\r\n\r\n")
            code, h = parse_response(reply)
            assert code == 200
            assert h["via"][0].startswith("SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKc1")
            assert h["to"][0].startswith(f"<sip:{host}:5060>;tag=")
            assert h["content-length"] == ["0"]
            writer.write(options_request(host, 5060, "c2", "TCP", method="INVITE"))
            code, h = parse_response(await reader.readuntil(b"\r\n\r\n"))
            assert code == 405
            assert h["allow"] == ["OPTIONS"]
            writer.write(options_request(host, 5060, "c3", "TCP", method="FROB"))
            code, _ = parse_response(await reader.readuntil(b"\r\n\r\n"))
            assert code == 501
            writer.write(b"\r\n\r\n")  # RFC 5626 keep-alive
            assert await reader.readexactly(2) == b"\r\n"
            writer.write(b"\x00\x01 this is not SIP\r\n")
            assert await reader.read() == b""  # garbage closes the connection
        finally:
            writer.close()


async def test_udp_garbage_and_ack_are_ignored(fleet: tuple) -> None:
    _, _, prefix = fleet
    host = f"{prefix}.2"
    replies = await udp_exchange(host, 5060, [
        b"\xff\xfe garbage", b"SIP/2.0 200 OK\r\n\r\n",
        options_request(host, 5060, "a1", method="ACK"),
        options_request(host, 5060, "ok1")], wait=1.0)
    assert len(replies) == 1
    assert parse_response(replies[0])[1]["call-id"] == ["ok1"]


async def test_https_status_page(fleet: tuple) -> None:
    _, inv, prefix = fleet
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    timeout = aiohttp.ClientTimeout(total=DEADLINE)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        async with http.get(f"https://{prefix}.1:8443/status", ssl=ctx) as r:
            assert r.status == 200
            data = json.loads(await r.text())
        async with http.get(f"https://{prefix}.1:8443/", ssl=ctx) as r:
            assert r.status == 200
            assert r.content_type == "text/html"
            page = await r.text()
    e = inv.endpoints[0]
    assert data["id"] == e.id
    assert data["name"] == e.name
    assert data["vendor"] == "cisco_ce"
    assert data["model"] == "Room Kit Pro"
    assert isinstance(data["uptime"], int)
    assert e.name in page
