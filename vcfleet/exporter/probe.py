"""``/probe?target=ID&module=NAME``: one endpoint's checks now, in blackbox_exporter's style.

A module names check kinds; the endpoint's profile decides which of them apply (a
check the profile does not list, or a service the endpoint does not offer, is not
run).  The deadline comes from Prometheus's ``X-Prometheus-Scrape-Timeout-Seconds``
header minus a small offset, so that the answer arrives before Prometheus gives up.
Targets are inventory ids only: the exporter never probes an address a request names.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inventory import Endpoint, Inventory
from vcfleet.checks import CHECKS, DEFAULT_TIMEOUTS, GROUPS
from vcfleet.exporter.metrics import PREFIX, endpoint_families, info_family
from vcfleet.report import SweepReport
from vcfleet.sweep import SweepOptions, run_sweep

if TYPE_CHECKING:
    from vcfleet.exporter.state import Kept

MODULES: dict[str, tuple[str, ...]] = {
    "net": GROUPS["net"],
    "media": GROUPS["media"],
    "full": CHECKS,
    **{kind: (kind,) for kind in CHECKS},
}
"""Probe modules: ``net`` (icmp, tcp, sip, https, dns), ``media``/``webrtc``, one per check
kind, and ``full`` (every check of the endpoint's profile)."""

DEFAULT_MODULE = "full"
TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
TIMEOUT_OFFSET_S = 0.5
"""Kept back from Prometheus's scrape timeout for rendering and transfer."""
MAX_TIMEOUT_S = 120.0
QUERY_KEYS = frozenset({"target", "module"})


class ProbeRequestError(Exception):
    """A ``/probe`` request that cannot be served; ``status`` is 400 or 404."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ProbeRequest:
    """A validated ``/probe`` request."""

    endpoint: Endpoint
    module: str
    checks: frozenset[str]
    budget_s: float
    """Seconds the checks may take in all."""


def parse_request(query: Mapping[str, str], keys: list[str], headers: Mapping[str, str],
                  inventory: Inventory) -> ProbeRequest:
    """Validate the query and the timeout header; ProbeRequestError (400/404) if bad."""
    unknown = sorted(set(keys) - QUERY_KEYS)
    if unknown:
        raise ProbeRequestError(400, f"unknown parameter(s) {', '.join(unknown)}: "
                                     "use target and module")
    for key in QUERY_KEYS:
        if keys.count(key) > 1:
            raise ProbeRequestError(400, f"parameter {key} given more than once")
    target = query.get("target", "")
    if not target:
        raise ProbeRequestError(400, "parameter target is missing (an inventory endpoint id)")
    module = query.get("module", DEFAULT_MODULE)
    if module not in MODULES:
        raise ProbeRequestError(400, f"unknown module {module!r} (choose from "
                                     f"{', '.join(sorted(MODULES))})")
    if target not in inventory:
        raise ProbeRequestError(404, f"unknown target {target!r}: not an endpoint id of "
                                     "the inventory")
    endpoint = inventory.get(target)
    checks = frozenset(c for c in inventory.profile(endpoint).checks if c in MODULES[module])
    if not checks:
        raise ProbeRequestError(400, f"module {module!r} has no check in endpoint "
                                     f"{target!r}'s profile {endpoint.profile!r}")
    return ProbeRequest(endpoint, module, checks, _budget(headers.get(TIMEOUT_HEADER), checks))


def _budget(header: str | None, checks: frozenset[str]) -> float:
    default = max(DEFAULT_TIMEOUTS.get(c, 5.0) for c in checks) + 1.0
    if header is None:
        return default
    try:
        scrape_timeout = float(header)
    except ValueError:
        raise ProbeRequestError(400, f"bad {TIMEOUT_HEADER} header {header!r}") from None
    if not math.isfinite(scrape_timeout) or scrape_timeout <= 0:
        raise ProbeRequestError(400, f"bad {TIMEOUT_HEADER} header {header!r}")
    budget = max(scrape_timeout - TIMEOUT_OFFSET_S, scrape_timeout / 2)
    return min(budget, MAX_TIMEOUT_S)


async def run_probe(request: ProbeRequest, inventory: Inventory,
                    options: SweepOptions) -> SweepReport:
    """Run the request's checks on its endpoint, every check within the budget."""
    base = options.timeouts
    timeouts = {c: min(base.get(c, DEFAULT_TIMEOUTS.get(c, 5.0)), request.budget_s)
                for c in request.checks}
    opts = replace(options, checks=request.checks, timeouts=timeouts,
                   deadline_s=request.budget_s, source="probe", selector=request.endpoint.id)
    return await run_sweep(inventory, [request.endpoint], opts)


class ProbeCollector(Collector):
    """The metrics of one ``/probe`` answer: the endpoint's series plus the module's result."""

    def __init__(self, request: ProbeRequest, report: SweepReport, started: float,
                 kept: Kept | None = None) -> None:
        self.request = request
        self.report = report
        self.kept = kept or {}
        """Last reliable figures, shown for a check whose figures now are not trusted."""
        self.elapsed_s = time.monotonic() - started

    def collect(self) -> Iterator[Metric]:
        """Module success and duration, endpoint info, readiness, checks and figures."""
        reports = list(self.report.endpoints)
        ran = [c for r in reports for c in r.checks.values()]
        ok = bool(ran) and all(c.result.ok for c in ran) and not self.report.cancelled
        success = GaugeMetricFamily(
            f"{PREFIX}probe_module_success",
            "1 if every check of the module ran and succeeded on this endpoint.",
            labels=["module"])
        success.add_metric([self.request.module], 1.0 if ok else 0.0)
        duration = GaugeMetricFamily(
            f"{PREFIX}probe_module_duration_seconds",
            "How long this /probe request took to run the module's checks.", labels=["module"])
        duration.add_metric([self.request.module], self.elapsed_s)
        yield success
        yield duration
        yield info_family([self.request.endpoint]).metric()
        yield from (f.metric() for f in endpoint_families(reports, self.kept))
