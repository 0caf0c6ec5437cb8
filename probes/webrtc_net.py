"""Where a WebRTC connection's UDP sockets live, and how they are impaired.

Shared by the probe and the echo responder (docs/webrtc.md, "The loopback"):

- ``ice_addresses(...)`` chooses the host addresses ICE gathers on, per
  connection.  aioice otherwise binds every interface address except
  127.0.0.1, which is wrong for a responder serving one loopback address of
  the simulated fleet and wasteful for a probe that needs the one address its
  route to the responder uses (``route_source_address``).
- ``shape_connection(pc, shaper)`` puts a ``probes.shaping.Shaper`` on every
  ICE socket of a peer connection: delay and jitter on what it sends, loss on
  what it sends and on what it receives, independently; and it stamps each
  incoming RTP and RTCP datagram with the kernel's arrival time
  (``probes.timestamps.LastArrival``), which the round-trip samples and both
  jitters use, so that neither end's event-loop lag shows in a figure.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import socket
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

from aiortc import RTCPeerConnection

from probes.aioice_internals import (
    connection_protocols,
    consent_task,
    interpose,
    protocol_transport,
    replace_host_addresses,
)
from probes.aiortc_internals import connect_tasks, ice_gatherer_connection, stamp_arrivals
from probes.shaping import ShapedDatagramTransport, Shaper, deliver_stamped
from probes.timestamps import LastArrival

_ICE_ADDRESSES: ContextVar[tuple[str, ...] | None] = ContextVar("vcfleet_ice_addresses",
                                                                 default=None)
_aioice_host_addresses: Callable[[bool, bool], list[str]] | None = None


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    chosen = _ICE_ADDRESSES.get()
    if chosen is not None:
        return [a for a in chosen if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]
    assert _aioice_host_addresses is not None
    return _aioice_host_addresses(use_ipv4, use_ipv6)


def _install_hook() -> None:
    # The replacement consults a context variable, so that it changes nothing for
    # a connection gathered outside ``ice_addresses`` (other code in the process).
    global _aioice_host_addresses
    if _aioice_host_addresses is None:
        _aioice_host_addresses = replace_host_addresses(_host_addresses)


@contextlib.contextmanager
def ice_addresses(addresses: Sequence[str] | None) -> Iterator[None]:
    """Within the block, ICE gathers host candidates on ``addresses`` only.

    Wrap ``await pc.setLocalDescription(...)`` (where aiortc gathers) in it.  The
    choice is carried by a context variable, so concurrent connections in one
    event loop each get their own.  None or empty: aioice's default (all
    interface addresses but 127.0.0.1).
    """
    _install_hook()
    token = _ICE_ADDRESSES.set(tuple(addresses) if addresses else None)
    try:
        yield
    finally:
        _ICE_ADDRESSES.reset(token)


async def route_source_address(host: str, port: int = 9) -> str:
    """The local address the routing table uses to reach ``host`` (no packet is sent)."""
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
        family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
        sockaddr: tuple[Any, ...] = (str(ip), port)
    except ValueError:  # a DNS name: resolve it first (this runs in the default executor)
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        family, _, _, _, sockaddr = infos[0]
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.connect(sockaddr)
        return str(sock.getsockname()[0])


def ice_connections(pc: RTCPeerConnection) -> list[Any]:
    """The aioice connections (one per ICE transport) of a peer connection."""
    transports = [t.receiver.transport.transport for t in pc.getTransceivers()]
    if pc.sctp is not None:
        transports.append(pc.sctp.transport.transport)
    out: list[Any] = []
    for ice in transports:
        connection = ice_gatherer_connection(ice.iceGatherer)
        if all(connection is not c for c in out):
            out.append(connection)
    return out


def ice_protocols(pc: RTCPeerConnection) -> list[Any]:
    """The aioice datagram protocols (one per ICE socket) of a peer connection."""
    return [proto for c in ice_connections(pc) for proto in connection_protocols(c)]


async def close_peer_connection(pc: RTCPeerConnection, timeout: float) -> None:
    """Close ``pc`` within ``timeout`` seconds and leave none of its tasks behind.

    Two aiortc/aioice tasks can outlive ``pc.close()``: aiortc's connect task,
    still inside ICE, and the consent-freshness task that aioice's connect()
    starts when it resumes, after the close, with a success it had already
    reached (it would then live on for 30 s).  Both are awaited or cancelled, and the
    RTP/RTCP tasks such a late connect task started are stopped.
    """
    connections = ice_connections(pc)
    try:
        async with asyncio.timeout(timeout):
            await pc.close()
            pending = connect_tasks(pc)
            if pending:
                await asyncio.wait(pending)
            for task in pending:  # its ConnectionError after a close is expected
                if not task.cancelled():
                    task.exception()
            if pending:
                # A connect task that finished DTLS just as the close ran has started
                # senders and receivers after close() stopped them: stop them again.
                for transceiver in pc.getTransceivers():
                    await transceiver.sender.stop()
                    await transceiver.receiver.stop()
    finally:
        for task in connect_tasks(pc):
            task.cancel()
        leftovers = [task for task in map(consent_task, connections) if task is not None]
        for task in leftovers:
            task.cancel()
        if leftovers:
            await asyncio.gather(*leftovers, return_exceptions=True)


def shape_connection(pc: RTCPeerConnection, shaper: Shaper | None) -> int:
    """Put ``shaper`` on every ICE socket of ``pc``; returns how many sockets it shapes.

    Call it right after ``setLocalDescription`` returns (candidates gathered),
    before the next await, so that no connectivity check escapes the shaper.
    """
    if shaper is None:
        return 0
    for transceiver in pc.getTransceivers():  # the shaper stamps RTCP arrivals
        stamp_arrivals(transceiver.receiver.transport.transport)
    count = 0
    for proto in ice_protocols(pc):
        transport = protocol_transport(proto)
        if transport is None or isinstance(transport, ShapedDatagramTransport):
            continue
        interpose(proto, ShapedDatagramTransport(transport, shaper), shaper.receive,
                  functools.partial(_stamping, LastArrival(_fileno(transport))))
        count += 1
    return count


def _stamping(arrival: LastArrival, deliver: Callable[..., None]) -> Callable[..., None]:
    """``deliver``, with media datagrams stamped with their kernel arrival on the way."""
    return functools.partial(deliver_stamped, deliver, arrival)


def _fileno(transport: Any) -> int:
    """The socket's file descriptor under a datagram transport (-1 when it has none)."""
    sock = transport.get_extra_info("socket")
    try:
        return int(sock.fileno()) if sock is not None else -1
    except (OSError, ValueError):
        return -1
