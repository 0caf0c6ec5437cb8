"""Thresholds as the design promises: fleet-wide ``thresholds:``, per-profile overrides and
``vcfleet sweep --threshold KEY=VALUE``, each winning key by key; the shipped alert rules
judge by the same defaults."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

from inventory import InputError, Thresholds, parse_inventory
from probes import ProbeResult
from simulator import parse_faults
from tests.simulated import simulated_fleet
from vcfleet.checks import load_fleet
from vcfleet.commands.sweep import parse_thresholds
from vcfleet.report import Verdict
from vcfleet.sweep import SweepOptions, parse_checks, run_sweep

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "vcfleet-rules.yml"

FLEET = """\
thresholds: {rtt_ms: 200, mos: 3.8}
profiles:
  strict: {checks: [sip], thresholds: {rtt_ms: 100}}
endpoints:
  - {id: hub, name: Hub, tier: province, address: 127.0.0.1, vendor: poly}
  - {id: room, name: Room, tier: commune, parent: hub, address: 127.0.0.2, vendor: poly,
     profile: strict}
"""

DELAYED = parse_faults("- select: id=poly-2\n  delay_ms: 120\n", "faults.yaml")


def test_the_profile_wins_over_the_fleet_and_the_sweep_over_both() -> None:
    inv = parse_inventory(FLEET, "fleet.yaml")
    assert inv.thresholds == Thresholds(rtt_ms=200, mos=3.8)
    assert inv.thresholds_for(inv.get("hub")) == Thresholds(rtt_ms=200, mos=3.8)
    assert inv.thresholds_for(inv.get("room")) == Thresholds(rtt_ms=100, mos=3.8)
    assert inv.thresholds_for(inv.get("room"), {"rtt_ms": 50, "jitter_ms": 5}) == \
        Thresholds(rtt_ms=50, jitter_ms=5, mos=3.8)


def test_an_inventory_without_thresholds_judges_by_the_defaults() -> None:
    inv = parse_inventory(FLEET.split("profiles:")[0].replace("thresholds: {rtt_ms: 200, "
                                                              "mos: 3.8}\n", "")
                          + FLEET[FLEET.index("endpoints:"):].replace("profile: strict",
                                                                      "profile: network"),
                          "fleet.yaml")
    assert inv.thresholds_for(inv.get("room")) == Thresholds()


@pytest.mark.parametrize(("text", "expected"), [
    ("thresholds: {rtt_ms: fast}\n", "fleet.yaml:1:22: thresholds.rtt_ms: expected a number, "
                                     "got 'fast'"),
    ("thresholds: {loss_pct: 3}\n", "fleet.yaml:1:14: unknown key 'thresholds.loss_pct' "
                                    "(allowed: rtt_ms, jitter_ms, loss_ratio, mos)"),
    ("thresholds: {loss_ratio: 3}\n", "fleet.yaml:1:26: thresholds.loss_ratio: input should be "
                                      "less than or equal to 1"),
    ("thresholds: [250]\n", "fleet.yaml:1:13: thresholds: expected a mapping"),
    ("profiles:\n  p: {checks: [sip], thresholds: {mos: true}}\n",
     "fleet.yaml:2:40: profiles.p.thresholds.mos: expected a number, got True"),
])
def test_bad_thresholds_are_located(text: str, expected: str) -> None:
    endpoints = "endpoints:\n  - {id: a, name: A, tier: province, address: 127.0.0.1, " \
                "vendor: poly}\n"
    with pytest.raises(InputError) as caught:
        parse_inventory(text + endpoints, "fleet.yaml")
    assert caught.value.lines() == [expected]


def test_threshold_option_parses_and_rejects_in_one_line() -> None:
    assert parse_thresholds(["rtt_ms=100", " mos = 3.8 "]) == {"rtt_ms": 100.0, "mos": 3.8}
    for item, message in [
        ("rtt=100", "--threshold 'rtt=100': expected KEY=VALUE with KEY one of rtt_ms, "
                    "jitter_ms, loss_ratio, mos"),
        ("rtt_ms=slow", "--threshold 'rtt_ms=slow': 'slow' is not a number"),
        ("mos=0", "--threshold 'mos=0': input should be greater than or equal to 1"),
        ("jitter_ms=inf", "--threshold 'jitter_ms=inf': input should be a finite number"),
    ]:
        with pytest.raises(InputError) as caught:
            parse_thresholds([item])
        assert caught.value.lines() == [message]


async def _sweep_cli(inventory: Path, *args: str) -> dict[str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", "sweep", "--inventory", str(inventory),
        "--checks", "sip", "--format", "json", "--no-history", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode in (0, 1), err.decode()
    return {e["id"]: e["verdict"] for e in json.loads(out)["endpoints"]}


async def test_120_ms_of_delay_is_degraded_under_a_100_ms_threshold(
        tmp_path: Path, loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, DELAYED,
                               vendors=("poly", "poly")) as (_, inv):
        assert inv.path is not None
        # The defaults (250 ms) call 120 ms ready, on the command line and in process.
        assert (await _sweep_cli(inv.path))["poly-2"] == "ready"
        assert (await _sweep_cli(inv.path, "--threshold", "rtt_ms=100"))["poly-2"] == "degraded"
        # The same figure through the inventory's fleet-wide thresholds.
        strict = tmp_path / "strict.yaml"
        strict.write_text("thresholds: {rtt_ms: 100}\n" + inv.path.read_text("utf-8"),
                          encoding="utf-8")
        (tmp_path / "secret.txt").write_text("x\n", encoding="utf-8")
        strict_inv = load_fleet(strict)
        options = SweepOptions(checks=parse_checks("sip"), media_workers=0)
        report = await run_sweep(strict_inv, options=options)
    room = report.get("poly-2")
    assert room is not None
    assert room.verdict is Verdict.DEGRADED
    assert room.reasons[0].startswith("sip: round-trip time 12")
    assert room.reasons[0].endswith(" ms >= 100 ms")
    assert report.get("poly-1").verdict is Verdict.READY  # type: ignore[union-attr]


def _rule_comparisons() -> dict[str, list[tuple[str, float]]]:
    """The comparisons (operator, number) the alert rules make of each metric."""
    doc = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    found: dict[str, list[tuple[str, float]]] = {}
    for group in doc["groups"]:
        for rule in group["rules"]:
            expr = " ".join(str(rule.get("expr", "")).split())
            for metric, op, number in re.findall(
                    r"(vcfleet_[a-z_]+)(?:\{[^}]*\})?\)?\s*(>=|<=|<|>)\s*([0-9.]+)", expr):
                found.setdefault(metric, []).append((op, float(number)))
    return found


def test_shipped_alert_rules_use_the_default_thresholds() -> None:
    found = _rule_comparisons()
    defaults = Thresholds()
    # judge(): degraded at or above rtt, jitter and loss, below MOS; metrics in base units.
    expected = {
        "vcfleet_webrtc_rtt_seconds": (">=", defaults.rtt_ms / 1000),
        "vcfleet_webrtc_jitter_seconds": (">=", defaults.jitter_ms / 1000),
        "vcfleet_webrtc_packet_loss_ratio": (">=", defaults.loss_ratio),
        "vcfleet_webrtc_mos": ("<", defaults.mos),
    }
    for metric, (op, number) in expected.items():
        assert metric in found, f"no alert rule compares {metric}"
        for rule_op, rule_number in found[metric]:
            assert rule_op == op, metric
            assert rule_number == pytest.approx(number), metric


def test_a_spreadsheet_import_keeps_the_base_files_thresholds(tmp_path: Path) -> None:
    from inventory.spreadsheet import import_file

    base = tmp_path / "base.yaml"
    base.write_text("tiers: [province, commune]\nthresholds: {rtt_ms: 150}\n"
                    "profiles:\n  far: {checks: [sip], thresholds: {loss_ratio: 0.05}}\n",
                    encoding="utf-8")
    sheet = tmp_path / "rooms.csv"
    sheet.write_text("id,name,tier,parent,address,vendor,profile\n"
                     "hub,Hub,province,,10.38.0.10,poly,far\n", encoding="utf-8")
    inv = import_file(sheet, tmp_path / "out.yaml", base)
    assert inv.thresholds_for(inv.get("hub")) == Thresholds(rtt_ms=150, loss_ratio=0.05)


async def test_the_engine_judges_each_room_by_its_profiles_thresholds() -> None:
    inv = parse_inventory(FLEET.replace("vendor: poly}", "vendor: poly, services: {sip: {}}}")
                          .replace("profile: strict}", "profile: strict, services: {sip: {}}}"),
                          "fleet.yaml")

    async def runner(target: object, settings: object) -> ProbeResult:
        return ProbeResult(ok=True, figures={"rtt_ms": 150.0})

    options = SweepOptions(checks=parse_checks("sip"), runners={"sip": runner})
    report = await run_sweep(inv, options=options)
    verdicts = {r.endpoint.id: r.verdict for r in report.endpoints}
    assert verdicts == {"hub": Verdict.READY, "room": Verdict.DEGRADED}  # 200 ms, 100 ms
    report = await run_sweep(inv, options=dataclasses.replace(options,
                                                              thresholds={"rtt_ms": 300}))
    assert {r.verdict for r in report.endpoints} == {Verdict.READY}  # --threshold wins
