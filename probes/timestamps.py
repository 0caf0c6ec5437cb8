"""Kernel receive timestamps for probes that time datagrams.

A sweep keeps one event loop busy with hundreds of probes (TLS handshakes cost
milliseconds of CPU each), so the moment a datagram's callback runs can be tens of
milliseconds after the datagram arrived.  ``SO_TIMESTAMPNS`` makes the kernel stamp
each packet on arrival; probes subtract their send time (``time.time()`` taken just
before the non-blocking send) from that stamp, and their RTTs stay true however
late the loop reads them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import struct
import time

SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
ANCILLARY_BYTES = 64
"""Room for the timestamp control message in ``recvmsg``."""


def enable(sock: socket.socket) -> None:
    """Ask the kernel to stamp every packet the socket receives (where supported)."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)


def arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """Arrival time (epoch seconds) stamped by the kernel; the time now when unstamped."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("@qq", data[:16])
            return float(sec) + float(nsec) / 1e9
    return time.time()


def literal(address: str) -> tuple[int, str] | None:
    """(family, address) when ``address`` is a literal IP address, else None (a name)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return (socket.AF_INET if ip.version == 4 else socket.AF_INET6), str(ip)
