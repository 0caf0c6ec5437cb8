"""SIP status classes end to end: the simulator answers OPTIONS with a chosen status
(``services: {sip: {status: N}}``), the probe classes the answer, judge() gives the
verdict, and every output format of ``vcfleet sweep`` shows the code and reason.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from pathlib import Path

import pytest

from inventory import InputError
from probes.base import Target
from probes.sip import Settings, probe
from simulator import parse_faults
from tests.simulated import simulated_fleet

FAST = Settings(t1_s=0.1, timeout_s=2.0)

STATUSES = [
    # code, reason phrase, ok, degraded reason
    (200, "OK", True, ""),
    (401, "Unauthorized", True, ""),
    (403, "Forbidden", True, "SIP 403 Forbidden"),
    (404, "Not Found", True, "SIP 404 Not Found"),
    (503, "Service Unavailable", False, ""),
    (603, "Decline", False, ""),
]


def _status_faults(code: int) -> str:
    return f"- {{select: id=cisco-ce-1, services: {{sip: {{status: {code}}}}}}}\n"


async def test_probe_classes_each_status_the_simulator_answers(tmp_path: Path,
                                                               loopback_prefix: str) -> None:
    """One fleet, its faults reloaded live for each status; UDP and TCP alike."""
    host = f"{loopback_prefix}.1"
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (sim, _):
        for code, reason, ok, degraded in STATUSES:
            await sim.reload_faults(parse_faults(_status_faults(code), "faults.yaml"))
            for transport in ("udp", "tcp"):
                result = await probe(Target(host, 5060, transport=transport), FAST)
                seen = (code, transport, result)
                assert result.ok is ok, seen
                assert result.degraded == degraded, seen
                assert result.info["status"] == code, seen
                assert result.info["reason"] == reason, seen
                assert result.info["transport"] == transport, seen
                assert result.info.get("auth_required", False) is (code == 401), seen
                assert result.notes == ((f"SIP {code} {reason}: alive, demands authentication",)
                                        if code == 401 else ()), seen
                if not ok:
                    assert result.reason == f"SIP {code} {reason}: the SIP stack refuses calls"
                assert "rtt_ms" in result.figures


async def test_a_provisional_status_gets_no_final_answer(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    faults = parse_faults(_status_faults(180), "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults, vendors=("cisco_ce",)):
        result = await probe(Target(f"{loopback_prefix}.1", 5060), Settings(t1_s=0.1,
                                                                            timeout_s=0.5))
    assert not result.ok
    assert result.reason == "only a provisional 180 to OPTIONS on 5060/udp in 0.5 s"


def test_status_faults_merge_and_round_trip() -> None:
    faults = parse_faults("- {select: '', services: {sip: down}}\n"
                          "- {select: id=a, services: {sip: {status: 404, reason: Nobody}}}\n"
                          "- {select: id=b, services: {sip: {status: 486}}}\n", "faults.yaml")
    assert faults.to_json()[1]["services"] == {"sip": {"status": 404, "reason": "Nobody"}}
    again = type(faults).from_json(faults.to_json())
    assert again.rules == faults.rules
    assert faults.to_json()[0]["services"] == {"sip": "down"}


@pytest.mark.parametrize(("text", "message"), [
    ("{sip: {status: 99}}", "2:28: fault 1: services.sip.status: a SIP status is 100-699, "
                            "got 99"),
    ("{sip: {status: 700}}", "2:28: fault 1: services.sip.status: a SIP status is 100-699, "
                             "got 700"),
    ("{sip: {status: '403'}}", "2:28: fault 1: services.sip.status: expected an integer, "
                               "got '403'"),
    ("{sip: {reason: Nope}}", "2:19: fault 1: services.sip: {'reason': 'Nope'} is not "
                              "allowed; expected 'down', 'hang' or {status: N} (a SIP status "
                              "100-699)"),
    ("{sip: 403}", "2:19: fault 1: services.sip: 403 is not allowed; expected 'down', 'hang' "
                   "or {status: N} (a SIP status 100-699)"),
    ("{ssh: {status: 403}}", "2:19: fault 1: services.ssh: {'status': 403} is not allowed; "
                             "expected 'down' or 'hang'"),
])
def test_bad_status_faults_are_located(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        parse_faults(f"- select: id=a\n  services: {text}\n", "faults.yaml")
    assert err.value.lines() == [f"faults.yaml:{message}"]


def test_simulated_answers_use_rfc_3261_phrases() -> None:
    from simulator.faults import reason_phrase

    assert reason_phrase(403) == "Forbidden"
    assert reason_phrase(407) == "Proxy Authentication Required"
    assert reason_phrase(499) == "Client Error"


# -- the sweep, in every format ---------------------------------------------------------

SWEEP_FAULTS = """
- select: id=cisco-ce-2
  services: {sip: {status: 403}}
