"""``vcfleet push`` against the fleet simulator: dry run, district push, rollback, deadlines,
host keys, canary, idempotence, audit log, netmiko.

The simulator runs in-process on its own event loop in a thread, so that each
test drives the real command line (``vcfleet.cli.main``) as an operator would.
"""

from __future__ import annotations

import asyncio
import filecmp
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

import pytest

from inventory import Inventory, load_inventory
from simulator import Simulator, parse_faults
from vcfleet.cli import main

PASSWORD = "Simulated-push-Secret-7"

# Two districts; yealink has no SSH API and must be reported as skipped.
ENDPOINTS = (
    ("cisco-a1", "cisco_ce", "dong-a", "Sở Nội vụ"),
    ("poly-a2", "poly", "dong-a", "UBND xã Hà Sơn"),
    ("yealink-a3", "yealink", "dong-a", "UBND xã Nga An"),
    ("cisco-b1", "cisco_ce", "tay-b", "UBND xã Yên Thọ"),
    ("poly-b2", "poly", "tay-b", "Sở Tư pháp"),
)

TEMPLATE = """\
description: new NTP server, auto-answer muted, display names from the inventory
settings:
  ntp.server: ntp2.thanhhoa.gov.vn
  conference.auto_answer: true
  sip.display_name: "{{ endpoint.name }} - {{ endpoint.district }}"
"""


def write_fleet(folder: Path, prefix: str) -> Path:
    """A five-endpoint inventory at PREFIX.1-5 with the password in a file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    lines = ["tiers: [province, commune]",
             "defaults:",
             '  credentials: {username: admin, secret: "file:secret.txt"}',
             "endpoints:"]
    for i, (ident, vendor, district, name) in enumerate(ENDPOINTS, start=1):
        lines += [f"  - id: {ident}", f'    name: "{name}"', "    tier: commune",
                  f"    district: {district}", f"    address: {prefix}.{i}",
                  f"    vendor: {vendor}"]
        if vendor != "yealink":
            lines.append("    services: {ssh: {port: 2222}}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Served:
    """A Simulator on its own event loop in a thread (the test thread runs the CLI)."""

    def __init__(self, inventory: Inventory, faults: str, state_dir: Path) -> None:
        self.inventory = inventory
        self.sim = Simulator(inventory, parse_faults(faults, "faults.yaml"), state_dir,
                             reboot_s=0.3)
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self.loop).result(timeout=60)
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.sim.stop(), self.loop).result(timeout=30)
        finally:
            self.close_loop()

    def close_loop(self) -> None:
        """Stop the simulator's thread and close its loop."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=10)
        self.loop.close()

    def config(self, endpoint_id: str) -> dict[str, str]:
        """A copy of a simulated device's configuration (native names)."""
        return dict(self.sim.device(endpoint_id).config)


class Fleet:
    """Paths and helpers of one test's simulated fleet."""

    def __init__(self, tmp: Path, inventory: Path, served: Served) -> None:
        self.tmp, self.inventory, self.served = tmp, inventory, served
        self.known_hosts = served.sim.known_hosts
        self.audit = tmp / "audit.jsonl"
        self.template = tmp / "template.yaml"
        self.template.write_text(TEMPLATE, encoding="utf-8")

    def common(self) -> list[str]:
        return ["--inventory", str(self.inventory), "--known-hosts", str(self.known_hosts),
                "--connect-timeout", "2", "--command-timeout", "3"]

    def push(self, *extra: str) -> int:
        return main(["push", str(self.template), *self.common(), "--audit-log",
                     str(self.audit), *extra])

    def backup(self, out: str, *extra: str) -> int:
        return main(["backup", "-o", str(self.tmp / out), *self.common(), *extra])

    def audit_lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.audit.read_text(encoding="utf-8").splitlines()]


