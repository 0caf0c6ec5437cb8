"""``vcfleet push``, ``backup`` and ``serve`` with Yealink rooms, against the fleet simulator:
the provisioning server, the store, NOTIFY check-sync and the devices' HTTPS read-back.

A district mixes Cisco, Poly and Yealink rooms; the inventory's ``provisioning:``
section uses the demo certificate (made for 127.0.0.1) on a free port of this test.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("simulator.yealink", reason="needs the simulated Yealink rooms (issue 17)")

from inventory import load_inventory
from inventory.provisioning import device_password
from tests.simulated import free_port, provisioning_head
from tests.test_push_sim import Fleet, Served, same_dirs, summary

PASSWORD = "Simulated-push-Secret-7"
SECRET = "Provisioning-sim-Secret-9"

ENDPOINTS = (
    ("cisco-a1", "cisco_ce", "dong-a", "Sở Nội vụ"),
    ("yealink-a2", "yealink", "dong-a", "UBND xã Nga An"),
    ("poly-a3", "poly", "dong-a", "UBND xã Hà Sơn"),
    ("yealink-a4", "yealink", "dong-a", "UBND xã Yên Thọ"),
    ("yealink-b1", "yealink", "tay-b", "UBND xã Nga Thủy"),
    ("cisco-b2", "cisco_ce", "tay-b", "Sở Tư pháp"),
)
YEALINKS = [e for e, vendor, *_ in ENDPOINTS if vendor == "yealink"]

TEMPLATE = """\
settings:
  ntp.server: ntp2.thanhhoa.gov.vn
  conference.auto_answer: true
  sip.display_name: "{{ endpoint.name }} - {{ endpoint.district }}"
"""


def write_fleet(folder: Path, prefix: str, port: int) -> Path:
    """The six-endpoint inventory at PREFIX.1-6 with a provisioning section on ``port``."""
    lines = provisioning_head(folder, port, PASSWORD, SECRET)
    for i, (ident, vendor, district, name) in enumerate(ENDPOINTS, start=1):
        lines += [f"  - id: {ident}", f'    name: "{name}"', "    tier: commune",
                  f"    district: {district}", f"    address: {prefix}.{i}",
                  f"    vendor: {vendor}"]
        if vendor == "yealink":
            lines.append("    services: {sip: {port: 5060}, https: {port: 8443}}")
        else:
            lines.append("    services: {ssh: {port: 2222}}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class YealinkFleet(Fleet):
    """The simulated fleet, with this test's provisioning store and audit log."""

    def __init__(self, tmp: Path, inventory: Path, served: Served, port: int) -> None:
        super().__init__(tmp, inventory, served)
        self.port = port
        self.store = tmp / "store"
        self.prov_audit = tmp / "provisioning-audit.jsonl"
        self.template.write_text(TEMPLATE, encoding="utf-8")

    def push(self, *extra: str) -> int:
        return super().push("--provisioning-store", str(self.store),
                            "--provisioning-audit-log", str(self.prov_audit), *extra)

    def backup(self, out: str, *extra: str) -> int:
        return super().backup(out, "--provisioning-store", str(self.store), *extra)

    def stored(self) -> dict[str, str]:
        """The store's files by name."""
        if not self.store.exists():
            return {}
        return {p.name: p.read_text(encoding="utf-8") for p in sorted(self.store.iterdir())}

    def fetch_lines(self) -> list[dict[str, object]]:
        text = self.prov_audit.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines()]


def serve_fleet(tmp_path: Path, prefix: str, faults: str = "") -> Iterator[YealinkFleet]:
    import random

    from simulator import SimulatorError

    for attempt in range(3):
        port = free_port()
        inventory = write_fleet(tmp_path / "fleet", prefix, port)
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
            yield YealinkFleet(tmp_path, inventory, served, port)
        finally:
            served.__exit__(None, None, None)
        return


def assert_runs_its_file(fleet: YealinkFleet, room: str) -> None:
    """The room's provisioning file holds only values the device runs."""
    from vcfleet.provisioning import cfgfile

    text = (fleet.store / f"{room}.cfg").read_text(encoding="utf-8")
    assert text.startswith("#!version:1.0.0.1\n")
    config = fleet.served.config(room)
    values = cfgfile.parse(text)
    assert "local_time.ntp_server1" in values, text
    assert {k: config.get(k) for k in values} == values, room


