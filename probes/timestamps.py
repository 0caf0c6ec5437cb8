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
import errno
import fcntl
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


SIOCGSTAMPNS = 0x8907
"""Linux's ioctl for the receive timestamp (a ``struct timespec``) of the last packet
read from a socket (``SIOCGSTAMPNS_OLD``, which is the 64-bit one on 64-bit systems)."""
_TIMESPEC = struct.Struct("@qq")
_NO_TIME = bytes(_TIMESPEC.size)


class LastArrival:
    """When the kernel received the datagram last read from a socket that an event loop reads.

    An event loop's datagram transport reads one datagram and hands it to the
    protocol's ``datagram_received`` before it reads the next (asyncio's and uvloop's,
    whose libuv does not batch reads unless asked to), so that, called from
    ``datagram_received``, this is the arrival of the datagram being handled: its
    timing is then the network's, not the loop's lag.  The first ``SIOCGSTAMPNS`` on
    a socket turns the kernel's stamping on.  Where the kernel gives no stamp (another
    system, or a datagram read before stamping began), ``time.time()`` now.
    """

    __slots__ = ("_fd", "kernel")

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self.kernel = fd >= 0
        """Whether the kernel stamps this socket's datagrams."""
        if self.kernel:
            try:
                fcntl.ioctl(fd, SIOCGSTAMPNS, _NO_TIME)
            except OSError as exc:  # ENOENT: stamping is on from now; else not supported
                self.kernel = exc.errno == errno.ENOENT

    def __call__(self) -> float:
        """The last datagram's arrival (epoch seconds, as ``time.time()``)."""
        if self.kernel:
            try:
                sec, nsec = _TIMESPEC.unpack(fcntl.ioctl(self._fd, SIOCGSTAMPNS, _NO_TIME))
            except OSError:
                return time.time()
            return float(sec) + float(nsec) / 1e9
        return time.time()


def literal(address: str) -> tuple[int, str] | None:
    """(family, address) when ``address`` is a literal IP address, else None (a name)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return None
    return (socket.AF_INET if ip.version == 4 else socket.AF_INET6), str(ip)
