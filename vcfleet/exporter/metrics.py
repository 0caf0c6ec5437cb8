"""Metric families built from sweep reports: the names, units and labels of docs/exporter.md.

Everything here is a pure function of reports and endpoints, so that the fleet's
``/metrics`` and a single ``/probe`` answer describe an endpoint the same way.
Figures arrive in the units their names say (``rtt_ms``, ``loss_ratio``...) and
leave in base units (seconds, ratios, bytes per second: Prometheus's base unit of
information is the byte, so bit rates are divided by 8).  A check that did not
run, and a figure a check did not report, give no sample at all: absent, never 0.
Figures that cannot be trusted (``unreliable``, ``unchecked``) are never exposed: the
check's last reliable figures stand in for them, with the time they were measured
(``vcfleet_probe_figures_timestamp_seconds``), so that an alert's ``for:`` timer
neither restarts on a slow room nor starts on a healthy one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.samples import Sample

from inventory import Endpoint
from vcfleet.exporter.state import Kept, KeptFigures, trusted
from vcfleet.report import CheckReport, EndpointReport, Verdict

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
    "bitrate": "Received encoded media rate",
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
                                 ("_bps", 0.125, "_bytes_per_second"), ("_bytes", 1.0, "_bytes")):
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


@dataclass
class Family:
    """A family of per-endpoint gauges as plain rows: (endpoint id, values of the other
    labels, value).  ``metric()`` makes the client_python family (for registries and
    tests); ``exposition.render_families`` writes the text directly, reusing each
    endpoint's label text across families (at 10,000 rooms, ~400,000 samples)."""

    name: str
    help: str
    labels: tuple[str, ...] = ()
    """Label names after ``endpoint``."""
    info: bool = False
    """An info family: exposed as ``<name>_info``."""
    rows: list[tuple[str, tuple[str, ...], float]] = field(default_factory=list)

    def metric(self) -> Metric:
        """The family as a client_python metric family."""
        labelnames = ["endpoint", *self.labels]
        fam: Metric
        if self.info:
            fam = InfoMetricFamily(self.name, self.help, labels=["endpoint"])
        else:
            fam = GaugeMetricFamily(self.name, self.help, labels=labelnames)
        name = self.name + "_info" if self.info else self.name
        fam.samples.extend(Sample(name, dict(zip(labelnames, (eid, *rest), strict=True)), value)
                           for eid, rest, value in self.rows)
        return fam


INFO_LABELS = ("name", "tier", "district", "parent", "vendor", "model", "profile", "address",
               "maintenance", "tags")


def info_family(endpoints: Iterable[Endpoint]) -> Family:
    """``vcfleet_endpoint_info``: one series per endpoint in scope, value 1."""
    fam = Family(f"{PREFIX}endpoint", "Descriptive labels of each endpoint in the inventory "
                 "(join on endpoint); always 1.", INFO_LABELS, info=True)
    for e in endpoints:
        labels = endpoint_info_labels(e)
        fam.rows.append((e.id, tuple(labels[k] for k in INFO_LABELS), 1.0))
    return fam


@dataclass
class _Figures:
    """Rows of figure metrics by metric name, with and without a direction."""

    plain: dict[str, list[tuple[str, tuple[str, ...], float]]] = field(default_factory=dict)
    directed: dict[str, list[tuple[str, tuple[str, ...], float]]] = field(default_factory=dict)
    meta: dict[str, FigureMetric] = field(default_factory=dict)

    def add(self, endpoint: str, check: str, figures: Mapping[str, float],
            direction: str | None) -> None:
        by_name = self.directed if direction else self.plain
        rest = (direction,) if direction else ()
        for figure, value in figures.items():
            m = figure_metric(check, figure)
            if m is None:
                continue
            rows = by_name.get(m.name)
            if rows is None:
                rows = by_name[m.name] = []
                self.meta[m.name] = m
            rows.append((endpoint, rest, m.base(value)))

    def families(self) -> Iterator[Family]:
        for name in sorted(self.meta):
            directed, plain = self.directed.get(name, []), self.plain.get(name, [])
            if directed and plain:  # a direction-less figure next to per-direction ones
                plain = [(eid, ("both",), value) for eid, _, value in plain]
            yield Family(name, self.meta[name].help, ("direction",) if directed else (),
                         rows=plain + directed)