def serve(tmp_path: Path, prefix: str, faults: str = "") -> Iterator[Fleet]:
    """Serve the test fleet at PREFIX.1-5 (another random prefix if those are taken)."""
    import random

    from simulator import SimulatorError

    for attempt in range(3):
        inventory = write_fleet(tmp_path / "fleet", prefix)
        served = Served(load_inventory(inventory), faults, tmp_path / "state")
        try:
            served.__enter__()
        except SimulatorError:  # someone else's test holds an address of this block
            served.close_loop()
            if attempt == 2:
                raise
            prefix = f"127.{random.randint(100, 250)}.{random.randint(0, 250)}"
            continue
        try:
            yield Fleet(tmp_path, inventory, served)
        finally:
            served.__exit__(None, None, None)
        return


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[Fleet]:
    yield from serve(tmp_path, loopback_prefix)


def summary(out: str) -> dict[str, int]:
    """The final summary table: outcome label -> number of endpoints."""
    import re

    rows = (re.match(r"^(\S.*?)\s{2,}(\d+)$", ln) for ln in out.splitlines())
    return {m.group(1): int(m.group(2)) for m in rows if m}


def same_dirs(a: Path, b: Path) -> list[str]:
    """Names of files that differ between two backup folders (or exist in one only)."""
    cmp = filecmp.dircmp(a, b)
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    return sorted(mismatch + errors + cmp.left_only + cmp.right_only)


