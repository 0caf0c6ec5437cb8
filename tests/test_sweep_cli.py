"""``vcfleet sweep`` as operators run it: a subprocess against a simulated fleet."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import parse_faults
from tests.conftest import ROOT
from tests.simulated import simulated_fleet


async def vcfleet(*args: str, interrupt: bool = False,
                  history: Path | None = None) -> tuple[int, str, str]:
    """Run ``vcfleet ARGS`` without blocking the loop that serves the simulated fleet;
    ``interrupt`` presses Ctrl-C once the sweep has started and had a second to work."""
    env = {**os.environ, "VCFLEET_HISTORY": str(history or ":memory:")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", *args, cwd=ROOT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    early = b""
    if interrupt:
        assert proc.stderr is not None
        while b"sweep of" not in (line := await asyncio.wait_for(proc.stderr.readline(), 60)):
            assert line, "the sweep never started"
            early += line
        early += line
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    err = early + err
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def run_sync(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vcfleet", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("args", "message"), [
    (["--select", "bogus=1"], "invalid selector 'bogus=1': unknown key 'bogus'"),
    (["--select", "id=no-such-room"], "selector 'id=no-such-room' matches no endpoint"),
    (["--checks", "net,foo"], "unknown check 'foo' in --checks"),
    (["--timeout", "sip"], "--timeout 'sip': expected KIND=SECONDS"),
    (["--timeout", "sip=soon"], "--timeout 'sip=soon': 'soon' is not a number of seconds"),
    (["--format", "xml"], "argument --format: invalid choice: 'xml'"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    proc = run_sync("sweep", *args)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""


async def test_all_ready_json_contract_and_exit_0(tmp_path: Path, loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix) as (_, inv):
        code, out, err = await vcfleet("sweep", "--inventory", str(inv.path), "--checks", "net",
                                       "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["summary"] == {"total": 3, "ready": 3, "degraded": 0, "down": 0}
    assert isinstance(data["duration_s"], float)
    first = data["endpoints"][0]
    assert set(first) >= {"id", "name", "tier", "district", "verdict", "reasons", "checks"}
    assert first["verdict"] == "ready"
    assert first["reasons"] == []
    assert first["name"] == "Điểm cầu 1 (cisco_ce)"
    sip = first["checks"]["sip"]
    assert sip["ok"] is True
    assert sip["rtt_ms"] >= 0
    assert first["checks"]["icmp"]["advisory"] is True
    assert 0 <= first["checks"]["icmp"]["loss_ratio"] <= 1
    assert "sweeping" not in err  # no progress bar when stderr is not a terminal


async def test_not_ready_table_csv_and_output_file(tmp_path: Path, loopback_prefix: str) -> None:
    faults = parse_faults("- select: tag=poly\n  services: {sip: down}\n", "faults.yaml")
    out_file = tmp_path / "sweep.csv"
    async with simulated_fleet(tmp_path, loopback_prefix, faults) as (_, inv):
        code, table, _ = await vcfleet("sweep", "--inventory", str(inv.path), "--checks", "net")
        code_csv, stdout, err = await vcfleet("sweep", "--inventory", str(inv.path), "--checks",
                                              "net", "--format", "csv", "-o", str(out_file))
    assert code == code_csv == 1
    assert table.startswith("Sweep of 3 rooms (icmp, sip, https) in ")  # the checks that ran
    assert ": 2 ready, 0 degraded, 1 down" in table.splitlines()[0]
    assert "By tier" in table
    assert "By district" in table
    assert "Not ready (1)" in table
    not_ready = table.split("Not ready (1)")[1]
    assert "✖ down" in not_ready
    assert "poly-2" in not_ready
    assert "sip: SIP port 5060/udp closed (ICMP port unreachable)" in not_ready
    assert stdout == ""
    assert f"{out_file}: 3 rooms, 2 ready, 0 degraded, 1 down" in err
    rows = list(csv.DictReader(io.StringIO(out_file.read_text(encoding="utf-8"))))
    # Worst first, as every format lists rooms; the sweep's order within a verdict.
    assert [r["id"] for r in rows] == ["poly-2", "cisco-ce-1", "yealink-3"]
    assert [r["verdict"] for r in rows] == ["down", "ready", "ready"]
    assert rows[0]["sip_ok"] == "false"
    assert rows[1]["sip_ok"] == "true"
    assert float(rows[1]["sip_rtt_ms"]) >= 0
    assert float(rows[1]["https_cert_expiry_days"]) > 0
    assert rows[0]["reasons"].startswith("sip: SIP port 5060/udp closed")


async def test_ctrl_c_cancels_and_prints_what_finished(tmp_path: Path,
                                                       loopback_prefix: str) -> None:
    faults = parse_faults("- select: tag=poly\n  services: {sip: hang}\n", "faults.yaml")
    async with simulated_fleet(tmp_path, loopback_prefix, faults) as (_, inv):
        code, out, err = await vcfleet("sweep", "-v", "--inventory", str(inv.path), "--checks",
                                       "sip", "--timeout", "sip=60", "--format", "json",
                                       interrupt=True)
    assert code == 130
    data = json.loads(out)
    assert data["cancelled"] is True
    verdicts = {e["id"]: e["verdict"] for e in data["endpoints"]}
    assert verdicts == {"cisco-ce-1": "ready", "poly-2": "unknown", "yealink-3": "ready"}
    assert data["endpoints"][0]["id"] == "poly-2"  # worst first, as in every format
    assert data["endpoints"][0]["reasons"] == ["not checked: sweep cancelled"]
    assert "interrupted; 2 of 3 rooms were checked" in err


async def test_progress_bar_on_a_terminal_only(tmp_path: Path, loopback_prefix: str) -> None:
    primary, secondary = os.openpty()
    try:
        async with simulated_fleet(tmp_path, loopback_prefix) as (_, inv):
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "vcfleet", "sweep", "--inventory", str(inv.path),
                "--checks", "sip", "--no-history", cwd=ROOT, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=secondary)
            out, _ = await asyncio.wait_for(proc.communicate(), 60)
        os.close(secondary)
        secondary = -1
        seen = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert proc.returncode == 0
    bar = seen.decode()
    assert "sweeping " in bar
    assert "3/3  ✔ 3  ▲ 0  ✖ 0" in bar
    assert bar.endswith("\r\x1b[K")  # erased before the report
    assert "sweeping" not in out.decode()


async def test_html_and_markdown_reports_and_the_history(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    from vcfleet.history import History

    faults = parse_faults("- select: tag=poly\n  services: {sip: down}\n", "faults.yaml")
    db = tmp_path / "history.sqlite3"
    page = tmp_path / "report.html"
    async with simulated_fleet(tmp_path, loopback_prefix, faults) as (_, inv):
        code_md, md, _ = await vcfleet("sweep", "--inventory", str(inv.path), "--checks", "sip",
                                       "--format", "md", history=db)
        code_html, _, _ = await vcfleet("sweep", "--inventory", str(inv.path), "--checks", "sip",
                                        "--format", "html", "-o", str(page), history=db)
    assert code_md == code_html == 1
    assert md.startswith("# ")
    assert "poly-2" in md.split("## Not ready")[1]
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    with History(db) as history:
        assert [s.down for s in history.sweeps()] == [1, 1]
        assert history.failure_counts() == {"poly-2": 2}
