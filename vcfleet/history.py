"""The history store: every sweep's verdicts, recorded in one SQLite file.

Every consumer of a ``SweepReport`` that wants it remembered (``vcfleet sweep``,
the console, ``vcfleet serve``) calls ``History().record(report)``.  The console's
details screen reads ``endpoint_history``; the readiness report and the console
read ``failure_counts`` and ``flaky`` (rooms that fail often).

Where: ``History(path)``, else ``$VCFLEET_HISTORY``, else
``platformdirs.user_data_path("vcfleet") / "history.sqlite3"``
(``~/.local/share/vcfleet/history.sqlite3`` on Linux).  ``vcfleet demo`` never
uses this store: it keeps its own in ``vcfleet.commands.demo.demo_dir()``.

Retention is bounded: after each ``record`` the store drops sweeps older than
``keep_days`` (default 30) and all but the newest ``keep_sweeps`` (default 1000);
whichever bound is reached first wins.  One sweep of 348 rooms takes about
80 kB, so the file stays under about 80 MB.

The file is in WAL mode and every call is one short transaction, so readers
(the console) never block a writer (the exporter) for long.  One ``History`` may
be shared between threads; each call holds its lock for the call only.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vcfleet.figures import key_figures
from vcfleet.report import SweepReport, Verdict

DEFAULT_KEEP_DAYS = 30.0
DEFAULT_KEEP_SWEEPS = 1000
FILE_NAME = "history.sqlite3"
FAILING = (Verdict.DOWN.value, Verdict.DEGRADED.value)

SCHEMA = """
CREATE TABLE IF NOT EXISTS sweeps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    duration_s REAL NOT NULL,
    source TEXT NOT NULL,
    selector TEXT NOT NULL,
    checks TEXT NOT NULL,
    cancelled INTEGER NOT NULL,
    total INTEGER NOT NULL,
    ready INTEGER NOT NULL,
    degraded INTEGER NOT NULL,
    down INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS sweeps_started ON sweeps (started_at);
