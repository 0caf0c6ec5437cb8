"""SIP OPTIONS probe ("SIP ping"): is the endpoint's SIP stack alive, and how fast does it answer.

One well-formed OPTIONS request (RFC 3261 section 11) over UDP or TCP.

- **UDP** runs up to ``transactions`` (4) independent OPTIONS transactions, the
  next one started ``transaction_gap_s`` (100 ms) after the last while no final
  answer has come, the way a monitor sends several pings rather than one
  (SmokePing, blackbox_exporter).  Each retransmits like a non-INVITE client
  transaction (RFC 3261 17.1.2.2, timer E): the first retransmission after
  T1 = 500 ms, each next interval doubled up to T2 = 4 s, until a final response
  arrives or the probe's deadline passes.  Retransmissions are the same request
  (same branch, Call-ID and CSeq) but for their Timestamp.  The first final answer
  to any of them ends the check.  Within the 2 s deadline that is 12 datagrams
  rather than 3: with 20 % loss each way one exchange fails with p = 0.36, all 12
  with p = 5e-6 (3: 0.05), so a lossy room is not called down, while a silent
  one is still down at the same deadline.  A room that answers at once (loopback,
  LAN) gets one request.
- **TCP** sends the request once over a fresh connection (no retransmission:
  the transport is reliable).

The response is matched by the branch of the top Via, the Call-ID and the CSeq;
anything else (another transaction's response, a request, garbage) is ignored and
counted.  Provisional (1xx) responses are noted and the wait goes on.

**Unanswered transmissions** (``info.unanswered``): the transmissions sent before
the one that was answered (told by its Timestamp) whose answer should have come
first: lost, or overtaken under jitter.  They are a note, never a verdict: one
check's dozen datagrams are too small a sample to judge loss by (a 5 % loss room
would flip between verdicts), the ICMP burst and the media check measure it.

**RTT** (``rtt_ms``) is measured from the transmission that was answered; when
several transactions were in flight, their answers are awaited as long again as
the first took (at most 0.5 s) and the fastest round trip is the figure (a stack
or simulator that answers its backlog at once makes the first answer's RTT its
queue, not the path).  Every
transmission carries a ``Timestamp`` header (RFC 3261 20.38) with its own send
time; a UAS copies it into the response (8.2.6.1), so the answer says which
transmission it answers, even after retransmissions.  When the answer carries no
``Timestamp`` and it came after a retransmission, the transmission it answers is
ambiguous (Karn's problem): ``rtt_ms`` is then measured from the *first*
transmission, an upper bound, and ``info`` says ``rtt_ambiguous``.  Over UDP the
arrival time is the kernel's receive stamp (``probes.timestamps``), so a busy sweep
loop does not inflate the RTT.

**What each final answer means** (``answer_class``; docs/sweep.md has the table and
docs/decisions.md the argument).  Any final answer proves that a SIP stack listens;
what it says decides the room:

- **2xx**: ready.
- **401, 407**: ready; the stack is alive and demands authentication (``info``
  ``auth_required``).  A codec set to challenge every request challenges OPTIONS too,
  and the registrar or bridge that calls it holds the credentials the probe does not.
- **3xx, 403, 404 and every other 4xx**: degraded, with the code and reason phrase
  (``SIP 403 Forbidden``): the stack answers, but the request a call would make is
  refused or sent elsewhere, so the room is to be looked at, not phoned about as dead.
- **5xx, 6xx**: down: the stack says it cannot or will not take calls.

The probe reports the class (``ok`` false for down, ``ProbeResult.degraded`` for
degraded); ``vcfleet.report.judge`` turns it into the verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import socket
import time
from dataclasses import dataclass, field
from enum import StrEnum

from probes import timestamps
from probes.base import Info, OwnDeadline, ProbeResult, Target

T1_S = 0.5
T2_S = 4.0
MAGIC_COOKIE = "z9hG4bK"
COMPACT = {"v": "via", "f": "from", "t": "to", "i": "call-id", "l": "content-length",
           "m": "contact", "c": "content-type"}
MAX_MESSAGE = 65536
MAX_EXTRA_WAIT_S = 0.5
"""At most this long for the other transactions' answers after the first (see
``_later_answers``)."""
MAX_PHRASE = 64
"""Longest reason phrase quoted in a verdict reason (``info.reason`` keeps it whole)."""


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the SIP OPTIONS check."""

    transport: str | None = None
    """``udp`` or ``tcp``; None uses the target's transport (default udp)."""
    port: int = 5060
    """Port when the target names none."""
    t1_s: float = T1_S
    """RFC 3261 T1: first retransmission interval over UDP."""
    t2_s: float = T2_S
    """RFC 3261 T2: the cap of the doubling retransmission interval."""
    transactions: int = 4
    """UDP: at most this many independent OPTIONS transactions (each retransmitting
    with timer E), started ``transaction_gap_s`` apart while none is answered."""
    transaction_gap_s: float = 0.1
    """UDP: how long without a final answer before the next transaction starts."""
    timeout_s: float | None = None
    """The probe's own deadline; the sweep engine sets it just under the check's deadline
    so that the probe can say what it saw (None: 64 x T1, RFC 3261 timer F)."""
    from_user: str = "vcfleet"
    """User part of the From URI."""
    user_agent: str = "vcfleet-probe"


