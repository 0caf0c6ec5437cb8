"""The SQLite history store: recording, reading back, retention, speed."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from inventory import Inventory, load_inventory
from tests.test_render import T0, sample_report
from vcfleet.history import History, default_history_path
from vcfleet.report import EndpointReport, SweepReport, Verdict


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return load_inventory()


def test_default_path_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VCFLEET_HISTORY", str(tmp_path / "x.sqlite3"))
    assert default_history_path() == tmp_path / "x.sqlite3"
    with History() as h:
        assert h.path == tmp_path / "x.sqlite3"
    monkeypatch.delenv("VCFLEET_HISTORY")
    assert default_history_path().parts[-2:] == ("vcfleet", "history.sqlite3")


def test_wal_mode_and_parent_created(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "h.sqlite3"
    History(path).close()
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_endpoint_history_newest_first(demo: Inventory, tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as h:
        for k in range(4):
            h.record(sample_report(demo, T0 + k * 60))
        past = h.endpoint_history("ubnd-tinh", limit=3)
        assert [e.at for e in past] == [T0 + 185, T0 + 125, T0 + 65]
        assert past[0].verdict is Verdict.READY
        assert past[0].source == "test"
        assert set(past[0].figures) >= {"sip_rtt_ms", "media_rtt_ms", "mos"}
        down_id = demo.endpoints[3].id
        down = h.endpoint_history(down_id)
        assert len(down) == 4
        assert down[0].verdict is Verdict.DOWN
        assert down[0].reasons == ("sip: no answer to OPTIONS within 2 s",)
        assert h.endpoint_history("no-such-room") == []


def test_flaky_rooms_worst_first(demo: Inventory, tmp_path: Path) -> None:
    e_good, e_flaky, e_dead = demo.endpoints[0], demo.endpoints[1], demo.endpoints[2]
    with History(tmp_path / "h.sqlite3") as h:
        for k in range(6):
            flaky = Verdict.DOWN if k % 2 else Verdict.READY
            rows = (EndpointReport(e_good, Verdict.READY, (), {}, T0 + k),
                    EndpointReport(e_flaky, flaky, ("sip: x",) if k % 2 else (), {}, T0 + k),
                    EndpointReport(e_dead, Verdict.DOWN, ("sip: x",), {}, T0 + k))
            h.record(SweepReport(rows, T0 + k, 1.0))
        worst = h.flaky(limit=5, since=T0 - 1)
        assert [f.endpoint_id for f in worst] == [e_dead.id, e_flaky.id]
        assert worst[1].failures == 3
        assert worst[1].sweeps == 6
        assert worst[1].failure_ratio == pytest.approx(0.5)
        assert worst[1].last_failure == T0 + 5
        assert h.flaky(since=T0 + 100) == []
        assert h.flaky(limit=1, since=T0 - 1) == worst[:1]
        assert h.flaky(limit=None, since=T0 - 1) == worst
        assert h.failure_counts(since=T0 - 1) == {e_flaky.id: 3, e_dead.id: 6}


def test_unknown_results_are_not_recorded(demo: Inventory, tmp_path: Path) -> None:
    rows = (EndpointReport(demo.endpoints[0], Verdict.UNKNOWN, ("not checked",)),)
    with History(tmp_path / "h.sqlite3") as h:
        h.record(SweepReport(rows, T0, 1.0, cancelled=True))
        assert h.endpoint_history(demo.endpoints[0].id) == []
        [summary] = h.sweeps()
        assert summary.cancelled
        assert summary.total == 1


def test_retention_by_count_and_age(demo: Inventory, tmp_path: Path) -> None:
    small = 5
    with History(tmp_path / "h.sqlite3", keep_sweeps=3, keep_days=1) as h:
        for k in range(5):
            h.record(sample_report(demo, T0 + k * 60, count=small))
        assert [s.started_at for s in h.sweeps()] == [T0 + 240, T0 + 180, T0 + 120]
        assert len(h.endpoint_history("ubnd-tinh", limit=100)) == 3
        h.record(sample_report(demo, T0 + 2 * 86400, count=small))
        assert len(h.sweeps()) == 1
        assert len(h.endpoint_history("ubnd-tinh", limit=100)) == 1


def test_record_full_fleet_is_fast(demo: Inventory, tmp_path: Path) -> None:
    report = sample_report(demo)
    with History(tmp_path / "h.sqlite3") as h:
        h.record(report)  # warm-up: schema pages
        t0 = time.perf_counter()
        for k in range(5):
            h.record(sample_report(demo, T0 + k))
        per_sweep = (time.perf_counter() - t0) / 5
    assert per_sweep < 0.5, f"recording 348 endpoints took {per_sweep:.3f} s"


def test_shared_between_threads(demo: Inventory, tmp_path: Path) -> None:
    errors: list[BaseException] = []
    with History(tmp_path / "h.sqlite3") as h:
        def writer(k: int) -> None:
            try:
                h.record(sample_report(demo, T0 + k, count=20))
                h.endpoint_history("ubnd-tinh")
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=10)
        assert not errors
        assert len(h.sweeps()) == 4


def test_two_connections_see_each_other(demo: Inventory, tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    with History(path) as writer, History(path) as reader:
        writer.record(sample_report(demo, count=3))
        assert len(reader.endpoint_history("ubnd-tinh")) == 1
