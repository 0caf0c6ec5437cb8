"""SIP OPTIONS probe against real UDP and TCP responders on loopback, written here."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import pytest

from probes.base import Target
from probes.sip import Settings, parse_response, probe

Reply = Callable[[bytes, int], list[bytes]]
"""Given a request and its index (0 = first received), what to send back."""


def answer(code: int = 200, reason: str = "OK", *, timestamp: bool = True,
           branch: str | None = None, server: str = "TestCodec/1.0") -> Reply:
    """A responder that answers every request with ``code``, copying the headers it must."""

    def reply(data: bytes, index: int) -> list[bytes]:
        lines = data.decode().split("\r\n")
        keep = [ln for ln in lines[1:] if ln.split(":", 1)[0] in ("Via", "From", "To", "Call-ID",
                                                                   "CSeq")
                or (timestamp and ln.startswith("Timestamp:"))]
        if branch is not None:
            keep = [ln if not ln.startswith("Via:") else ln.split(";branch=")[0]
                    + f";branch={branch}" for ln in keep]
        head = [f"SIP/2.0 {code} {reason}", *keep, f"Server: {server}", "Content-Length: 0"]
        return ["\r\n".join([*head, "", ""]).encode()]

    return reply


class UdpResponder(asyncio.DatagramProtocol):
    def __init__(self, reply: Reply) -> None:
        self.reply = reply
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.received.append(data)
        assert self.transport is not None
        for out in self.reply(data, len(self.received) - 1):
            self.transport.sendto(out, addr)


@contextlib.asynccontextmanager
async def udp_responder(host: str, reply: Reply) -> AsyncIterator[tuple[UdpResponder, int]]:
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(
        lambda: UdpResponder(reply), local_addr=(host, 0))
    try:
        yield proto, transport.get_extra_info("sockname")[1]
    finally:
        transport.close()


@contextlib.asynccontextmanager
async def tcp_responder(host: str, reply: Reply | None) -> AsyncIterator[int]:
    """TCP SIP responder; ``reply=None`` accepts and never answers."""
    conns: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            data = await reader.readuntil(b"\r\n\r\n")
            if reply is None:
                await reader.read()
                return
            for out in reply(data, 0):
                writer.write(out)
            await writer.drain()
            await reader.read()
        writer.close()

    server = await asyncio.start_server(serve, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for w in conns:
            w.close()
        await server.wait_closed()


FAST = Settings(t1_s=0.05, timeout_s=1.0, transactions=1)
"""One transaction, so that the tests of timer E see its retransmissions alone."""


async def test_udp_200_ok_gives_rtt_status_and_server(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer()) as (resp, port):
        result = await probe(Target(host, port), Settings(timeout_s=2.0))
    assert result.ok, result.reason
    assert result.figures["rtt_ms"] >= 0
    assert result.info["status"] == 200
    assert result.info["server"] == "TestCodec/1.0"
    assert result.info["transmissions"] == 1
    assert len(resp.received) == 1


async def test_request_is_well_formed(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer()) as (resp, port):
        await probe(Target(host, port), Settings(timeout_s=2.0))
    text = resp.received[0].decode()
    first, *lines = text.split("\r\n")
    assert first == f"OPTIONS sip:{host}:{port} SIP/2.0"
    headers = {ln.split(":", 1)[0]: ln.split(":", 1)[1].strip() for ln in lines if ":" in ln}
    assert headers["Via"].startswith("SIP/2.0/UDP ")
    assert ";branch=z9hG4bK" in headers["Via"]
    assert ";rport" in headers["Via"]
    assert headers["Max-Forwards"] == "70"
    assert ";tag=" in headers["From"]
    assert headers["To"] == f"<sip:{host}:{port}>"
    assert headers["CSeq"] == "1 OPTIONS"
    assert headers["Call-ID"]
    assert headers["Contact"].startswith("<sip:")
    assert headers["Content-Length"] == "0"
    assert text.endswith("\r\n\r\n")


async def test_lost_requests_are_retransmitted_with_the_same_transaction(
        loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    ok = answer()

    def drop_two(data: bytes, index: int) -> list[bytes]:
        return ok(data, index) if index >= 2 else []

    async with udp_responder(host, drop_two) as (resp, port):
        result = await probe(Target(host, port), FAST)
    assert result.ok, result.reason
    assert result.info["transmissions"] == 3
    branches = {parse_via_branch(d) for d in resp.received}
    assert len(branches) == 1
    # The answer echoes the third transmission's Timestamp: the RTT is measured from it,
    # not from the first transmission (which was 0.05 + 0.1 s earlier).
    assert "rtt_ambiguous" not in result.info
    assert result.figures["rtt_ms"] < 140


async def test_without_timestamp_echo_rtt_is_from_the_first_and_marked_ambiguous(
        loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    ok = answer(timestamp=False)

    def drop_one(data: bytes, index: int) -> list[bytes]:
        return ok(data, index) if index >= 1 else []

    async with udp_responder(host, drop_one) as (_, port):
        result = await probe(Target(host, port), FAST)
    assert result.ok
    assert result.info["rtt_ambiguous"] is True
    assert result.figures["rtt_ms"] >= 50  # at least the first retransmission interval


async def test_retransmission_intervals_double_up_to_t2(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, lambda d, i: []) as (resp, port):
        result = await probe(Target(host, port), Settings(t1_s=0.05, t2_s=0.2, timeout_s=0.9,
                                                          transactions=1))
    assert not result.ok
    # sent at 0, .05, .15, .35, .55, .75 (interval .05, .1, .2, .2, .2) before 0.9 s
    assert len(resp.received) == 6
    assert result.reason.startswith(f"no answer to OPTIONS on {port}/udp in 0.9 s (6 transmissions")


async def test_silence_fails_with_a_reason(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, lambda d, i: []) as (_, port):
        result = await probe(Target(host, port), Settings(timeout_s=0.3, transactions=1))
    assert not result.ok
    assert result.reason == f"no answer to OPTIONS on {port}/udp in 0.3 s (1 transmission)"


async def test_silence_starts_independent_transactions_a_gap_apart(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, lambda d, i: []) as (resp, port):
        result = await probe(Target(host, port), Settings(t1_s=5.0, timeout_s=0.8))
    assert not result.ok
    # four transactions (the cap) start at 0, .1, .2, .3; none retransmits before T1 = 5 s
    assert len({parse_via_branch(d) for d in resp.received}) == len(resp.received) == 4
    assert result.reason == f"no answer to OPTIONS on {port}/udp in 0.8 s (4 transmissions)"


async def test_an_answer_to_a_later_transaction_ends_the_check_with_a_note(
        loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    ok = answer()

    def third_only(data: bytes, index: int) -> list[bytes]:
        return ok(data, index) if index == 2 else []

    async with udp_responder(host, third_only) as (resp, port):
        result = await probe(Target(host, port), Settings(timeout_s=2.0))
    assert result.ok, result.reason
    assert len(resp.received) == 3
    assert len({parse_via_branch(d) for d in resp.received}) == 3
    assert result.info["transmissions"] == 3
    assert result.info["unanswered"] == 2
    assert result.notes == ("answered after 2 unanswered transmissions (signalling loss)",)
    assert result.figures["rtt_ms"] < 90  # from the third transaction's own Timestamp
    assert "ignored_messages" not in result.info


async def test_a_clean_answer_has_no_note(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer()) as (_, port):
        result = await probe(Target(host, port), Settings(timeout_s=2.0))
    assert result.ok
    assert result.notes == ()
    assert "unanswered" not in result.info


async def test_garbage_and_foreign_responses_are_ignored(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    ok = answer()
    wrong = answer(branch="z9hG4bKnotyours")

    def noisy(data: bytes, index: int) -> list[bytes]:
        return [b"\x00\xffgarbage", b"SIP/2.0 2x0 Bad", *wrong(data, index), *ok(data, index)]

    async with udp_responder(host, noisy) as (_, port):
        result = await probe(Target(host, port), FAST)
    assert result.ok, result.reason
    assert result.info["ignored_messages"] == 3


async def test_only_garbage_fails_and_says_so(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, lambda d, i: [b"HTTP/1.1 400 Bad Request\r\n\r\n"]) as (_, port):
        result = await probe(Target(host, port), Settings(t1_s=0.05, timeout_s=0.3))
    assert not result.ok
    assert "no valid answer to OPTIONS" in result.reason
    assert "malformed" in result.reason


async def test_provisional_then_final(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    trying, ok = answer(100, "Trying"), answer()
    async with udp_responder(host, lambda d, i: trying(d, i) + ok(d, i)) as (_, port):
        result = await probe(Target(host, port), FAST)
    assert result.ok
    assert result.info["status"] == 200


@pytest.mark.parametrize(("code", "reason", "ok", "degraded"), [
    (200, "OK", True, ""), (202, "Accepted", True, ""),
    (401, "Unauthorized", True, ""), (407, "Proxy Authentication Required", True, ""),
    (302, "Moved Temporarily", True, "SIP 302 Moved Temporarily"),
    (403, "Forbidden", True, "SIP 403 Forbidden"), (404, "Not Found", True, "SIP 404 Not Found"),
    (405, "Method Not Allowed", True, "SIP 405 Method Not Allowed"),
    (500, "Server Internal Error", False, ""), (503, "Service Unavailable", False, ""),
    (603, "Decline", False, ""),
])
async def test_what_each_final_code_means(loopback_prefix: str, code: int, reason: str,
                                          ok: bool, degraded: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer(code, reason)) as (_, port):
        result = await probe(Target(host, port), FAST)
    assert result.ok is ok
    assert result.degraded == degraded
    assert result.info["status"] == code
    assert result.info["reason"] == reason
    assert result.info.get("auth_required", False) is (code in (401, 407))
    assert result.reason == ("" if ok else f"SIP {code} {reason}: the SIP stack refuses calls")


async def test_a_long_reason_phrase_is_cut_in_the_verdict_reason(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer(403, "No " * 100)) as (_, port):
        result = await probe(Target(host, port), FAST)
    assert result.degraded == "SIP 403 " + ("No " * 100)[:63] + "…"
    assert result.info["reason"] == ("No " * 100).strip()


async def test_closed_udp_port_is_reported_quickly(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with udp_responder(host, answer()) as (_, port):
        pass  # bound then closed: nothing listens on the port now
    result = await asyncio.wait_for(probe(Target(host, port), Settings(timeout_s=5.0)), 3)
    assert not result.ok
    assert result.reason == f"SIP port {port}/udp closed (ICMP port unreachable)"


async def test_tcp_200_ok(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with tcp_responder(host, answer()) as port:
        result = await probe(Target(host, port, transport="tcp"), FAST)
    assert result.ok, result.reason
    assert result.info["transport"] == "tcp"
    assert result.info["status"] == 200


async def test_tcp_hang_and_garbage_and_refused(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.1"
    async with tcp_responder(host, None) as port:
        hang = await probe(Target(host, port, transport="tcp"), Settings(timeout_s=0.3))
    async with tcp_responder(host, lambda d, i: [b"SSH-2.0-OpenSSH_9.6\r\n\r\n"]) as port:
        garbage = await probe(Target(host, port, transport="tcp"), FAST)
    refused = await probe(Target(host, port, transport="tcp"), FAST)
    assert not hang.ok
    assert hang.reason.startswith("no answer to OPTIONS on ")
    assert hang.reason.endswith("/tcp in 0.3 s (1 transmission)")
    assert not garbage.ok
    assert garbage.reason.endswith("answered with something that is not a SIP response")
    assert refused.reason == f"SIP port {port}/tcp closed (connection refused)"


def parse_via_branch(data: bytes) -> str:
    for line in data.decode().split("\r\n"):
        if line.startswith("Via:"):
            return line.split("branch=")[1].split(";")[0]
    raise AssertionError("no Via")


def test_parse_response_compact_headers_and_garbage() -> None:
    resp = parse_response(b"SIP/2.0 200 OK\r\nv: SIP/2.0/UDP a;branch=z9hG4bKx, SIP/2.0/UDP b\r\n"
                          b"i: abc\r\nl: 0\r\n\r\n")
    assert resp is not None
    assert resp.headers["via"] == ["SIP/2.0/UDP a;branch=z9hG4bKx", "SIP/2.0/UDP b"]
    assert resp.first("call-id") == "abc"
    assert parse_response(b"\xff\xfe") is None
    assert parse_response(b"OPTIONS sip:x SIP/2.0\r\n\r\n") is None
    assert parse_response(b"SIP/2.0 20 OK\r\n\r\n") is None


async def test_an_answer_that_arrived_during_a_stall_at_the_deadline_counts(
        loopback_prefix: str) -> None:
    """The loop is blocked across the deadline; the answer (from a thread, which the
    stall does not stop) is in the socket when the deadline's timer fires with it."""
    import socket
    import threading
    import time

    host = f"{loopback_prefix}.1"
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind((host, 0))
    server.settimeout(5)
    reply = answer()

    def serve() -> None:
        with contextlib.suppress(OSError):
            data, addr = server.recvfrom(65535)
            for out in reply(data, 0):
                server.sendto(out, addr)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        loop = asyncio.get_running_loop()
        loop.call_later(0.05, time.sleep, 0.6)  # a starved prober, past the 0.3 s deadline
        result = await probe(Target(host, server.getsockname()[1]),
                             Settings(t1_s=5.0, timeout_s=0.3, transactions=1))
    finally:
        thread.join(5)
        server.close()
    assert result.ok, result.reason
    assert result.info["status"] == 200
    assert result.figures["rtt_ms"] < 100  # kernel arrival stamp: the stall is not in it