class AnswerClass(StrEnum):
    """What a final answer to OPTIONS says about the room."""

    READY = "ready"
    """2xx: the stack accepts requests."""
    AUTH_REQUIRED = "auth_required"
    """401, 407: alive and demands authentication; ready."""
    DEGRADED = "degraded"
    """3xx and the other 4xx: alive, but refuses or redirects the request."""
    DOWN = "down"
    """5xx, 6xx: alive, but says it cannot or will not take calls."""


def answer_class(code: int) -> AnswerClass:
    """The class of a final (200-699) answer to OPTIONS."""
    if 200 <= code < 300:
        return AnswerClass.READY
    if code in (401, 407):
        return AnswerClass.AUTH_REQUIRED
    if code < 500:
        return AnswerClass.DEGRADED
    return AnswerClass.DOWN


@dataclass
class _Request:
    """One OPTIONS transaction's identity and wire form (minus the Timestamp)."""

    branch: str
    call_id: str
    cseq: int
    head: str

    def wire(self, sent_at: float) -> bytes:
        """The request as sent at ``sent_at`` (epoch seconds) with its Timestamp."""
        return (f"{self.head}Timestamp: {sent_at:.6f}\r\nContent-Length: 0\r\n\r\n").encode()


@dataclass
class Response:
    """A parsed SIP response (header names folded to lower-case long form)."""

    code: int
    reason: str
    headers: dict[str, list[str]]

    def first(self, name: str) -> str:
        """The first value of a header, or "" if absent."""
        values = self.headers.get(name)
        return values[0] if values else ""


