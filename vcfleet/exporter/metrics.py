"""Metric families built from sweep reports: the names, units and labels of docs/exporter.md.

Everything here is a pure function of reports and endpoints, so that the fleet's
``/metrics`` and a single ``/probe`` answer describe an endpoint the same way.
Figures arrive in the units their names say (``rtt_ms``, ``loss_ratio``...) and
leave in base units (seconds, ratios, bits per second).  A check that did not
run, and a figure a check did not report, give no sample at all: absent, never 0.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.samples import Sample

from inventory import Endpoint
from vcfleet.report import EndpointReport, Verdict

PREFIX = "vcfleet_"
STATES = (Verdict.READY, Verdict.DEGRADED, Verdict.DOWN, Verdict.UNKNOWN)
_NAME_OK = re.compile(r"^[a-z][a-z0-9_]*$")

FIGURE_HELP = {
    "rtt": "Round-trip time",
    "rtt_min": "Fastest round trip of the burst",
    "rtt_max": "Slowest round trip of the burst",
    "jitter": "Interarrival jitter",
    "packet_loss": "Share of packets lost, 0..1",
    "mos": "Estimated mean opinion score (1..4.5, simplified E-model)",
    "setup": "Media session setup time (signalling, ICE and DTLS)",
    "signalling": "Offer/answer signalling time",
    "ice": "ICE gathering and connectivity-check time",
    "dtls": "DTLS handshake time",
    "connect": "TCP connect time",
    "tls": "TLS handshake time",
    "http": "Time from request to response headers",
    "resolve": "DNS resolution time",
    "cert_expiry": "Time left until the endpoint's TLS certificate expires",
    "bitrate": "Received media bit rate",
}


@dataclass(frozen=True)
class FigureMetric:
    """How one figure of one check is exposed: metric name, factor to base units, help."""

    name: str
    factor: float

    def base(self, value: float) -> float:
        """The figure in base units."""
        return value / 1000.0 if self.factor == 0.001 else value * self.factor
    help: str


@lru_cache(maxsize=1024)
def figure_metric(check: str, figure: str) -> FigureMetric | None:
    """The metric of a figure (``sip``, ``rtt_ms`` -> ``vcfleet_sip_rtt_seconds``, x0.001).

    Figures without a known unit suffix are not exposed (a name without a unit would
    break the naming rules); docs/exporter.md lists the rules.
    """
    if not (_NAME_OK.match(check) and _NAME_OK.match(figure)):
        return None
    stem, factor, unit = _split_unit(figure)
    if unit is None:
        return None
    what = FIGURE_HELP.get(stem, stem.replace("_", " ").capitalize())
    name = f"{PREFIX}{check}_{stem}{unit}"
    unit_text = unit.removeprefix("_").replace("_", " ")
    help_text = f"{what} measured by the {check} check" + (f", in {unit_text}." if unit_text
                                                             else ".")
    return FigureMetric(name, factor, help_text)


def _split_unit(figure: str) -> tuple[str, float, str | None]:
    if figure == "loss_ratio":
        return "packet_loss", 1.0, "_ratio"
    if figure == "mos" or figure.endswith("_mos"):
        return figure, 1.0, ""
    for suffix, factor, unit in (("_ms", 0.001, "_seconds"), ("_s", 1.0, "_seconds"),
                                 ("_days", 86400.0, "_seconds"), ("_ratio", 1.0, "_ratio"),
                                 ("_bps", 1.0, "_bits_per_second"), ("_bytes", 1.0, "_bytes")):
        if figure.endswith(suffix) and len(figure) > len(suffix):
            return figure[: -len(suffix)], factor, unit
    return figure, 1.0, None


def endpoint_info_labels(e: Endpoint) -> dict[str, str]:
    """The descriptive labels of ``vcfleet_endpoint_info`` (no contact data, no secrets)."""
    return {
        "name": e.name, "tier": e.tier, "district": e.district or "", "parent": e.parent or "",
        "vendor": e.vendor, "model": e.model, "profile": e.profile, "address": e.address,
        "maintenance": "true" if e.maintenance else "false",
        "tags": "," + ",".join(e.tags) + "," if e.tags else "",
    }


def info_family(endpoints: Iterable[Endpoint]) -> Metric:
    """``vcfleet_endpoint_info``: one series per endpoint in scope, value 1."""
    fam = InfoMetricFamily(
        f"{PREFIX}endpoint", "Descriptive labels of each endpoint in the inventory "
        "(join on endpoint); always 1.", labels=["endpoint"])
    append, name = fam.samples.append, fam.name + "_info"
    for e in endpoints:
        append(Sample(name, {"endpoint": e.id, **endpoint_info_labels(e)}, 1.0))
    return fam


@dataclass
class _Figures:
    """Samples of figure metrics by metric name, with and without a direction."""

    plain: dict[str, list[Sample]] = field(default_factory=dict)
    directed: dict[str, list[Sample]] = field(default_factory=dict)
    meta: dict[str, FigureMetric] = field(default_factory=dict)

    def add(self, endpoint: str, check: str, figures: Mapping[str, float],
            direction: str | None) -> None:
        by_name = self.directed if direction else self.plain
        for figure, value in figures.items():
            m = figure_metric(check, figure)
            if m is None:
                continue
            rows = by_name.get(m.name)
            if rows is None:
                rows = by_name[m.name] = []
                self.meta[m.name] = m
            labels = {"endpoint": endpoint, "direction": direction} if direction else \
                {"endpoint": endpoint}
            rows.append(Sample(m.name, labels, m.base(value)))

    def families(self) -> Iterator[Metric]:
        for name in sorted(self.meta):
            directed, plain = self.directed.get(name, []), self.plain.get(name, [])
            labels = ["endpoint", "direction"] if directed else ["endpoint"]
            fam = GaugeMetricFamily(name, self.meta[name].help, labels=labels)
            if directed and plain:  # a direction-less figure next to per-direction ones
                plain = [s._replace(labels={**s.labels, "direction": "both"}) for s in plain]
            fam.samples.extend(plain)
            fam.samples.extend(directed)
            yield fam


def endpoint_families(reports: Sequence[EndpointReport]) -> Iterator[Metric]:
    """Readiness, state, per-check success and duration, and every figure of these reports.

    ``vcfleet_endpoint_ready`` is 1 for a ready endpoint and 0 for a degraded or down
    one; an endpoint never judged (verdict unknown) has no ready sample, only its state.
    """
    ready = GaugeMetricFamily(
        f"{PREFIX}endpoint_ready",
        "1 if the endpoint's last verdict is ready, 0 if degraded or down; absent until "
        "it has been checked.", labels=["endpoint"])
    state = GaugeMetricFamily(
        f"{PREFIX}endpoint_state",
        "The endpoint's last verdict, one series per state (ready, degraded, down, "
        "unknown); the current one is 1.", labels=["endpoint", "state"])
    checked = GaugeMetricFamily(
        f"{PREFIX}endpoint_last_checked_timestamp_seconds",
        "Unix time when the endpoint's last checks finished.", labels=["endpoint"])
    success = GaugeMetricFamily(
        f"{PREFIX}probe_success",
        "1 if the check succeeded on its last run, 0 if it failed; absent if it did not run.",
        labels=["endpoint", "check"])
    duration = GaugeMetricFamily(
        f"{PREFIX}probe_duration_seconds", "How long the check's last run took.",
        labels=["endpoint", "check"])
    timed_out = GaugeMetricFamily(
        f"{PREFIX}probe_timed_out",
        "1 if the check's last run was cut off by its deadline, else 0.",
        labels=["endpoint", "check"])
    figures = _Figures()
    # Samples are appended directly (not through add_metric): at 10,000 rooms and
    # ~40 series each, the per-sample overhead is most of a scrape's cost.
    for r in reports:
        eid = r.endpoint.id
        ep = {"endpoint": eid}
        if r.verdict is not Verdict.UNKNOWN:
            _add(ready, ep, 1.0 if r.verdict is Verdict.READY else 0.0)
        for s in STATES:
            _add(state, {"endpoint": eid, "state": s.value}, 1.0 if r.verdict is s else 0.0)
        if r.finished_at:
            _add(checked, ep, r.finished_at)
        for name, c in r.checks.items():
            labels = {"endpoint": eid, "check": name}
            _add(success, labels, 1.0 if c.result.ok else 0.0)
            _add(duration, labels, c.duration_s)
            _add(timed_out, labels, 1.0 if c.timed_out else 0.0)
            figures.add(eid, name, c.result.figures, None)
            for direction, figs in c.result.directions.items():
                figures.add(eid, name, figs, direction)
    yield from (ready, state, checked, success, duration, timed_out)
    yield from figures.families()


def _add(fam: Metric, labels: dict[str, str], value: float) -> None:
    fam.samples.append(Sample(fam.name, labels, value))
