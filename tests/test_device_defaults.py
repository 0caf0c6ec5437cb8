"""Where the device check's trust comes from when a sweep names none: the shipped demo
fleet trusts the simulator's known_hosts, any other fleet push's file; a sweep without
any recorded key is one line, never a fleet of unknown rooms without a reason."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pytest

from inventory import DEMO_INVENTORY, InputError, load_inventory
from probes.sshkeys import KnownHosts
from simulator import default_state_dir
from vcfleet.checks import load_fleet
from vcfleet.cli import main
from vcfleet.commands.demo import DEMO_CHECKS
from vcfleet.commands.sweep import default_known_hosts_for, device_trust, simulator_known_hosts
from vcfleet.push.hostkeys import default_known_hosts
from vcfleet.sweep import parse_checks


def test_the_simulators_known_hosts_is_where_the_simulator_writes_it() -> None:
    assert simulator_known_hosts() == default_state_dir() / "known_hosts"


def test_the_shipped_demo_fleet_runs_the_device_check_and_trusts_the_simulator(
        tmp_path: Path) -> None:
    demo = load_fleet(DEMO_INVENTORY)
    assert "device" in demo.profiles["standard"].checks
    assert "device" in parse_checks(DEMO_CHECKS)  # type: ignore[operator]
    assert default_known_hosts_for(demo) == simulator_known_hosts()
    copy = tmp_path / "fleet.yaml"  # a copy may be edited into a real fleet: push's file
    copy.write_text(DEMO_INVENTORY.read_text(encoding="utf-8"), encoding="utf-8")
    for name in ("demo-secret.txt", "demo-webrtc-token.txt"):
        (tmp_path / name).write_bytes((DEMO_INVENTORY.parent / name).read_bytes())
    assert default_known_hosts_for(load_inventory(copy)) == default_known_hosts()


def test_known_hosts_travel_to_the_consoles_sweep_process_as_their_file(
        tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("", encoding="utf-8")
    again = pickle.loads(pickle.dumps(KnownHosts(path)))
    assert isinstance(again, KnownHosts)
    assert (again.path, again.accept_new) == (path, False)


FLEET = """\
profiles:
  codec: {checks: [tcp, device]}
defaults: {tier: commune, profile: codec, credentials: {username: admin, secret: "env:X_NONE"}}
endpoints:
  - {id: c1, name: C1, address: ADDR.1, vendor: cisco_ce, services: {ssh: {port: 2222}}}
  - {id: c2, name: C2, address: ADDR.2, vendor: poly, services: {ssh: {port: 2222}}}
"""


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> Path:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET.replace("ADDR", loopback_prefix), encoding="utf-8")
    return path


@pytest.mark.parametrize("content", [None, "# no key yet\n"])
def test_a_sweep_without_host_keys_leaves_the_device_check_out_in_one_line(
        fleet: Path, tmp_path: Path, content: str | None,
        capsys: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "known_hosts"
    if content is not None:
        known.write_text(content, encoding="utf-8")
    code = main(["sweep", "--inventory", str(fleet), "--known-hosts", str(known),
                 "--format", "json", "--no-history", "--timeout", "tcp=0.5"])
    out, err = capsys.readouterr()
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"vcfleet sweep: device check not run: {known}: no SSH host "
                               "key recorded")
    report = json.loads(out)
    assert report["checks"] == ["tcp"]
    assert all(set(e["checks"]) == {"tcp"} for e in report["endpoints"])


def test_asking_for_the_device_check_without_host_keys_is_one_line_and_exit_2(
        fleet: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    known = tmp_path / "missing"
    code = main(["sweep", "--inventory", str(fleet), "--known-hosts", str(known),
                 "--checks", "device", "--no-history"])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err.strip().splitlines() == [
        f"vcfleet sweep: {known}: no SSH host key recorded, so the device check cannot "
        "trust any codec (record them with `vcfleet backup --accept-new-host-keys`, or pass "
        "--known-hosts FILE; the simulator writes STATE_DIR/known_hosts)"]


def test_trust_is_read_only_when_a_selected_room_runs_the_device_check(fleet: Path) -> None:
    inv = load_fleet(fleet)
    unread = Path("/nonexistent/known_hosts")
    assert device_trust(inv, inv.endpoints, frozenset({"tcp"}), unread).settings == {}
    trust = device_trust(inv, inv.endpoints, None, unread)
    assert (trust.settings, trust.checks) == ({}, frozenset({"tcp"}))
    only = fleet.with_name("only-device.yaml")
    only.write_text(fleet.read_text(encoding="utf-8").replace("[tcp, device]", "[device]"),
                    encoding="utf-8")
    only_device = load_fleet(only)
    with pytest.raises(InputError, match="no SSH host key recorded"):  # nothing else to run
        device_trust(only_device, only_device.endpoints, None, unread)