def parse_response(data: bytes) -> Response | None:
    """A SIP response from bytes; None for garbage or a request."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text.split("\r\n\r\n", 1)[0].replace("\r\n", "\n").split("\n")
    version, _, rest = lines[0].partition(" ")
    code_text, _, reason = rest.partition(" ")
    if version != "SIP/2.0" or len(code_text) != 3 or not code_text.isdigit():
        return None
    headers: dict[str, list[str]] = {}
    last = ""
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and last:  # folded continuation line
            headers[last][-1] += " " + line.strip()
            continue
        name, colon, value = line.partition(":")
        if not colon:
            return None
        key = name.strip().lower()
        last = COMPACT.get(key, key)
        values = [v.strip() for v in value.split(",")] if last == "via" else [value.strip()]
        headers.setdefault(last, []).extend(values)
    return Response(int(code_text), reason.strip(), headers)


def _param(header: str, name: str) -> str | None:
    for part in header.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == name:
            return value.strip()
    return None


def _uri_host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def build_request(target: Target, port: int, transport: str, local: tuple[str, int],
                  settings: Settings) -> _Request:
    """A well-formed OPTIONS request for the target (RFC 3261 8.1.1 and 11)."""
    branch = MAGIC_COOKIE + secrets.token_hex(8)
    call_id = f"{secrets.token_hex(12)}@{_uri_host(local[0])}"
    tag = secrets.token_hex(5)
    uri = f"sip:{_uri_host(target.address)}:{port}"
    proto = transport.upper()
    sent_by = f"{_uri_host(local[0])}:{local[1]}"
    head = (
        f"OPTIONS {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/{proto} {sent_by};branch={branch};rport\r\n"
        "Max-Forwards: 70\r\n"
        f"From: <sip:{settings.from_user}@{_uri_host(local[0])}>;tag={tag}\r\n"
        f"To: <{uri}>\r\n"
        f"Call-ID: {call_id}\r\n"
        "CSeq: 1 OPTIONS\r\n"
        f"Contact: <sip:{settings.from_user}@{sent_by};transport={transport}>\r\n"
        "Accept: application/sdp\r\n"
        f"User-Agent: {settings.user_agent}\r\n"
    )
    return _Request(branch, call_id, 1, head)


def matches(resp: Response, req: _Request) -> bool:
    """True when the response belongs to our transaction (branch, Call-ID, CSeq)."""
    cseq = resp.first("cseq").split()
    return (_param(resp.first("via"), "branch") == req.branch
            and resp.first("call-id") == req.call_id
            and cseq == [str(req.cseq), "OPTIONS"])


@dataclass
class _Exchange:
    """What one transaction saw: transmissions, ignored datagrams, provisional codes."""

    sent: list[float] = field(default_factory=list)
    ignored: int = 0
    provisional: list[int] = field(default_factory=list)
    requests: list[_Request] = field(default_factory=list)
    """UDP: every transaction's request."""
    answers: list[tuple[bytes, float]] = field(default_factory=list)
    """UDP: datagrams received but not yet read when the deadline passed."""
    final: tuple[Response, float] | None = None
    """UDP: the first final answer, once it came."""
    more: list[tuple[Response, float]] = field(default_factory=list)
    """UDP: final answers to the other transactions in flight, after the first."""

    def late_final(self) -> tuple[Response, float] | None:
        """A final answer that had arrived, but was not read, by the deadline (a stalled
        loop wakes to the deadline's timer and the datagram in the same iteration)."""
        if self.final is not None:
            return self.final
        for data, at in self.answers:
            resp = parse_response(data)
            if (resp is not None and resp.code >= 200
                    and any(matches(resp, req) for req in self.requests)):
                return resp, at
        return None


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Send OPTIONS; figures ``rtt_ms``; info ``status``, ``reason``, ``server``, ``transport``."""
    transport = (settings.transport or target.transport or "udp").lower()
    port = target.port or settings.port
    if transport not in ("udp", "tcp"):
        return ProbeResult.failure(f"unsupported SIP transport {transport!r}")
    timeout = settings.timeout_s if settings.timeout_s is not None else 64 * settings.t1_s
    where = f"{port}/{transport}"
    ex = _Exchange()
    try:
        async with asyncio.timeout(timeout):
            if transport == "udp":
                resp, received = await _over_udp(target, port, settings, ex)
            else:
                resp, received = await _over_tcp(target, port, settings, ex)
    except TimeoutError:
        late = ex.late_final()
        if late is None:
            return ProbeResult.failure(_silence(ex, where, timeout))
        resp, received = late
    except ConnectionRefusedError:
        what = "ICMP port unreachable" if transport == "udp" else "connection refused"
        return ProbeResult.failure(f"SIP port {where} closed ({what})")
    except ConnectionError as exc:
        return ProbeResult.failure(f"SIP over {where}: {exc}")
    except OSError as exc:
        return ProbeResult.failure(f"cannot reach SIP port {where}: {exc.strerror or exc}")
    return _result(resp, received, ex, transport)


def _silence(ex: _Exchange, where: str, timeout: float) -> str:
    sent = f"{len(ex.sent)} transmission{'s' if len(ex.sent) != 1 else ''}"
    if ex.provisional:
        return f"only a provisional {ex.provisional[-1]} to OPTIONS on {where} in {timeout:g} s"
    if ex.ignored:
        return (f"no valid answer to OPTIONS on {where} in {timeout:g} s ({sent}; "
                f"{ex.ignored} unrelated or malformed message{'s' if ex.ignored > 1 else ''})")
    if not ex.sent:
        return f"could not connect to SIP port {where} in {timeout:g} s"
    return f"no answer to OPTIONS on {where} in {timeout:g} s ({sent})"


def _echoed_rtt(resp: Response, received: float) -> float | None:
    """The round trip of the transmission whose Timestamp the answer echoes, if any."""
    stamp = resp.first("timestamp").split()
    with contextlib.suppress(ValueError, IndexError):
        return received - float(stamp[0])
    return None


def _result(resp: Response, received: float, ex: _Exchange, transport: str) -> ProbeResult:
    rtt_s, ambiguous, unanswered = _rtt(resp, received, ex.sent)
    faster = [r for r in (_echoed_rtt(*more) for more in ex.more) if r is not None]
    if faster and not ambiguous and min(faster) < rtt_s:
        rtt_s = min(faster)
    info: dict[str, Info] = {"status": resp.code, "reason": resp.reason,
                             "transport": transport, "transmissions": len(ex.sent)}
    if resp.first("server") or resp.first("user-agent"):
        info["server"] = resp.first("server") or resp.first("user-agent")
    if ambiguous:
        info["rtt_ambiguous"] = True
    if ex.ignored:
        info["ignored_messages"] = ex.ignored
    notes: list[str] = []
    if unanswered:
        info["unanswered"] = unanswered
        notes.append(f"answered after {unanswered} unanswered "
                     f"transmission{'s' if unanswered != 1 else ''} (signalling loss)")
    figures = {"rtt_ms": round(rtt_s * 1000.0, 3)}
    kind = answer_class(resp.code)
    info["class"] = kind.value
    phrase = resp.reason if len(resp.reason) <= MAX_PHRASE else resp.reason[:MAX_PHRASE - 1] + "…"
    answered = f"SIP {resp.code} {phrase}".rstrip()
    if kind is AnswerClass.AUTH_REQUIRED:
        info["auth_required"] = True
        notes.insert(0, f"{answered}: alive, demands authentication")
    if kind is AnswerClass.DOWN:
        return ProbeResult(ok=False, figures=figures, reason=f"{answered}: the SIP stack "
                           "refuses calls", info=info, notes=tuple(notes))
    degraded = answered if kind is AnswerClass.DEGRADED else ""
    return ProbeResult(ok=True, figures=figures, info=info, degraded=degraded,
                       notes=tuple(notes))


def _rtt(resp: Response, received: float, sent: list[float]) -> tuple[float, bool, int]:
    """Round-trip time of the answered transmission, whether it is ambiguous, and how
    many transmissions sent before the answered one went unanswered (0 when ambiguous)."""
    stamp = resp.first("timestamp").split()
    if stamp:
        with contextlib.suppress(ValueError):
            echoed = float(stamp[0])
            if any(abs(echoed - t) < 1e-5 for t in sent):
                return received - echoed, False, sum(1 for t in sent if t < echoed - 1e-5)
    before = [t for t in sent if t <= received]
    return received - sent[0], len(before) > 1, 0


@dataclass
class _Transaction:
    """One UDP OPTIONS transaction and its timer E: when it is next sent, and the interval."""

    req: _Request
    due: float
    interval: float


async def _over_udp(target: Target, port: int, settings: Settings,
                    ex: _Exchange) -> tuple[Response, float]:
    loop = asyncio.get_running_loop()
    family, address = await _resolve(target.address, port)
    answers: asyncio.Queue[tuple[bytes, float] | Exception] = asyncio.Queue()
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        timestamps.enable(sock)
        sock.connect((address, port))  # UDP: no packet sent; fixes the local address
        loop.add_reader(sock.fileno(), _drain, sock, answers)
        try:
            return await _transactions(sock, target, port, settings, ex, answers)
        finally:
            loop.remove_reader(sock.fileno())
            _drain(sock, answers)  # what arrived but was not read yet
            while not answers.empty():
                item = answers.get_nowait()
                if not isinstance(item, Exception):
                    ex.answers.append(item)
    finally:
        sock.close()


async def _transactions(sock: socket.socket, target: Target, port: int, settings: Settings,
                        ex: _Exchange, answers: asyncio.Queue[tuple[bytes, float] | Exception]
                        ) -> tuple[Response, float]:
    """Start transactions ``transaction_gap_s`` apart, retransmit each with timer E, and
    return the first final answer to any of them."""
    loop = asyncio.get_running_loop()
    local = sock.getsockname()[:2]
    started: list[_Transaction] = []
    next_start = loop.time()
    while True:
        now = loop.time()
        if len(started) < max(1, settings.transactions) and now >= next_start:
            req = build_request(target, port, "udp", local, settings)
            started.append(_Transaction(req, now, settings.t1_s))
            ex.requests.append(req)
            next_start = now + settings.transaction_gap_s
        for tr in started:
            if tr.due <= now:
                sent_at = time.time()
                ex.sent.append(sent_at)
                with contextlib.suppress(BlockingIOError):  # a full buffer: a lost request
                    sock.send(tr.req.wire(sent_at))
                tr.due = loop.time() + tr.interval  # timer E from the send itself
                tr.interval = min(tr.interval * 2, settings.t2_s)
        until = min(tr.due for tr in started)
        if len(started) < max(1, settings.transactions):
            until = min(until, next_start)
        found = await _await_final(answers, [tr.req for tr in started], ex, until)
        if found is not None:
            await _later_answers(answers, started, found, ex)
            return found


async def _later_answers(answers: asyncio.Queue[tuple[bytes, float] | Exception],
                         started: list[_Transaction], first: tuple[Response, float],
                         ex: _Exchange) -> None:
    """When several transactions were in flight, wait for their answers as long again as
    the first took (at most ``MAX_EXTRA_WAIT_S``): the round trip is the fastest one's
    (``_result``).  A busy SIP stack (or simulator) that answers a backlog at once
    makes the first answer's RTT its queue, not the path."""
    ex.final = first
    rtt = _echoed_rtt(*first)
    others = [tr.req for tr in started if not matches(first[0], tr.req)]
    if not others or rtt is None:
        return
    loop = asyncio.get_running_loop()
    until = loop.time() + min(rtt, MAX_EXTRA_WAIT_S)
    while others:
        found = await _await_final(answers, others, ex, until)
        if found is None:
            return
        ex.more.append(found)
        others = [req for req in others if not matches(found[0], req)]


