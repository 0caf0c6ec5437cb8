"""The Prometheus exporter of ``vcfleet serve``: scheduled sweeps, custom collectors,
``/probe`` for one endpoint, reloads.  See docs/exporter.md for every metric.
"""

from vcfleet.exporter.collectors import ExporterCollector, FleetCollector
from vcfleet.exporter.metrics import endpoint_families, figure_metric, info_family
from vcfleet.exporter.probe import MODULES, ProbeRequestError, parse_request
from vcfleet.exporter.server import DEFAULT_PORT, Exporter, ExporterConfig
from vcfleet.exporter.state import ExporterState, Scope, Shard, hashmod

__all__ = [
    "DEFAULT_PORT",
    "MODULES",
    "Exporter",
    "ExporterCollector",
    "ExporterConfig",
    "ExporterState",
    "FleetCollector",
    "ProbeRequestError",
    "Scope",
    "Shard",
    "endpoint_families",
    "figure_metric",
    "hashmod",
    "info_family",
    "parse_request",
]
