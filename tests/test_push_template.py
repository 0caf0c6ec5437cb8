"""Push templates: checked completely, with TEMPLATE:LINE:COL messages, before any device."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory import Endpoint, InputError
from inventory.loader import parse_inventory
from vcfleet.push.engine import plan
from vcfleet.push.template import load_template, render

DATA = Path(__file__).parent / "data"

INVENTORY = """
endpoints:
  - {id: so-noi-vu, name: "Sở Nội vụ", tier: department, address: 127.0.0.2,
     vendor: cisco_ce, district: tp-thanh-hoa, services: {ssh: {port: 2222}}}
  - {id: xa-ha-son, name: "UBND xã Hà Sơn", tier: commune, address: 127.0.0.3,
     vendor: poly, district: ha-trung, services: {ssh: {port: 2222}}}
  - {id: xa-nga-an, name: "UBND xã Nga An", tier: commune, address: 127.0.0.4,
     vendor: yealink, district: nga-son}
"""


@pytest.fixture
def endpoints() -> list[Endpoint]:
    return list(parse_inventory(INVENTORY, "test.yaml").endpoints)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("name", "expected"), [
    ("template-unknown-key.yaml", ["3:3: unknown setting 'sip.proxxy'"]),
    ("template-top-level.yaml", ["1:1: unknown key 'setting'"]),
    ("template-yaml-syntax.yaml", ["4:1: YAML syntax error"]),
    ("template-list-value.yaml", ["2:14: setting 'sip.proxy' needs a single value"]),
    ("template-empty.yaml", ["1:1: template sets nothing"]),
    ("template-bad-vendor-line.yaml",
     ["6:7: a cisco_ce vendor line must read 'xConfiguration <Path>: <value>'",
      "7:13: a yealink vendor line must read '<key> = <value>', got 'anything'"]),
])
def test_structural_errors_point_at_the_line(name: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as info:
        load_template(DATA / name)
    text = str(info.value)
    for part in expected:
        assert f"{DATA / name}:" in text
        assert part in text, text


@pytest.mark.parametrize(("text", "expected"), [
    ("setting:\n  sip.proxy: a\n",
     ["1:1: unknown key 'setting' (allowed: description, settings, vendor_lines)"]),
    ("settings: [1, 2]\n", ["1:11: settings: expected a mapping, got [1, 2]"]),
    ("vendor_lines: 5\n", ["1:15: vendor_lines: expected a mapping, got 5"]),
    ("vendor_lines:\n  cisco_ce: x\n", ["2:13: vendor_lines.cisco_ce: expected a list, got 'x'"]),
    ("vendor_lines:\n  cisco_ce:\n    - 5\n    - bogus\n",
     ["3:7: vendor_lines.cisco_ce[0]: expected a string, got 5",
      "4:7: a cisco_ce vendor line must read 'xConfiguration <Path>: <value>', got 'bogus'"]),
    ("settings:\n  sip.proxxy: a\n  ntp.server: [1]\n  sip.display_name:\n",
     ["2:3: unknown setting 'sip.proxxy' (known: ",
      "3:15: setting 'ntp.server' needs a single value (text or boolean)",
      "4:20: setting 'sip.display_name' needs a single value (text or boolean)"]),
])
def test_the_template_model_reports_every_problem_where_it_is(
        tmp_path: Path, text: str, expected: list[str]) -> None:
    with pytest.raises(InputError) as info:
        load_template(write(tmp_path, text))
    lines = info.value.lines()
    assert len(lines) == len(expected), lines
    for line, part in zip(lines, expected, strict=True):
        assert line.startswith(f"{tmp_path / 't.yaml'}:{part}"), lines


def test_a_description_that_is_not_text_is_ignored_as_before(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, "description: 5\nsettings: {sip.proxy: a}\n"))
    assert template.description == ""
    assert template.settings == {"sip.proxy": "a"}


@pytest.mark.parametrize(("name", "expected"), [
    ("template-bad-jinja.yaml",
     "3:21: setting 'sip.display_name' for endpoint so-noi-vu: Jinja2 error: "),
    ("template-jinja-syntax.yaml", "2:15: setting 'ntp.server' for endpoint so-noi-vu: "
                                   "Jinja2 syntax error"),
    ("template-bad-bool.yaml", "2:27: setting 'conference.auto_answer' for endpoint "
                               "so-noi-vu: expected a boolean"),
])
def test_render_errors_point_at_the_value(name: str, expected: str,
                                          endpoints: list[Endpoint]) -> None:
    template = load_template(DATA / name)
    with pytest.raises(InputError) as info:
        plan(template, endpoints)
    assert f"{DATA / name}:{expected}" in str(info.value)


def test_undefined_names_are_named(endpoints) -> None:
    template = load_template(DATA / "template-bad-jinja.yaml")
    with pytest.raises(InputError) as info:
        plan(template, endpoints)
    assert "has no attribute 'nam'" in str(info.value)


def test_key_the_vendor_cannot_set(tmp_path: Path, endpoints: list[Endpoint]) -> None:
    template = load_template(write(tmp_path, "settings:\n  audio.default_volume: '40'\n"))
    with pytest.raises(InputError) as info:
        plan(template, endpoints)
    assert f"{tmp_path / 't.yaml'}:2:25: setting 'audio.default_volume' cannot be set on " \
           "poly endpoints (selected: xa-ha-son)" in str(info.value)
    # Only Cisco endpoints selected: fine.
    assert plan(template, endpoints[:1]) == {"so-noi-vu": plan(template, endpoints[:1])[
        "so-noi-vu"]}


def test_render_maps_neutral_keys_to_native_names(tmp_path: Path,
                                                  endpoints: list[Endpoint]) -> None:
    template = load_template(write(tmp_path, """
