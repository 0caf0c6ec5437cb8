"""User-space network impairment (a tiny netem) for one endpoint's UDP traffic.

``tc netem`` needs privileges we do not have, so the simulator shapes datagrams
itself, and the WebRTC responder accepts a shaper for its media sockets.

Semantics (the faults-file contract of DESIGN.md):

- ``delay_ms`` is added to every datagram the endpoint *sends*, so a round trip
  grows by ``delay_ms``;
- ``jitter_ms`` varies that added delay packet by packet:
  ``max(0, delay_ms + U(-jitter_ms, +jitter_ms))``, like netem's default
  distribution (``jitter_ms`` is a half-width).  The RFC 3550 interarrival
  jitter a receiver measures converges to E|X1 - X2|: 2/3 x ``jitter_ms`` only
  when ``delay_ms >= jitter_ms`` and packets are spaced wider than
  2 x ``jitter_ms``; 1/3 x ``jitter_ms`` at ``delay_ms`` 0; less when packets
  reorder (docs/simulator.md has the table).  Packets may reorder, as they do
  under netem;
- ``loss_pct`` drops datagrams in each direction independently: an outgoing and
  an incoming datagram are each dropped with probability ``loss_pct`` / 100, so a
  request/response exchange succeeds with probability (1 - p)^2.

The losses and delays come from the shaper's own ``random.Random``: pass
``rng=seeded_rng(seed, key)`` and the same seed gives the same sequence of
decisions (the simulator seeds one per endpoint from its ``--seed``).  The default
generator is seeded from the OS, so nothing is reproducible without a seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


def seeded_rng(seed: int, key: str) -> random.Random:
    """The generator of one shaper: the same ``seed`` and ``key`` (an endpoint id) give
    the same losses and delays, and endpoints of one seed draw independent sequences."""
    return random.Random(f"{seed}/{key}")


@dataclass
class Shaper:
    """Delay, jitter and loss for one endpoint; fields may change live (fault reload)."""

    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    """Where losses and delays are drawn from (``seeded_rng`` to reproduce them)."""

    @property
    def active(self) -> bool:
        """True when the shaper changes anything."""
        return bool(self.delay_ms or self.jitter_ms or self.loss_pct)

    def drop(self) -> bool:
        """Decide, for one datagram in one direction, whether it is lost."""
        return self.loss_pct > 0 and self.rng.random() * 100.0 < self.loss_pct

    def added_delay_s(self) -> float:
        """The delay to add to one outgoing datagram, in seconds."""
        d = self.delay_ms
        if self.jitter_ms:
            d += self.rng.uniform(-self.jitter_ms, self.jitter_ms)
        return max(0.0, d) / 1000.0

    def send(self, send: Callable[..., Any], *args: Any) -> None:
        """Send a datagram through the shaper: maybe drop it, else send it after the delay."""
        if self.drop():
            return
        delay = self.added_delay_s()
        if delay <= 0:
            send(*args)
        else:
            asyncio.get_running_loop().call_later(delay, _safe_call, send, args)

    def receive(self, deliver: Callable[..., Any], data: Any, addr: Any) -> None:
        """Deliver an incoming datagram unless the shaper drops it."""
        if not self.drop():
            deliver(data, addr)


class StampedDatagram(bytes):
    """An incoming RTP or RTCP datagram and the wall-clock time (``time.time()``'s
    clock) at which the kernel received it.

    Between that moment and the moment aiortc hands the packet to the probe lie the
    event loop's lag (the datagram waits in the socket while other callbacks run), a
    queue (aioice's) and a task switch (the DTLS transport's), each as long as one turn
    of a busy loop.  Round-trip times and jitters taken from this stamp leave all of
    that out, on both sides (the prober's arrivals, the responder's arrivals and its
    delay since the last SR).
    """

    at: float


def stamp_media(data: Any, arrival: Callable[[], float] = time.time) -> Any:
    """``data`` as a ``StampedDatagram`` (``at = arrival()``) when it is an RTP or RTCP
    packet, SRTP or not (RFC 7983: first byte 128-191), else as is."""
    if len(data) >= 2 and 127 < data[0] < 192:
        stamped = StampedDatagram(data)
        stamped.at = arrival()
        return stamped
    return data


def deliver_stamped(deliver: Callable[..., Any], arrival: Callable[[], float],
                    data: Any, addr: Any) -> None:
    """``deliver(data, addr)``, media stamped with ``arrival()`` (``stamp_media``): what a
    shaper delivers to, called from the socket's ``datagram_received``."""
    deliver(stamp_media(data, arrival), addr)


def _safe_call(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    # The transport may have closed while the datagram was "in flight": that is a
    # lost packet, not an error.
    with contextlib.suppress(OSError, AttributeError, RuntimeError):
        fn(*args)


class ShapedDatagramTransport(asyncio.DatagramTransport):
    """Wraps a datagram transport so that everything sent through it is shaped."""

    def __init__(self, inner: asyncio.DatagramTransport, shaper: Shaper) -> None:
        super().__init__()
        self.inner = inner
        self.shaper = shaper

    def sendto(self, data: Any, addr: Any = None) -> None:
        """Send through the shaper."""
        if self.inner.is_closing():
            return
        self.shaper.send(self.inner.sendto, bytes(data), addr)

    def close(self) -> None:
        """Close the wrapped transport."""
        self.inner.close()

    def is_closing(self) -> bool:
        """Whether the wrapped transport is closing."""
        return self.inner.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Extra info of the wrapped transport."""
        return self.inner.get_extra_info(name, default)

    def abort(self) -> None:
        """Abort the wrapped transport."""
        self.inner.abort()
