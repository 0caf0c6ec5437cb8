"""The one table of check kinds (``vcfleet.checks``) agrees with the probes, the inventory
and the engine; a profile's ``settings:`` reach the probe, validated where they are written."""

from __future__ import annotations

import dataclasses
import inspect
import pkgutil
from pathlib import Path

import pytest

import probes
from inventory import InputError, Inventory, parse_inventory
from inventory.model import DEFAULT_PROFILES
from probes import ProbeResult, ProbeSettings, Target
from probes.base import OwnDeadline
from vcfleet.checks import CHECKS, GROUPS, KINDS, inventory_kinds, load_fleet
from vcfleet.exporter.probe import MODULES
from vcfleet.sweep import SweepOptions, parse_checks, run_sweep

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", CHECKS)
def test_every_kind_has_a_probe_module_with_probe_and_settings(name: str) -> None:
    kind = KINDS[name]
    assert kind.name == name
    probe = kind.probe()
    assert inspect.iscoroutinefunction(probe.probe)
    assert list(inspect.signature(probe.probe).parameters) == ["target", "settings"]
    assert dataclasses.is_dataclass(probe.settings)
    settings = probe.settings()  # defaults live in the type
    assert isinstance(settings, ProbeSettings)  # it says whether it keeps its deadline
    keeps = isinstance(settings, OwnDeadline)
    assert settings.with_deadline(1.5).own_deadline() == (1.5 if keeps else None)
    assert 0 < kind.deadline_s <= 60
    assert kind.group in ("net", "media", "device")
    assert callable(kind.target)
    assert all(f.name and f.unit for f in kind.figures)


def test_every_probe_module_is_a_kind() -> None:
    helpers = {"base", "aioice_internals", "aiortc_internals", "childproc", "device_cisco",
               "device_live", "device_poly", "device_yealink", "httpserver", "loss_sample",
               "mos", "shaping", "sshkeys", "timestamps", "upstream", "webrtc_media", "webrtc_net",
               "webrtc_responder", "webrtc_stats"}
    # the modules of the imported package (the installed wheel's in CI, where the tests run
    # from a copy without the sources)
    modules = {m.name for m in pkgutil.iter_modules(probes.__path__)}
    assert modules - helpers == set(CHECKS), "a probe module without a table entry, or the " \
                                             "other way round"


def test_groups_cover_every_kind_once() -> None:
    assert sorted(GROUPS["net"] + GROUPS["media"] + GROUPS["device"]) == sorted(CHECKS)
    assert GROUPS["all"] == CHECKS
    assert parse_checks("all") == frozenset(CHECKS)
    assert parse_checks("device") == {"device"}
    assert parse_checks("net,webrtc,device") == {*GROUPS["net"], "webrtc", "device"}


def test_inventory_names_are_the_tables() -> None:
    assert set(inventory_kinds()) == set(CHECKS)
    for profile in DEFAULT_PROFILES.values():
        assert set(profile.checks) <= set(CHECKS)
    assert set(MODULES) >= set(CHECKS)  # the exporter's /probe modules


def test_the_figures_the_verdict_reads_are_declared_where_they_are_reported() -> None:
    declared = {f.name for kind in KINDS.values() for f in kind.figures}
    assert {"rtt_ms", "jitter_ms", "loss_ratio", "mos", "setup_ms"} <= declared


FLEET = """\
profiles:
  patient:
    checks: [sip]
    settings:
      sip: {t1_s: 0.05, timeout_s: 0.4}
      webrtc: {ice_servers: ["stun:10.38.0.5"]}
endpoints:
  - {id: a, name: A, tier: province, address: 127.0.0.1, vendor: poly, profile: patient,
     services: {sip: {}}}
  - {id: b, name: B, tier: commune, parent: a, address: 127.0.0.2, vendor: poly,
     profile: sip-only, services: {sip: {}}}
"""


def test_profile_settings_are_validated_and_kept() -> None:
    inv = parse_inventory(FLEET, "fleet.yaml", kinds=inventory_kinds())
    assert inv.profiles["patient"].settings == {
        "sip": {"t1_s": 0.05, "timeout_s": 0.4}, "webrtc": {"ice_servers": ["stun:10.38.0.5"]}}


def test_a_check_name_the_table_lacks_is_located_in_the_list() -> None:
    text = ("profiles:\n  odd: {checks: [sip, ping]}\n"
            "endpoints:\n  - {id: a, name: A, tier: province, address: 127.0.0.1, "
            "vendor: poly}\n")
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "fleet.yaml", kinds=inventory_kinds())
    assert caught.value.lines() == [
        "fleet.yaml:2:23: profiles.odd.checks[1]: unknown check 'ping' "
        f"(choose from {', '.join(CHECKS)})"]
    assert len(parse_inventory(text, "fleet.yaml")) == 1  # no kinds given: names not checked


@pytest.mark.parametrize(("settings", "expected"), [
    ("{sip: {retries: 3}}", "fleet.yaml:4:22: unknown key 'profiles.patient.settings.sip."
                            "retries' (allowed: transport, port, t1_s, t2_s, transactions, "
                            "transaction_gap_s, timeout_s, from_user, user_agent)"),
    ("{sip: {t1_s: soon}}", "fleet.yaml:4:28: profiles.patient.settings.sip.t1_s: expected a "
                            "number, got 'soon'"),
    ("{icmp: {count: 2.5}}", "fleet.yaml:4:30: profiles.patient.settings.icmp.count: expected "
                             "an integer, got 2.5"),
    ("{sip: 3}", "fleet.yaml:4:21: profiles.patient.settings.sip: expected a mapping, got 3"),
    ("{ping: {}}", "fleet.yaml:4:16: profiles.patient.settings.ping: unknown check 'ping' "
                   f"(choose from {', '.join(CHECKS)})"),
])
def test_bad_profile_settings_are_located(settings: str, expected: str) -> None:
    text = ("profiles:\n  patient:\n    checks: [sip, icmp]\n"
            f"    settings: {settings}\n"
            "endpoints:\n  - {id: a, name: A, tier: province, address: 127.0.0.1, "
            "vendor: poly, profile: patient}\n")
    with pytest.raises(InputError) as caught:
        parse_inventory(text, "fleet.yaml", kinds=inventory_kinds())
    assert caught.value.lines()[0] == expected


async def test_profile_settings_reach_the_probe_of_that_profiles_rooms(
        tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    inv: Inventory = load_fleet(path)
    seen: dict[str, object] = {}

    async def runner(target: Target, settings: object) -> ProbeResult:
        seen[target.name] = settings
        return ProbeResult(ok=True)

    await run_sweep(inv, options=SweepOptions(runners={"sip": runner}, media_workers=0))
    patient, plain = seen["a"], seen["b"]
    assert (patient.t1_s, patient.timeout_s) == (0.05, 0.4)  # type: ignore[attr-defined]
    assert plain.t1_s == 0.5
    assert plain.timeout_s == 2.0
