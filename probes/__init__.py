"""Probes: one module per check kind, each ``async def probe(target, settings) -> ProbeResult``.

The probe of kind ``K`` is the module ``probes.K`` with a ``probe`` function and a
``Settings`` type; the application's table of check kinds (``vcfleet.checks``) says which
kinds exist.  ``load_probe`` imports a kind's module on first use (the WebRTC probe
pulls in aiortc, which is slow to import).  This package never imports ``inventory``,
``vcfleet`` or ``tui``.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from probes.base import ProbeResult, ProbeSettings, Target


@dataclass(frozen=True)
class ProbeKind:
    """A check kind: its probe function and its settings type (defaults in the type)."""

    name: str
    probe: Callable[[Target, Any], Awaitable[ProbeResult]]
    settings: type[Any]


def probe_module(kind: str) -> str:
    """The module that holds a kind's probe: ``probes.<kind>``."""
    return f"probes.{kind}"


def load_probe(kind: str) -> ProbeKind:
    """The probe of a kind; KeyError when no probe module of that name exists."""
    if not kind.isidentifier() or kind == "base":
        raise KeyError(kind)
    try:
        module = importlib.import_module(probe_module(kind))
    except ModuleNotFoundError as exc:
        if exc.name != probe_module(kind):
            raise
        raise KeyError(kind) from None
    if not callable(getattr(module, "probe", None)) or not isinstance(
            getattr(module, "Settings", None), type):
        raise KeyError(kind)
    return ProbeKind(kind, module.probe, module.Settings)


__all__ = ["ProbeKind", "ProbeResult", "ProbeSettings", "Target", "load_probe", "probe_module"]
