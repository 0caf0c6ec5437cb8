"""ICMP echo probe: a SmokePing-style burst giving median RTT, jitter and loss.

The probe sends ``count`` echo requests ``interval_s`` apart and waits for the
replies until ``reply_timeout_s`` after the last request (or its deadline).

Figures:

- ``rtt_ms``: the median round-trip time of the replies (SmokePing's "median ping");
- ``rtt_min_ms`` / ``rtt_max_ms``: the fastest and slowest reply;
- ``jitter_ms``: the mean absolute difference between the RTTs of successive
  replies (in sending order), |RTT(i) - RTT(i-1)| averaged; the same idea as the
  RFC 3550 interarrival jitter without its 1/16 smoothing.  Absent with fewer than
  two replies;
- ``loss_ratio``: the share of requests left unanswered (0..1).

The check fails only when no reply at all arrives; partial loss is a figure the
verdict judges.

**Sockets.**  A raw ICMP socket needs CAP_NET_RAW (root); otherwise Linux offers
an unprivileged ICMP datagram socket to the groups in
``net.ipv4.ping_group_range``.  ``mode="auto"`` tries raw, then datagram; when
neither is permitted the check fails with "ICMP not permitted: ..." and the fix
(``sysctl``), never a crash.  One socket per event loop and kind is shared by all
concurrent probes (a raw socket receives every echo reply on the host, so one per
probe would cost each probe every other probe's replies); replies are matched to
their probe by address, identifier and sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import os
import random
import socket
import statistics
import struct
import time
from dataclasses import dataclass, field
from typing import Literal

from probes import timestamps
from probes.base import OwnDeadline, ProbeResult, Target

ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
PROTO: dict[int, int] = {socket.AF_INET: socket.IPPROTO_ICMP,
                         socket.AF_INET6: socket.IPPROTO_ICMPV6}
PING_GROUP_RANGE = "/proc/sys/net/ipv4/ping_group_range"
SO_RCVBUFFORCE = 33
SOL_RAW, ICMP_FILTER = 255, 1
RCVBUF_BYTES = 16 << 20
LATE_S = 0.1
"""A burst whose timers the loop ran this late (or later) does not measure loss: an
unanswered request may be the starved prober's, not the room's (its figures are then
``unreliable`` without ``loss_ratio``, and the sweep measures the check again)."""


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the ICMP echo check."""

    count: int = 10
    """Echo requests per burst."""
    interval_s: float = 0.05
    """Time between two requests of a burst."""
    reply_timeout_s: float = 1.0
    """How long to wait for replies after the last request."""
    payload_bytes: int = 56
    """Echo payload size (like ping's default)."""
    mode: Literal["auto", "raw", "unprivileged"] = "auto"
    """Raw socket, unprivileged datagram socket, or raw then datagram."""
    timeout_s: float | None = None
    """The probe's own deadline (the sweep engine sets it under the check's deadline)."""


class NotPermitted(Exception):
    """Neither a raw nor an unprivileged ICMP socket may be opened."""


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of ``data``."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return int(~total & 0xFFFF)


def echo_request(family: int, ident: int, seq: int, payload: bytes) -> bytes:
    """An echo request with a valid checksum (the kernel recomputes it for ICMPv6)."""
    header = struct.pack("!BBHHH", ECHO_REQUEST[family], 0, 0, ident, seq)
    cksum = checksum(header + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST[family], 0, cksum, ident, seq) + payload


@dataclass
class _Pinger:
    """One ICMP socket of one event loop, shared by every probe running on it."""

    sock: socket.socket
    family: int
    raw: bool
    ident: int
    users: int = 0
    next_seq: int = 0
    waiters: dict[tuple[str, int], asyncio.Future[float]] = field(default_factory=dict)

    def seq(self) -> int:
        """A sequence number unique among the requests in flight on this socket."""
        self.next_seq = (self.next_seq + 1) & 0xFFFF
        return self.next_seq

    def readable(self) -> None:
        """Drain the socket and resolve the futures of the replies that are ours."""
        while True:
            try:
                data, ancillary, _, addr = self.sock.recvmsg(65535, timestamps.ANCILLARY_BYTES)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            at = timestamps.arrival(ancillary)
            if self.raw and self.family == socket.AF_INET:
                data = data[(data[0] & 0x0F) * 4:]  # strip the IPv4 header
            if len(data) < 8:
                continue
            kind, _, _, ident, seq = struct.unpack("!BBHHH", data[:8])
            if kind != ECHO_REPLY[self.family] or (self.raw and ident != self.ident):
                continue
            waiter = self.waiters.pop((addr[0], seq), None)
            if waiter is not None and not waiter.done():
                waiter.set_result(at)