def reboot_with_server(fleet: YealinkFleet, room: str) -> dict[str, object]:
    """Reboot a room while vcfleet's provisioning server (in this process) serves the test's
    store, as a standing ``vcfleet serve`` does; the room's boot fetch as its status says."""
    from vcfleet.provisioning.notify import CheckSync, send_check_sync
    from vcfleet.provisioning.server import serving_during
    from vcfleet.provisioning.site import site_of

    inv = load_inventory(fleet.inventory)
    site = site_of(inv, fleet.store)
    assert site is not None
    agent = fleet.served.sim.endpoints[room].provisioning
    assert agent is not None
    before = agent.fetches

    async def reboot() -> None:
        async with serving_during(site, [e for e in inv if e.vendor == "yealink"],
                                  fleet.prov_audit):
            await send_check_sync(CheckSync(room, inv.get(room).address, reboot=True), 5)
            async with asyncio.timeout(20):
                while agent.fetches <= before:
                    await asyncio.sleep(0.05)

    asyncio.run(reboot())
    assert agent.last is not None
    return agent.last.to_json()


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[YealinkFleet]:
    yield from serve_fleet(tmp_path, loopback_prefix)


def test_dry_run_changes_nothing(fleet: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.backup("before") == 0
    files = fleet.stored()
    capsys.readouterr()
    assert fleet.push("--dry-run") == 0
    out = capsys.readouterr().out
    assert "yealink-a2 (yealink):" in out
    assert "  ntp.server: 'ntp.thanhhoa.gov.vn' -> 'ntp2.thanhhoa.gov.vn'" in out
    assert "  conference.auto_answer: '0' -> '1'" in out  # yealink's spelling
    assert summary(out)["would change (dry run)"] == 6
    assert fleet.backup("after") == 0
    assert same_dirs(fleet.tmp / "before", fleet.tmp / "after") == []
    assert fleet.stored() == files  # a dry run writes no provisioning file
    assert not fleet.prov_audit.exists()  # and runs no server


def test_push_to_one_district_changes_exactly_those(
        fleet: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.backup("before") == 0
    assert sorted(p.name for p in (fleet.tmp / "before").iterdir()) == sorted(
        f"{e}.{ext}" for e, *_ in ENDPOINTS for ext in ("cfg", "json"))
    capsys.readouterr()
    assert fleet.push("--select", "district=dong-a") == 0
    captured = capsys.readouterr()
    assert summary(captured.out)["changed"] == 4
    assert f"provisioning: serving https://127.0.0.1:{fleet.port}/yealink/" in captured.err
    assert fleet.backup("after") == 0
    assert same_dirs(fleet.tmp / "before", fleet.tmp / "after") == sorted(
        f"{e}.{ext}" for e in ("cisco-a1", "poly-a3", "yealink-a2", "yealink-a4")
        for ext in ("cfg", "json"))
    settings = json.loads((fleet.tmp / "after" / "yealink-a2.json").read_text(encoding="utf-8"))
    assert settings["vendor"] == "yealink"
    assert settings["settings"]["ntp.server"] == "ntp2.thanhhoa.gov.vn"
    assert settings["settings"]["conference.auto_answer"] is True
    assert settings["settings"]["sip.display_name"] == "UBND xã Nga An - dong-a"
    assert fleet.served.config("yealink-a4")["account.1.auto_answer"] == "1"
    assert fleet.served.config("yealink-b1")["account.1.auto_answer"] == "0"
    # The devices' files are in the store (yealink-b1's from the backup, as it runs); each
    # fetch is in the provisioning audit log.
    assert sorted(fleet.stored()) == [f"{e}.cfg" for e in YEALINKS]
    for room in YEALINKS:
        assert_runs_its_file(fleet, room)
    stored = (fleet.store / "yealink-a2.cfg").read_text(encoding="utf-8")
    assert stored.startswith("#!version:1.0.0.1\n")
    assert "\nsip.notify_reboot_enable = 0\n" in stored
    fetched = {(line["endpoint"], line["status"]) for line in fleet.fetch_lines()}
    assert {("yealink-a2", 200), ("yealink-a4", 200)} <= fetched
    assert SECRET not in fleet.prov_audit.read_text(encoding="utf-8")
    assert device_password(SECRET, "yealink-a2") not in fleet.prov_audit.read_text(
        encoding="utf-8")

    # The same push again changes nothing, and the backup is the same.
    assert fleet.push("--select", "district=dong-a") == 0
    assert summary(capsys.readouterr().out)["unchanged"] == 4
    assert fleet.backup("again") == 0
    assert same_dirs(fleet.tmp / "after", fleet.tmp / "again") == []


@pytest.fixture
def faulty(tmp_path: Path, loopback_prefix: str) -> Iterator[YealinkFleet]:
    yield from serve_fleet(tmp_path, loopback_prefix,
                           "- {select: id=yealink-a2, reject_settings: [sip.display_name]}\n"
                           "- {select: id=yealink-a4, provisioning: unreachable}\n")


def test_refused_and_unreachable_rooms_end_as_they_were(
        faulty: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    fleet = faulty
    before = {e: fleet.served.config(e) for e in ("yealink-a2", "yealink-a4")}
    assert fleet.backup("before") == 0
    start = time.monotonic()
    assert fleet.push() == 1
    elapsed = time.monotonic() - start
    assert elapsed < 20, elapsed
    out = capsys.readouterr().out
    assert summary(out)["failed, rolled back"] == 2
    assert summary(out)["changed"] == 4
    lines = {line["endpoint"]: line for line in fleet.audit_lines()}
    assert lines["yealink-a2"]["outcome"] == "rolled-back"
    assert "the device refused sip.display_name (account.1.display_name)" in str(
        lines["yealink-a2"]["error"])
    assert lines["yealink-a4"]["outcome"] == "rolled-back"
    assert "cannot reach provisioning server" in str(lines["yealink-a4"]["error"])
    assert lines["yealink-b1"]["outcome"] == "changed"
    for e, config in before.items():
        assert fleet.served.config(e) == config, e
    assert fleet.backup("after") == 0
    changed = same_dirs(fleet.tmp / "before", fleet.tmp / "after")
    assert not any(name.startswith(("yealink-a2.", "yealink-a4.")) for name in changed)
    # The store holds the original values again, for a later reboot.
    stored = (fleet.store / "yealink-a4.cfg").read_text(encoding="utf-8")
    assert "local_time.ntp_server1 = ntp.thanhhoa.gov.vn\n" in stored
    for room in YEALINKS:
        assert_runs_its_file(fleet, room)


def test_an_unchanged_room_gets_its_file_for_a_later_reboot(
        fleet: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    """A room that already runs the template is unchanged by the push, yet the store gets
    its file (what it runs): when it reboots later, its fetch finds it (not a 404)."""
    device = fleet.served.sim.device("yealink-b1")
    for key, value in (("local_time.ntp_server1", "ntp2.thanhhoa.gov.vn"),
                       ("account.1.auto_answer", "1"),
                       ("account.1.display_name", "UBND xã Nga Thủy - tay-b")):
        fleet.served.loop.call_soon_threadsafe(device.config.__setitem__, key, value)
    assert fleet.push("--select", "id=yealink-b1") == 0
    assert summary(capsys.readouterr().out)["unchanged"] == 1
    assert sorted(fleet.stored()) == ["yealink-b1.cfg"]
    assert_runs_its_file(fleet, "yealink-b1")
    running = fleet.served.config("yealink-b1")
    last = reboot_with_server(fleet, "yealink-b1")
    assert last["result"] == "ok", last
    assert last["rejected"] == []
    assert fleet.served.config("yealink-b1") == running


def test_a_backup_writes_each_rooms_file_as_it_runs(fleet: YealinkFleet) -> None:
    """After a backup every Yealink room has its file in the store, holding what the room
    runs: a stale file (a value the room no longer runs) is brought back in step."""
    from vcfleet.provisioning import cfgfile
    from vcfleet.provisioning.store import ProvisioningStore

    ProvisioningStore(fleet.store).write("yealink-a2", cfgfile.render(
        {"local_time.ntp_server1": "stale.example", "account.1.auto_answer": "1"}))
    assert fleet.backup("saved") == 0
    assert sorted(fleet.stored()) == [f"{e}.cfg" for e in YEALINKS]
    for room in YEALINKS:
        assert_runs_its_file(fleet, room)
    assert "stale.example" not in fleet.stored()["yealink-a2.cfg"]
    running = fleet.served.config("yealink-a2")
    last = reboot_with_server(fleet, "yealink-a2")
    assert last["result"] == "ok", last
    assert fleet.served.config("yealink-a2") == running  # the reboot changed nothing


def test_login_failure_is_unreachable(tmp_path: Path, loopback_prefix: str) -> None:
    for fleet in serve_fleet(tmp_path, loopback_prefix,
                             "- {select: id=yealink-b1, auth: fail}\n"):
        assert fleet.push("--select", "vendor=yealink") == 1
        lines = {line["endpoint"]: line for line in fleet.audit_lines()}
        assert lines["yealink-b1"]["outcome"] == "unreachable"
        assert "authentication failed" in str(lines["yealink-b1"]["error"])
        assert lines["yealink-a2"]["outcome"] == "changed"


def test_without_provisioning_yealink_rooms_are_skipped(
        fleet: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    text = fleet.inventory.read_text(encoding="utf-8")
    start, end = text.index("provisioning:"), text.index("defaults:")
    fleet.inventory.write_text(text[:start] + text[end:], encoding="utf-8")
    assert fleet.push("--select", "vendor=yealink") == 0
    out = capsys.readouterr().out
    assert summary(out)["skipped"] == 3
    assert "fetch their settings from a provisioning server, and the inventory has no" in out


def test_a_running_serve_hands_a_rebooted_device_its_file(fleet: YealinkFleet) -> None:
    """The push publishes through a standing ``vcfleet serve`` (a separate process) that
    holds the provisioning address; a device that reboots later fetches its file there."""
    import subprocess
    import sys

    from vcfleet.provisioning.notify import CheckSync, send_check_sync

    serve_audit = fleet.tmp / "serve-audit.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vcfleet", "serve", "--inventory", str(fleet.inventory),
         "--listen", f"127.0.0.1:{free_port()}", "--interval", "0", "--no-history",
         "--provisioning-store", str(fleet.store), "--provisioning-audit-log",
         str(serve_audit)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        started = ""
        deadline = time.monotonic() + 30
        while "provisioning: serving" not in started and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            started += line
        assert f"provisioning: serving https://127.0.0.1:{fleet.port}/yealink/" in started, \
            started
        assert fleet.push("--select", "id=yealink-b1") == 0
        assert fleet.served.config("yealink-b1")["local_time.ntp_server1"] == \
            "ntp2.thanhhoa.gov.vn"
        assert not fleet.prov_audit.exists()  # the push served nothing itself
        fetched = [json.loads(ln) for ln in serve_audit.read_text(encoding="utf-8").splitlines()]
        assert ("yealink-b1", 200) in {(ln["endpoint"], ln["status"]) for ln in fetched}

        # The device loses the value (a factory reset, a hand edit) and is rebooted: at
        # boot it fetches its file from serve and runs the pushed value again.
        device = fleet.served.sim.device("yealink-b1")
        fleet.served.loop.call_soon_threadsafe(
            device.config.__setitem__, "local_time.ntp_server1", "reset.example")
        address = fleet.served.inventory.get("yealink-b1").address
        asyncio.run(send_check_sync(CheckSync("yealink-b1", address, reboot=True), 5))
        deadline = time.monotonic() + 20
        while (time.monotonic() < deadline
               and fleet.served.config("yealink-b1")["local_time.ntp_server1"]
               != "ntp2.thanhhoa.gov.vn"):
            time.sleep(0.05)
        assert fleet.served.config("yealink-b1")["local_time.ntp_server1"] == \
            "ntp2.thanhhoa.gov.vn"
        after = serve_audit.read_text(encoding="utf-8").splitlines()
        assert len(after) > len(fetched)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
            if proc.stderr is not None:
                proc.stderr.close()
    assert proc.returncode == 0


def test_an_address_taken_by_something_else_stops_the_push_first(
        fleet: YealinkFleet, capsys: pytest.CaptureFixture[str]) -> None:
    import threading

    before = fleet.served.config("yealink-a2")
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", fleet.port))
        squatter.listen()
        squatter.settimeout(0.2)
        stop = threading.Event()

        def refuse() -> None:  # accept and hang up at once: no TLS, no HTTP
            while not stop.is_set():
                try:
                    conn, _ = squatter.accept()
                except OSError:
                    continue
                conn.close()

        thread = threading.Thread(target=refuse, daemon=True)
        thread.start()
        try:
            assert fleet.push("--select", "vendor=yealink") == 2
        finally:
            stop.set()
            thread.join(timeout=5)
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith(f"provisioning.listen 127.0.0.1:{fleet.port}: address already in "
                             "use, and what listens there is not vcfleet's provisioning server")
    assert fleet.served.config("yealink-a2") == before
    assert not fleet.store.exists()


def test_a_device_that_reboots_on_notify_is_waited_for(fleet: YealinkFleet) -> None:
    """Yealink's default ``sip.notify_reboot_enable = 1``: the NOTIFY reboots the room (its
    HTTPS goes away for the simulator's reboot_s), it fetches at boot, and the driver logs
    in again and verifies; vcfleet's file sets 0, so the next push does not reboot it."""
    device = fleet.served.sim.device("yealink-b1")
    fleet.served.loop.call_soon_threadsafe(device.config.__setitem__,
                                           "sip.notify_reboot_enable", "1")
    assert fleet.push("--select", "id=yealink-b1") == 0
    config = fleet.served.config("yealink-b1")
    assert config["local_time.ntp_server1"] == "ntp2.thanhhoa.gov.vn"
    assert config["sip.notify_reboot_enable"] == "0"
    assert fleet.audit_lines()[-1]["outcome"] == "changed"