def shown_figures(report: EndpointReport, check: CheckReport,
                  kept: Kept) -> KeptFigures | None:
    """The figures to expose for one check: its own when trusted, else the last reliable
    ones kept for it, else none."""
    result = check.result
    if trusted(result):
        if not (result.figures or result.directions):
            return None
        return KeptFigures(result.figures, result.directions, report.finished_at)
    return kept.get((report.endpoint.id, check.name))


def endpoint_families(reports: Sequence[EndpointReport], kept: Kept | None = None
                      ) -> list[Family]:
    """Readiness, state, per-check success and duration, and every figure of these reports.

    ``vcfleet_endpoint_ready`` is 1 for a ready endpoint and 0 for a degraded or down
    one; an endpoint never judged (verdict unknown) has no ready sample, only its state.
    A check whose figures are not trusted shows its ``kept`` (last reliable) figures.
    """
    kept = kept or {}
    ready = Family(
        f"{PREFIX}endpoint_ready",
        "1 if the endpoint's last verdict is ready, 0 if degraded or down; absent until "
        "it has been checked.")
    state = Family(
        f"{PREFIX}endpoint_state",
        "The endpoint's last verdict, one series per state (ready, degraded, down, "
        "unknown); the current one is 1.", ("state",))
    checked = Family(
        f"{PREFIX}endpoint_last_checked_timestamp_seconds",
        "Unix time when the endpoint's last checks finished.")
    success = Family(
        f"{PREFIX}probe_success",
        "1 if the check succeeded on its last run, 0 if it failed; absent if it did not run.",
        ("check",))
    duration = Family(
        f"{PREFIX}probe_duration_seconds", "How long the check's last run took.", ("check",))
    timed_out = Family(
        f"{PREFIX}probe_timed_out",
        "1 if the check's last run was cut off by its deadline, else 0.", ("check",))
    unreliable = Family(
        f"{PREFIX}probe_unreliable",
        "1 if the check's last figures were taken while the prober was overloaded "
        "(reported, not judged), else 0.", ("check",))
    measured = Family(
        f"{PREFIX}probe_figures_timestamp_seconds",
        "Unix time when the check's exposed figures were measured: its last run, or the "
        "last reliable run when the last run's figures were unreliable or not measured.",
        ("check",))
    figures = _Figures()
    states = [(s, (s.value,)) for s in STATES]
    for r in reports:
        eid = r.endpoint.id
        if r.verdict is not Verdict.UNKNOWN:
            ready.rows.append((eid, (), 1.0 if r.verdict is Verdict.READY else 0.0))
        state.rows.extend((eid, label, 1.0 if r.verdict is s else 0.0) for s, label in states)
        if r.finished_at:
            checked.rows.append((eid, (), r.finished_at))
        for name, c in r.checks.items():
            check = (name,)
            if not c.result.unchecked:  # could not run here: says nothing of the room
                success.rows.append((eid, check, 1.0 if c.result.ok else 0.0))
            duration.rows.append((eid, check, c.duration_s))
            timed_out.rows.append((eid, check, 1.0 if c.timed_out else 0.0))
            unreliable.rows.append((eid, check, 1.0 if c.result.unreliable else 0.0))
            shown = shown_figures(r, c, kept)
            if shown is None:
                continue
            if shown.measured_at:
                measured.rows.append((eid, check, shown.measured_at))
            figures.add(eid, name, shown.figures, None)
            for direction, figs in shown.directions.items():
                figures.add(eid, name, figs, direction)
    return [ready, state, checked, success, duration, timed_out, unreliable, measured,
            *figures.families()]


DIAGNOSTIC_LEVELS = ("info", "warning", "error", "critical")
PERIPHERAL_KINDS = ("camera", "microphone", "display", "touch_panel")
SESSION_STATES = ("connecting", "up", "lost")


