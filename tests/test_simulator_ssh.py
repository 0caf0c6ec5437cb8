"""The simulator's SSH side with real clients: asyncssh (exec and shell) and netmiko cisco_tp."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from inventory import Inventory
from simulator import Simulator
from tests.simulated import PASSWORD, read_until, simulated_fleet

CISCO, POLY = 1, 2
DEADLINE = 10.0


@pytest.fixture
async def fleet(tmp_path: Path, loopback_prefix: str
                ) -> AsyncIterator[tuple[Simulator, Inventory, str]]:
    async with simulated_fleet(tmp_path, loopback_prefix) as (sim, inv):
        yield sim, inv, loopback_prefix


def connect(prefix: str, n: int, **kwargs: object) -> asyncssh.SSHClientConnection:
    options: dict[str, object] = {"username": "admin", "password": PASSWORD,
                                  "known_hosts": None, "connect_timeout": DEADLINE}
    options.update(kwargs)
    return asyncssh.connect(f"{prefix}.{n}", 2222, **options)  # type: ignore[return-value]


async def test_cisco_exec_reads_and_changes_configuration(fleet: tuple) -> None:
    _, _, prefix = fleet
    async with connect(prefix, CISCO) as conn:
        r = await conn.run("xConfiguration SIP Proxy 1 Address", timeout=DEADLINE)
        assert r.stdout == ('*c xConfiguration SIP Proxy 1 Address: "sip.thanhhoa.gov.vn"\n'
                            "** end\n\nOK\n")
        assert r.exit_status == 0
        r = await conn.run('xConfiguration SIP Proxy 1 Address: "10.38.0.10"', timeout=DEADLINE)
        assert r.stdout == "** end\n\nOK\n"
        r = await conn.run("xconfiguration conference autoanswer mode: on", timeout=DEADLINE)
        assert r.stdout == "** end\n\nOK\n"
        r = await conn.run("xConfiguration", timeout=DEADLINE)
        lines = str(r.stdout).splitlines()
        assert '*c xConfiguration SIP Proxy 1 Address: "10.38.0.10"' in lines
        assert "*c xConfiguration Conference AutoAnswer Mode: On" in lines
        assert lines[-3:] == ["** end", "", "OK"]
        for _ in range(50):  # the codec re-registers to the new proxy, which never answers
            r = await conn.run("xStatus SIP Registration Status", timeout=DEADLINE)
            if "Registering" not in str(r.stdout):
                break
            await asyncio.sleep(0.1)
        assert r.stdout == "*s SIP Registration 1 Status: Failed\n** end\n\nOK\n"
        r = await conn.run("xStatus SystemUnit Uptime", timeout=DEADLINE)
        assert str(r.stdout).startswith("*s SystemUnit Uptime: ")


async def test_cisco_errors(fleet: tuple) -> None:
    _, _, prefix = fleet
    async with connect(prefix, CISCO) as conn:
        r = await conn.run("xConfiguration Conference AutoAnswer Mode: Maybe", timeout=DEADLINE)
        assert r.exit_status == 1
        assert str(r.stdout).startswith("*r Configuration (status=Error):\n")
        assert str(r.stdout).endswith("** end\n\nERROR\n")
        r = await conn.run("xConfiguration No Such Thing: 1", timeout=DEADLINE)
        assert 'Reason: "No match on address expression."' in str(r.stdout)
        r = await conn.run("frobnicate", timeout=DEADLINE)
        assert r.stdout == "Command not recognized.\n"


async def test_cisco_shell_json_mode_and_reboot(fleet: tuple) -> None:
    sim, inv, prefix = fleet
    device = sim.device(inv.endpoints[0].id)
    async with connect(prefix, CISCO) as conn:
        proc = await conn.create_process(term_type="vt100")
        banner = await read_until(proc, "OK\r\n")
        assert "*r Login successful\r\n\r\nOK\r\n" in banner
        proc.stdin.write("xPreferences outputmode json\r\n")
        assert await read_until(proc, "OK\r\n") == "xPreferences outputmode json\r\nOK\r\n"
        proc.stdin.write("xConfiguration SIP Proxy\r\n")
        out = await read_until(proc, "OK\r\n")
        body = out.split("\r\n", 1)[1].split("** end")[0]
        data = json.loads(body)
        assert data == {"Configuration": {"SIP": {"Proxy": [
            {"id": "1", "Address": {"Value": "sip.thanhhoa.gov.vn"}}]}}}
        proc.stdin.write("xPreferences outputmode terminal\r\n")
        await read_until(proc, "OK\r\n")
        proc.stdin.write("xConfiguration SIP DisplayName: Phòng họp A\r\n")
        await read_until(proc, "OK\r\n")
        proc.stdin.write("xCommand SystemUnit Boot\r\n")
        out = await read_until(proc, "OK\r\n")
        assert "*r SystemUnitBootResult (status=OK):" in out
        async with asyncio.timeout(DEADLINE):
            await proc.wait_closed()
    assert device.boots == 1
    assert device.config["SIP DisplayName"] == "Phòng họp A"  # config persists
    # The device comes back after reboot_s.
    async with asyncio.timeout(DEADLINE):
        while True:
            try:
                async with connect(prefix, CISCO) as conn:
                    r = await conn.run("xConfiguration SIP DisplayName", timeout=DEADLINE)
                    break
            except OSError:
                await asyncio.sleep(0.1)
    assert '"Phòng họp A"' in str(r.stdout)


def _netmiko_session(prefix: str) -> list[str]:
    from netmiko import ConnectHandler

    conn = ConnectHandler(device_type="cisco_tp", host=f"{prefix}.{CISCO}", port=2222,
                          username="admin", password=PASSWORD, timeout=DEADLINE,
                          use_keys=False, allow_agent=False, fast_cli=True,
                          read_timeout_override=DEADLINE, disable_lf_normalization=True)
    try:
        return [str(conn.send_command("xConfiguration SIP")),
                str(conn.send_command("xConfiguration SIP DisplayName: Sở Nội vụ")),
                str(conn.send_command("bogus")),
                str(conn.send_command("xConfiguration SIP DisplayName")),
                # with netmiko's linefeed normalisation on, give the pattern explicitly
                str(conn.send_command("xStatus SystemUnit Software Version",
                                      expect_string=r"\r\n(OK|ERROR)\r\n"))]
    finally:
        conn.disconnect()


async def test_netmiko_cisco_tp_reads_and_changes_configuration(fleet: tuple) -> None:
    sim, inv, prefix = fleet
    read, changed, bogus, reread, status = await asyncio.to_thread(_netmiko_session, prefix)
    assert '*c xConfiguration SIP Proxy 1 Address: "sip.thanhhoa.gov.vn"\r\n' in read
    assert read.endswith("** end\r\n\r\nOK\r\n")
    assert changed == "** end\r\n\r\nOK\r\n"
    assert bogus == "Command not recognized.\r\n"
    assert reread.startswith('*c xConfiguration SIP DisplayName: "Sở Nội vụ"\r\n')
    assert sim.device(inv.endpoints[0].id).config["SIP DisplayName"] == "Sở Nội vụ"
    assert '*s SystemUnit Software Version: "ce9.15.3.17"' in status


async def test_poly_dialect(fleet: tuple) -> None:
    sim, inv, prefix = fleet
    async with connect(prefix, POLY) as conn:
        r = await conn.run("systemsetting get sipproxyserver", timeout=DEADLINE)
        assert r.stdout == "systemsetting sipproxyserver sip.thanhhoa.gov.vn\n"
        proc = await conn.create_process(term_type="vt100")
        await read_until(proc, "-> ")
        proc.stdin.write("systemsetting autoanswer yes\r\n")
        assert await read_until(proc, "-> ") == (
            "systemsetting autoanswer yes\r\nsystemsetting autoanswer yes\r\n-> ")
        proc.stdin.write('systemsetting sipdisplayname "Phòng họp B"\r\n')
        out = await read_until(proc, "-> ")
        assert out.endswith('systemsetting sipdisplayname "Phòng họp B"\r\n-> ')
        proc.stdin.write("systemsetting autoanswer maybe\r\n")
        assert "error: command has illegal parameters\r\n-> " in await read_until(proc, "-> ")
        proc.stdin.write("systemsetting nosuchsetting 1\r\n")
        assert "error: command has illegal parameters\r\n" in await read_until(proc, "-> ")
        proc.stdin.write("dance\r\n")
        assert "error: command not found\r\n" in await read_until(proc, "-> ")
        proc.stdin.write("systemsetting list\r\n")
        listing = await read_until(proc, "-> ")
        assert "systemsetting autoanswer yes\r\n" in listing
        assert "systemsetting ntpserver ntp.thanhhoa.gov.vn\r\n" in listing
        proc.stdin.write("reboot now\r\n")
        async with asyncio.timeout(DEADLINE):
            await proc.wait_closed()
    device = sim.device(inv.endpoints[1].id)
    assert device.boots == 1
    assert device.config["autoanswer"] == "yes"


async def test_yealink_has_no_ssh(fleet: tuple) -> None:
    _, _, prefix = fleet
    with pytest.raises(OSError):
        async with connect(prefix, 3):
            pass


async def test_wrong_password_and_user_are_refused(fleet: tuple) -> None:
    _, _, prefix = fleet
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(prefix, CISCO, password="wrong"):
            pass
    with pytest.raises(asyncssh.PermissionDenied):
        async with connect(prefix, CISCO, username="root"):
            pass


async def test_public_key_login_and_stable_host_key(tmp_path: Path, loopback_prefix: str
                                                    ) -> None:
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "authorized_keys").write_bytes(client_key.export_public_key())
    seen = []
    for _ in range(2):
        async with simulated_fleet(tmp_path, loopback_prefix) as (sim, _inv):
            known = sim.known_hosts
            async with connect(loopback_prefix, CISCO, password=None, client_keys=[client_key],
                               known_hosts=str(known)) as conn:
                seen.append(conn.get_server_host_key().export_public_key())
                r = await conn.run("xStatus SystemUnit ProductId", timeout=DEADLINE)
                assert r.stdout == '*s SystemUnit ProductId: "Cisco Room Kit Pro"\n** end\n\nOK\n'
    assert seen[0] == seen[1]
    assert (state_dir / "hostkeys" / "cisco-ce-1.key").exists()
