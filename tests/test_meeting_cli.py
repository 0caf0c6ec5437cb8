"""``vcfleet meeting list|check|report`` end to end, against the simulator on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import zlib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from simulator.faults import parse_faults
from tests.conftest import require_tool
from tests.simulated import simulated_fleet

VENDORS = ("cisco_ce", "poly", "yealink", "poly")
"""cisco-ce-1, poly-2, yealink-3, poly-4; the meeting takes tag=poly plus cisco-ce-1."""


def write_meetings(folder: Path, start: datetime, meeting_id: str = "hop-thu") -> Path:
    """A meetings file with one meeting of three of the four simulated rooms."""
    path = folder / "meetings.yaml"
    path.write_text(f"""\
meetings:
  - id: {meeting_id}
    title: "Họp thử <b>&amp;</b>"
    start: {start.isoformat(timespec="seconds")}
    duration: 2h
    rooms: tag=poly
    extra_rooms: [cisco-ce-1]
    checks: sip
    checks_before: [100s]
    organiser: {{name: "Chánh VP", phone: "0237 3852 000"}}
""", encoding="utf-8")
    return path


async def vcfleet(*argv: str, env: dict[str, str]) -> tuple[int, str, str]:
    """Run ``python -m vcfleet`` without blocking the simulator's event loop."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "vcfleet", *argv, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def cli_env(tmp_path: Path, inventory: Path, meetings: Path) -> dict[str, str]:
    """The environment of a command: this fleet, these meetings, a history of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFLEET_")}
    env.update(VCFLEET_INVENTORY=str(inventory), VCFLEET_MEETINGS=str(meetings),
               VCFLEET_HISTORY=str(tmp_path / "history.sqlite3"), PYTHONIOENCODING="utf-8")
    return env


async def test_check_sweeps_exactly_the_meetings_rooms_and_reports_changes(
        tmp_path: Path, loopback_prefix: str) -> None:
    start = datetime.now(timezone(timedelta(hours=7))).replace(microsecond=0) + timedelta(hours=1)
    meetings = write_meetings(tmp_path, start)
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=VENDORS) as (sim, inv):
        assert inv.path is not None
        env = cli_env(tmp_path, inv.path, meetings)
        code, out, err = await vcfleet("meeting", "check", "hop-thu", "--format", "json",
                                       env=env)
        assert (code, err) == (0, "")
        first = json.loads(out)
        assert sorted(e["id"] for e in first["endpoints"]) == ["cisco-ce-1", "poly-2", "poly-4"]
        assert first["meeting"] == {
            "id": "hop-thu", "title": "Họp thử <b>&amp;</b>",
            "start": start.isoformat(timespec="seconds"),
            "end": (start + timedelta(hours=2)).isoformat(timespec="seconds"),
            "organiser": {"name": "Chánh VP", "phone": "0237 3852 000"}}
        assert first["changes"]["since"] is None
        assert first["checks"] == ["sip"]

        await sim.reload_faults(parse_faults("- {select: id=poly-4, down: true}\n", "f"))
        code, out, err = await vcfleet("meeting", "check", "hop-thu", "--format", "json",
                                       env=env)
        assert code == 1
        second = json.loads(out)
        down = second["changes"]["newly_down"]
        assert [(c["id"], c["was"], c["now"]) for c in down] == [("poly-4", "ready", "down")]
        assert down[0]["at"].endswith("+07:00")
        assert second["changes"]["since"].endswith("+07:00")
        assert second["changes"]["recovered"] == second["changes"]["newly_degraded"] == []

        code, out, _ = await vcfleet("meeting", "check", "hop-thu", env=env)
        assert code == 1
        assert "No change since the previous check" in out
        assert "Meeting hop-thu: Họp thử" in out

        code, out, _ = await vcfleet("meeting", "list", env=env)
        assert code == 0
        assert "hop-thu" in out
        assert "3  " in out

        html_path, xlsx_path = tmp_path / "page.html", tmp_path / "page.xlsx"
        for path in (html_path, xlsx_path):
            code, _, err = await vcfleet("meeting", "report", "hop-thu", "-o", str(path),
                                         env=env)
            assert (code, err.strip()) == (0, f"{path}: the organiser's page of meeting hop-thu")
    page = html_path.read_text(encoding="utf-8")
    assert "Họp thử &lt;b&gt;&amp;amp;&lt;/b&gt;" in page  # escaped, never markup
    assert "<b>" not in page
    assert "poly-4" in page
    assert "0237 3852 000" in page
    check_xlsx(xlsx_path)
    screenshot(html_path, tmp_path)
    if os.environ.get("KEEP_PAGE"):
        import shutil
        shutil.copy(tmp_path / "page.png", os.environ["KEEP_PAGE"])


def check_xlsx(path: Path) -> None:
    """The workbook opens in openpyxl with one row per room."""
    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(path.read_bytes()))
    rows: list[tuple[Any, ...]] = list(wb["Rooms"].iter_rows(values_only=True))
    assert rows[0][:5] == ("id", "name", "tier", "district", "verdict")
    assert sorted(r[0] for r in rows[1:]) == ["cisco-ce-1", "poly-2", "poly-4"]
    verdicts = {r[0]: r[4] for r in rows[1:]}
    assert verdicts["poly-4"] == "down"


def screenshot(page: Path, tmp_path: Path) -> None:
    """The page opens in a real browser: a headless Chromium screenshot, not blank."""
    chromium = require_tool("chromium")
    out = tmp_path / "page.png"
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path / 'chr'}",
                    f"--screenshot={out}", "--window-size=1200,1600", page.as_uri()],
                   capture_output=True, timeout=60, check=False)
    width, height, pixels = read_png(out.read_bytes())
    assert (width, height) == (1200, 1600)
    assert len(set(pixels)) > 32, "the screenshot is blank"


def read_png(data: bytes) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (filtered) pixel bytes of a PNG file."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat = 8, b""
    width = height = 0
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = int.from_bytes(body[:4], "big"), int.from_bytes(body[4:8], "big")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    return width, height, zlib.decompress(idat)


def test_a_past_meeting_is_refused(tmp_path: Path) -> None:
    from vcfleet.cli import main

    meetings = write_meetings(tmp_path, datetime(2020, 1, 1, 14, tzinfo=UTC))
    assert main(["meeting", "check", "hop-thu", "--meetings", str(meetings)]) == 2