- select: id=cisco-ce-3
  services: {sip: {status: 404}}
- select: id=cisco-ce-4
  services: {sip: {status: 401}}
"""
DEGRADED = {"cisco-ce-2": "sip: SIP 403 Forbidden", "cisco-ce-3": "sip: SIP 404 Not Found"}
AUTH_NOTE = "sip: SIP 401 Unauthorized: alive, demands authentication"


async def _sweep(inventory: Path, fmt: str, home: Path) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFLEET_")}
    env.update({"HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CACHE_HOME": str(home / "cache"),
                "XDG_CONFIG_HOME": str(home / "config")})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", "sweep", "--inventory", str(inventory),
        "--checks", "sip", "--timeout", "sip=2", "--no-history", "--no-progress",
        "--format", fmt, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_403_and_404_rooms_are_degraded_with_their_codes_in_every_format(
        tmp_path: Path, loopback_prefix: str) -> None:
    faults = parse_faults(SWEEP_FAULTS, "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults,
                               vendors=("cisco_ce",) * 4) as (_, inv):
        assert inv.path is not None
        runs = {fmt: await _sweep(Path(inv.path), fmt, tmp_path / "home")
                for fmt in ("json", "csv", "table", "md", "html")}
    for fmt, (code, _, err) in runs.items():
        assert code == 1, (fmt, err)
    rooms = {e["id"]: e for e in json.loads(runs["json"][1])["endpoints"]}
    for room, reason in DEGRADED.items():
        assert rooms[room]["verdict"] == "degraded"
        assert rooms[room]["reasons"] == [reason]
        assert rooms[room]["checks"]["sip"]["degraded"] == reason.removeprefix("sip: ")
    assert rooms["cisco-ce-4"]["verdict"] == "ready"  # 401: alive, demands authentication
    assert rooms["cisco-ce-4"]["checks"]["sip"]["info"]["auth_required"] is True
    assert rooms["cisco-ce-4"]["notes"] == [AUTH_NOTE]
    assert rooms["cisco-ce-4"]["checks"]["sip"]["notes"] == [AUTH_NOTE.removeprefix("sip: ")]
    assert rooms["cisco-ce-1"]["verdict"] == "ready"
    assert "notes" not in rooms["cisco-ce-1"]
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(runs["csv"][1]))}
    for room, reason in DEGRADED.items():
        assert (rows[room]["verdict"], rows[room]["reasons"]) == ("degraded", reason)
    assert (rows["cisco-ce-4"]["verdict"], rows["cisco-ce-4"]["notes"]) == ("ready", AUTH_NOTE)
    assert rows["cisco-ce-1"]["notes"] == ""
    for fmt in ("table", "md", "html"):
        text = runs[fmt][1]
        for reason in DEGRADED.values():
            assert reason.removeprefix("sip: ") in text, (fmt, text)
        # A ready room's note is shown too (every format has a Notes section).
        assert AUTH_NOTE in text, (fmt, text)


async def test_status_faults_reach_worker_processes(tmp_path: Path,
                                                    loopback_prefix: str) -> None:
    """Faults cross to workers as ``Faults.to_json()``: a status must survive the trip,
    at start and on reload."""
    host = f"{loopback_prefix}.1"
    faults = parse_faults(_status_faults(404), "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults, vendors=("cisco_ce",),
                               workers=1) as (sim, _):
        result = await probe(Target(host, 5060), FAST)
        assert (result.ok, result.degraded) == (True, "SIP 404 Not Found")
        await sim.reload_faults(parse_faults(
            "- {select: id=cisco-ce-1, services: {sip: {status: 403, reason: Go away}}}\n",
            "faults.yaml"))
        result = await probe(Target(host, 5060, transport="tcp"), FAST)
        assert (result.ok, result.degraded) == (True, "SIP 403 Go away")