async def _resolve(address: str, port: int) -> tuple[int, str]:
    found = timestamps.literal(address)
    if found is not None:
        return found
    infos = await asyncio.get_running_loop().getaddrinfo(address, port, type=socket.SOCK_DGRAM)
    return infos[0][0], str(infos[0][4][0])


def _drain(sock: socket.socket, answers: asyncio.Queue[tuple[bytes, float] | Exception]) -> None:
    """Queue every datagram waiting on the socket with its kernel arrival time, and errors
    (ICMP port unreachable comes back as ConnectionRefusedError on a connected socket)."""
    while True:
        try:
            data, ancillary, _, _ = sock.recvmsg(MAX_MESSAGE, timestamps.ANCILLARY_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            answers.put_nowait(exc)
            return
        answers.put_nowait((data, timestamps.arrival(ancillary)))


async def _await_final(answers: asyncio.Queue[tuple[bytes, float] | Exception],
                       reqs: list[_Request], ex: _Exchange,
                       until: float) -> tuple[Response, float] | None:
    """The final response to any of ``reqs`` if one arrives before ``until`` (loop time)."""
    loop = asyncio.get_running_loop()
    while (left := until - loop.time()) > 0:
        try:
            item = await asyncio.wait_for(answers.get(), left)
        except TimeoutError:
            return None
        if isinstance(item, Exception):
            raise item
        data, at = item
        resp = parse_response(data)
        if resp is None or not any(matches(resp, req) for req in reqs):
            ex.ignored += 1
        elif resp.code < 200:
            ex.provisional.append(resp.code)
        else:
            return resp, at
    return None


async def _over_tcp(target: Target, port: int, settings: Settings,
                    ex: _Exchange) -> tuple[Response, float]:
    reader, writer = await asyncio.open_connection(target.address, port)
    try:
        local = writer.get_extra_info("sockname")[:2]
        req = build_request(target, port, "tcp", local, settings)
        now = time.time()
        ex.sent.append(now)
        writer.write(req.wire(now))
        await writer.drain()
        while True:
            data = await _read_message(reader)
            at = time.time()
            resp = parse_response(data)
            if resp is None:
                ex.ignored += 1
                raise ConnectionError("answered with something that is not a SIP response")
            if not matches(resp, req):
                ex.ignored += 1
            elif resp.code < 200:
                ex.provisional.append(resp.code)
            else:
                return resp, at
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def _read_message(reader: asyncio.StreamReader) -> bytes:
    """One SIP message from a stream (headers, then Content-Length bytes of body)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial.strip():
            raise ConnectionError("answered with something that is not a SIP response") from exc
        raise ConnectionError("connection closed without an answer") from exc
    except asyncio.LimitOverrunError as exc:
        raise ConnectionError("answered with an oversized message") from exc
    head = head.lstrip(b"\r\n")
    resp = parse_response(head)
    length = resp.first("content-length") if resp else ""
    if length.isdigit() and 0 < int(length) <= MAX_MESSAGE:
        await reader.readexactly(int(length))
    return head


__all__ = ["AnswerClass", "Response", "Settings", "answer_class", "build_request", "matches",
           "parse_response", "probe"]
