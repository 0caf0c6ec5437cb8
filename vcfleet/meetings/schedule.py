"""Scheduled meeting checks for ``vcfleet serve --meetings``, and their metrics.

At each ``checks_before`` offset of every meeting that has not ended, one sweep of
exactly that meeting's rooms, independent of the fleet's interval.  A check whose
time had already passed when the file was (re)loaded is skipped, not run late; one
that comes due while another check runs starts as soon as that one ends.  The clock
is injectable so that tests need not wait for the real offsets.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from inventory import Endpoint, InputError
from vcfleet.exporter.scheduler import BackgroundTask
from vcfleet.meetings.check import meeting_options, record
from vcfleet.meetings.loader import load_meetings
from vcfleet.meetings.model import Meeting
from vcfleet.report import SweepReport, Verdict
from vcfleet.sweep import SweepOptions, run_sweep

if TYPE_CHECKING:
    from vcfleet.exporter.state import ExporterState
    from vcfleet.history import History

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Prepare = Callable[[SweepOptions, Sequence[Endpoint]], Awaitable[SweepOptions]]
"""Completes a check's options for its rooms (the exporter plugs in its live device
sessions and media pool, as for its scheduled sweeps)."""
LATE_S = 0.05
"""A check is due when its time is at most this far ahead (timers wake a little early)."""
MOST_SLEEP_S = 60.0
"""The longest the scheduler sleeps without looking at the clock again."""


@dataclass(frozen=True)
class MeetingStatus:
    """A meeting's last scheduled check."""

    report: SweepReport
    checked_at: float
    """When the check started (epoch seconds, by the scheduler's clock)."""


class MeetingScheduler(BackgroundTask):
    """Runs each meeting's checks at their offsets before its start."""

    TASK_NAME = "vcfleet-serve-meetings"

    def __init__(self, path: Path, state: ExporterState, options: SweepOptions,
                 history: History | None = None, clock: Clock = time.time,
                 prepare: Prepare | None = None) -> None:
        self.path = path
        self.state = state
        self.options = options
        self.history = history
        self.clock = clock
        self.prepare = prepare
        self.meetings = load_meetings(path)
        self.status: dict[str, MeetingStatus] = {}
        self.checks_run = 0
        self._done: set[tuple[str, float]] = set()
        self._wake = asyncio.Event()
        self._skip_passed()

    def now(self) -> datetime:
        """The scheduler's clock as an aware datetime."""
        return datetime.fromtimestamp(self.clock(), UTC)

    def upcoming(self) -> list[Meeting]:
        """Meetings that have not ended, soonest first."""
        return self.meetings.upcoming(self.now())

    def reload(self) -> list[str]:
        """Re-read the meetings file; the problems found (empty: reloaded)."""
        try:
            meetings = load_meetings(self.path)
        except InputError as exc:
            log.error("meetings reload failed, keeping the previous meetings:\n%s", exc)
            return exc.lines() or [str(exc)]
        self.meetings = meetings
        self._skip_passed()
        self._wake.set()
        log.info("meetings reloaded: %d upcoming", len(self.upcoming()))
        return []

    def next_check(self) -> tuple[float, Meeting] | None:
        """The next check due (epoch seconds, meeting), or None."""
        due = [(at.timestamp(), m) for m in self.upcoming() for at in m.check_times()
               if (m.id, at.timestamp()) not in self._done]
        return min(due, key=lambda d: d[0]) if due else None

    def _skip_passed(self) -> None:
        now = self.clock()
        for m in self.meetings:
            for at in m.check_times():
                if at.timestamp() < now - LATE_S:
                    self._done.add((m.id, at.timestamp()))

    async def _run(self) -> None:
        while True:
            upcoming = self.next_check()
            if upcoming is None:
                await self._sleep(MOST_SLEEP_S)
                continue
            at, meeting = upcoming
            wait = at - self.clock()
            if wait > LATE_S:
                await self._sleep(min(wait, MOST_SLEEP_S))
                continue
            self._done.add((meeting.id, at))
            await self.check(meeting)

    async def _sleep(self, seconds: float) -> None:
        self._wake.clear()
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            pass

    async def check(self, meeting: Meeting) -> SweepReport | None:
        """Sweep exactly the meeting's rooms now and record the check."""
        if meeting.is_past(self.now()):
            log.info("meeting %s has ended: not swept", meeting.id)
            return None
        inv = self.state.inventory
        try:
            rooms = self.meetings.rooms(meeting, inv)
        except InputError as exc:
            log.error("meeting %s not checked: %s", meeting.id, exc)
            return None
        started = self.clock()
        log.info("check of meeting %s: %d rooms", meeting.id, len(rooms))
        try:
            options = meeting_options(meeting, self.options)
            if self.prepare is not None:
                options = await self.prepare(options, rooms)
            report = await run_sweep(inv, rooms, options)
        except asyncio.CancelledError:
            raise
        except Exception:  # keep serving; the next check may succeed
            log.exception("check of meeting %s failed", meeting.id)
            return None
        self.checks_run += 1
        self.status[meeting.id] = MeetingStatus(report, started)
        if self.history is not None:
            await asyncio.to_thread(record, self.history, meeting, report)
        return report


class MeetingCollector(Collector):
    """The meetings' series: start, rooms by verdict at the last check, last check time.
    Meetings that have ended are left out (kept in the history, never swept)."""

    def __init__(self, scheduler: MeetingScheduler) -> None:
        self.scheduler = scheduler

    def collect(self) -> Iterator[Metric]:
        """Fresh families from the scheduler's meetings and last checks."""
        s = self.scheduler
        upcoming = s.upcoming()
        start = GaugeMetricFamily("vcfleet_meeting_start_timestamp_seconds",
                                  "Unix time when a meeting that has not ended starts.",
                                  labels=["meeting"])
        rooms = GaugeMetricFamily("vcfleet_meeting_rooms", "A meeting's rooms by verdict at "
                                  "its last check.", labels=["meeting", "verdict"])
        last = GaugeMetricFamily("vcfleet_meeting_last_check_timestamp_seconds",
                                 "Unix time when a meeting's last scheduled check started.",
                                 labels=["meeting"])
        for m in upcoming:
            start.add_metric([m.id], m.start.timestamp())
            status = s.status.get(m.id)
            if status is None:
                continue
            counts = dict.fromkeys(Verdict, 0)
            for r in status.report.endpoints:
                counts[r.verdict] += 1
            for verdict, n in counts.items():
                rooms.add_metric([m.id, verdict.value], n)
            last.add_metric([m.id], status.checked_at)
        yield from (start, rooms, last)


def describe_next(scheduler: MeetingScheduler) -> str:
    """"2 upcoming meetings, next check hop at 2026-12-01 13:00 +07:00" for the start line."""
    n = len(scheduler.upcoming())
    nxt = scheduler.next_check()
    text = f"{n} upcoming meeting{'s' if n != 1 else ''}"
    if nxt is None:
        return text + ", no check due"
    at = nxt[1].local(datetime.fromtimestamp(nxt[0], UTC))
    return text + f", next check {nxt[1].id} at {at:%Y-%m-%d %H:%M:%S} {at.isoformat()[-6:]}"

