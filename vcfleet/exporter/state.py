"""What the exporter knows between scrapes: the inventory in force, the latest report, and
its own health counters.  The scheduler and the HTTP handlers write it; collectors only
read it, at scrape time.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field

from inventory import Endpoint, InputError, Inventory, Selector
from vcfleet.report import EndpointReport, SweepReport


def hashmod(value: str, modulus: int) -> int:
    """Prometheus relabelling's ``hashmod``: md5, last 8 bytes big-endian, modulo."""
    digest = hashlib.md5(value.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[8:], "big") % modulus


@dataclass(frozen=True)
class Shard:
    """This exporter's share of the fleet: endpoints whose ``hashmod(id, total) == index``."""

    index: int
    total: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``K/N`` (0 <= K < N) as a shard; InputError otherwise."""
        try:
            k, n = (int(part) for part in text.split("/"))
        except ValueError:
            raise InputError(f"--shard {text!r}: expected K/N, e.g. 0/3") from None
        if n < 1 or not 0 <= k < n:
            raise InputError(f"--shard {text!r}: expected 0 <= K < N")
        return cls(k, n)

    def owns(self, endpoint_id: str) -> bool:
        """True when this shard sweeps the endpoint."""
        return hashmod(endpoint_id, self.total) == self.index


@dataclass
class Scope:
    """Which endpoints of the inventory this exporter sweeps and exposes."""

    select: str = ""
    shard: Shard | None = None

    def endpoints(self, inventory: Inventory) -> tuple[Endpoint, ...]:
        """The endpoints in scope, in inventory order; InputError for a bad selector."""
        chosen = inventory.select(Selector.parse(self.select)) if self.select else inventory
        return tuple(e for e in chosen if self.shard is None or self.shard.owns(e.id))


def current_reports(report: SweepReport | None,
                    endpoints: tuple[Endpoint, ...]) -> list[EndpointReport]:
    """The report's endpoints that are still in scope (removed endpoints disappear)."""
    if report is None:
        return []
    ids = {e.id for e in endpoints}
    return [r for r in report.endpoints if r.endpoint.id in ids]


@dataclass
class ExporterState:
    """The exporter's state: swapped whole (inventory, report) or counted (health)."""

    inventory: Inventory
    endpoints: tuple[Endpoint, ...]
    """Endpoints in scope of the current inventory."""
    interval_s: float
    report: SweepReport | None = None
    sweeps_total: int = 0
    sweeps_failed: int = 0
    sweeps_overrun: int = 0
    sweep_in_progress: bool = False
    last_sweep_error: str = ""
    loop_lag_s: float = 0.0
    reload_success: bool = True
    reload_last_success_s: float = field(default_factory=time.time)
    reloads: Counter[str] = field(default_factory=Counter)
    probe_requests: Counter[tuple[str, str]] = field(default_factory=Counter)

    def current_reports(self) -> list[EndpointReport]:
        """The latest report's endpoints still in scope (removed endpoints disappear)."""
        return current_reports(self.report, self.endpoints)

    @property
    def ready(self) -> bool:
        """True once a sweep has completed, or at once without scheduled sweeps."""
        return self.report is not None or self.interval_s <= 0
