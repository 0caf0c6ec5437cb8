"""``vcfleet serve --meetings``: scheduled checks at each offset before a meeting, the
meetings' metrics (promtool-clean), reload with the inventory."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_tool
from tests.simulated import simulated_fleet
from tests.test_meeting_cli import VENDORS, write_meetings
from vcfleet.exporter import Exporter, ExporterConfig
from vcfleet.history import History
from vcfleet.sweep import SweepOptions

TZ = timezone(timedelta(hours=7))
TIMEOUT = aiohttp.ClientTimeout(total=10)


def meeting_samples(text: str, name: str) -> dict[tuple[str, ...], float]:
    """A meetings metric's samples keyed by their label values."""
    return {tuple(s.labels.values()): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == name}


async def scrape(port: int, path: str = "/metrics", method: str = "GET") -> str:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, \
            session.request(method, f"http://127.0.0.1:{port}{path}") as resp:
        return await resp.text()


async def test_a_check_of_exactly_the_meetings_rooms_runs_at_the_offset(
        tmp_path: Path, loopback_prefix: str) -> None:
    promtool = require_tool("promtool")
    skew = 18.0  # the scheduler's clock runs 18 s ahead: the check is due in about 2 s

    def clock() -> float:
        return time.time() + skew

    async with simulated_fleet(tmp_path, loopback_prefix, vendors=VENDORS) as (_, inv):
        assert inv.path is not None
        start = datetime.fromtimestamp(time.time() + 120, TZ).replace(microsecond=0)
        meetings = write_meetings(tmp_path, start)  # checks_before: [100s]: due in 20 s
        history = History(tmp_path / "history.sqlite3")
        ex = Exporter(ExporterConfig(inventory_path=inv.path, port=0, interval_s=0,
                                     options=SweepOptions(source="serve", media_workers=0),
                                     process_metrics=False, meetings_path=meetings),
                      history=history, clock=clock)
        await ex.start()
        try:
            assert ex.meetings is not None
            text = await scrape(ex.port)
            assert meeting_samples(text, "vcfleet_meeting_start_timestamp_seconds") == {
                ("hop-thu",): start.timestamp()}
            assert meeting_samples(text, "vcfleet_meeting_rooms") == {}
            async with asyncio.timeout(20):
                while ex.meetings.checks_run < 1:
                    await asyncio.sleep(0.05)
            checked_at = ex.meetings.status["hop-thu"].checked_at
            assert start.timestamp() - 100 <= checked_at < start.timestamp() - 98
            report = ex.meetings.status["hop-thu"].report
            assert sorted(r.endpoint.id for r in report.endpoints) == [
                "cisco-ce-1", "poly-2", "poly-4"]
            text = await scrape(ex.port)
            assert meeting_samples(text, "vcfleet_meeting_rooms") == {
                ("hop-thu", "ready"): 3.0, ("hop-thu", "degraded"): 0.0,
                ("hop-thu", "down"): 0.0, ("hop-thu", "unknown"): 0.0}
            assert meeting_samples(text, "vcfleet_meeting_last_check_timestamp_seconds") == {
                ("hop-thu",): checked_at}
            proc = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"],
                                           input=text, capture_output=True, text=True,
                                           timeout=30)
            assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc
            # reloaded with the inventory: a second meeting appears, no check is repeated
            later = start + timedelta(days=1)
            (tmp_path / "b").mkdir()
            second = write_meetings(tmp_path / "b", later, "hop-hai").read_text("utf-8")
            meetings.write_text(meetings.read_text("utf-8") + second.split("\n", 1)[1],
                                encoding="utf-8")
            assert "inventory reloaded" in await scrape(ex.port, "/-/reload", "POST")
            text = await scrape(ex.port)
            assert set(meeting_samples(text, "vcfleet_meeting_start_timestamp_seconds")) == {
                ("hop-thu",), ("hop-hai",)}
            assert ex.meetings.next_check() is not None
            assert ex.meetings.next_check()[1].id == "hop-hai"  # type: ignore[index]
            # a bad meetings file keeps the previous meetings, and says where it is wrong
            good = meetings.read_text("utf-8")
            meetings.write_text(good.replace("duration: 2h", "duration: 2 hours", 1),
                                encoding="utf-8")
            answer = await scrape(ex.port, "/-/reload", "POST")
            assert f"{meetings}:5:15: meeting 'hop-thu': duration: expected a duration" in answer
            assert len(ex.meetings.upcoming()) == 2
        finally:
            await ex.stop()
            checks = history.meeting_checks("hop-thu", limit=5)
            history.close()
    assert len(checks) == 1
    assert set(checks[0].results) == {"cisco-ce-1", "poly-2", "poly-4"}


async def test_serve_command_runs_the_meeting_check_at_its_offset(
        tmp_path: Path, loopback_prefix: str) -> None:
    """The real command: a meeting 106 s away with checks_before [100s] is checked in 6 s."""
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=VENDORS) as (_, inv):
        assert inv.path is not None
        start = datetime.fromtimestamp(time.time() + 106, TZ).replace(microsecond=0)
        meetings = write_meetings(tmp_path, start)
        env = {k: v for k, v in os.environ.items() if not k.startswith("VCFLEET_")}
        env["VCFLEET_HISTORY"] = str(tmp_path / "history.sqlite3")
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vcfleet", "serve", "--inventory", str(inv.path),
            "--meetings", str(meetings), "--listen", "127.0.0.1:0", "--interval", "0",
            "--media-workers", "0", env=env, stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL)
        try:
            assert proc.stderr is not None
            line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
            assert "1 upcoming meeting, next check hop-thu at" in line, line
            found = re.search(r":(\d+)/metrics", line)
            assert found, line
            port = int(found.group(1))
            async with asyncio.timeout(25):
                while True:
                    text = await scrape(port)
                    rooms = meeting_samples(text, "vcfleet_meeting_rooms")
                    if rooms:
                        break
                    await asyncio.sleep(0.2)
            assert rooms[("hop-thu", "ready")] == 3.0
            assert time.time() >= start.timestamp() - 100
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.wait(), 30)
