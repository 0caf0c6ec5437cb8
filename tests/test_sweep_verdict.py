"""The one verdict function (``vcfleet.report.judge``) and the targets the sweep builds."""

from __future__ import annotations

import pytest

from inventory.loader import parse_inventory
from probes import ProbeResult, Target
from vcfleet.checks import GROUPS, target_for
from vcfleet.report import CheckReport, Thresholds, Verdict, judge
from vcfleet.sweep import parse_checks, with_probe_deadline

INVENTORY = parse_inventory("""
defaults:
  vendor: cisco_ce
  tier: commune
  services: {sip: {port: 5060}, https: {port: 8443, verify_tls: true}}
endpoints:
  - {id: by-ip, name: "Xã Hà Sơn", address: 127.0.0.5}
  - {id: by-name, name: "Xã Nga An", address: codec.nga-an.example, profile: sip-only}
""", "verdict.yaml")
ROOM = INVENTORY.get("by-ip")


def check(name: str, result: ProbeResult, required: bool = True) -> CheckReport:
    return CheckReport(name, result, required, 0.01)


def ok(**figures: float) -> ProbeResult:
    return ProbeResult(ok=True, figures=figures)


def test_all_checks_ok_and_within_thresholds_is_ready() -> None:
    report = judge(ROOM, {"sip": check("sip", ok(rtt_ms=12.0)),
                          "icmp": check("icmp", ok(rtt_ms=1, jitter_ms=0.5, loss_ratio=0),
                                        required=False)})
    assert report.verdict is Verdict.READY
    assert report.reasons == ()


def test_failed_required_check_is_down_and_advisory_only_degraded() -> None:
    sip_down = check("sip", ProbeResult.failure("SIP port 5060/udp closed (ICMP port unreachable)"))
    https_down = check("https", ProbeResult.failure("connection refused on port 8443"),
                       required=False)
    report = judge(ROOM, {"sip": sip_down, "https": https_down})
    assert report.verdict is Verdict.DOWN
    assert report.reasons == ("sip: SIP port 5060/udp closed (ICMP port unreachable)",
                              "https: connection refused on port 8443")
    assert judge(ROOM, {"https": https_down}).verdict is Verdict.DEGRADED


@pytest.mark.parametrize(("figures", "reason"), [
    ({"rtt_ms": 300.0}, "sip: round-trip time 300 ms >= 250 ms"),
    ({"rtt_ms": 250.0}, "sip: round-trip time 250 ms >= 250 ms"),
    ({"jitter_ms": 31.0}, "sip: jitter 31.0 ms >= 30 ms"),
    ({"loss_ratio": 0.05}, "sip: packet loss 5.0% >= 3%"),
    ({"mos": 3.2}, "sip: estimated MOS 3.20 < 3.6"),
])
def test_each_threshold_degrades(figures: dict[str, float], reason: str) -> None:
    report = judge(ROOM, {"sip": check("sip", ok(**figures))})
    assert report.verdict is Verdict.DEGRADED
    assert report.reasons == (reason,)


@pytest.mark.parametrize(("figures", "thresholds", "reason"), [
    # Rounded to two decimals, 3.5996 would read "3.60 < 3.6": more digits are shown.
    ({"mos": 3.5996}, Thresholds(), "sip: estimated MOS 3.5996 < 3.6"),
    ({"mos": 3.599}, Thresholds(), "sip: estimated MOS 3.599 < 3.6"),
    ({"mos": 3.6}, Thresholds(mos=3.65), "sip: estimated MOS 3.60 < 3.65"),
    ({"jitter_ms": 30.04}, Thresholds(jitter_ms=30.04), "sip: jitter 30.04 ms >= 30.04 ms"),
    ({"loss_ratio": 0.02501}, Thresholds(loss_ratio=0.025), "sip: packet loss 2.5% >= 2.5%"),
    ({"rtt_ms": 250.4}, Thresholds(rtt_ms=250.5), None),
])
def test_a_shown_figure_never_contradicts_its_comparison(
        figures: dict[str, float], thresholds: Thresholds, reason: str | None) -> None:
    report = judge(ROOM, {"sip": check("sip", ok(**figures))}, thresholds)
    assert report.reasons == ((reason,) if reason else ())


def test_just_under_the_thresholds_is_ready() -> None:
    figures = {"rtt_ms": 249.9, "jitter_ms": 29.9, "loss_ratio": 0.0299, "mos": 3.6}
    assert judge(ROOM, {"sip": check("sip", ok(**figures))}).verdict is Verdict.READY


def test_thresholds_are_configurable() -> None:
    strict = Thresholds(rtt_ms=100)
    report = judge(ROOM, {"sip": check("sip", ok(rtt_ms=150.0))}, strict)
    assert report.verdict is Verdict.DEGRADED
    assert report.reasons == ("sip: round-trip time 150 ms >= 100 ms",)


def test_media_directions_are_judged_each() -> None:
    media = ProbeResult(ok=True, figures={"rtt_ms": 20.0, "mos": 4.3},
                        directions={"up": {"loss_ratio": 0.0, "jitter_ms": 2.0},
                                    "down": {"loss_ratio": 0.04, "jitter_ms": 2.0}})
    report = judge(ROOM, {"webrtc": check("webrtc", media)})
    assert report.verdict is Verdict.DEGRADED
    assert report.reasons == ("webrtc: packet loss down 4.0% >= 3%",)


