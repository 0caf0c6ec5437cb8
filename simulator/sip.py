"""The SIP side of a simulated endpoint: OPTIONS answered over UDP and TCP.

``OPTIONS`` gets ``200 OK``, or the status a ``services: {sip: {status: N}}`` fault
chooses (a 401 or 407 with its Digest challenge, a 1xx with no final answer after it);
``ACK`` gets nothing; the other methods of RFC 3261
and its extensions get ``405 Method Not Allowed`` (with ``Allow``); unknown
methods get ``501 Not Implemented``; a request missing a mandatory header gets
``400 Bad Request``.  A Yealink device also takes ``NOTIFY`` (``Event: check-sync``,
its handler answers).  Garbage is dropped (UDP) or closes the connection (TCP).
UDP goes through the endpoint's ``Shaper``: each received datagram may be lost,
each reply may be lost and is delayed by the shaper's delay and jitter.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from probes.shaping import Shaper
from simulator.web import TcpListener, UdpListener

log = logging.getLogger(__name__)

ALLOW = "OPTIONS"
KNOWN_METHODS = {"INVITE", "BYE", "CANCEL", "REGISTER", "SUBSCRIBE", "NOTIFY", "PUBLISH",
                 "MESSAGE", "REFER", "UPDATE", "PRACK", "INFO"}
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "l": "content-length",
           "m": "contact", "c": "content-type"}
MANDATORY = ("via", "from", "to", "call-id", "cseq")
MAX_MESSAGE = 65536
REASONS = {200: "OK", 400: "Bad Request", 405: "Method Not Allowed", 501: "Not Implemented"}
CHALLENGES = {401: "WWW-Authenticate", 407: "Proxy-Authenticate"}

OptionsAnswer = Callable[[], tuple[int, str] | None]
"""What OPTIONS gets now (status, reason phrase); None: 200 OK.  Read per request, so
that a faults reload changes it without restarting the listener."""
NotifyHandler = Callable[["Request"], tuple[int, str]]
"""A device that takes ``NOTIFY`` (Yealink's check-sync): the request -> (status, reason).
It acts after the answer is sent (it schedules its work, it does not do it inline)."""


@dataclass
class Request:
    """A parsed SIP request (headers in order, names folded to their long form)."""

    method: str
    uri: str
    headers: list[tuple[str, str]] = field(default_factory=list)

    def get(self, name: str) -> list[str]:
        """Values of one header (long lower-case name), in order."""
        return [v for n, v in self.headers if n == name]


def parse_request(data: bytes) -> Request | None:
    """The request in a datagram or framed TCP message; None for a response or garbage."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    head = text.split("\r\n\r\n", 1)[0]
    lines = head.replace("\r\n", "\n").split("\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not parts[0].isalpha():
        return None
    req = Request(parts[0].upper(), parts[1])
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and req.headers:  # folded continuation
            name, value = req.headers[-1]
            req.headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            return None
        key = name.strip().lower()
        key = COMPACT.get(key, key)
        if key == "via":  # one header line may carry several comma-separated Vias
            req.headers.extend(("via", v.strip()) for v in value.split(",") if v.strip())
        else:
            req.headers.append((key, value.strip()))
    return req


def _fix_via(via: str, source: tuple[str, int]) -> str:
    """Top Via with ``received`` (RFC 3261 18.2.1) and a filled ``rport`` (RFC 3581)."""
    sent_by, *params = [p.strip() for p in via.split(";")]
    host = sent_by.split(None, 1)[-1].rsplit(":", 1)[0].strip("[]")
    out: list[str] = []
    rport_asked = False
    for p in params:
        name = p.split("=", 1)[0].lower()
        if name == "rport":
            rport_asked = True
            out.append(f"rport={source[1]}")
        elif name != "received":
            out.append(p)
    if rport_asked or host != source[0]:
        out.append(f"received={source[0]}")
    return ";".join([sent_by, *out])


def _tag(call_id: str, local: str) -> str:
    return hashlib.sha1(f"{call_id}|{local}".encode()).hexdigest()[:10]


def respond(req: Request, source: tuple[str, int], local: str, server: str,
            options: tuple[int, str] | None = None,
            notify: NotifyHandler | None = None) -> bytes | None:
    """The response to a request, or None when none is due (ACK, no Via); ``options``
    is the status and reason OPTIONS gets instead of 200 OK; ``notify`` answers NOTIFY
    (without it NOTIFY gets 405, as other methods)."""
    vias = req.get("via")
    if req.method == "ACK" or not vias:
        return None
    code = 200 if req.method == "OPTIONS" else 405 if req.method in KNOWN_METHODS else 501
    phrase = REASONS[code]
    if code == 200 and options is not None:
        code, phrase = options
    if any(not req.get(h) for h in MANDATORY):
        code, phrase = 400, REASONS[400]
    elif req.method == "NOTIFY" and notify is not None:
        return _notify_answer(req, source, local, server, *notify(req))
    lines = [f"SIP/2.0 {code} {phrase}"]
    lines += [f"Via: {_fix_via(v, source) if i == 0 else v}" for i, v in enumerate(vias)]
    for name, label in (("from", "From"), ("to", "To"), ("call-id", "Call-ID"),
                        ("cseq", "CSeq")):
        for value in req.get(name):
            if name == "to" and code != 100 and ";tag=" not in value.replace(" ", ""):
                value = f"{value};tag={_tag(''.join(req.get('call-id')), local)}"
            lines.append(f"{label}: {value}")
    # RFC 3261 8.2.6.1: a UAS copies the request's Timestamp into the response, which
    # tells the prober which (re)transmission was answered.
    lines += [f"Timestamp: {value}" for value in req.get("timestamp")]
    if code in CHALLENGES:
        nonce = hashlib.sha1(f"{local}|{''.join(req.get('call-id'))}".encode()).hexdigest()
        lines.append(f'{CHALLENGES[code]}: Digest realm="{local}", nonce="{nonce}", '
                     'algorithm=MD5, qop="auth"')
    if code in (200, 405):
        lines.append(f"Allow: {ALLOW}")
    if code == 200:
        lines += ["Accept: application/sdp", "Accept-Language: en", "Supported: replaces, timer"]
    lines += [f"Server: {server}", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


def _notify_answer(req: Request, source: tuple[str, int], local: str, server: str,
                   code: int, phrase: str) -> bytes:
    """A NOTIFY's answer: the transaction headers copied as for OPTIONS, ``Allow-Events``
    on 489 (RFC 6665 section 8.3.2)."""
    lines = [f"SIP/2.0 {code} {phrase}"]
    lines += [f"Via: {_fix_via(v, source) if i == 0 else v}"
              for i, v in enumerate(req.get("via"))]
    for name, label in (("from", "From"), ("to", "To"), ("call-id", "Call-ID"),
                        ("cseq", "CSeq")):
        for value in req.get(name):
            if name == "to" and ";tag=" not in value.replace(" ", ""):
                value = f"{value};tag={_tag(''.join(req.get('call-id')), local)}"
            lines.append(f"{label}: {value}")
    if code == 489:
        lines.append("Allow-Events: check-sync")
    lines += [f"Server: {server}", "Content-Length: 0", "", ""]
    return "\r\n".join(lines).encode()


class SipUdp(UdpListener):
    """SIP over UDP on one address (a ``hang`` fault is served by ``web.HangingUdp``)."""

    def __init__(self, host: str, port: int, shaper: Shaper, server: str,
                 options: OptionsAnswer = lambda: None,
                 notify: NotifyHandler | None = None) -> None:
        super().__init__(host, port)
        self.shaper, self.server, self.options = shaper, server, options
        self.notify = notify

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.shaper.receive(self._answer, data, addr)

    def _answer(self, data: bytes, addr: tuple[str, int]) -> None:
        req = parse_request(data)
        if req is None or self.transport is None:
            return
        reply = respond(req, addr, f"{self.host}:{self.port}", self.server, self.options(),
                        self.notify)
        if reply is not None:
            self.shaper.send(self.transport.sendto, reply, addr)

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP %s: %s", self.host, exc)


class SipTcp(TcpListener):
    """SIP over TCP on one address (not shaped; a ``hang`` fault is ``web.HangingTcp``)."""

    def __init__(self, host: str, port: int, server: str,
                 options: OptionsAnswer = lambda: None,
                 notify: NotifyHandler | None = None) -> None:
        super().__init__(host, port)
        self.server, self.options, self.notify = server, options, notify

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answer messages until the peer closes or sends something that is not SIP."""
        peer = writer.get_extra_info("peername")
        while await self._one(reader, writer, (peer[0], peer[1])):
            pass

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   peer: tuple[str, int]) -> bool:
        """Read and answer one message; False when the connection should close."""
        first = await reader.readuntil(b"\n")
        if not first.strip(b"\r\n"):  # RFC 5626 keep-alive (CRLFCRLF): answer CRLF
            if first == b"\r\n" and await reader.readuntil(b"\n") == b"\r\n":
                writer.write(b"\r\n")
                return True
            return False
        if parse_request(first.rstrip(b"\r\n") + b"\r\n\r\n") is None:
            return False  # not a request line: garbage closes the connection at once
        head = first
        while True:  # header lines up to the empty line
            line = await reader.readuntil(b"\n")
            head += line
            if not line.strip(b"\r\n") or len(head) > MAX_MESSAGE:
                break
        req = parse_request(head) if len(head) <= MAX_MESSAGE else None
        if req is None:
            return False
        length = int((req.get("content-length") or ["0"])[0])
        if not 0 <= length <= MAX_MESSAGE:
            return False
        if length:
            await reader.readexactly(length)
        reply = respond(req, peer, f"{self.host}:{self.port}", self.server, self.options(),
                        self.notify)
        if reply is not None:
            writer.write(reply)
            await writer.drain()
        return True
