"""The one table of check kinds: everything vcfleet knows about a kind is its entry here.

Per kind: its group (``net`` or ``media``, for ``--checks net``), its default deadline,
how its target is built from an endpoint (``vcfleet.targets``), and the figures it
reports with their units.  Its probe is the module ``probes.<name>`` (``probe`` and
``Settings``, defaults in the type); the inventory's check names and per-profile
``settings:`` are validated against this table (``inventory_kinds``, passed to the
loader), and the sweep engine reads deadlines and targets from it.
``tests/test_check_kinds.py`` fails when the table, the probes and the inventory disagree.

Adding a kind is one entry below and one module ``probes/<name>.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from inventory import Endpoint, Inventory, load_inventory
from probes import ProbeKind, ProbeResult, Target, load_probe
from vcfleet import targets
from vcfleet.targets import TargetBuilder


@dataclass(frozen=True)
class Figure:
    """A figure a kind reports: its name in ``ProbeResult.figures`` and its unit."""

    name: str
    unit: str


@dataclass(frozen=True)
class CheckKind:
    """One check kind, as the engine, the inventory and the probes see it."""

    name: str
    group: Literal["net", "media"]
    """``--checks net`` / ``media`` runs every kind of the group."""
    deadline_s: float
    """Default deadline of one check, in seconds (``--timeout KIND=S`` overrides it)."""
    target: TargetBuilder
    """The check's target for an endpoint; None when the endpoint cannot have it."""
    figures: tuple[Figure, ...] = ()
    """What a successful check reports."""

    def probe(self) -> ProbeKind:
        """The kind's probe module (imported on first use)."""
        return load_probe(self.name)

    def settings_type(self) -> type[Any]:
        """The kind's settings type, defaults in the type."""
        return self.probe().settings


def _figures(**units: str) -> tuple[Figure, ...]:
    return tuple(Figure(name, unit) for name, unit in units.items())


KINDS: Mapping[str, CheckKind] = {kind.name: kind for kind in (
    CheckKind("icmp", "net", 3.0, targets.address_target,
              _figures(rtt_ms="ms", rtt_min_ms="ms", rtt_max_ms="ms", jitter_ms="ms",
                       loss_ratio="ratio")),
    CheckKind("tcp", "net", 2.0, targets.management_port_target, _figures(connect_ms="ms")),
    CheckKind("sip", "net", 2.0, targets.sip_target, _figures(rtt_ms="ms")),
    CheckKind("https", "net", 3.0, targets.https_target,
              _figures(connect_ms="ms", tls_ms="ms", http_ms="ms", cert_expiry_days="days")),
    CheckKind("dns", "net", 2.0, targets.name_target, _figures(resolve_ms="ms")),
    CheckKind("ssh", "net", 2.0, targets.service_port("ssh"),
              _figures(connect_ms="ms", banner_ms="ms")),
    CheckKind("webrtc", "media", 15.0, targets.webrtc_target,
              _figures(rtt_ms="ms", jitter_ms="ms", loss_ratio="ratio", mos="MOS",
                       setup_ms="ms", signalling_ms="ms", ice_ms="ms", dtls_ms="ms")),
)}
"""Every check kind, in the order tables and help list them."""

CHECKS: tuple[str, ...] = tuple(KINDS)
"""Every kind's name."""

GROUPS: Mapping[str, tuple[str, ...]] = {
    "net": tuple(k.name for k in KINDS.values() if k.group == "net"),
    "media": tuple(k.name for k in KINDS.values() if k.group == "media"),
    "all": CHECKS,
}
"""Names ``--checks`` accepts for several kinds at once."""

DEFAULT_TIMEOUTS: Mapping[str, float] = {k.name: k.deadline_s for k in KINDS.values()}
"""Per-check deadlines in seconds."""


def inventory_kinds() -> dict[str, Callable[[], type[Any]]]:
    """What the inventory loader needs to know of the kinds: each name, and how to get
    its settings type (loaded only when a profile sets that kind's settings)."""
    return {k.name: k.settings_type for k in KINDS.values()}


def load_fleet(path: str | os.PathLike[str] | None = None) -> Inventory:
    """``inventory.load_inventory`` with this table's kinds: how vcfleet loads a fleet."""
    return load_inventory(path, kinds=inventory_kinds())


def target_for(inventory: Inventory, endpoint: Endpoint, kind: str) -> Target | ProbeResult | None:
    """The target of one check of one endpoint (``CheckKind.target``); ValueError for an
    unknown kind."""
    try:
        entry = KINDS[kind]
    except KeyError:
        raise ValueError(f"unknown check kind {kind!r}") from None
    return entry.target(endpoint, inventory)
