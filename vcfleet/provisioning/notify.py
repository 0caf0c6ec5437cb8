"""``NOTIFY`` with ``Event: check-sync``: tell a device to fetch its provisioning file now.

Over UDP the request is retransmitted like any non-INVITE client transaction
(RFC 3261 17.1.2.2: after T1 = 500 ms, the interval doubling up to T2 = 4 s)
until a final response or the deadline; over TCP it is sent once on a fresh
connection.  The response is matched by the top Via's branch, the Call-ID and
the CSeq, as the SIP OPTIONS probe does (``probes.sip``, whose parser is reused).
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from dataclasses import dataclass

from probes.sip import MAGIC_COOKIE, MAX_MESSAGE, T1_S, T2_S, Response, parse_response


class NotifyError(Exception):
    """The device did not accept the NOTIFY (no answer, refused, or an error status)."""


@dataclass(frozen=True)
class CheckSync:
    """One check-sync request to one device."""

    user: str
    """User part of the Request-URI: the endpoint id."""
    address: str
    port: int = 5060
    transport: str = "udp"
    reboot: bool = False

    def wire(self, local: tuple[str, int], branch: str, call_id: str, tag: str) -> bytes:
        """The request as sent from ``local``."""
        host = _uri_host(self.address)
        uri = f"sip:{self.user}@{host}:{self.port}"
        sent_by = f"{_uri_host(local[0])}:{local[1]}"
        return (
            f"NOTIFY {uri} SIP/2.0\r\n"
            f"Via: SIP/2.0/{self.transport.upper()} {sent_by};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:vcfleet@{_uri_host(local[0])}>;tag={tag}\r\n"
            f"To: <sip:{self.user}@{host}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 1 NOTIFY\r\n"
            f"Event: check-sync;reboot={'true' if self.reboot else 'false'}\r\n"
            "Subscription-State: terminated\r\n"
            f"Contact: <sip:vcfleet@{sent_by};transport={self.transport}>\r\n"
            "User-Agent: vcfleet-provisioning\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()


def _uri_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def _branch_of(resp: Response) -> str | None:
    for part in resp.first("via").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "branch":
            return value.strip()
    return None


def _matches(resp: Response, branch: str, call_id: str) -> bool:
    return (_branch_of(resp) == branch and resp.first("call-id") == call_id
            and resp.first("cseq").split() == ["1", "NOTIFY"])


async def send_check_sync(request: CheckSync, timeout_s: float, *, t1_s: float = T1_S,
                          t2_s: float = T2_S) -> Response:
    """Send the NOTIFY; the device's final response if 2xx, NotifyError otherwise."""
    where = f"{request.address}:{request.port}/{request.transport}"
    try:
        async with asyncio.timeout(timeout_s):
            if request.transport == "tcp":
                resp = await _over_tcp(request)
            else:
                resp = await _over_udp(request, t1_s, t2_s)
    except TimeoutError:
        raise NotifyError(f"no answer to NOTIFY check-sync on {where} within "
                          f"{timeout_s:g} s") from None
    except ConnectionRefusedError:
        raise NotifyError(f"SIP port {where} closed: NOTIFY check-sync refused") from None
    except OSError as exc:
        raise NotifyError(f"cannot send NOTIFY check-sync to {where}: "
                          f"{exc.strerror or exc}") from None
    if not 200 <= resp.code < 300:
        raise NotifyError(f"NOTIFY check-sync answered SIP {resp.code} "
                          f"{resp.reason[:64]}".rstrip())
    return resp


def _ids() -> tuple[str, str, str]:
    return MAGIC_COOKIE + secrets.token_hex(8), secrets.token_hex(12), secrets.token_hex(5)


class _Answers(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | Exception] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.queue.put_nowait(exc)


async def _over_udp(request: CheckSync, t1_s: float, t2_s: float) -> Response:
    loop = asyncio.get_running_loop()
    transport, answers = await loop.create_datagram_endpoint(
        _Answers, remote_addr=(request.address, request.port))
    try:
        branch, call_id, tag = _ids()
        data = request.wire(transport.get_extra_info("sockname")[:2], branch, call_id, tag)
        interval = t1_s
        while True:
            transport.sendto(data)
            until = loop.time() + interval
            while (left := until - loop.time()) > 0:
                try:
                    item = await asyncio.wait_for(answers.queue.get(), left)
                except TimeoutError:
                    break
                if isinstance(item, Exception):
                    raise item
                resp = parse_response(item)
                if resp is not None and resp.code >= 200 and _matches(resp, branch, call_id):
                    return resp
            interval = min(interval * 2, t2_s)
    finally:
        transport.close()


async def _over_tcp(request: CheckSync) -> Response:
    reader, writer = await asyncio.open_connection(request.address, request.port,
                                                   limit=MAX_MESSAGE)
    try:
        branch, call_id, tag = _ids()
        writer.write(request.wire(writer.get_extra_info("sockname")[:2], branch, call_id, tag))
        await writer.drain()
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                raise ConnectionError("connection closed without an answer to NOTIFY") from None
            resp = parse_response(head.lstrip(b"\r\n"))
            if resp is None:
                raise ConnectionError("answered NOTIFY with something that is not SIP")
            length = resp.first("content-length")
            if length.isdigit() and 0 < int(length) <= MAX_MESSAGE:
                await reader.readexactly(int(length))
            if resp.code >= 200 and _matches(resp, branch, call_id):
                return resp
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
