"""What every probe takes and returns.

A probe is ``async def probe(target: Target, settings: S) -> ProbeResult``.  It knows
nothing of the inventory, the sweep, metrics or the UI.  The caller (the sweep
engine, like blackbox_exporter's handler) owns deadlines, timing and concurrency:
a probe may simply be cancelled when its deadline passes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, Self, runtime_checkable

Info = str | int | float | bool


@dataclass(frozen=True, slots=True)
class Target:
    """Where to probe: an address and what the check needs to reach the service there."""

    address: str
    """IP address or DNS name."""
    port: int | None = None
    name: str = ""
    """Human label (the endpoint id) for messages; never used to connect."""
    url: str | None = None
    """Service URL, for checks that speak HTTP (https, webrtc)."""
    token: str | None = field(default=None, repr=False)
    """Resolved bearer token; kept out of repr so that it never reaches a log."""
    transport: str | None = None
    """Transport for checks that have a choice (sip: "udp" or "tcp")."""
    verify_tls: bool | None = None
    """Verify the server's TLS certificate (https); None leaves it to the probe's settings."""


@runtime_checkable
class ProbeSettings(Protocol):
    """What the engine asks of every probe's ``Settings``: whether the probe keeps the
    check's deadline itself.  Each ``Settings`` says so by deriving from ``OwnDeadline``
    or ``EngineDeadline``."""

    def own_deadline(self) -> float | None:
        """The deadline (seconds) the probe stops itself at; None when it relies on the
        engine cancelling it."""
        ...

    def with_deadline(self, timeout_s: float) -> Self:
        """These settings with the check's deadline filled in where the probe keeps one
        and none is set."""
        ...


class EngineDeadline:
    """Mixin of a ``Settings`` whose probe keeps no deadline: the engine cancels it."""

    __slots__ = ()

    def own_deadline(self) -> float | None:
        """None: the engine's deadline is the only one."""
        return None

    def with_deadline(self, timeout_s: float) -> Self:
        """Unchanged: the probe has no deadline to fill in."""
        return self


class OwnDeadline:
    """Mixin of a ``Settings`` whose probe stops itself at ``timeout_s`` and says what it
    saw ("no answer to OPTIONS in 2 s (3 transmissions)"); None means "the check's
    deadline", which the engine fills in."""

    __slots__ = ()
    timeout_s: float | None

    def own_deadline(self) -> float | None:
        """The probe's ``timeout_s``."""
        return self.timeout_s

    def with_deadline(self, timeout_s: float) -> Self:
        """A copy whose ``timeout_s`` is the check's deadline, unless one is set."""
        if self.timeout_s is not None:
            return self
        return dataclasses.replace(self, timeout_s=timeout_s)  # type: ignore[type-var]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """The outcome of one check against one target.

    ``figures`` hold numbers in the units their names say (``rtt_ms``,
    ``jitter_ms``, ``loss_ratio`` 0..1, ``mos``, ``setup_ms``, ``cert_expiry_days``).
    ``directions`` holds per-direction figures for media: ``"up"`` (probe to site)
    and ``"down"`` (site to probe).  ``reason`` is a short human sentence, set
    whenever ``ok`` is false.  ``unreliable`` marks figures taken while the prober
    itself was overloaded: they are reported but not judged.  ``unchecked`` marks a
    check that could not be run at all for a reason on the prober's side (a
    credential reference that does not resolve here): it says nothing about the room.
    ``degraded`` is set when the check reached the service, so ``ok`` stays true, but
    what the service answered degrades the room (``"SIP 403 Forbidden"``); judge()
    makes the room degraded with it as the reason.  ``details`` holds structured data
    that is neither a figure nor info (lists, nested objects), for the sweep JSON.
    """

    ok: bool
    figures: Mapping[str, float] = field(default_factory=dict)
    directions: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reason: str = ""
    info: Mapping[str, Info] = field(default_factory=dict)
    unreliable: bool = False
    unchecked: bool = False
    degraded: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)
    """Structured, check-specific entries of the sweep JSON, merged at its top level
    (the device check's ``registration``, ``peripherals``, ``diagnostics``...)."""
    notes: tuple[str, ...] = ()
    """What the operator should see that does not change the verdict, as short English
    sentences ("SIP 401 Unauthorized: alive, demands authentication"); judge() puts
    them in the room's ``notes``, which every format shows."""

    @classmethod
    def cannot_check(cls, reason: str) -> ProbeResult:
        """A check that could not be run (``reason`` says why); the verdict is unknown."""
        return cls(ok=False, reason=f"cannot check: {reason}", unchecked=True)

    @classmethod
    def failure(cls, reason: str, **figures: float) -> ProbeResult:
        """A failed check with its reason and whatever figures were measured."""
        return cls(ok=False, figures=figures, reason=reason)

    def to_json(self) -> dict[str, Any]:
        """The check's entry in the sweep JSON: ``{"ok", **figures, "up", "down", ...}``."""
        out: dict[str, Any] = {"ok": self.ok}
        out.update(self.figures)
        out.update(self.details)
        for direction, figs in self.directions.items():
            out[direction] = dict(figs)
        if self.reason:
            out["reason"] = self.reason
        if self.degraded:
            out["degraded"] = self.degraded
        if self.info:
            out["info"] = dict(self.info)
        if self.unreliable:
            out["unreliable"] = True
        if self.unchecked:
            out["unchecked"] = True
        if self.notes:
            out["notes"] = list(self.notes)
        return out


class LoopSemaphores:
    """One ``asyncio.Semaphore`` per running event loop: a probe module's bound on the
    sessions it has open at once (a loop's semaphore cannot serve another loop)."""

    def __init__(self) -> None:
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                  asyncio.Semaphore] = weakref.WeakKeyDictionary()

    def get(self, limit: int) -> asyncio.Semaphore:
        """The running loop's semaphore, made with ``limit`` (at least 1) on first use."""
        loop = asyncio.get_running_loop()
        sem = self._by_loop.get(loop)
        if sem is None:
            sem = self._by_loop[loop] = asyncio.Semaphore(max(1, limit))
        return sem


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` (if any) and wait until it has ended; its own CancelledError ends
    there, any other error it ended with reaches the caller."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