def test_unreliable_figures_are_not_judged_and_make_the_room_unknown() -> None:
    starved = ProbeResult(ok=True, figures={"rtt_ms": 900.0}, unreliable=True)
    report = judge(ROOM, {"webrtc": check("webrtc", starved)})
    assert report.verdict is Verdict.UNKNOWN
    assert report.reasons == ("webrtc: prober overloaded: figures not trusted",)


def test_loss_of_unreliable_figures_is_still_judged() -> None:
    starved = ProbeResult(ok=True, figures={"rtt_ms": 900.0}, unreliable=True,
                          directions={"up": {"loss_ratio": 0.2, "jitter_ms": 80.0}})
    report = judge(ROOM, {"webrtc": check("webrtc", starved)})
    assert report.verdict is Verdict.DEGRADED
    assert report.reasons == ("webrtc: packet loss up 20.0% >= 3%",)


def test_a_lossy_media_path_is_degraded_with_its_reason() -> None:
    lossy = ProbeResult(ok=True, figures={"setup_ms": 9000.0},
                        degraded="lossy media path: ICE works but the DTLS handshake did not "
                               "finish in 9.0 s")
    report = judge(ROOM, {"webrtc": check("webrtc", lossy)})
    assert report.verdict is Verdict.DEGRADED
    assert report.reasons == ("webrtc: lossy media path: ICE works but the DTLS handshake "
                              "did not finish in 9.0 s",)


def test_no_check_at_all_is_unknown() -> None:
    assert judge(ROOM, {}).verdict is Verdict.UNKNOWN


def test_icmp_and_https_are_advisory_in_the_shipped_profiles() -> None:
    from inventory.model import DEFAULT_PROFILES

    for name in ("standard", "network"):
        assert {"icmp", "https"} <= set(DEFAULT_PROFILES[name].advisory)
        assert "sip" not in DEFAULT_PROFILES[name].advisory


def test_targets_follow_the_inventory() -> None:
    by_ip, by_name = INVENTORY.get("by-ip"), INVENTORY.get("by-name")
    assert target_for(INVENTORY, by_ip, "dns") is None  # nothing to resolve
    assert target_for(INVENTORY, by_name, "dns") == Target("codec.nga-an.example",
                                                           name="by-name")
    assert target_for(INVENTORY, by_ip, "sip") == Target("127.0.0.5", 5060, name="by-ip",
                                                         transport="udp")
    https = target_for(INVENTORY, by_ip, "https")
    assert isinstance(https, Target)
    assert https.url == "https://127.0.0.5:8443/"
    assert https.verify_tls is True
    assert target_for(INVENTORY, by_ip, "tcp") == Target("127.0.0.5", 8443, name="by-ip")


def test_check_groups() -> None:
    assert parse_checks("net") == set(GROUPS["net"]) >= {"icmp", "tcp", "sip", "https", "dns"}
    assert parse_checks("net,webrtc") == {*GROUPS["net"], "webrtc"}
    assert parse_checks("") is None


def test_probes_keep_the_checks_deadline_themselves() -> None:
    from probes import sip, tcp

    assert with_probe_deadline(sip.Settings(), 2.0).timeout_s == 2.0
    assert with_probe_deadline(sip.Settings(timeout_s=7.0), 2.0).timeout_s == 7.0
    assert with_probe_deadline(tcp.Settings(), 2.0) == tcp.Settings()  # has no timeout_s


# -- a check that could not be run (issue 14, finding 9) ---------------------------------

CANNOT = ProbeResult.cannot_check("environment variable VCFLEET_X is not set")


def test_a_check_that_cannot_be_run_makes_the_room_unknown_never_down() -> None:
    report = judge(ROOM, {"sip": check("sip", ok(rtt_ms=12.0)),
                          "webrtc": check("webrtc", CANNOT)})
    assert report.verdict is Verdict.UNKNOWN
    assert report.reasons == ("webrtc: cannot check: environment variable VCFLEET_X is not set",)
    assert report.to_json()["checks"]["webrtc"]["unchecked"] is True


def test_unknown_outranks_degraded_but_a_room_really_down_stays_down() -> None:
    slow = check("sip", ok(rtt_ms=400.0))
    assert judge(ROOM, {"sip": slow, "webrtc": check("webrtc", CANNOT)}).verdict \
        is Verdict.UNKNOWN
    advisory = check("webrtc", CANNOT, required=False)
    assert judge(ROOM, {"sip": check("sip", ok()), "webrtc": advisory}).verdict \
        is Verdict.UNKNOWN
    dead = check("sip", ProbeResult.failure("SIP port 5060/udp closed"))
    report = judge(ROOM, {"sip": dead, "webrtc": check("webrtc", CANNOT)})
    assert report.verdict is Verdict.DOWN
    assert report.reasons == ("sip: SIP port 5060/udp closed",
                              "webrtc: cannot check: environment variable VCFLEET_X is not set")


def test_an_unresolvable_token_gives_cannot_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VCFLEET_NOPE", raising=False)
    inv = parse_inventory("""
endpoints:
  - id: hub
    name: Hub
    tier: province
    address: 127.0.0.1
    vendor: cisco_ce
    services: {webrtc: {token: "env:VCFLEET_NOPE"}}
""", "token.yaml")
    result = target_for(inv, inv.get("hub"), "webrtc")
    assert result == ProbeResult.cannot_check("environment variable VCFLEET_NOPE is not set")
