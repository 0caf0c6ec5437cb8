"""The exporter's collectors on synthetic sweep reports, each test with its own registry."""

from __future__ import annotations

import time
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inventory import Endpoint, Inventory
from probes.base import ProbeResult
from vcfleet.exporter import (
    ExporterCollector,
    ExporterState,
    FleetCollector,
    Scope,
    Shard,
    figure_metric,
    hashmod,
)
from vcfleet.report import CheckReport, EndpointReport, SweepReport, judge


def endpoint(ident: str, **fields: object) -> Endpoint:
    base: dict[str, object] = {"id": ident, "name": f"Điểm cầu {ident}", "tier": "commune",
                               "district": "ha-trung", "parent": "ubnd-tinh",
                               "address": "127.0.0.1", "vendor": "cisco_ce",
                               "model": "Room Kit"}
    return Endpoint.model_validate({**base, **fields})


def check(name: str, ok: bool = True, figures: Mapping[str, float] | None = None,
          directions: Mapping[str, Mapping[str, float]] | None = None,
          required: bool = True, duration_s: float = 0.25) -> CheckReport:
    result = ProbeResult(ok=ok, figures=figures or {}, directions=directions or {},
                         reason="" if ok else "no answer")
    return CheckReport(name, result, required, duration_s)


WEBRTC = check("webrtc", figures={"rtt_ms": 42.0, "mos": 4.3, "setup_ms": 180.0},
               directions={"up": {"jitter_ms": 3.0, "loss_ratio": 0.01},
                           "down": {"jitter_ms": 5.0, "loss_ratio": 0.0,
                                    "bitrate_bps": 32000.0}})


def fleet() -> tuple[Inventory, SweepReport]:
    good = endpoint("nga-an", maintenance=True, tags=["pilot", "nga-son"])
    bad = endpoint("ha-son", district="nga-son")
    never = endpoint("yen-tho")
    reports = (
        judge(good, {"sip": check("sip", figures={"rtt_ms": 12.5}), "webrtc": WEBRTC}),
        judge(bad, {"sip": check("sip", ok=False, duration_s=2.0)}),
        judge(never, {}),
    )
    report = SweepReport(endpoints=reports, started_at=time.time() - 3, duration_s=2.5,
                         source="serve")
    return Inventory(endpoints=(good, bad, never)), report


def registry_for(state: ExporterState) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(state))
    registry.register(ExporterCollector(state))
    return registry


@pytest.fixture
def state() -> ExporterState:
    inv, report = fleet()
    return ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0, report=report)


def test_readiness_and_state(state: ExporterState) -> None:
    reg = registry_for(state)
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "nga-an"}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "ha-son"}) == 0.0
    # never judged: no ready sample at all, state says unknown
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "yen-tho"}) is None
    assert reg.get_sample_value("vcfleet_endpoint_state",
                                {"endpoint": "yen-tho", "state": "unknown"}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoint_state",
                                {"endpoint": "ha-son", "state": "down"}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoint_state",
                                {"endpoint": "ha-son", "state": "ready"}) == 0.0
    assert reg.get_sample_value("vcfleet_endpoints", {"state": "down"}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoints", {"state": "unknown"}) == 1.0


def test_info_carries_descriptive_labels(state: ExporterState) -> None:
    reg = registry_for(state)
    labels = {"endpoint": "nga-an", "name": "Điểm cầu nga-an", "tier": "commune",
              "district": "ha-trung", "parent": "ubnd-tinh", "vendor": "cisco_ce",
              "model": "Room Kit", "profile": "standard", "address": "127.0.0.1",
              "maintenance": "true", "tags": ",pilot,nga-son,"}
    assert reg.get_sample_value("vcfleet_endpoint_info", labels) == 1.0


def test_checks_success_duration_and_absence(state: ExporterState) -> None:
    reg = registry_for(state)
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "ha-son", "check": "sip"}) == 0.0
    assert reg.get_sample_value("vcfleet_probe_duration_seconds",
                                {"endpoint": "ha-son", "check": "sip"}) == 2.0
    # a check that did not run is absent, not zero
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "ha-son", "check": "webrtc"}) is None
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "yen-tho", "check": "sip"}) is None


def test_figures_in_base_units(state: ExporterState) -> None:
    reg = registry_for(state)
    ep = {"endpoint": "nga-an"}
    assert reg.get_sample_value("vcfleet_sip_rtt_seconds", ep) == pytest.approx(0.0125)
    assert reg.get_sample_value("vcfleet_webrtc_rtt_seconds", ep) == pytest.approx(0.042)
    assert reg.get_sample_value("vcfleet_webrtc_mos", ep) == pytest.approx(4.3)
    assert reg.get_sample_value("vcfleet_webrtc_setup_seconds", ep) == pytest.approx(0.18)
    up, down = {**ep, "direction": "up"}, {**ep, "direction": "down"}
    assert reg.get_sample_value("vcfleet_webrtc_jitter_seconds", up) == pytest.approx(0.003)
    assert reg.get_sample_value("vcfleet_webrtc_jitter_seconds", down) == pytest.approx(0.005)
    assert reg.get_sample_value("vcfleet_webrtc_packet_loss_ratio", up) == pytest.approx(0.01)
    assert reg.get_sample_value("vcfleet_webrtc_packet_loss_ratio", down) == 0.0
    assert reg.get_sample_value("vcfleet_webrtc_bitrate_bytes_per_second", down) == 4000.0
    # the failed SIP check measured nothing: no RTT sample for it
    assert reg.get_sample_value("vcfleet_sip_rtt_seconds", {"endpoint": "ha-son"}) is None


def test_removed_endpoint_disappears(state: ExporterState) -> None:
    reg = registry_for(state)
    state.endpoints = tuple(e for e in state.endpoints if e.id != "ha-son")
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "ha-son"}) is None
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "ha-son", "check": "sip"}) is None
    assert "ha-son" not in generate_latest(reg).decode()
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "nga-an"}) == 1.0


def test_exporter_health(state: ExporterState) -> None:
    state.sweeps_total, state.sweeps_failed, state.sweeps_overrun = 5, 1, 2
    state.reload_success = False
    state.reloads["failure"] += 1
    state.loop_lag_s = 0.004
    reg = registry_for(state)
    assert state.report is not None
    assert reg.get_sample_value("vcfleet_sweeps_total") == 5.0
    assert reg.get_sample_value("vcfleet_sweeps_failed_total") == 1.0
    assert reg.get_sample_value("vcfleet_sweeps_overrun_total") == 2.0
    assert reg.get_sample_value("vcfleet_sweep_duration_seconds") == 2.5
    assert reg.get_sample_value("vcfleet_sweep_last_completed_timestamp_seconds") == \
        pytest.approx(state.report.finished_at)
    assert reg.get_sample_value("vcfleet_inventory_reload_success") == 0.0
    assert reg.get_sample_value("vcfleet_inventory_reloads_total", {"result": "failure"}) == 1.0
    assert reg.get_sample_value("vcfleet_event_loop_lag_seconds") == 0.004
    assert reg.get_sample_value("vcfleet_inventory_endpoints") == 3.0
    info = [s for m in reg.collect() if m.name == "vcfleet_build" for s in m.samples]
    assert info
    assert info[0].labels["version"]


def test_before_first_sweep_only_info_and_health() -> None:
    inv, _ = fleet()
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=30.0)
    reg = registry_for(state)
    assert reg.get_sample_value("vcfleet_endpoint_info", {
        "endpoint": "ha-son", "name": "Điểm cầu ha-son", "tier": "commune",
        "district": "nga-son", "parent": "ubnd-tinh", "vendor": "cisco_ce", "model": "Room Kit",
        "profile": "standard", "address": "127.0.0.1", "maintenance": "false",
        "tags": ""}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "ha-son"}) is None
    assert reg.get_sample_value("vcfleet_sweep_last_completed_timestamp_seconds") is None
    assert reg.get_sample_value("vcfleet_endpoints", {"state": "unknown"}) == 3.0


@pytest.mark.parametrize(("check_name", "figure", "name", "factor"), [
    ("sip", "rtt_ms", "vcfleet_sip_rtt_seconds", 0.001),
    ("webrtc", "loss_ratio", "vcfleet_webrtc_packet_loss_ratio", 1.0),
    ("webrtc", "mos", "vcfleet_webrtc_mos", 1.0),
    ("tcp", "connect_ms", "vcfleet_tcp_connect_seconds", 0.001),
    ("https", "cert_expiry_days", "vcfleet_https_cert_expiry_seconds", 86400.0),
    ("webrtc", "bitrate_bps", "vcfleet_webrtc_bitrate_bytes_per_second", 0.125),
])
def test_figure_names(check_name: str, figure: str, name: str, factor: float) -> None:
    m = figure_metric(check_name, figure)
    assert m is not None
    assert (m.name, m.factor) == (name, factor)


@pytest.mark.parametrize("figure", ["packets", "Bad-Name", "status"])
def test_figures_without_unit_are_not_exposed(figure: str) -> None:
    assert figure_metric("sip", figure) is None


def test_hashmod_matches_prometheus() -> None:
    # Shards Prometheus 2.42's `action: hashmod, modulus: 7` gave these ids (checked by hand).
    expected = {"ubnd-tinh": 5, "xa-ha-son": 4, "nga-an": 6, "yen-tho": 1}
    assert {i: hashmod(i, 7) for i in expected} == expected
    shards = [Shard(i, 3) for i in range(3)]
    ids = [f"xa-{n}" for n in range(300)]
    owners = [sum(s.owns(i) for s in shards) for i in ids]
    assert owners == [1] * len(ids)
    inv = Inventory(endpoints=tuple(endpoint(i) for i in ids))
    sizes = [len(Scope(shard=s).endpoints(inv)) for s in shards]
    assert sum(sizes) == 300
    assert min(sizes) > 70


def test_direction_less_figure_next_to_directed_ones_is_both() -> None:
    room = endpoint("a")
    other = endpoint("b")
    reports = (judge(room, {"webrtc": check("webrtc", figures={"jitter_ms": 4.0})}),
               judge(other, {"webrtc": check("webrtc", directions={"up": {"jitter_ms": 2.0}})}))
    inv = Inventory(endpoints=(room, other))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0,
                          report=SweepReport(endpoints=reports, started_at=0.0, duration_s=1.0))
    reg = registry_for(state)
    assert reg.get_sample_value("vcfleet_webrtc_jitter_seconds",
                                {"endpoint": "a", "direction": "both"}) == 0.004
    assert reg.get_sample_value("vcfleet_webrtc_jitter_seconds",
                                {"endpoint": "b", "direction": "up"}) == 0.002


def media(rtt_ms: float, jitter_ms: float, *, unreliable: bool = False) -> CheckReport:
    return CheckReport("webrtc", ProbeResult(ok=True, figures={"rtt_ms": rtt_ms},
                                             directions={"up": {"jitter_ms": jitter_ms}},
                                             unreliable=unreliable), True, 4.0)


def sweep_of(room: Endpoint, checks: Mapping[str, CheckReport], at: float) -> SweepReport:
    r = judge(room, checks)
    r = EndpointReport(r.endpoint, r.verdict, r.reasons, r.checks, finished_at=at)
    return SweepReport(endpoints=(r,), started_at=at - 1.0, duration_s=1.0, source="serve")


def exposed(state: ExporterState) -> dict[str, float | None]:
    """The figures and their time, through the registry and the direct text writer."""
    reg = registry_for(state)
    one, up = {"endpoint": "a"}, {"endpoint": "a", "direction": "up"}
    webrtc = {"endpoint": "a", "check": "webrtc"}
    values = {"rtt": reg.get_sample_value("vcfleet_webrtc_rtt_seconds", one),
              "jitter_up": reg.get_sample_value("vcfleet_webrtc_jitter_seconds", up),
              "measured": reg.get_sample_value("vcfleet_probe_figures_timestamp_seconds",
                                               webrtc),
              "unreliable": reg.get_sample_value("vcfleet_probe_unreliable", webrtc)}
    assert _samples(FleetCollector(state).render()) == _samples(generate_latest(reg))
    return values


def _samples(text: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every per-endpoint sample of an exposition, labels unordered."""
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text.decode())
            for s in fam.samples if "endpoint" in s.labels}


def test_unreliable_figures_are_flagged_and_never_exposed() -> None:
    room = endpoint("a")
    inv = Inventory(endpoints=(room,))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0)
    state.record(sweep_of(room, {"webrtc": media(300.0, 80.0, unreliable=True)}, 1000.0))
    assert exposed(state) == {"rtt": None, "jitter_up": None, "measured": None,
                              "unreliable": 1.0}


def test_the_last_reliable_figures_stand_in_with_their_time() -> None:
    """Issue 15: a slow room's RTT series goes on through an unreliable sweep (its alert
    keeps its ``for:`` timer), and a healthy room's wild starved figures never show."""
    room = endpoint("a")
    inv = Inventory(endpoints=(room,))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0)
    state.record(sweep_of(room, {"webrtc": media(300.0, 5.0)}, 1000.0))
    assert exposed(state) == {"rtt": 0.3, "jitter_up": 0.005, "measured": 1000.0,
                              "unreliable": 0.0}
    state.record(sweep_of(room, {"webrtc": media(900.0, 80.0, unreliable=True)}, 1060.0))
    assert exposed(state) == {"rtt": 0.3, "jitter_up": 0.005, "measured": 1000.0,
                              "unreliable": 1.0}
    cannot = CheckReport("webrtc", ProbeResult.cannot_check("prober overloaded"), True, 0.0)
    state.record(sweep_of(room, {"webrtc": cannot}, 1120.0))
    assert exposed(state)["rtt"] == 0.3
    state.record(sweep_of(room, {"webrtc": media(310.0, 6.0)}, 1180.0))
    assert exposed(state) == {"rtt": 0.31, "jitter_up": 0.006, "measured": 1180.0,
                              "unreliable": 0.0}


def test_a_failed_check_forgets_its_figures_and_old_ones_expire() -> None:
    room = endpoint("a")
    inv = Inventory(endpoints=(room,))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0,
                          figures_max_age_s=600.0)
    starved = {"webrtc": media(900.0, 80.0, unreliable=True)}
    state.record(sweep_of(room, {"webrtc": media(300.0, 5.0)}, 1000.0))
    no_media = CheckReport("webrtc", ProbeResult.failure("no media path within 4 s"),
                           True, 4.0)
    state.record(sweep_of(room, {"webrtc": no_media}, 1060.0))
    state.record(sweep_of(room, starved, 1120.0))
    assert exposed(state)["rtt"] is None  # no figure from before the room lost its media
    state.record(sweep_of(room, {"webrtc": media(300.0, 5.0)}, 2000.0))
    state.record(sweep_of(room, starved, 2600.0))
    assert exposed(state)["rtt"] == 0.3  # 600 s old: still kept
    state.record(sweep_of(room, starved, 2601.0))
    assert exposed(state)["rtt"] is None  # older than figures_max_age_s
    assert state.kept == {}


def test_a_check_that_could_not_run_is_unknown_not_failed() -> None:
    # Issue 14, finding 9: an unresolvable credential is this machine's problem, not the
    # room's: no probe_success 0 (an alert would page), no endpoint_ready 0.
    room = endpoint("a")
    cannot = CheckReport("webrtc", ProbeResult.cannot_check(
        "environment variable VCFLEET_X is not set"), True, 0.0)
    sip = check("sip", figures={"rtt_ms": 12.5})
    inv = Inventory(endpoints=(room,))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0,
                          report=SweepReport(endpoints=(judge(room, {"sip": sip,
                                                                     "webrtc": cannot}),),
                                             started_at=0.0, duration_s=1.0))
    reg = registry_for(state)
    assert reg.get_sample_value("vcfleet_endpoint_state",
                                {"endpoint": "a", "state": "unknown"}) == 1.0
    assert reg.get_sample_value("vcfleet_endpoint_ready", {"endpoint": "a"}) is None
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "a", "check": "webrtc"}) is None
    assert reg.get_sample_value("vcfleet_probe_success",
                                {"endpoint": "a", "check": "sip"}) == 1.0


def test_probe_answers_keep_their_own_last_reliable_figures() -> None:
    from vcfleet.exporter.probe import ProbeCollector, ProbeRequest

    room = endpoint("a")
    inv = Inventory(endpoints=(room,))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=0.0)
    request = ProbeRequest(room, "media", frozenset({"webrtc"}), 10.0)

    def answer(report: SweepReport) -> CollectorRegistry:
        reg = CollectorRegistry(auto_describe=False)
        reg.register(ProbeCollector(request, report, time.monotonic(),
                                    state.record_probe(report)))
        return reg

    answer(sweep_of(room, {"webrtc": media(300.0, 5.0)}, 1000.0))
    reg = answer(sweep_of(room, {"webrtc": media(900.0, 80.0, unreliable=True)}, 1060.0))
    assert reg.get_sample_value("vcfleet_webrtc_rtt_seconds", {"endpoint": "a"}) == 0.3
    assert reg.get_sample_value("vcfleet_probe_figures_timestamp_seconds",
                                {"endpoint": "a", "check": "webrtc"}) == 1000.0
    assert state.kept == {}  # the scheduled sweeps' series are another job's
