"""Probes: one module per check kind, each ``async def probe(target, settings) -> ProbeResult``.

``PROBES`` names the module of every kind; ``load_probe`` imports it on first use
(the WebRTC probe pulls in aiortc, which is slow to import).  This package never
imports ``inventory``, ``vcfleet`` or ``tui``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from probes.base import ProbeResult, Target

PROBES: dict[str, str] = {
    "icmp": "probes.icmp",
    "tcp": "probes.tcp",
    "sip": "probes.sip",
    "https": "probes.https",
    "dns": "probes.dns",
    "webrtc": "probes.webrtc",
}


@dataclass(frozen=True)
class ProbeKind:
    """A check kind: its probe function and its settings type (defaults in the type)."""

    name: str
    probe: Callable[[Target, Any], Awaitable[ProbeResult]]
    settings: type[Any]


def load_probe(kind: str) -> ProbeKind:
    """The probe of a kind; KeyError for an unknown kind."""
    module = importlib.import_module(PROBES[kind])
    return ProbeKind(kind, module.probe, module.Settings)


__all__ = ["PROBES", "ProbeKind", "ProbeResult", "Target", "load_probe"]
