"""Every use of a private part of aioice, in one place (tested against aioice 0.13).

aioice is aiortc's ICE library; aiortc reaches it only through its own private
``RTCIceGatherer._connection`` (``probes.aiortc_internals``).  What we need of
aioice itself: choosing the host addresses ICE gathers on (aioice has no
option for it; it reads its module-level ``get_host_addresses`` at each
gathering), the datagram protocols of a connection's sockets (to shape them),
and the consent-freshness task that can outlive a close.  A module of its own,
because aioice is pinned and upgraded apart from aiortc.  ``UPSTREAM`` lists
the names, which tests/test_library_internals.py checks against the installed
aioice.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, Literal

import aioice.ice

from probes.upstream import Upstream, UpstreamChanged

HostAddresses = Callable[[bool, bool], list[str]]
"""``get_host_addresses(use_ipv4, use_ipv6)``: the addresses ICE gathers host candidates on."""


def _aioice(owner: str, name: str, kind: Literal["field", "method", "function"], why: str,
            parameters: tuple[str, ...] | None = None, source_has: tuple[str, ...] = ()
            ) -> Upstream:
    return Upstream("aioice", owner, name, kind, why, parameters, source_has)


GET_HOST_ADDRESSES = _aioice(
    "aioice.ice", "get_host_addresses", "function",
    "replace_host_addresses: gather on the addresses we choose (aioice skips 127.0.0.1)",
    ("use_ipv4", "use_ipv6"))
GATHER_READS_HOST_ADDRESSES = _aioice(
    "Connection", "gather_candidates", "method",
    "replace_host_addresses: the replacement works only if gathering looks the name up",
    (), ("get_host_addresses(",))
CONNECTION_PROTOCOLS = _aioice(
    "Connection", "_protocols", "field",
    "connection_protocols: one datagram protocol per ICE socket, to shape")
CONNECTION_CONSENT_TASK = _aioice(
    "Connection", "_query_consent_task", "field",
    "consent_task: the consent-freshness task, cancelled on close")
PROTOCOL_TRANSPORT = _aioice(
    "StunProtocol", "transport", "field",
    "protocol_transport, interpose: the socket a protocol sends through")
PROTOCOL_SENDS = tuple(_aioice(
    "StunProtocol", name, "method",
    "interpose: every datagram a protocol sends goes through its transport attribute",
    None, ("self.transport.sendto(",))
    for name in ("send_stun", "send_data"))
PROTOCOL_RECEIVES = _aioice(
    "StunProtocol", "datagram_received", "method",
    "interpose: the loop delivers every datagram through this attribute", ("data", "addr"))

UPSTREAM: tuple[Upstream, ...] = (
    GET_HOST_ADDRESSES, GATHER_READS_HOST_ADDRESSES, CONNECTION_PROTOCOLS,
    CONNECTION_CONSENT_TASK, PROTOCOL_TRANSPORT, *PROTOCOL_SENDS, PROTOCOL_RECEIVES)
"""Every part of aioice this module relies on."""


def replace_host_addresses(replacement: HostAddresses) -> HostAddresses:
    """Make every later gathering call ``replacement``; returns aioice's own function.

    Process-wide: ``replacement`` must fall back to the returned function for
    connections that did not ask for a choice (``probes.webrtc_net`` does).
    """
    try:
        original: HostAddresses = aioice.ice.get_host_addresses
    except AttributeError:
        raise UpstreamChanged(GET_HOST_ADDRESSES) from None
    setattr(aioice.ice, GET_HOST_ADDRESSES.attribute, replacement)  # aioice calls it by keyword
    return original


def connection_protocols(connection: Any) -> list[Any]:
    """The ``StunProtocol`` of each socket of an ``aioice.Connection`` (``_protocols``)."""
    try:
        protocols: list[Any] = connection._protocols
    except AttributeError:
        raise UpstreamChanged(CONNECTION_PROTOCOLS) from None
    return protocols


def consent_task(connection: Any) -> asyncio.Task[None] | None:
    """The connection's consent-freshness task (``_query_consent_task``), if running.

    aioice's ``connect()`` starts it when checks succeed; a connect that resumes
    after a close starts it anyway, and it then lives on for 30 s.
    """
    try:
        task: asyncio.Task[None] | None = connection._query_consent_task
    except AttributeError:
        raise UpstreamChanged(CONNECTION_CONSENT_TASK) from None
    return task


def protocol_transport(proto: Any) -> Any | None:
    """The datagram transport a ``StunProtocol`` sends through (None before it is made)."""
    return getattr(proto, PROTOCOL_TRANSPORT.attribute, None)


def interpose(proto: Any, transport: Any, receive: Callable[..., None],
              wrap_deliver: Callable[[Callable[..., None]], Callable[..., None]] | None = None
              ) -> None:
    """Make ``proto`` send through ``transport``, and receive through ``receive``.

    ``receive(deliver, data, addr)`` gets every incoming datagram and calls
    ``deliver(data, addr)`` (the protocol's own handler, or what ``wrap_deliver``
    makes of it) for those it passes.  Both are instance attributes that aioice and
    the event loop look up on each datagram, so replacing them on one protocol
    affects that socket only.
    """
    deliver = proto.datagram_received
    proto.transport = transport
    proto.datagram_received = functools.partial(
        receive, wrap_deliver(deliver) if wrap_deliver is not None else deliver)