CREATE TABLE IF NOT EXISTS results (
    sweep_id INTEGER NOT NULL,
    endpoint_id TEXT NOT NULL,
    verdict TEXT NOT NULL,
    reasons TEXT NOT NULL,
    figures TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (sweep_id, endpoint_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS results_endpoint ON results (endpoint_id, at);
"""

SCHEMA_VERSION = 2
"""``PRAGMA user_version`` of the current schema.  2: ``sweeps.meeting`` (the meeting a
check was for, '' for other sweeps); files of version 0 or 1 gain it when opened."""


def default_history_path() -> Path:
    """``$VCFLEET_HISTORY`` if set, else ``history.sqlite3`` in the user's data folder."""
    env = os.environ.get("VCFLEET_HISTORY")
    if env:
        return Path(env)
    import platformdirs

    return platformdirs.user_data_path("vcfleet") / FILE_NAME


@dataclass(frozen=True)
class HistoryEntry:
    """One endpoint's result in one recorded sweep."""

    at: float
    """Wall-clock time (epoch seconds) of the endpoint's result."""
    verdict: Verdict
    reasons: tuple[str, ...]
    figures: dict[str, float]
    """Key figures by ``vcfleet.figures.KEY_FIGURES`` key (``sip_rtt_ms``, ``mos``, ...)."""
    source: str
    """Who ran the sweep: "sweep", "tui", "serve", ..."""


@dataclass(frozen=True)
class FlakyEndpoint:
    """A room that failed (down or degraded) in some of the sweeps that checked it."""

    endpoint_id: str
    sweeps: int
    """Sweeps that checked the room in the window."""
    down: int
    degraded: int
    last_failure: float
    """When it last failed (epoch seconds)."""

    @property
    def failures(self) -> int:
        """Down plus degraded results."""
        return self.down + self.degraded

    @property
    def failure_ratio(self) -> float:
        """Share of the room's sweeps that failed."""
        return self.failures / self.sweeps if self.sweeps else 0.0


@dataclass(frozen=True)
class SweepSummary:
    """One recorded sweep, without its results."""

    id: int
    started_at: float
    duration_s: float
    source: str
    selector: str
    total: int
    ready: int
    degraded: int
    down: int
    cancelled: bool


@dataclass(frozen=True)
class MeetingCheck:
    """One recorded check of a meeting: when it ran and each room's result (rooms that
    could not be checked are absent)."""

    sweep_id: int
    started_at: float
    duration_s: float
    results: dict[str, HistoryEntry]

    @property
    def finished_at(self) -> float:
        """Wall-clock time (epoch seconds) when the check ended."""
        return self.started_at + self.duration_s


class History:
    """The SQLite history of sweeps: ``record`` a report, read an endpoint's past, find
    rooms that fail often.  ``close()`` when done (or use it as a context manager)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 keep_days: float = DEFAULT_KEEP_DAYS,
                 keep_sweeps: int = DEFAULT_KEEP_SWEEPS) -> None:
        self.path = Path(path) if path is not None else default_history_path()
        self.keep_days = keep_days
        self.keep_sweeps = keep_sweeps
        self._lock = threading.Lock()
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), timeout=5.0, check_same_thread=False,
                                   isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._migrate()

    def _migrate(self) -> None:
        """Bring a file written by an older vcfleet to ``SCHEMA_VERSION`` (in place)."""
        if self._db.execute("PRAGMA user_version").fetchone()[0] >= SCHEMA_VERSION:
            return
        with self._lock, self._transaction():
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(sweeps)")}
            if "meeting" not in columns:
                self._db.execute("ALTER TABLE sweeps ADD COLUMN meeting TEXT NOT NULL"
                                 " DEFAULT ''")
            self._db.execute("CREATE INDEX IF NOT EXISTS sweeps_meeting"
                             " ON sweeps (meeting, started_at)")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the database (idempotent)."""
        with self._lock:
            self._db.close()

    def record(self, report: SweepReport, meeting: str = "") -> int:
        """Store a sweep and its endpoints' results in one transaction; returns its id.

        ``meeting``: the id of the meeting the sweep checked (``meeting_checks`` reads
        them back), '' for any other sweep.

        Endpoints not checked (verdict unknown) are not stored, so that a cancelled
        sweep does not pollute the rooms' history.  Old sweeps are pruned afterwards.
        """
        s = report.summary()
        rows = [(r.endpoint.id, r.verdict.value, json.dumps(list(r.reasons), ensure_ascii=False),
                 json.dumps(key_figures(r)), r.finished_at or report.finished_at)
                for r in report.endpoints if r.verdict is not Verdict.UNKNOWN]
        with self._lock, self._transaction():
            cur = self._db.execute(
                "INSERT INTO sweeps (started_at, duration_s, source, selector, checks, cancelled,"
                " total, ready, degraded, down, meeting) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (report.started_at, report.duration_s, report.source, report.selector,
                 ",".join(report.checks), int(report.cancelled), s["total"], s["ready"],
                 s["degraded"], s["down"], meeting))
            sweep_id = int(cur.lastrowid or 0)
            self._db.executemany(
                "INSERT INTO results (sweep_id, endpoint_id, verdict, reasons, figures, at)"
                " VALUES (?,?,?,?,?,?)", ((sweep_id, *row) for row in rows))
            self._prune(report.finished_at)
        return sweep_id

    def endpoint_history(self, endpoint_id: str, limit: int = 10) -> list[HistoryEntry]:
        """An endpoint's last ``limit`` results, newest first."""
        rows = self._query(
            "SELECT r.at, r.verdict, r.reasons, r.figures, s.source FROM results r"
            " JOIN sweeps s ON s.id = r.sweep_id WHERE r.endpoint_id = ?"
            " ORDER BY r.at DESC, r.sweep_id DESC LIMIT ?", (endpoint_id, limit))
        return [HistoryEntry(at, Verdict(v), tuple(json.loads(reasons)), json.loads(figs), src)
                for at, v, reasons, figs, src in rows]

    def failure_counts(self, since: float | None = None) -> dict[str, int]:
        """Results down or degraded per endpoint since ``since`` (epoch s; default 7 days)."""
        cutoff = time.time() - 7 * 86400 if since is None else since
        rows = self._query("SELECT endpoint_id, COUNT(*) FROM results WHERE at >= ?"
                           " AND verdict IN (?, ?) GROUP BY endpoint_id", (cutoff, *FAILING))
        return {eid: int(n) for eid, n in rows}

    def flaky(self, limit: int | None = 10, since: float | None = None) -> list[FlakyEndpoint]:
        """Rooms that fail most often since ``since`` (default: 7 days), worst first; at most
        ``limit`` of them (None: every room that failed)."""
        cutoff = time.time() - 7 * 86400 if since is None else since
        rows = self._query(
            "SELECT endpoint_id, COUNT(*),"
            " SUM(verdict = 'down'), SUM(verdict = 'degraded'),"
            " MAX(CASE WHEN verdict IN ('down', 'degraded') THEN at END)"
            " FROM results WHERE at >= ? GROUP BY endpoint_id"
            " HAVING SUM(verdict IN ('down', 'degraded')) > 0"
            " ORDER BY SUM(verdict IN ('down', 'degraded')) DESC,"
            " SUM(verdict = 'down') DESC, endpoint_id LIMIT ?",
            (cutoff, -1 if limit is None else limit))  # LIMIT -1: every row
        return [FlakyEndpoint(eid, int(n), int(d), int(g), float(last))
                for eid, n, d, g, last in rows]

    def sweeps(self, limit: int = 20) -> list[SweepSummary]:
        """The last ``limit`` recorded sweeps, newest first."""
        rows = self._query(
            "SELECT id, started_at, duration_s, source, selector, total, ready, degraded, down,"
            " cancelled FROM sweeps ORDER BY started_at DESC, id DESC LIMIT ?", (limit,))
        return [SweepSummary(i, at, dur, src, sel, total, ready, degraded, down, bool(cancelled))
                for i, at, dur, src, sel, total, ready, degraded, down, cancelled in rows]

    def meeting_checks(self, meeting: str, limit: int = 2) -> list[MeetingCheck]:
        """The last ``limit`` recorded checks of a meeting, newest first, with results."""
        sweeps = self._query(
            "SELECT id, started_at, duration_s FROM sweeps WHERE meeting = ?"
            " ORDER BY started_at DESC, id DESC LIMIT ?", (meeting, limit))
        out = []
        for sweep_id, started, duration in sweeps:
            rows = self._query("SELECT endpoint_id, at, verdict, reasons, figures FROM results"
                               " WHERE sweep_id = ?", (sweep_id,))
            results = {eid: HistoryEntry(at, Verdict(v), tuple(json.loads(reasons)),
                                         json.loads(figs), "meeting")
                       for eid, at, v, reasons, figs in rows}
            out.append(MeetingCheck(int(sweep_id), float(started), float(duration), results))
        return out

    # -- internals ---------------------------------------------------------------------

    def _query(self, sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, tuple(params)).fetchall()

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _prune(self, now: float) -> None:
        cutoff = now - self.keep_days * 86400
        old = [row[0] for row in self._db.execute(
            "SELECT id FROM sweeps WHERE started_at < ? OR id IN (SELECT id FROM sweeps"
            " ORDER BY started_at DESC, id DESC LIMIT -1 OFFSET ?)", (cutoff, self.keep_sweeps))]
        for sweep_id in old:
            self._db.execute("DELETE FROM results WHERE sweep_id = ?", (sweep_id,))
            self._db.execute("DELETE FROM sweeps WHERE id = ?", (sweep_id,))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