def _tune(sock: socket.socket, family: int, raw: bool) -> None:
    """Kernel receive timestamps, a large receive buffer, and (raw IPv4) echo replies only."""
    timestamps.enable(sock)
    for option in (SO_RCVBUFFORCE, socket.SO_RCVBUF):  # FORCE passes rmem_max when root
        try:
            sock.setsockopt(socket.SOL_SOCKET, option, RCVBUF_BYTES)
            break
        except OSError:
            continue
    if raw and family == socket.AF_INET:  # ICMP_FILTER: a bit set = that type is dropped
        with contextlib.suppress(OSError):
            sock.setsockopt(SOL_RAW, ICMP_FILTER, struct.pack("I", ~1 & 0xFFFFFFFF))


_PINGERS: dict[tuple[int, int, str], _Pinger] = {}
_new_socket = socket.socket  # tests replace it to play an unprivileged user


def _open_socket(family: int, mode: str) -> tuple[socket.socket, bool]:
    """An ICMP socket and whether it is raw; NotPermitted with the fix when none may open."""
    errors: list[str] = []
    if mode in ("auto", "raw"):
        try:
            return _new_socket(family, socket.SOCK_RAW, PROTO[family]), True
        except PermissionError:
            errors.append("no raw socket (needs root or CAP_NET_RAW)")
    if mode in ("auto", "unprivileged"):
        try:
            return _new_socket(family, socket.SOCK_DGRAM, PROTO[family]), False
        except PermissionError:
            errors.append(f"group {os.getgid()} is outside net.ipv4.ping_group_range "
                          f"({_ping_group_range()})")
    raise NotPermitted("ICMP not permitted: " + "; ".join(errors) + ". Fix: "
                       "sysctl -w net.ipv4.ping_group_range='0 2147483647' (persist it in "
                       "/etc/sysctl.d), or give the prober CAP_NET_RAW")


def _ping_group_range() -> str:
    try:
        with open(PING_GROUP_RANGE) as f:
            return " ".join(f.read().split())
    except OSError:
        return "unreadable"


def _acquire(loop: asyncio.AbstractEventLoop, family: int, mode: str) -> _Pinger:
    key = (id(loop), family, mode)
    pinger = _PINGERS.get(key)
    if pinger is None:
        sock, raw = _open_socket(family, mode)
        sock.setblocking(False)
        _tune(sock, family, raw)
        ident = (os.getpid() ^ id(loop)) & 0xFFFF if raw else 0
        pinger = _Pinger(sock, family, raw, ident)
        loop.add_reader(sock.fileno(), pinger.readable)
        _PINGERS[key] = pinger
    pinger.users += 1
    return pinger


def _release(loop: asyncio.AbstractEventLoop, family: int, mode: str) -> None:
    key = (id(loop), family, mode)
    pinger = _PINGERS[key]
    pinger.users -= 1
    if pinger.users == 0:
        del _PINGERS[key]
        loop.remove_reader(pinger.sock.fileno())
        pinger.sock.close()