settings:
  sip.display_name: "{{ endpoint.name }} ({{ endpoint.district }})"
  conference.auto_answer: true
  audio.mute_on_join: "{{ 'on' if endpoint.tier == 'commune' else 'off' }}"
vendor_lines:
  cisco_ce: ["xConfiguration Video Selfview: Off"]
  poly: ["systemsetting selfview no"]
"""))
    cisco, poly, _yealink = endpoints
    assert [(c.name, c.value, c.key) for c in render(template, cisco)] == [
        ("SIP DisplayName", "Sở Nội vụ (tp-thanh-hoa)", "sip.display_name"),
        ("Conference AutoAnswer Mode", "On", "conference.auto_answer"),
        ("Conference AutoAnswer Mute", "Off", "audio.mute_on_join"),
        ("Video Selfview", "Off", None),
    ]
    assert [(c.name, c.value) for c in render(template, poly)] == [
        ("sipdisplayname", "UBND xã Hà Sơn (ha-trung)"), ("autoanswer", "yes"),
        ("muteautoanswer", "yes"), ("selfview", "no")]
    planned = plan(template, endpoints)
    assert set(planned) == {"so-noi-vu", "xa-ha-son"}  # yealink: no provisioning:, skipped


def test_template_hash_is_of_the_file_bytes(tmp_path: Path) -> None:
    import hashlib

    path = write(tmp_path, "settings: {ntp.server: ntp.example}\n")
    assert load_template(path).sha256 == hashlib.sha256(path.read_bytes()).hexdigest()


def test_sandbox_refuses_unsafe_expressions(tmp_path: Path, endpoints: list[Endpoint]) -> None:
    template = load_template(write(
        tmp_path, "settings:\n  ntp.server: \"{{ endpoint.__class__.__mro__ }}\"\n"))
    with pytest.raises(InputError, match="Jinja2 error"):
        plan(template, endpoints)


def test_values_compare_as_the_device_means_them() -> None:
    from vcfleet.push.dialects import DIALECTS

    cisco, poly = DIALECTS["cisco_ce"], DIALECTS["poly"]
    assert cisco.same("Conference AutoAnswer Mode", "on", "On")  # boolean setting
    assert poly.same("autoanswer", "YES", "yes")
    assert not cisco.same("SIP DisplayName", "sở nội vụ", "Sở Nội vụ")  # text: exact
    assert cisco.same("NetworkServices NTP Mode", "manual", "Manual")  # raw line: enum
    assert not cisco.same("SIP DisplayName", None, "")
    assert cisco.parse_line('xConfiguration  SIP  DisplayName: "Phòng họp"') == (
        "SIP DisplayName", "Phòng họp")
    assert poly.parse_line("systemsetting sipdisplayname Phòng họp số 2") == (
        "sipdisplayname", "Phòng họp số 2")
    assert poly.set_command("sipdisplayname", "Phòng họp") == \
        'systemsetting sipdisplayname "Phòng họp"'
    assert poly.set_command("sipproxyserver", "") == 'systemsetting sipproxyserver ""'


def test_a_value_past_a_cap_is_one_line_however_many_endpoints(
        tmp_path: Path, endpoints: list[Endpoint]) -> None:
    # Issue 14, finding 4: one line naming the template and the key, before any device.
    path = write(tmp_path, "settings:\n  sip.display_name: \"{{ endpoint.name * 100000 }}\"\n")
    with pytest.raises(InputError) as info:
        plan(load_template(path), endpoints * 50)
    assert info.value.lines() == [
        f"{path}:2:21: settings.sip.display_name: '*' would build more than 4096 items "
        "(endpoint so-noi-vu; see docs/push.md, Limits)"]


def test_the_render_time_limit_keeps_an_alarm_set_by_someone_else(
        tmp_path: Path, endpoints: list[Endpoint]) -> None:
    import signal

    path = write(tmp_path, "settings:\n  sip.display_name: \"{{ endpoint.name|upper }}\"\n")
    outer = signal.getitimer(signal.ITIMER_REAL)
    signal.setitimer(signal.ITIMER_REAL, 30.0)
    try:
        changes = render(load_template(path), endpoints[0])
        left = signal.getitimer(signal.ITIMER_REAL)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, *outer)
    assert [c.value for c in changes] == ["SỞ NỘI VỤ"]
    assert 25.0 < left <= 30.0
