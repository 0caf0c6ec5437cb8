"""The simulated codec's own state over real SSH: SIP registration to the simulator's
registrar, calls, standby, DND, peripherals, diagnostics, software, and ``device:`` faults
(also reloaded at run time and in worker processes)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncssh
import pytest

from inventory import Inventory
from simulator import Simulator, parse_faults
from simulator.faults import Faults
from tests.simulated import PASSWORD, read_until, simulated_fleet

CISCO, POLY = 1, 2
DEADLINE = 10.0
ALL_FAULTS = """\
- select: ""
  device:
    registration: fail
    in_call: true
    standby: true
    dnd: true
    camera: disconnected
    microphones: muted
    display: disconnected
    diagnostics:
      - {level: error, text: "Máy quay không phản hồi"}
      - {level: critical, text: "Nhiệt độ quá cao"}
    software: "ce9.8.1"
"""


@pytest.fixture
async def fleet(tmp_path: Path, loopback_prefix: str
                ) -> AsyncIterator[tuple[Simulator, Inventory, str]]:
    async with simulated_fleet(tmp_path, loopback_prefix,
                               vendors=("cisco_ce", "poly")) as (sim, inv):
        yield sim, inv, loopback_prefix


def connect(prefix: str, n: int) -> asyncssh.SSHClientConnection:
    return asyncssh.connect(f"{prefix}.{n}", 2222, username="admin",  # type: ignore[return-value]
                            password=PASSWORD, known_hosts=None, connect_timeout=DEADLINE)


async def run(conn: asyncssh.SSHClientConnection, command: str) -> str:
    r = await conn.run(command, timeout=DEADLINE)
    return str(r.stdout)


async def settled(conn: asyncssh.SSHClientConnection, command: str, unwanted: str) -> str:
    """The reply once ``unwanted`` (``Registering``) is gone from it."""
    for _ in range(100):
        out = await run(conn, command)
        if unwanted not in out:
            return out
        await asyncio.sleep(0.05)
    raise AssertionError(f"{command!r} still says {unwanted!r}")


async def test_every_clean_codec_registers_to_the_registrar(fleet: tuple) -> None:
    sim, _, p = fleet
    assert sim.registrar_address == f"{p}.254"
    assert sim.registrar is not None
    assert sim.registrar.registered("cisco-ce-1@thanhhoa.gov.vn")
    assert sim.registrar.registered("poly-2@thanhhoa.gov.vn")
    async with connect(p, CISCO) as conn:
        assert await run(conn, "xStatus SIP") == (
            '*s SIP Proxy 1 Address: "sip.thanhhoa.gov.vn"\n'
            "*s SIP Proxy 1 Status: Active\n"
            "*s SIP Registration 1 Authentication: Off\n"
            '*s SIP Registration 1 Reason: ""\n'
            "*s SIP Registration 1 Status: Registered\n"
            '*s SIP Registration 1 URI: "cisco-ce-1@thanhhoa.gov.vn"\n'
            "** end\n\nOK\n")
    async with connect(p, POLY) as conn:
        assert "sipserver online\n" in await run(conn, "status")


async def test_a_wrong_proxy_unregisters_and_a_rollback_registers_again(fleet: tuple) -> None:
    sim, _, p = fleet
    async with connect(p, CISCO) as conn:
        await run(conn, f'xConfiguration SIP Proxy 1 Address: "{p}.99"')
        out = await settled(conn, "xStatus SIP Registration 1", "Registering")
        assert "*s SIP Registration 1 Status: Failed\n" in out
        assert '*s SIP Registration 1 Reason: "Timeout"\n' in out
        await run(conn, 'xConfiguration SIP Proxy 1 Address: "sip2.thanhhoa.gov.vn"')
        out = await settled(conn, "xStatus SIP", "Registering")
        assert "*s SIP Proxy 1 Status: DNSFailed\n" in out
        assert '*s SIP Registration 1 Reason: "DNS lookup failed"\n' in out
        await run(conn, 'xConfiguration SIP Proxy 1 Address: "sip.thanhhoa.gov.vn"')
        out = await settled(conn, "xStatus SIP Registration 1 Status", "Registering")
        assert out == "*s SIP Registration 1 Status: Registered\n** end\n\nOK\n"
        await run(conn, 'xConfiguration SIP Proxy 1 Address: ""')
        out = await settled(conn, "xStatus SIP Registration 1 Status", "Registering")
        assert out == "*s SIP Registration 1 Status: Inactive\n** end\n\nOK\n"
    async with connect(p, POLY) as conn:
        await run(conn, f"systemsetting sipproxyserver {p}.99")
        for _ in range(100):
            if "sipserver offline" in await run(conn, "status"):
                break
            await asyncio.sleep(0.05)
        assert "sipserver offline\n" in await run(conn, "status")
        await run(conn, f"systemsetting sipproxyserver {p}.254")
        for _ in range(100):
            if "sipserver online" in await run(conn, "status"):
                break
            await asyncio.sleep(0.05)
        assert "sipserver online\n" in await run(conn, "status")
    assert sim.registrar.registered("poly-2@thanhhoa.gov.vn")


async def test_cisco_idle_status_and_call_commands(fleet: tuple) -> None:
    _, _, p = fleet
    async with connect(p, CISCO) as conn:
        assert await run(conn, "xStatus Call") == "** end\n\nOK\n"
        assert await run(conn, "xStatus Diagnostics") == "** end\n\nOK\n"
        assert await run(conn, "xStatus Standby") == "*s Standby State: Off\n** end\n\nOK\n"
        assert await run(conn, "xStatus Conference DoNotDisturb") == (
            "*s Conference DoNotDisturb: Inactive\n** end\n\nOK\n")
        assert await run(conn, "xStatus Audio Microphones") == (
            "*s Audio Microphones Mute: Off\n** end\n\nOK\n")
        out = await run(conn, "xStatus Video Input Connector")
        assert "*s Video Input Connector 1 Connected: True\n" in out
        assert "*s Video Input Connector 1 Type: Camera\n" in out
        out = await run(conn, "xStatus Peripherals ConnectedDevice")
        assert "*s Peripherals ConnectedDevice 1001 Type: TouchPanel\n" in out
        assert "*s Peripherals ConnectedDevice 1001 Status: Connected\n" in out
        out = await run(conn, "xStatus SystemUnit")
        assert '*s SystemUnit Software Version: "ce9.15.3.17"\n' in out
        assert "*s SystemUnit Uptime: " in out
        out = await run(conn, 'xCommand Dial Number: "hop-tinh@thanhhoa.gov.vn"')
        assert out.startswith("*r DialResult (status=OK):\n*r DialResult CallId: ")
        call_id = out.split("CallId: ", 1)[1].split("\n", 1)[0]
        out = await run(conn, "xStatus Call")
        assert f'*s Call {call_id} RemoteNumber: "hop-tinh@thanhhoa.gov.vn"\n' in out
        assert f"*s Call {call_id} Direction: Outgoing\n" in out
        for _ in range(50):
            if "Status: Connected" in await run(conn, f"xStatus Call {call_id} Status"):
                break
            await asyncio.sleep(0.05)
        assert await run(conn, "xStatus SystemUnit State NumberOfActiveCalls") == (
            "*s SystemUnit State NumberOfActiveCalls: 1\n** end\n\nOK\n")
        assert await run(conn, f"xCommand Call Disconnect CallId: {call_id}") == (
            "*r CallDisconnectResult (status=OK):\n** end\n\nOK\n")
        assert await run(conn, "xStatus Call") == "** end\n\nOK\n"
        out = await run(conn, f"xStatus Call {call_id} Status")
        assert f'*r Status XPath: "Status/Call[{call_id}]/Status"\n' in out
        assert out.endswith("ERROR\n")
        assert await run(conn, "xCommand Standby Activate") == (
            "*r StandbyActivateResult (status=OK):\n** end\n\nOK\n")
        assert "*s Standby State: Standby\n" in await run(conn, "xStatus Standby")
        assert await run(conn, "xCommand Standby Deactivate") == (
            "*r StandbyDeactivateResult (status=OK):\n** end\n\nOK\n")
        out = await run(conn, "xCommand Dila Number: secret-number")
        assert out == ('*r Result (status=Error):\n*r Result Reason: "Unknown command"\n'
                       '*r Result XPath: "/Dila"\n** end\n\nERROR\n')


async def test_cisco_feedback_reports_calls_and_their_end(fleet: tuple) -> None:
    _, _, p = fleet
    async with connect(p, CISCO) as conn:
        proc = await conn.create_process(encoding="utf-8")
        await read_until(proc, "OK\r\n")
        proc.stdin.write("xFeedback register /Status/Call\r\n")
        proc.stdin.write("xFeedback register /Event/CallDisconnect\r\n")
        proc.stdin.write("xFeedback list\r\n")
        out = await read_until(proc, "/Status/Call\r\n** end\r\n\r\nOK\r\n")
        assert "/Event/CallDisconnect\r\n/Status/Call\r\n** end" in out
        proc.stdin.write('xCommand Dial Number: "far@thanhhoa.gov.vn"\r\n')
        out = await read_until(proc, "Status: Connected\r\n** end\r\n")
        assert "Status: Dialling\r\n" in out
        assert "Status: Connecting\r\n** end\r\n" in out
        call_id = out.split("CallId: ", 1)[1].split("\r\n", 1)[0]
        proc.stdin.write("xCommand Call Disconnect\r\n")
        out = await read_until(proc, f"*s Call {call_id} (ghost=True):\r\n** end\r\n")
        assert f"*e CallDisconnect CallId: {call_id}\r\n" in out
        assert '*e CallDisconnect CauseType: "LocalDisconnect"\r\n' in out
        proc.stdin.write("xFeedback deregisterall\r\nbye\r\n")
        await read_until(proc, "bye.")
        proc.close()


async def test_poly_state_commands(fleet: tuple) -> None:
    _, _, p = fleet
    async with connect(p, POLY) as conn:
        out = await run(conn, "whoami")
        assert out.startswith("Hi, my name is : Điểm cầu 2 (poly)\n"
                              "Here is what I know about myself:\nModel: G7500\n")
        assert "Software Version: Release 6.2.2.5-501003\n" in out
        assert out.endswith("SNMP Enabled: True\n")
        out = await run(conn, "status")
        assert out.startswith("inacall offline\n")
        assert "microphones online\ncamera online\n" in out
        assert out.endswith("status end\n")
        assert await run(conn, "callinfo all") == "system is not in a call\n"
        assert await run(conn, "getcallstate") == (
            "cs: call[0] inactive\ncs: call[1] inactive\ncs: call[2] inactive\n")
        assert await run(conn, "autoanswer get") == "autoanswer no\n"
        assert await run(conn, "mute near get") == "mute near off\n"
        assert await run(conn, 'dial manual "1920" "far@thanhhoa.gov.vn" sip') == (
            "dialing manual\n")
        out = await run(conn, "callinfo all")
        assert out.startswith("callinfo begin\ncallinfo:1:far:far@thanhhoa.gov.vn:1920:")
        assert out.endswith(":notmuted:outgoing:videocall\ncallinfo end\n")
        assert "inacall online\n" in await run(conn, "status")
        assert await run(conn, "hangup video 99") == "connection 99 is not active\n"
        assert await run(conn, "hangup all") == "hanging up all\n"
        assert await run(conn, "callinfo all") == "system is not in a call\n"
        assert await run(conn, "autoanswer donotdisturb") == "autoanswer donotdisturb\n"
        assert await run(conn, "sleep") == "sleep\n"
        assert await run(conn, "wake") == "wake\n"
        r = await conn.run("uptime", timeout=DEADLINE)
        assert r.stdout == "error: command not found\n"
        assert r.exit_status == 1


async def test_every_device_fault_and_its_reload(fleet: tuple) -> None:
    sim, _, p = fleet
    await sim.reload_faults(parse_faults(ALL_FAULTS, "faults.yaml"))
    async with connect(p, CISCO) as conn:
        out = await settled(conn, "xStatus SIP Registration 1", "Registering")
        assert "*s SIP Registration 1 Status: Failed\n" in out
        assert '*s SIP Registration 1 Reason: "403 Forbidden"\n' in out
        out = await run(conn, "xStatus Call")
        assert '*s Call 1 RemoteNumber: "mcu@thanhhoa.gov.vn"\n' in out
        assert "*s Call 1 Status: Connected\n" in out
        assert "*s Standby State: Standby\n" in await run(conn, "xStatus Standby")
        assert "Active" in await run(conn, "xStatus Conference DoNotDisturb")
        assert "*s Audio Microphones Mute: On\n" in await run(conn, "xStatus Audio")
        assert "Connector 1 Connected: False\n" in await run(conn, "xStatus Video Input")
        assert "Connector 1 Connected: False\n" in await run(conn, "xStatus Video Output")
        out = await run(conn, "xStatus Diagnostics Message")
        assert '*s Diagnostics Message 1 Description: "Máy quay không phản hồi"\n' in out
        assert "*s Diagnostics Message 1 Level: Error\n" in out
        assert "*s Diagnostics Message 2 Level: Critical\n" in out
        assert '"ce9.8.1"' in await run(conn, "xStatus SystemUnit Software Version")
    async with connect(p, POLY) as conn:
        for _ in range(100):
            if "sipserver offline" in await run(conn, "status"):
                break
            await asyncio.sleep(0.05)
        out = await run(conn, "status")
        assert "inacall online\n" in out
        assert "sipserver offline\n" in out
        assert await run(conn, "mute near get") == "mute near on\n"
        assert await run(conn, "autoanswer get") == "autoanswer donotdisturb\n"
        assert await run(conn, "version") == 'version "ce9.8.1"\n'
    await sim.reload_faults(parse_faults(
        "- {select: '', device: {microphones: disconnected, camera: disconnected}}\n", "f"))
    async with connect(p, CISCO) as conn:
        out = await settled(conn, "xStatus SIP Registration 1 Status", "Registering")
        assert out == "*s SIP Registration 1 Status: Registered\n** end\n\nOK\n"
        assert await run(conn, "xStatus Call") == "** end\n\nOK\n"
        assert "NotConnected" in await run(conn, "xStatus Audio Input Connectors")
        assert "*s Audio Microphones Mute: Off\n" in await run(conn, "xStatus Audio")
        assert await run(conn, "xStatus Diagnostics") == "** end\n\nOK\n"
    async with connect(p, POLY) as conn:
        out = await run(conn, "status")
        assert "microphones offline\ncamera offline\n" in out
    await sim.reload_faults(Faults())


async def test_registration_and_faults_in_worker_processes(tmp_path: Path,
                                                           loopback_prefix: str) -> None:
    p = loopback_prefix
    faults = parse_faults("- {select: id=poly-2, device: {registration: fail}}\n", "f")
    async with simulated_fleet(tmp_path, p, faults, vendors=("cisco_ce", "poly"),
                               workers=1) as (sim, _):
        assert sim.registrar is not None
        assert sim.registrar.registered("cisco-ce-1@thanhhoa.gov.vn")
        assert not sim.registrar.registered("poly-2@thanhhoa.gov.vn")
        async with connect(p, POLY) as conn:
            assert "sipserver offline\n" in await run(conn, "status")
        await sim.reload_faults(parse_faults("- {select: id=cisco-ce-1, device: "
                                             "{registration: fail, in_call: true}}\n", "f"))
        async with connect(p, CISCO) as conn:
            out = await settled(conn, "xStatus SIP Registration 1", "Registering")
            assert '*s SIP Registration 1 Reason: "403 Forbidden"\n' in out
            assert "*s Call 1 Status: Connected\n" in await run(conn, "xStatus Call")
        for _ in range(100):
            if sim.registrar.registered("poly-2@thanhhoa.gov.vn"):
                break
            await asyncio.sleep(0.05)
        assert sim.registrar.registered("poly-2@thanhhoa.gov.vn")


@pytest.mark.parametrize(("text", "message"), [
    ("- {select: '', device: {camera: unplugged}}\n",
     "camera"),
    ("- {select: '', device: {diagnostics: [{level: fatal, text: x}]}}\n", "level"),
    ("- {select: '', device: {colour: red}}\n", "colour"),
])
def test_bad_device_faults_are_one_located_line(text: str, message: str) -> None:
    from inventory import InputError

    with pytest.raises(InputError) as err:
        parse_faults(text, "faults.yaml")
    lines = err.value.lines()
    assert len(lines) == 1
    assert lines[0].startswith("faults.yaml:1:")
    assert message in lines[0]
