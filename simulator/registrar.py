"""The province's SIP registrar, and the REGISTER every simulated codec sends to it.

``Registrar`` listens on UDP at one address (docs/simulator.md: the first endpoint's
/24 with host part .254, port 5060, unless the simulator is told otherwise) and
answers REGISTER as RFC 3261 section 10.3 says: ``200 OK`` with the binding's
Contact and Expires, or the refusal a ``registration: fail`` fault asks for
(``403 Forbidden``).  OPTIONS gets 200, other methods 405.  ``register()`` is the
codec's side: one REGISTER transaction over UDP from the codec's own address,
retransmitted on RFC 3261's Timer E schedule (0.5 s, doubling) until its deadline.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import ipaddress
import logging
import secrets
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from simulator.sip import Request, parse_request
from simulator.web import UdpListener

log = logging.getLogger(__name__)

REGISTRAR_PORT = 5060
REGISTRAR_HOST = 254
"""Host part of the registrar's address in the first endpoint's /24."""
EXPIRES_S = 3600
"""What a codec asks for and the registrar grants: one refresh an hour (RFC 3261's default)."""
MIN_EXPIRES_S = 60

Refusal = Callable[[str], tuple[int, str] | None]
"""Source address of a REGISTER -> the (status, reason) to refuse it with, None to accept."""


def default_registrar(addresses: Sequence[str]) -> str:
    """The registrar's address for a fleet: ``A.B.C.254`` of the first endpoint's
    IPv4 address, moved down (.253, ...) past any endpoint that uses it."""
    taken = set(addresses)
    first = next((a for a in addresses if _ipv4(a)), "127.0.0.1")
    net = ipaddress.ip_network(f"{first}/24", strict=False)
    for host in range(REGISTRAR_HOST, 0, -1):
        candidate = str(net.network_address + host)
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free address for the registrar in {net}")


def _ipv4(text: str) -> bool:
    try:
        return ipaddress.ip_address(text).version == 4
    except ValueError:
        return False


@dataclass(frozen=True)
class Binding:
    """One registered contact."""

    aor: str
    contact: str
    source: str
    expires_at: float


class Registrar(UdpListener):
    """A SIP registrar over UDP; ``bindings`` maps address-of-record to its contact."""

    def __init__(self, host: str, port: int = REGISTRAR_PORT,
                 refuse: Refusal = lambda source: None) -> None:
        super().__init__(host, port)
        self.refuse = refuse
        self.bindings: dict[str, Binding] = {}

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        req = parse_request(data)
        if req is None or self.transport is None or not req.get("via"):
            return
        if req.method == "ACK":
            return
        if req.method == "REGISTER":
            code, phrase, extra = self._register(req, addr[0])
        elif req.method == "OPTIONS":
            code, phrase, extra = 200, "OK", []
        else:
            code, phrase, extra = 405, "Method Not Allowed", ["Allow: REGISTER, OPTIONS"]
        self.transport.sendto(self._response(req, code, phrase, extra), addr)

    def _register(self, req: Request, source: str) -> tuple[int, str, list[str]]:
        refusal = self.refuse(source)
        if refusal is not None:
            return refusal[0], refusal[1], []
        aor = _uri(req.get("to")[0]) if req.get("to") else ""
        contacts = req.get("contact")
        if not aor or not contacts:
            return 400, "Bad Request", []
        expires = int((req.get("expires") or [str(EXPIRES_S)])[0] or EXPIRES_S)
        if expires == 0:
            self.bindings.pop(aor, None)
            return 200, "OK", []
        if expires < MIN_EXPIRES_S:
            return 423, "Interval Too Brief", [f"Min-Expires: {MIN_EXPIRES_S}"]
        expires = min(expires, EXPIRES_S)
        contact = contacts[0].split(";", 1)[0].strip()
        self.bindings[aor] = Binding(aor, contact, source, time.monotonic() + expires)
        return 200, "OK", [f"Contact: {contact};expires={expires}", f"Expires: {expires}"]

    def _response(self, req: Request, code: int, phrase: str, extra: list[str]) -> bytes:
        lines = [f"SIP/2.0 {code} {phrase}", *(f"Via: {v}" for v in req.get("via"))]
        for name, label in (("from", "From"), ("to", "To"), ("call-id", "Call-ID"),
                            ("cseq", "CSeq")):
            for value in req.get(name):
                if name == "to" and ";tag=" not in value:
                    tag = hashlib.sha1("".join(req.get("call-id")).encode()).hexdigest()[:10]
                    value = f"{value};tag={tag}"
                lines.append(f"{label}: {value}")
        lines += [*extra, "Server: vcfleet-simulator registrar", "Content-Length: 0", "", ""]
        return "\r\n".join(lines).encode()

    def registered(self, aor: str) -> bool:
        """Whether an address-of-record has a live binding."""
        b = self.bindings.get(aor)
        return b is not None and b.expires_at > time.monotonic()


def _uri(header: str) -> str:
    """``sip:user@host`` of a From/To/Contact value, without brackets, tag or scheme."""
    value = header.split(";tag=", 1)[0].strip()
    if "<" in value:
        value = value.split("<", 1)[1].split(">", 1)[0]
    return value.removeprefix("sip:").removeprefix("sips:")


def _answer(data: bytes, branch: str) -> tuple[int, str, int] | None:
    """(status, reason, granted expiry) of a final response to our transaction, else None."""
    try:
        head = data.decode().partition("\r\n\r\n")[0]
        lines = head.split("\r\n")
        version, code, phrase = [*lines[0].split(" ", 2), ""][:3]
        if version != "SIP/2.0" or branch not in head or int(code) < 200:
            return None
        expires = EXPIRES_S
        for line in lines[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "expires":
                expires = int(value.strip())
        return int(code), phrase.strip(), expires
    except (UnicodeDecodeError, ValueError):
        return None


async def register(local: str, registrar: tuple[str, int], aor: str, *, call_id: str,
                   cseq: int, expires: int = EXPIRES_S, timeout_s: float = 4.0,
                   ) -> tuple[int, str, int] | None:
    """Send one REGISTER from ``local`` (the codec's address); the final answer
    (status, reason, granted expiry) or None when none came within ``timeout_s``.

    A bare non-blocking socket with a reader callback and retransmission timers (no
    task, no transport): hundreds of codecs register at once when the simulator starts.
    """
    loop = asyncio.get_running_loop()
    branch = "z9hG4bK" + secrets.token_hex(8)
    sock = socket.socket(socket.AF_INET6 if ":" in local else socket.AF_INET,
                         socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.bind((local, 0))
        sock.connect(registrar)
    except OSError:  # no route from the codec's address (loopback to a real address)
        sock.close()
        return None
    port = sock.getsockname()[1]
    user, _, domain = aor.rpartition("@")
    message = (f"REGISTER sip:{domain} SIP/2.0\r\n"
               f"Via: SIP/2.0/UDP {local}:{port};branch={branch};rport\r\n"
               "Max-Forwards: 70\r\n"
               f"From: <sip:{aor}>;tag={hashlib.sha1(call_id.encode()).hexdigest()[:8]}\r\n"
               f"To: <sip:{aor}>\r\n"
               f"Call-ID: {call_id}\r\n"
               f"CSeq: {cseq} REGISTER\r\n"
               f"Contact: <sip:{user or aor}@{local}:{REGISTRAR_PORT}>\r\n"
               f"Expires: {expires}\r\n"
               "User-Agent: vcfleet-simulator\r\n"
               "Content-Length: 0\r\n\r\n").encode()
    done: asyncio.Future[tuple[int, str, int] | None] = loop.create_future()
    deadline = loop.time() + timeout_s
    timer: list[asyncio.TimerHandle] = []

    def readable() -> None:
        try:
            data = sock.recv(65536)
        except OSError:  # nothing yet, or an ICMP error: keep retransmitting
            return
        answer = _answer(data, branch)
        if answer is not None and not done.done():
            done.set_result(answer)

    def send(interval: float) -> None:  # RFC 3261 Timer E: 0.5 s, doubling, at most 4 s
        if done.done():
            return
        left = deadline - loop.time()
        if left <= 0:
            done.set_result(None)
            return
        try:
            sock.send(message)
        except OSError as exc:
            if exc.errno not in (errno.ECONNREFUSED, errno.EAGAIN):
                done.set_result(None)
                return
        timer[:] = [loop.call_later(min(interval, left), send, min(interval * 2, 4.0))]

    loop.add_reader(sock.fileno(), readable)
    try:
        send(0.5)
        return await done
    finally:
        loop.remove_reader(sock.fileno())
        for handle in timer:
            handle.cancel()
        sock.close()
