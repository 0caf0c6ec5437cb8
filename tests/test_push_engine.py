"""The push engine's failure paths that the simulator's faults do not produce: a device that
stops answering mid-push, a device that says OK but keeps the old value.

A real asyncssh server on loopback speaks the simulator's Cisco xAPI dialect
(``simulator.cisco.CiscoSession``) with one misbehaviour switched in.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from inventory import Endpoint
from inventory.loader import parse_inventory
from simulator.cisco import CiscoSession
from simulator.devices import Device
from vcfleet.push.backup import backup_endpoint
from vcfleet.push.driver import Deadlines, DriverOptions
from vcfleet.push.engine import Change, EndpointResult, Outcome, push_endpoint
from vcfleet.push.hostkeys import KnownHosts
from vcfleet.push.progress import Progress
from vcfleet.push.template import NativeChange

PASSWORD = "engine-test-Secret-3"


class Misbehaving:
    """What the test device does wrong: hang on, or ignore, sets of one path."""

    def __init__(self, path: str, mode: str) -> None:
        self.path, self.mode, self.armed = path, mode, True


class _Auth(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return password == PASSWORD


async def _serve(device: Device, fault: Misbehaving,
                 process: asyncssh.SSHServerProcess[str]) -> None:
    session = CiscoSession(device)
    process.stdout.write(session.banner().replace("\n", "\r\n"))
    try:
        while True:
            line = await process.stdin.readline()
            if not line:
                break
            is_target = fault.armed and ":" in line and fault.path in line
            if is_target and fault.mode == "hang":
                fault.armed = False
                await asyncio.sleep(30)
            if ":" in line and fault.path in line and fault.mode == "one-way":
                if not fault.armed:  # the first set goes through, later ones are refused
                    process.stdout.write("*r Configuration (status=Error):\r\n    Reason: "
                                         '"Locked by provisioning."\r\n** end\r\n\r\nERROR\r\n')
                    continue
                fault.armed = False
            if is_target and fault.mode == "ignore":
                process.stdout.write("** end\r\n\r\nOK\r\n")
                continue
            process.stdout.write(session.handle(line.strip()).text.replace("\n", "\r\n"))
    except (asyncssh.Error, OSError, asyncio.CancelledError):
        pass
    finally:
        process.exit(0)


@pytest.fixture
async def codec(loopback_prefix: str, request: pytest.FixtureRequest
                ) -> AsyncIterator[tuple[Endpoint, Device, Misbehaving]]:
    address = f"{loopback_prefix}.9"
    fault = Misbehaving(*request.param)
    devices: list[Device] = []
    server = await asyncssh.create_server(
        _Auth, address, 0, server_host_keys=[asyncssh.generate_private_key("ssh-ed25519")],
        process_factory=lambda p: _serve(devices[0], fault, p), encoding="utf-8")
    port = server.sockets[0].getsockname()[1]
    inv = parse_inventory(
        "endpoints:\n"
        f"  - {{id: so-test, name: 'Sở Thử nghiệm', tier: department, address: {address},\n"
        "     vendor: cisco_ce, credentials: {username: admin, secret: 'env:VCFLEET_T_PW'},\n"
        f"     services: {{ssh: {{port: {port}}}}}}}\n", "t.yaml")
    devices.append(Device(inv.endpoints[0]))
    try:
        yield inv.endpoints[0], devices[0], fault
    finally:
        server.close()
        await server.wait_closed()


DESIRED = [NativeChange("NetworkServices NTP Server 1 Address", "ntp2.example", "ntp.server"),
           NativeChange("SIP DisplayName", "renamed", "sip.display_name"),
           NativeChange("Video Selfview", "Off", None)]


def options(tmp_path: Path) -> DriverOptions:
    return DriverOptions(KnownHosts(tmp_path / "known_hosts", accept_new=True), tmp_path,
                         Deadlines(connect_s=3, command_s=0.5, endpoint_s=20))


@pytest.mark.parametrize("codec", [("SIP DisplayName", "hang")], indirect=True)
async def test_a_command_that_times_out_is_rolled_back_on_a_fresh_session(
        codec: tuple[Endpoint, Device, Misbehaving], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFLEET_T_PW", PASSWORD)
    endpoint, device, _ = codec
    original = dict(device.config)
    result = await push_endpoint(endpoint, DESIRED, options(tmp_path), dry_run=False)
    assert result.outcome == Outcome.ROLLED_BACK, result.error
    assert "no complete reply to 'xConfiguration SIP DisplayName" in (result.error or "")
    assert device.config == original
    assert result.duration_s < 10


@pytest.mark.parametrize("codec", [("SIP DisplayName", "ignore")], indirect=True)
async def test_a_value_that_does_not_read_back_is_rolled_back(
        codec: tuple[Endpoint, Device, Misbehaving], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFLEET_T_PW", PASSWORD)
    endpoint, device, _ = codec
    original = dict(device.config)
    result = await push_endpoint(endpoint, DESIRED, options(tmp_path), dry_run=False)
    assert result.outcome == Outcome.ROLLED_BACK
    assert "verification failed: sip.display_name is 'Sở Thử nghiệm', expected 'renamed'" \
        in (result.error or "")
    assert device.config == original


@pytest.mark.parametrize("codec", [("nothing", "ignore")], indirect=True)
async def test_a_missing_secret_is_skipped_as_cannot_check_not_unreachable(
        codec: tuple[Endpoint, Device, Misbehaving], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The room is healthy; this machine lacks its secret: "unreachable" would send staff
    # to phone a room that works (issue 14, finding 9).
    monkeypatch.delenv("VCFLEET_T_PW", raising=False)
    endpoint, device, _ = codec
    original = dict(device.config)
    result = await push_endpoint(endpoint, DESIRED, options(tmp_path), dry_run=False)
    assert result.outcome == Outcome.SKIPPED
    assert result.error == "cannot check: environment variable VCFLEET_T_PW is not set"
    assert device.config == original
    saved = await backup_endpoint(endpoint, options(tmp_path), tmp_path / "backups")
    assert (saved.status, saved.error) == ("skipped", result.error)
    assert not (tmp_path / "backups").exists()


def test_secret_looking_settings_are_redacted() -> None:
    change = Change("SIP Authentication 1 Password", None, "old-pass", "new-pass")
    assert change.shown() == {"setting": "SIP Authentication 1 Password",
                              "native": "SIP Authentication 1 Password",
                              "before": "********", "after": "********"}
    assert Change("ntpserver", "ntp.server", "a", "b").shown()["after"] == "b"


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal() -> None:
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(2, "push", stream)
        bar.add("changed")
        bar.add("unreachable")
        bar.close()
    assert pipe.getvalue() == ""
    assert "2/2" in tty.getvalue()
    assert "changed 1 unreachable 1" in tty.getvalue()
    assert tty.getvalue().endswith("\n")


@pytest.mark.parametrize("codec", [("SIP DisplayName", "hang")], indirect=True)
async def test_an_interrupted_push_rolls_back_before_it_stops(
        codec: tuple[Endpoint, Device, Misbehaving], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFLEET_T_PW", PASSWORD)
    endpoint, device, _ = codec
    original = dict(device.config)
    opts = options(tmp_path)
    opts.deadlines = Deadlines(connect_s=3, command_s=5, endpoint_s=20)
    seen: list[EndpointResult] = []
    task = asyncio.create_task(push_endpoint(endpoint, DESIRED, opts, False, seen.append))
    for _ in range(100):  # until the NTP server is changed and the display name hangs
        await asyncio.sleep(0.05)
        if device.config["NetworkServices NTP Server 1 Address"] == "ntp2.example":
            break
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert device.config == original
    assert [r.outcome for r in seen] == [Outcome.ROLLED_BACK]
    assert "interrupted while applying" in (seen[0].error or "")


@pytest.mark.parametrize("codec", [("NetworkServices NTP", "one-way")], indirect=True)
async def test_a_failed_restore_is_reported_as_rollback_failed(
        codec: tuple[Endpoint, Device, Misbehaving], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VCFLEET_T_PW", PASSWORD)
    endpoint, device, _ = codec
    desired = [*DESIRED, NativeChange("Audio DefaultVolume", "999", None)]  # out of range
    result = await push_endpoint(endpoint, desired, options(tmp_path), dry_run=False)
    assert result.outcome == Outcome.ROLLBACK_FAILED
    error = result.error or ""
    assert error.startswith("setting Audio DefaultVolume: Illegal value: 999; ROLLBACK FAILED: ")
    assert "restoring ntp.server: Locked by provisioning." in error
    assert "ntp.server is 'ntp2.example', expected 'ntp.thanhhoa.gov.vn'" in error
    assert device.config["SIP DisplayName"] == "Sở Thử nghiệm"  # the rest was restored
    assert device.config["Video Selfview"] == "On"


CTRL_C_SCRIPT = r"""
import asyncio, os, signal, sys, threading
from pathlib import Path