async def _resolve(address: str) -> tuple[int, str]:
    found = timestamps.literal(address)  # a literal address needs no resolver thread
    if found is not None:
        return found
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(address, None, type=socket.SOCK_RAW)
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Send a burst of echo requests; figures rtt_ms (median), jitter_ms, loss_ratio."""
    loop = asyncio.get_running_loop()
    try:
        family, address = await _resolve(target.address)
    except (socket.gaierror, OSError) as exc:
        return ProbeResult.failure(f"cannot resolve {target.address}: {exc}")
    try:
        pinger = _acquire(loop, family, settings.mode)
    except NotPermitted as exc:
        return ProbeResult(ok=False, reason=str(exc), info={"not_permitted": True})
    try:
        rtts, sent, unjudged, late = await _burst(pinger, address, settings)
    except OSError as exc:
        return ProbeResult.failure(f"cannot send ICMP echo to {address}: {exc.strerror or exc}")
    finally:
        _release(loop, family, settings.mode)
    return starved(summarise(rtts, sent, raw=pinger.raw), rtts, unjudged, late)


def starved(result: ProbeResult, rtts_s: list[float | None], unjudged: int,
            late_s: float) -> ProbeResult:
    """``result`` with what the burst could not judge: ``info.unjudged``, and when the
    loop ran ``LATE_S`` late while some request went unanswered, no ``loss_ratio`` and
    ``unreliable`` (a reply not seen in time may be the starved prober's fault, like
    the kernel work that answers on loopback; the sweep measures the check again)."""
    info = {**result.info, **({"unjudged": unjudged} if unjudged else {})}
    if result.ok and late_s >= LATE_S and any(r is None for r in rtts_s):
        figures = {k: v for k, v in result.figures.items() if k != "loss_ratio"}
        info.update(loop_late_ms=round(late_s * 1000, 1), overloaded="prober")
        return dataclasses.replace(result, figures=figures, info=info, unreliable=True)
    return dataclasses.replace(result, info=info) if unjudged else result


async def _burst(pinger: _Pinger, address: str,
                 settings: Settings) -> tuple[list[float | None], int, int, float]:
    """Send the burst; the RTT (seconds) of each judged request in order (None if
    unanswered), how many were judged, how many were not, and how late (seconds) the
    loop woke the burst at worst.

    An unanswered request is lost only if it had its whole ``reply_timeout_s`` or a
    later request was answered (replies come back in order).  The others, sent so
    late that the deadline cut their wait (a starved loop fell behind the burst's
    schedule), are left out of the figures: they say nothing about the room."""
    loop = asyncio.get_running_loop()
    budget = settings.timeout_s if settings.timeout_s is not None else float("inf")
    deadline = loop.time() + budget
    payload = b"vcfleet-" + bytes(max(0, settings.payload_bytes - 8))
    pending: list[tuple[float, tuple[str, int], asyncio.Future[float]]] = []
    sent_loop: list[float] = []
    try:
        # Start at a random point of the first interval, so that concurrent bursts
        # interleave instead of all sending at once (SmokePing spreads its pings too),
        # and keep to the schedule, so that a late wake-up does not delay the rest.
        first = loop.time() + random.uniform(0, settings.interval_s)
        late = 0.0
        for i in range(settings.count):
            planned = first + i * settings.interval_s
            await asyncio.sleep(max(0.0, planned - loop.time()))
            late = max(late, loop.time() - planned)
            if loop.time() >= deadline:
                break
            seq = pinger.seq()
            key = (address, seq)
            fut: asyncio.Future[float] = loop.create_future()
            pinger.waiters[key] = fut
            packet = echo_request(pinger.family, pinger.ident, seq, payload)
            sent_loop.append(loop.time())
            sent_at = await _send(pinger.sock, packet, address, deadline)
            pending.append((sent_at, key, fut))
        wait_until = min(deadline, loop.time() + settings.reply_timeout_s)
        futures = [f for _, _, f in pending]
        if futures and (left := wait_until - loop.time()) > 0:
            await asyncio.wait(futures, timeout=left)
            if not all(f.done() for f in futures):
                late = max(late, loop.time() - wait_until)
        rtts = [f.result() - sent_at if f.done() and not f.cancelled() else None
                for sent_at, _, f in pending]
        judged = judged_replies(rtts, [loop.time() - t for t in sent_loop],
                                settings.reply_timeout_s)
        return judged, len(judged), len(rtts) - len(judged), late
    finally:
        for _, key, fut in pending:
            pinger.waiters.pop(key, None)
            fut.cancel()


async def _send(sock: socket.socket, packet: bytes, address: str, deadline: float) -> float:
    """Send one request (waiting while the send buffer is full); its send time (epoch s)."""
    loop = asyncio.get_running_loop()
    while True:
        sent_at = time.time()
        try:
            sock.sendto(packet, (address, 0))
            return sent_at
        except BlockingIOError:
            if loop.time() >= deadline:
                return sent_at  # never sent: it will count as lost
            await asyncio.sleep(0.002)


def judged_replies(rtts_s: list[float | None], waited_s: list[float],
                   reply_timeout_s: float) -> list[float | None]:
    """The requests of a burst that tell about the room (``_burst``): every answered
    one, every unanswered one before the last answered, and every unanswered one that
    was waited for ``reply_timeout_s`` (``waited_s``: how long since each was sent).
    All of them when none would be left (nothing answered at all)."""
    answered = [i for i, r in enumerate(rtts_s) if r is not None]
    last = answered[-1] if answered else -1
    judged = [r for i, r in enumerate(rtts_s)
              if r is not None or i < last or waited_s[i] >= reply_timeout_s]
    return judged or list(rtts_s)


def summarise(rtts_s: list[float | None], sent: int, *, raw: bool = True) -> ProbeResult:
    """The result of a burst from the RTT (seconds, None = lost) of each request in order."""
    got = [r * 1000.0 for r in rtts_s if r is not None]
    info = {"sent": sent, "received": len(got), "socket": "raw" if raw else "datagram"}
    if not got:
        return ProbeResult(ok=False, figures={"loss_ratio": 1.0}, info=info,
                           reason=f"no echo reply to {sent} request{'s' if sent != 1 else ''}")
    figures = {
        "rtt_ms": round(statistics.median(got), 3),
        "rtt_min_ms": round(min(got), 3),
        "rtt_max_ms": round(max(got), 3),
        "loss_ratio": round(1.0 - len(got) / sent, 4),
    }
    if len(got) >= 2:
        figures["jitter_ms"] = round(
            statistics.fmean(abs(b - a) for a, b in itertools.pairwise(got)), 3)
    return ProbeResult(ok=True, figures=figures, info=info)