async def test_the_round_trip_is_the_fastest_answered_transaction(loopback_prefix: str) -> None:
    """A stack that answers its backlog at once, 0.45 s after the first request (busy, or
    a starved simulator): the first answer is the first transaction's, but the RTT is
    the fastest answered one's, not the queue's."""
    host = f"{loopback_prefix}.1"
    ok = answer()
    backlog: list[tuple[bytes, tuple[str, int]]] = []
    released = False

    class Backlogged(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.DatagramTransport = transport  # type: ignore[assignment]

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if released:
                self.transport.sendto(ok(data, 0)[0], addr)
                return
            if not backlog:
                asyncio.get_running_loop().call_later(0.45, self.release)
            backlog.append((data, addr))

        def release(self) -> None:
            nonlocal released
            released = True
            for data, addr in backlog:
                self.transport.sendto(ok(data, 0)[0], addr)

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(Backlogged, local_addr=(host, 0))
    try:
        result = await probe(Target(host, transport.get_extra_info("sockname")[1]),
                             Settings(t1_s=5.0, timeout_s=2.0))
    finally:
        transport.close()
    assert result.ok, result.reason
    assert result.info["transmissions"] == 4  # 0, .1, .2, .3 s: all in the backlog
    assert result.figures["rtt_ms"] < 200  # the last one's, about 150 ms (the first's: 450)
    assert "unanswered" not in result.info  # the first answer is the first transaction's