import asyncssh

from inventory.loader import parse_inventory
from tests.test_push_engine import PASSWORD, Misbehaving, _Auth, _serve
from vcfleet.cli import main
from simulator.devices import Device

tmp, address = Path(sys.argv[1]), sys.argv[2]
loop = asyncio.new_event_loop()
threading.Thread(target=loop.run_forever, daemon=True).start()
fault, devices = Misbehaving("SIP DisplayName", "hang"), []
key = asyncssh.generate_private_key("ssh-ed25519")
async def listen():
    return await asyncssh.create_server(
        _Auth, address, 0, server_host_keys=[key], encoding="utf-8",
        process_factory=lambda p: _serve(devices[0], fault, p))
server = asyncio.run_coroutine_threadsafe(listen(), loop).result(10)
port = server.sockets[0].getsockname()[1]
text = (f"endpoints:\n  - {{id: so-test, name: 'Sở Thử', tier: department, address: {address},"
        " vendor: cisco_ce, credentials: {username: admin, secret: 'env:VCFLEET_T_PW'},"
        f" services: {{ssh: {{port: {port}}}}}}}\n")
(tmp / "inv.yaml").write_text(text, encoding="utf-8")
devices.append(Device(parse_inventory(text, "inv.yaml").endpoints[0]))
original = dict(devices[0].config)
os.environ["VCFLEET_T_PW"] = PASSWORD
(tmp / "t.yaml").write_text("settings: {ntp.server: ntp2.example, sip.display_name: x}\n")
threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()
rc = main(["push", str(tmp / "t.yaml"), "--inventory", str(tmp / "inv.yaml"),
           "--known-hosts", str(tmp / "kh"), "--accept-new-host-keys",
           "--audit-log", str(tmp / "audit"), "--command-timeout", "20"])
print("rc", rc, "restored", devices[0].config == original)
print((tmp / "audit").read_text(encoding="utf-8"))
"""


def test_ctrl_c_in_the_cli_rolls_back_and_exits_130(tmp_path: Path,
                                                    loopback_prefix: str) -> None:
    """``vcfleet push`` in a child process gets SIGINT while a set hangs."""
    import os
    import subprocess
    import sys

    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, str(script), str(tmp_path), f"{loopback_prefix}.7"],
                          cwd=root, capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "PYTHONPATH": str(root)})
    assert "rc 130 restored True" in done.stdout, done.stdout + done.stderr
    assert '"error": "interrupted while applying; rolled back"' in done.stdout
    assert "vcfleet: interrupted" in done.stderr