@dataclass(frozen=True)
class DeviceRow:
    """What is known of one endpoint's codec: its state (the device check's sweep JSON
    entries, None when not read) and, with a live session, that session's state."""

    endpoint: str
    details: Mapping[str, object] | None
    updated_at: float = 0.0
    """Wall-clock time the state was read or last pushed."""
    session: str | None = None
    """``connecting``, ``up`` or ``lost``; None: no live session (the sweep's check)."""
    session_since: float = 0.0


def _flag(value: object) -> float:
    return 1.0 if value else 0.0


def device_families(rows: Iterable[DeviceRow]) -> list[Family]:
    """The codec's own view of each endpoint (docs/exporter.md, "Device"): registration,
    calls, standby, do-not-disturb, peripherals, diagnostics, software, and the live
    session's state.  A codec that was not read has no device sample, only its session's;
    what the codec does not report (Poly's standby) is absent, never 0."""
    def fam(name: str, help_text: str, labels: tuple[str, ...] = (),
            info: bool = False) -> Family:
        return Family(f"{PREFIX}device_{name}", help_text, labels, info=info)

    registered = fam("registered", "1 if the codec says it is registered to its SIP "
                     "registrar, 0 if not (failed or inactive).")
    in_call = fam("in_call", "1 if the codec is in a call, else 0.")
    standby = fam("standby", "1 if the codec is in standby, else 0; absent where its API "
                  "does not say (Poly).")
    dnd = fam("dnd", "1 if do-not-disturb is on (the codec will not auto-answer), else 0.")
    connected = fam("peripheral_connected", "Peripherals of this kind the codec sees "
                    "connected (0: none).", ("kind",))
    listed = fam("peripherals", "Peripherals of this kind the codec lists, connected or "
                 "not.", ("kind",))
    diagnostics = fam("diagnostics", "Diagnostics messages the codec shows, by level.",
                      ("level",))
    software = fam("software", "The software version the codec runs; always 1.",
                   ("version",), info=True)
    updated = fam("state_timestamp_seconds", "Unix time the codec's state shown here was "
                  "read or last pushed by the codec.")
    session_up = fam("session_up", "1 while the exporter's live session to the codec is "
                     "open and read, 0 while it is lost or still connecting.")
    session_since = fam("session_state_timestamp_seconds", "Unix time the live session "
                        "entered its current state (vcfleet_device_session_up).")
    for r in rows:
        eid = r.endpoint
        if r.session is not None:
            session_up.rows.append((eid, (), _flag(r.session == "up")))
            session_since.rows.append((eid, (), r.session_since))
        d = r.details
        if d is None:
            continue
        reg = d.get("registration")
        state = reg.get("state") if isinstance(reg, Mapping) else None
        registered.rows.append((eid, (), _flag(state == "registered")))
        in_call.rows.append((eid, (), _flag(_number_of(d.get("calls")) > 0)))
        if d.get("standby") is not None:
            standby.rows.append((eid, (), _flag(d.get("standby"))))
        if d.get("dnd") is not None:
            dnd.rows.append((eid, (), _flag(d.get("dnd"))))
        peripherals = _items(d.get("peripherals"))
        for kind in PERIPHERAL_KINDS:
            of_kind = [p for p in peripherals if p.get("kind") == kind]
            if of_kind:
                connected.rows.append((eid, (kind,), float(sum(1 for p in of_kind
                                                               if p.get("connected")))))
                listed.rows.append((eid, (kind,), float(len(of_kind))))
        levels = [str(m.get("level", "")).lower() for m in _items(d.get("diagnostics"))]
        diagnostics.rows.extend((eid, (level,), float(levels.count(level)))
                                for level in DIAGNOSTIC_LEVELS)
        if d.get("software"):
            software.rows.append((eid, (str(d["software"]),), 1.0))
        if r.updated_at:
            updated.rows.append((eid, (), r.updated_at))
    return [registered, in_call, standby, dnd, connected, listed, diagnostics, software,
            updated, session_up, session_since]


def _number_of(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def _items(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []
