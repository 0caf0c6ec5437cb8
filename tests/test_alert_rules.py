"""deploy/prometheus: the rules are valid, their promtool unit tests pass, every alert is
tested, and the example scrape configuration is valid."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml

from inventory import Endpoint, Inventory
from probes.base import ProbeResult
from tests.conftest import ROOT, require_tool
from vcfleet.exporter import ExporterState, FleetCollector
from vcfleet.report import CheckReport, EndpointReport, SweepReport, judge

DEPLOY = ROOT / "deploy" / "prometheus"
RULES = DEPLOY / "vcfleet-rules.yml"
TESTS = sorted((DEPLOY / "tests").glob("*.yml"))


def promtool(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([require_tool("promtool"), *map(str, args)], cwd=DEPLOY,
                          capture_output=True, text=True, timeout=60)


def test_check_rules() -> None:
    proc = promtool("check", "rules", RULES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_rule_unit_tests() -> None:
    assert TESTS
    proc = promtool("test", "rules", *TESTS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_example_config() -> None:
    proc = promtool("check", "config", DEPLOY / "prometheus.example.yml")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_alert_has_a_firing_test() -> None:
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    fired: set[str] = set()
    for path in TESTS:
        doc: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
        for test in doc["tests"]:
            for case in test.get("alert_rule_test", []):
                if case.get("exp_alerts"):
                    fired.add(case["alertname"])
    assert alerts - fired == set(), "alerts without a test that makes them fire"


# -- the rules on the exporter's own output ----------------------------------------------

MINUTES = 20


def _sweep(rooms: dict[str, Endpoint], minute: int) -> SweepReport:
    """Minute ``minute`` of the story: "slow" (300 ms RTT) is measured by a starved prober
    at minute 4 (a wild 50 ms), "healthy" (5 ms jitter) at minute 5 (a wild 80 ms)."""
    def media(rtt_ms: float, jitter_ms: float, unreliable: bool) -> CheckReport:
        result = ProbeResult(ok=True, figures={"rtt_ms": rtt_ms, "mos": 4.2},
                             directions={"up": {"jitter_ms": jitter_ms, "loss_ratio": 0.0},
                                         "down": {"jitter_ms": jitter_ms, "loss_ratio": 0.0}},
                             unreliable=unreliable)
        return CheckReport("webrtc", result, True, 3.0)

    at = 60.0 * minute
    checks = {"slow": media(50.0 if minute == 4 else 300.0, 4.0, minute == 4),
              "healthy": media(20.0, 80.0 if minute == 5 else 5.0, minute == 5)}
    found = []
    for ident, room in rooms.items():
        r = judge(room, {"webrtc": checks[ident]})
        found.append(EndpointReport(r.endpoint, r.verdict, r.reasons, r.checks, at))
    return SweepReport(endpoints=tuple(found), started_at=at - 3.0, duration_s=3.0,
                       source="serve")


def _exporter_series(rooms: dict[str, Endpoint]) -> list[dict[str, str]]:
    """promtool input series: what Prometheus scrapes from the exporter once a minute."""
    inv = Inventory(endpoints=tuple(rooms.values()))
    state = ExporterState(inventory=inv, endpoints=inv.endpoints, interval_s=60.0)
    history: dict[tuple[str, tuple[tuple[str, str], ...]], list[str]] = {}
    for minute in range(MINUTES):
        state.record(_sweep(rooms, minute))
        for fam in FleetCollector(state).collect():
            for s in fam.samples:
                labels = {"job": "vcfleet", "instance": "ex:9348", **s.labels}
                key = (s.name, tuple(sorted(labels.items())))
                history.setdefault(key, ["_"] * MINUTES)[minute] = repr(s.value)
    out = []
    for (name, labels), values in history.items():
        text = ",".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in labels)
        out.append({"series": f"{name}{{{text}}}", "values": " ".join(values)})
    return out


def test_rules_on_the_exporters_own_output(tmp_path: Path) -> None:
    """Issue 15: one unreliable sweep neither restarts a slow room's RttHigh ``for:``
    timer nor puts a healthy room's jitter alert in pending, with the exporter's real
    series (not hand-written ones) as input."""
    rooms = {ident: Endpoint.model_validate({
        "id": ident, "name": f"Room {ident}", "tier": "commune", "district": "d1",
        "address": "127.0.0.1", "vendor": "cisco_ce"}) for ident in ("slow", "healthy")}
    expected_rtt = {"exp_labels": {"job": "vcfleet", "instance": "ex:9348", "endpoint": "slow",
                                   "name": "Room slow", "district": "d1",
                                   "severity": "warning"},
                    "exp_annotations": {
                        "summary": "Media round-trip time to Room slow is 300ms",
                        "description": "WebRTC RTT to slow has been >= 250 ms for 10 minutes."}}
    quiet = [{"expr": f'count_over_time(ALERTS{{alertname="{name}"}}[{MINUTES}m])',
              "eval_time": f"{MINUTES - 1}m", "exp_samples": []}
             for name in ("VcfleetMediaJitterHigh", "VcfleetMediaPacketLossHigh",
                          "VcfleetMediaMosLow")]
    doc = {"rule_files": [str(RULES)], "evaluation_interval": "1m", "tests": [{
        "name": "the exporter's series through one unreliable sweep", "interval": "1m",
        "input_series": _exporter_series(rooms),
        "alert_rule_test": [
            {"eval_time": "11m", "alertname": "VcfleetMediaRttHigh",
             "exp_alerts": [expected_rtt]}],
        "promql_expr_test": [*quiet, {
            "expr": 'count_over_time(ALERTS{alertname="VcfleetMediaRttHigh",'
                    'endpoint="healthy"}[20m])', "eval_time": "19m", "exp_samples": []}],
    }]}
    path = tmp_path / "exporter-output.test.yml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    proc = promtool("test", "rules", path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
