"""Custom collectors: fresh metric families at scrape time, from the exporter's state.

No global gauges: each collector reads the latest ``SweepReport`` and the state's
counters when the registry asks, and is registered on a registry the caller passes
in (tests build their own ``CollectorRegistry``).
"""

from __future__ import annotations

import platform
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from vcfleet import __version__
from vcfleet.exporter.exposition import render_families, render_text
from vcfleet.exporter.metrics import (
    PREFIX,
    SESSION_STATES,
    STATES,
    DeviceRow,
    Family,
    device_families,
    endpoint_families,
    info_family,
)
from vcfleet.exporter.state import current_reports
from vcfleet.report import SweepReport, Verdict

if TYPE_CHECKING:
    from vcfleet.exporter.state import ExporterState


class FleetCollector(Collector):
    """Per-endpoint series of the latest sweep, restricted to the endpoints in scope."""

    def __init__(self, state: ExporterState) -> None:
        self.state = state

    def families(self) -> tuple[list[Family], list[Metric]]:
        """Per-endpoint families (info, readiness, checks, figures) and the fleet counts."""
        state = self.state
        endpoints, report = state.endpoints, state.report  # swapped whole, read once
        kept = state.kept  # after report: see ExporterState.record
        reports = current_reports(report, endpoints)
        counts = GaugeMetricFamily(
            f"{PREFIX}endpoints", "Endpoints in scope by their last verdict (unknown: not "
            "checked yet).", labels=["state"])
        by_state = dict.fromkeys(STATES, 0)
        for r in reports:
            by_state[r.verdict] += 1
        by_state[Verdict.UNKNOWN] += len(endpoints) - len(reports)
        for s, n in by_state.items():
            counts.add_metric([s.value], n)
        return [info_family(endpoints), *endpoint_families(reports, kept)], [counts]

    def collect(self) -> Iterator[Metric]:
        """Info for every endpoint in scope; readiness, checks and figures once swept."""
        families, metrics = self.families()
        yield from (f.metric() for f in families)
        yield from metrics

    def render(self) -> bytes:
        """The same families in the text format, written directly (see Family)."""
        families, metrics = self.families()
        return render_families(families) + render_text(metrics)


class DeviceCollector(Collector):
    """The codec's own view of each endpoint in scope: its live session's when it has one
    (fresh at every scrape), else the latest sweep's device check."""

    def __init__(self, state: ExporterState) -> None:
        self.state = state

    def rows(self) -> list[DeviceRow]:
        """One row per endpoint in scope that has a live session or a device check read."""
        s = self.state
        endpoints, report = s.endpoints, s.report
        views = s.live.views() if s.live is not None else {}
        reports = {r.endpoint.id: r for r in current_reports(report, endpoints)}
        rows: list[DeviceRow] = []
        for e in endpoints:
            view = views.get(e.id)
            if view is not None:
                result = view.probe_result() if view.state == "up" else None
                details = {**result.details, **result.figures} if result is not None else None
                rows.append(DeviceRow(e.id, details, view.updated_at, view.state, view.since))
                continue
            r = reports.get(e.id)
            check = r.checks.get("device") if r is not None else None
            if r is not None and check is not None and check.result.ok:
                rows.append(DeviceRow(e.id, dict(check.result.details), r.finished_at))
        return rows

    def fleet_metrics(self) -> list[Metric]:
        """Sessions by state and logins made, fleet-wide (only with live sessions)."""
        live = self.state.live
        if live is None:
            return []
        by_state = dict.fromkeys(SESSION_STATES, 0)
        for view in live.views().values():
            by_state[view.state] += 1
        sessions = GaugeMetricFamily(f"{PREFIX}device_sessions", "Live device sessions by "
                                     "state (connecting, up, lost).", labels=["state"])
        for state, n in by_state.items():
            sessions.add_metric([state], n)
        return [sessions, _counter("device_session_logins", "Successful SSH logins the live device "
                                   "sessions have made (once per session opened).",
                                   live.logins)]

    def collect(self) -> Iterator[Metric]:
        """The device families and the sessions' counts."""
        yield from (f.metric() for f in device_families(self.rows()))
        yield from self.fleet_metrics()

    def render(self) -> bytes:
        """The same in the text format."""
        return render_families(device_families(self.rows())) + render_text(self.fleet_metrics())


class ExporterCollector(Collector):
    """The exporter's own health: sweeps, overruns, event-loop lag, reloads, build info."""

    def __init__(self, state: ExporterState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        """Sweep, reload and loop figures of this process."""
        s = self.state
        yield from _sweep_families(s.report)
        yield _counter("sweeps", "Sweeps started since the exporter started.", s.sweeps_total)
        yield _counter("sweeps_failed", "Sweeps that crashed or were cut off before every "
                       "endpoint was checked.", s.sweeps_failed)
        yield _counter("sweeps_overrun", "Sweeps that took longer than the interval (the "
                       "next one started late, never in parallel).", s.sweeps_overrun)
        yield _gauge("sweep_in_progress", "1 while a scheduled sweep runs.",
                     1.0 if s.sweep_in_progress else 0.0)
        if s.interval_s > 0:  # absent without scheduled sweeps: nothing can be stale
            yield _gauge("sweep_interval_seconds", "Configured time between sweep starts.",
                         s.interval_s)
        yield _gauge("event_loop_lag_seconds", "How late the exporter's event loop woke a "
                     "timer at the last measurement (CPU starvation skews probe figures).",
                     s.loop_lag_s)
        yield _gauge("inventory_reload_success", "1 if the last inventory (re)load succeeded, "
                     "0 if it failed and the previous inventory is still in force.",
                     1.0 if s.reload_success else 0.0)
        yield _gauge("inventory_reload_last_success_timestamp_seconds",
                     "Unix time of the last successful inventory (re)load.",
                     s.reload_last_success_s)
        reloads = CounterMetricFamily(f"{PREFIX}inventory_reloads", "Inventory reloads "
                                      "(SIGHUP, POST /-/reload) by result.", labels=["result"])
        for result in ("success", "failure"):
            reloads.add_metric([result], s.reloads[result])
        yield reloads
        yield _gauge("inventory_endpoints", "Endpoints of the inventory in this exporter's "
                     "scope (selector and shard).", len(s.endpoints))
        requests = CounterMetricFamily(f"{PREFIX}probe_requests", "/probe requests by module "
                                       "and HTTP status code.", labels=["module", "code"])
        for (module, code), n in sorted(dict(s.probe_requests).items()):
            requests.add_metric([module, code], n)
        yield requests
        build = InfoMetricFamily(f"{PREFIX}build", "Version of vcfleet and of Python.")
        build.add_metric([], {"version": __version__,
                              "python_version": platform.python_version()})
        yield build


def _sweep_families(report: SweepReport | None) -> Iterator[Metric]:
    if report is None:
        return
    yield _gauge("sweep_duration_seconds", "How long the last completed sweep took.",
                 report.duration_s)
    yield _gauge("sweep_last_completed_timestamp_seconds",
                 "Unix time when the last sweep completed.", report.finished_at)
    yield _gauge("sweep_endpoints", "Endpoints the last completed sweep checked.",
                 len(report.endpoints))


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(f"{PREFIX}{name}", doc, value=value)


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(f"{PREFIX}{name}", doc, value=value)
