"""What the exporter knows between scrapes: the inventory in force, the latest report, and
its own health counters.  The scheduler and the HTTP handlers write it; collectors only
read it, at scrape time.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from inventory import Endpoint, InputError, Inventory, Selector
from probes.base import ProbeResult
from vcfleet.report import EndpointReport, SweepReport

if TYPE_CHECKING:
    from probes.device_live import LiveFleet

FIGURES_MAX_AGE_S = 1800.0
"""How long the last reliable figures of a check stand in for figures that could not be
trusted; older ones are dropped and the series goes absent (docs/exporter.md)."""


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


def trusted(result: ProbeResult) -> bool:
    """True when a check's figures describe the room: it ran here (not ``unchecked``) and
    the prober was not overloaded while it measured (not ``unreliable``)."""
    return not (result.unreliable or result.unchecked)


@dataclass(frozen=True)
class KeptFigures:
    """The last reliable figures of one check of one endpoint, and when they were taken."""

    figures: Mapping[str, float]
    directions: Mapping[str, Mapping[str, float]]
    measured_at: float
    """Wall-clock time (epoch seconds) when the check that measured them finished."""


Kept = Mapping[tuple[str, str], KeptFigures]
"""Last reliable figures by (endpoint id, check name)."""


def keep_reliable(kept: Kept, report: SweepReport,
                  max_age_s: float = FIGURES_MAX_AGE_S) -> dict[tuple[str, str], KeptFigures]:
    """``kept`` updated with a new report: a trusted check with figures replaces its entry,
    a trusted check without figures (it failed: no media, no answer) removes it, an
    untrusted one leaves it; entries older than ``max_age_s`` before the report's end
    are dropped.  A new mapping: readers of the old one are never disturbed."""
    new = dict(kept)
    for r in report.endpoints:
        at = r.finished_at or report.finished_at
        for name, c in r.checks.items():
            result, key = c.result, (r.endpoint.id, name)
            if not trusted(result):
                continue
            if result.figures or result.directions:
                new[key] = KeptFigures(result.figures, result.directions, at)
            else:
                new.pop(key, None)
    oldest = report.finished_at - max_age_s
    return {k: v for k, v in new.items() if v.measured_at >= oldest}


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
    kept: Kept = field(default_factory=dict)
    """The last reliable figures of the scheduled sweeps (``record``)."""
    probe_kept: Kept = field(default_factory=dict)
    """The same for ``/probe`` answers, which are other series (another job)."""
    figures_max_age_s: float = FIGURES_MAX_AGE_S
    live: LiveFleet | None = None
    """The live device sessions (vcfleet/exporter/live.py), None without them."""

    def record(self, report: SweepReport) -> None:
        """Make a scheduled sweep's report the latest one, keeping its reliable figures.

        ``kept`` is swapped before ``report``: a collector that reads ``report`` first
        and ``kept`` second never pairs a new report with older kept figures.
        """
        self.kept = keep_reliable(self.kept, report, self.figures_max_age_s)
        self.report = report

    def record_probe(self, report: SweepReport) -> Kept:
        """Keep a ``/probe`` answer's reliable figures; the kept figures to expose with it."""
        self.probe_kept = keep_reliable(self.probe_kept, report, self.figures_max_age_s)
        return self.probe_kept

    def current_reports(self) -> list[EndpointReport]:
        """The latest report's endpoints still in scope (removed endpoints disappear)."""
        return current_reports(self.report, self.endpoints)

    @property
    def ready(self) -> bool:
        """True once a sweep has completed, or at once without scheduled sweeps."""
        return self.report is not None or self.interval_s <= 0