def test_dry_run_changes_nothing(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.backup("before") == 0
    capsys.readouterr()
    assert fleet.push("--dry-run") == 0
    out = capsys.readouterr().out
    assert "cisco-a1 (cisco_ce):" in out
    assert "  ntp.server: 'ntp.thanhhoa.gov.vn' -> 'ntp2.thanhhoa.gov.vn'" in out
    assert "  sip.display_name: 'Sở Nội vụ' -> 'Sở Nội vụ - dong-a'" in out
    assert "  conference.auto_answer: 'no' -> 'yes'" in out  # poly's spelling
    assert fleet.backup("after") == 0
    assert same_dirs(fleet.tmp / "before", fleet.tmp / "after") == []
    assert {line["outcome"] for line in fleet.audit_lines()} == {"would-change", "skipped"}


def test_push_to_one_district_changes_exactly_those(fleet: Fleet,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.backup("before") == 0
    assert fleet.push("--select", "district=dong-a") == 0
    out = capsys.readouterr().out
    assert "yealink-a3  skipped" in out
    assert fleet.backup("after") == 0
    assert same_dirs(fleet.tmp / "before", fleet.tmp / "after") == [
        "cisco-a1.cfg", "cisco-a1.json", "poly-a2.cfg", "poly-a2.json"]
    settings = json.loads((fleet.tmp / "after" / "poly-a2.json").read_text(encoding="utf-8"))
    assert settings["settings"]["ntp.server"] == "ntp2.thanhhoa.gov.vn"
    assert settings["settings"]["conference.auto_answer"] is True
    assert settings["settings"]["sip.display_name"] == "UBND xã Hà Sơn - dong-a"
    assert fleet.served.config("cisco-a1")["Conference AutoAnswer Mode"] == "On"
    assert fleet.served.config("cisco-b1")["Conference AutoAnswer Mode"] == "Off"

    # The same push again changes nothing.
    capsys.readouterr()
    assert fleet.push("--select", "district=dong-a") == 0
    out = capsys.readouterr().out
    assert summary(out)["changed"] == 0
    assert summary(out)["unchanged"] == 2
    assert fleet.backup("again") == 0
    assert same_dirs(fleet.tmp / "after", fleet.tmp / "again") == []


@pytest.fixture
def rejecting_fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[Fleet]:
    yield from serve(tmp_path, loopback_prefix,
                     "- {select: 'id=poly-a2,cisco-b1', reject_settings: [sip.display_name]}\n")


def test_rejected_setting_is_rolled_back_to_exactly_the_original(
        rejecting_fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = rejecting_fleet
    before = {e: fleet.served.config(e) for e in ("poly-a2", "cisco-b1")}
    assert fleet.backup("before") == 0
    assert fleet.push() == 1
    out = capsys.readouterr().out
    assert summary(out)["failed, rolled back"] == 2
    assert fleet.backup("after") == 0
    assert same_dirs(fleet.tmp / "before", fleet.tmp / "after") == [
        "cisco-a1.cfg", "cisco-a1.json", "poly-b2.cfg", "poly-b2.json"]
    for e, config in before.items():
        assert fleet.served.config(e) == config
    outcomes = {line["endpoint"]: line for line in fleet.audit_lines()}
    assert outcomes["poly-a2"]["outcome"] == "rolled-back"
    assert "setting is locked" in str(outcomes["poly-a2"]["error"])
    assert outcomes["cisco-b1"]["outcome"] == "rolled-back"
    assert "Permission denied" in str(outcomes["cisco-b1"]["error"])
    assert outcomes["cisco-a1"]["outcome"] == "changed"


def test_canary_failure_stops_the_rollout(rejecting_fleet: Fleet,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    fleet = rejecting_fleet
    before = {e: fleet.served.config(e) for e, *_ in ENDPOINTS if e != "yealink-a3"}
    # Canaries are the first two pushable endpoints: cisco-a1 (fine) and poly-a2 (rejects).
    assert fleet.push("--canary", "2") == 1
    out = capsys.readouterr().out
    assert "canary stage failed" in out
    assert summary(out)["not attempted (canary failed)"] == 2
    assert summary(out)["failed, rolled back"] == 1
    assert summary(out)["changed"] == 1
    assert fleet.served.config("cisco-a1") != before["cisco-a1"]
    for e in ("poly-a2", "cisco-b1", "poly-b2"):
        assert fleet.served.config(e) == before[e], e
    outcomes = {line["endpoint"]: line["outcome"] for line in fleet.audit_lines()}
    assert outcomes == {"cisco-a1": "changed", "poly-a2": "rolled-back",
                        "yealink-a3": "skipped", "cisco-b1": "not-attempted",
                        "poly-b2": "not-attempted"}


def test_a_good_canary_lets_the_rollout_proceed(fleet: Fleet) -> None:
    assert fleet.push("--canary", "2") == 0
    lines = fleet.audit_lines()
    assert sum(bool(line["canary"]) for line in lines) == 2
    assert {line["outcome"] for line in lines} == {"changed", "skipped"}


@pytest.fixture
def broken_fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[Fleet]:
    yield from serve(tmp_path, loopback_prefix,
                     "- {select: id=cisco-a1, auth: fail}\n"
                     "- {select: id=poly-b2, services: {ssh: hang}}\n")


@pytest.mark.parametrize("driver", ["asyncssh", "netmiko"])
def test_auth_failure_and_hang_are_unreachable_within_the_deadline(
        broken_fleet: Fleet, capsys: pytest.CaptureFixture[str], driver: str) -> None:
    fleet = broken_fleet
    start = time.monotonic()
    assert fleet.push("--connect-timeout", "1", "--driver", driver) == 1
    elapsed = time.monotonic() - start
    assert elapsed < 8, elapsed
    out = capsys.readouterr().out
    assert summary(out)["unreachable"] == 2
    by_id = {line["endpoint"]: line for line in fleet.audit_lines()}
    assert by_id["cisco-a1"]["outcome"] == "unreachable"
    assert "authentication failed" in str(by_id["cisco-a1"]["error"])
    assert by_id["poly-b2"]["outcome"] == "unreachable"
    assert "within 1 s" in str(by_id["poly-b2"]["error"])
    assert by_id["poly-a2"]["outcome"] == by_id["cisco-b1"]["outcome"] == "changed"
    # Backups: the same two fail, the others are written, exit 1.
    assert fleet.backup("bk", "--connect-timeout", "1", "--driver", driver) == 1
    assert sorted(p.name for p in (fleet.tmp / "bk").iterdir()) == [
        "cisco-b1.cfg", "cisco-b1.json", "poly-a2.cfg", "poly-a2.json"]


def test_unknown_host_key_is_refused_and_accepted_on_request(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet.known_hosts = fleet.tmp / "operator" / "known_hosts"
    assert fleet.push("--select", "id=cisco-a1") == 1
    assert not fleet.known_hosts.exists()
    line = fleet.audit_lines()[-1]
    assert line["outcome"] == "unreachable"
    assert "unknown host key for [" in str(line["error"])
    assert "SHA256:" in str(line["error"])
    assert "--accept-new-host-keys" in str(line["error"])
    assert fleet.served.config("cisco-a1")["NetworkServices NTP Server 1 Address"] == \
        "ntp.thanhhoa.gov.vn"

    assert fleet.push("--select", "vendor=cisco_ce", "--accept-new-host-keys") == 0
    recorded = fleet.known_hosts.read_text(encoding="utf-8").splitlines()
    assert len(recorded) == 2
    assert all(ln.startswith("[") for ln in recorded)
    assert fleet.push("--select", "vendor=cisco_ce") == 0  # now trusted without the flag


@pytest.mark.parametrize("driver", ["asyncssh", "netmiko"])
def test_changed_host_key_is_refused_even_with_accept_new(fleet: Fleet, driver: str) -> None:
    import asyncssh

    address = fleet.served.inventory.get("cisco-a1").address
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    fleet.known_hosts = fleet.tmp / "known_hosts"
    fleet.known_hosts.write_text(f"[{address}]:2222 {impostor}", encoding="utf-8")
    assert fleet.push("--select", "id=cisco-a1", "--accept-new-host-keys",
                      "--driver", driver) == 1
    error = str(fleet.audit_lines()[-1]["error"])
    assert "differs from the one in" in error
    assert "refused" in error


def test_audit_log_records_who_what_and_never_a_secret(fleet: Fleet) -> None:
    import getpass
    import hashlib

    assert fleet.push("--select", "vendor=poly") == 0
    text = fleet.audit.read_text(encoding="utf-8")
    assert PASSWORD not in text
    assert "secret.txt" not in text
    lines = sorted(fleet.audit_lines(), key=lambda line: str(line["endpoint"]))
    assert [line["endpoint"] for line in lines] == ["poly-a2", "poly-b2"]  # completion order
    assert len({line["push_id"] for line in lines}) == 1
    line = lines[0]
    assert line["user"] == getpass.getuser()
    assert line["template_sha256"] == hashlib.sha256(fleet.template.read_bytes()).hexdigest()
    assert line["outcome"] == "changed"
    assert line["error"] is None
    assert {"setting": "ntp.server", "native": "ntpserver", "before": "ntp.thanhhoa.gov.vn",
            "after": "ntp2.thanhhoa.gov.vn"} in line["diff"]  # type: ignore[operator]
    assert str(line["time"]).endswith("Z")


def test_template_errors_are_reported_before_any_device_is_touched(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet.template.write_text("settings:\n  ntp.server: ntp2\n  sip.displayname: x\n"
                              "  audio.default_volume: '30'\n", encoding="utf-8")
    assert fleet.push() == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{fleet.template}:3:3: unknown setting 'sip.displayname' (known: "
        "audio.default_volume, audio.mute_on_join, conference.auto_answer, ntp.server, "
        "sip.display_name, sip.proxy, sip.uri, system.name, video.selfview)"]
    fleet.template.write_text("settings:\n  ntp.server: ntp2\n  sip.display_name: x\n"
                              "  audio.default_volume: '30'\n", encoding="utf-8")
    assert fleet.push() == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{fleet.template}:4:25: setting 'audio.default_volume' cannot be set on poly "
        "endpoints (selected: poly-a2, poly-b2); poly supports system.name, sip.proxy, "
        "sip.display_name, sip.uri, ntp.server, conference.auto_answer, audio.mute_on_join, "
        "video.selfview"]
    assert not fleet.audit.exists()
    assert fleet.served.config("poly-a2")["ntpserver"] == "ntp.thanhhoa.gov.vn"


def test_vendor_lines_are_applied_verified_and_rolled_back(
        rejecting_fleet: Fleet) -> None:
    fleet = rejecting_fleet
    fleet.template.write_text(
        "settings: {sip.display_name: renamed}\n"
        "vendor_lines:\n  cisco_ce: ['xConfiguration Video Selfview: Off']\n"
        "  poly: ['systemsetting selfview no']\n", encoding="utf-8")
    assert fleet.push() == 1
    assert fleet.served.config("cisco-a1")["Video Selfview"] == "Off"
    assert fleet.served.config("poly-b2")["selfview"] == "no"
    assert fleet.served.config("cisco-b1")["Video Selfview"] == "On"  # rolled back
    assert fleet.served.config("poly-a2")["selfview"] == "yes"


def test_netmiko_driver_pushes_and_backs_up(fleet: Fleet) -> None:
    assert fleet.push("--select", "vendor=cisco_ce", "--driver", "netmiko") == 0
    assert fleet.served.config("cisco-b1")["NetworkServices NTP Server 1 Address"] == \
        "ntp2.thanhhoa.gov.vn"
    assert {line["outcome"] for line in fleet.audit_lines()} == {"changed"}
    assert fleet.backup("nm", "--select", "id=cisco-b1", "--driver", "netmiko") == 0
    assert fleet.backup("as", "--select", "id=cisco-b1") == 0
    assert same_dirs(fleet.tmp / "nm", fleet.tmp / "as") == []


def test_netmiko_driver_checks_host_keys_too(fleet: Fleet) -> None:
    fleet.known_hosts = fleet.tmp / "operator" / "known_hosts"
    assert fleet.push("--select", "id=cisco-a1", "--driver", "netmiko") == 1
    error = str(fleet.audit_lines()[-1]["error"])
    assert "unknown host key for [" in error
    assert "--accept-new-host-keys" in error
    assert fleet.served.config("cisco-a1")["Conference AutoAnswer Mode"] == "Off"
    assert fleet.push("--select", "id=cisco-a1", "--driver", "netmiko",
                      "--accept-new-host-keys") == 0
    assert len(fleet.known_hosts.read_text(encoding="utf-8").splitlines()) == 1
    assert fleet.served.config("cisco-a1")["Conference AutoAnswer Mode"] == "On"


def test_vendor_line_enumerations_in_any_case_are_idempotent(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet.template.write_text(
        "vendor_lines:\n  cisco_ce: ['xConfiguration NetworkServices NTP Mode: auto']\n"
        "  poly: ['systemsetting ntpmode AUTO']\n", encoding="utf-8")
    assert fleet.push() == 0
    assert summary(capsys.readouterr().out)["changed"] == 4
    assert fleet.served.config("cisco-a1")["NetworkServices NTP Mode"] == "Auto"
    assert fleet.served.config("poly-a2")["ntpmode"] == "auto"
    assert fleet.push() == 0
    assert summary(capsys.readouterr().out)["unchanged"] == 4


def test_json_report(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.push("--select", "district=tay-b", "--dry-run",
                      "--format", "json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["dry_run"] is True
    assert doc["summary"]["would-change"] == 2
    assert [e["id"] for e in doc["endpoints"]] == ["cisco-b1", "poly-b2"]
    assert doc["endpoints"][0]["diff"][0] == {
        "setting": "ntp.server", "native": "NetworkServices NTP Server 1 Address",
        "before": "ntp.thanhhoa.gov.vn", "after": "ntp2.thanhhoa.gov.vn"}


def test_a_vendor_line_for_a_path_the_device_lacks_fails_cleanly(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet.template.write_text(
        "settings: {ntp.server: ntp5.example}\n"
        "vendor_lines:\n  cisco_ce: ['xConfiguration Video Nonexistent: On']\n",
        encoding="utf-8")
    before = fleet.served.config("cisco-a1")
    assert fleet.push("--select", "id=cisco-a1", "--dry-run") == 0
    assert "  Video Nonexistent: (not set) -> 'On'" in capsys.readouterr().out
    assert fleet.push("--select", "id=cisco-a1") == 1
    line = fleet.audit_lines()[-1]
    assert line["outcome"] == "rolled-back"
    assert "No match on address expression" in str(line["error"])
    assert fleet.served.config("cisco-a1") == before


def test_an_unwritable_audit_log_stops_the_push_before_it_starts(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet.audit = fleet.tmp / "audit-dir"
    fleet.audit.mkdir()
    assert fleet.push() == 2
    assert "cannot open the audit log" in capsys.readouterr().err
    assert fleet.served.config("cisco-a1")["Conference AutoAnswer Mode"] == "Off"
