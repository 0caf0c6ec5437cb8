"""Meetings: the file's model and loader, changes between checks, the history's meeting
column and its migration."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from inventory import InputError, load_inventory
from vcfleet.checks import CHECKS, GROUPS
from vcfleet.history import History
from vcfleet.meetings import parse_meetings
from vcfleet.meetings.changes import changes_between, check_of
from vcfleet.meetings.check import refuse_past
from vcfleet.report import EndpointReport, SweepReport, Verdict

GOOD = """\
meetings:
  - id: hoi-nghi-tinh-2026-12-01
    title: "Hội nghị trực tuyến UBND tỉnh tháng 12"
    start: 2026-12-01T14:00:00+07:00
    duration: 2h
    rooms: "tier=district,province"
    extra_rooms: [ha-son, nga-an, yen-tho]
    checks: net,webrtc
    checks_before: [60m, 15m, 100s]
    organiser: {name: "Chánh Văn phòng", phone: "0237 3852 000"}
  - id: giao-ban
    title: Giao ban
    start: "2026-12-03T08:00:00+07:00"
    rooms: tier=department
"""


def test_good_file_loads_with_defaults() -> None:
    meetings = parse_meetings(GOOD, "m.yaml")
    m = meetings.get("hoi-nghi-tinh-2026-12-01")
    assert m.start == datetime(2026, 12, 1, 7, 0, tzinfo=UTC)
    assert m.duration == timedelta(hours=2)
    assert m.checks_before == [timedelta(minutes=60), timedelta(minutes=15),
                               timedelta(seconds=100)]
    assert m.check_times()[0] == m.start - timedelta(minutes=60)
    other = meetings.get("giao-ban")
    assert other.checks_before == [timedelta(minutes=60), timedelta(minutes=15)]
    assert other.duration == timedelta(hours=2)


def test_rooms_are_the_selector_plus_the_extra_rooms(demo_inventory_path: Path) -> None:
    inv = load_inventory(demo_inventory_path)
    meetings = parse_meetings(GOOD, "m.yaml")
    rooms = meetings.rooms(meetings.get("hoi-nghi-tinh-2026-12-01"), inv)
    ids = [e.id for e in rooms]
    tiers = {e.tier for e in rooms if e.id not in ("ha-son", "nga-an", "yen-tho")}
    assert tiers == {"district", "province"}
    assert {"ha-son", "nga-an", "yen-tho"} <= set(ids)
    assert len(ids) == len(set(ids)) == len(inv.select("tier=district,province")) + 3


def test_an_extra_room_not_in_the_inventory_is_located(demo_inventory_path: Path) -> None:
    inv = load_inventory(demo_inventory_path)
    meetings = parse_meetings(GOOD.replace("nga-an,", "nga-xyz,"), "m.yaml")
    with pytest.raises(InputError) as exc:
        meetings.rooms(meetings.get("hoi-nghi-tinh-2026-12-01"), inv)
    assert exc.value.lines() == [f"m.yaml:7:27: meeting 'hoi-nghi-tinh-2026-12-01': extra room "
                                 f"'nga-xyz' is not in the inventory {demo_inventory_path}"]


@pytest.mark.parametrize(("change", "line"), [
    (("2h", "2 hours"), "m.yaml:5:15: meeting 'hoi-nghi-tinh-2026-12-01': duration: expected "
                        "a duration such as 2h, 15m or 100s, got '2 hours'"),
    (("+07:00\n", "\n"), "m.yaml:4:12: meeting 'hoi-nghi-tinh-2026-12-01': start: needs a UTC "
                         "offset, e.g. 2026-12-01T14:00:00+07:00"),
    (("15m, 100s", "15m, 0s"), "m.yaml:9:31: meeting 'hoi-nghi-tinh-2026-12-01': "
                               "checks_before[2]: must be longer than 0 s"),
    (("net,webrtc", "net,video"), "m.yaml:8:13: meeting 'hoi-nghi-tinh-2026-12-01': checks: "
                                  "unknown check 'video' (choose from "
                                  + ", ".join([*GROUPS, *CHECKS]) + ")"),
    (("phone:", "mobile:"), "m.yaml:10:42: meeting 'hoi-nghi-tinh-2026-12-01': unknown key "
                            "'organiser.mobile' (allowed: name, phone)"),
    (("id: giao-ban", "id: hoi-nghi-tinh-2026-12-01"),
     "m.yaml:11:9: meeting 'hoi-nghi-tinh-2026-12-01' is defined twice (first at line 2)"),
])
def test_bad_files_give_one_located_line(change: tuple[str, str], line: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_meetings(GOOD.replace(*change, 1), "m.yaml")
    assert exc.value.lines() == [line]


def _report(verdicts: dict[str, Verdict], at: float, inv_path: Path) -> SweepReport:
    inv = load_inventory(inv_path)
    rows = tuple(EndpointReport(inv.get(eid), v, (f"sip: {v.value}",) if v is not Verdict.READY
                                else (), {}, at) for eid, v in verdicts.items())
    return SweepReport(rows, started_at=at - 1, duration_s=1.0, source="meeting")


def test_changes_from_the_previous_check_of_the_same_meeting(
        tmp_path: Path, demo_inventory_path: Path) -> None:
    first = {"ha-son": Verdict.READY, "nga-an": Verdict.READY, "yen-tho": Verdict.DOWN}
    second = {"ha-son": Verdict.READY, "nga-an": Verdict.DOWN, "yen-tho": Verdict.READY}
    with History(tmp_path / "h.sqlite3") as history:
        history.record(_report(first, 1000.0, demo_inventory_path), meeting="m1")
        history.record(_report({"nga-an": Verdict.READY}, 1500.0, demo_inventory_path),
                       meeting="other")
        history.record(_report(first, 1700.0, demo_inventory_path))  # a fleet sweep
        history.record(_report(second, 2000.0, demo_inventory_path), meeting="m1")
        now, before = history.meeting_checks("m1")
    assert (before.finished_at, now.finished_at) == (1000.0, 2000.0)
    changes = changes_between(before, now)
    assert changes.since == 1000.0
    assert [(c.endpoint_id, c.kind, c.at) for c in changes.changes] == [
        ("nga-an", "newly_down", 2000.0), ("yen-tho", "recovered", 2000.0)]
    assert changes_between(None, now).changes == ()
    same = changes_between(check_of(_report(second, 3000.0, demo_inventory_path)), now)
    assert same.changes == ()


def test_history_files_without_the_meeting_column_are_migrated(tmp_path: Path,
                                                               demo_inventory_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with History(path) as history:
        history.record(_report({"ha-son": Verdict.READY}, 1000.0, demo_inventory_path))
    db = sqlite3.connect(path)  # make it look like a file of the previous schema
    db.execute("DROP INDEX sweeps_meeting")
    db.execute("ALTER TABLE sweeps DROP COLUMN meeting")
    db.execute("PRAGMA user_version = 0")
    db.commit()
    db.close()
    with History(path) as history:
        assert len(history.sweeps()) == 1
        history.record(_report({"ha-son": Verdict.DOWN}, 2000.0, demo_inventory_path),
                       meeting="m1")
        assert [c.results["ha-son"].verdict for c in history.meeting_checks("m1")] == [
            Verdict.DOWN]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == 2
    db.close()


def test_past_meetings_are_never_swept() -> None:
    m = parse_meetings(GOOD, "m.yaml").get("hoi-nghi-tinh-2026-12-01")
    refuse_past(m, m.start + timedelta(minutes=119))
    with pytest.raises(InputError) as exc:
        refuse_past(m, m.end)
    assert exc.value.lines() == ["meeting 'hoi-nghi-tinh-2026-12-01' ended at 2026-12-01 16:00 "
                                 "+07:00: past meetings are kept for the history and never swept"]


def test_the_documented_example_loads_against_the_demo_fleet(demo_inventory_path: Path) -> None:
    from tests.conftest import ROOT
    from vcfleet.meetings import load_meetings

    inv = load_inventory(demo_inventory_path)
    meetings = load_meetings(ROOT / "docs" / "examples" / "meetings.yaml")
    assert [len(meetings.rooms(m, inv)) > 0 for m in meetings] == [True, True]
