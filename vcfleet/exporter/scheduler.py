"""Scheduled sweeps and the event-loop lag monitor: background tasks the exporter owns.

Sweeps start on a fixed cadence (start n = first start + n x interval, so they do
not drift), at most one at a time.  A sweep that runs past its successor's slot is
counted as an overrun and the next one starts as soon as it ends: late, never
stacked.  Within a sweep the engine's concurrency bound lets endpoints in by waves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from probes.base import cancel_and_wait
from vcfleet.exporter.state import ExporterState
from vcfleet.report import SweepReport
from vcfleet.sweep import SweepOptions, run_sweep

log = logging.getLogger(__name__)

ReportHook = Callable[[SweepReport], object]
Prepare = Callable[[SweepOptions], Awaitable[SweepOptions]]


class BackgroundTask:
    """One task of the exporter's: ``start()`` runs ``_run`` (once), ``stop()`` cancels
    it and waits for it to end."""

    TASK_NAME = "vcfleet-serve-task"

    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the task unless it runs."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.TASK_NAME)

    async def stop(self) -> None:
        """Cancel the task (and the work in flight) and wait for it to end."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        raise NotImplementedError


class SweepScheduler(BackgroundTask):
    """Runs a sweep of the endpoints in scope every ``state.interval_s`` seconds; the
    first sweep begins as soon as it is started."""

    TASK_NAME = "vcfleet-serve-sweeps"

    def __init__(self, state: ExporterState, options: SweepOptions,
                 on_report: ReportHook | None = None, prepare: Prepare | None = None) -> None:
        self.state = state
        self.options = options
        self.on_report = on_report
        self.prepare = prepare
        """Completes the options before each sweep (the exporter plugs its media pool in)."""

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        next_start = loop.time()
        while True:
            await asyncio.sleep(max(0.0, next_start - loop.time()))
            await self.sweep_once()
            next_start += self.state.interval_s
            if loop.time() > next_start:
                self.state.sweeps_overrun += 1
                log.warning("sweep overran its %.0f s interval; the next one starts now",
                            self.state.interval_s)
                next_start = loop.time()

    async def sweep_once(self) -> SweepReport | None:
        """One sweep of the endpoints in scope; its report becomes the latest one."""
        s = self.state
        s.sweeps_total += 1
        s.sweep_in_progress = True
        try:
            options = await self.prepare(self.options) if self.prepare else self.options
            report = await run_sweep(s.inventory, s.endpoints, options)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # keep serving the previous report
            s.sweeps_failed += 1
            s.last_sweep_error = f"{type(exc).__name__}: {exc}"
            log.exception("sweep failed")
            return None
        finally:
            s.sweep_in_progress = False
        if report.cancelled:
            s.sweeps_failed += 1
        s.record(report)
        if self.on_report is not None:
            try:
                self.on_report(report)
            except Exception:  # the history store's trouble must not stop the exporter
                log.exception("recording the sweep failed")
        return report


class LoopLagMonitor(BackgroundTask):
    """Measures how late the event loop wakes a timer, every ``period_s`` seconds."""

    TASK_NAME = "vcfleet-serve-loop-lag"

    def __init__(self, state: ExporterState, period_s: float = 0.5) -> None:
        self.state = state
        self.period_s = period_s

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            await asyncio.sleep(self.period_s)
            self.state.loop_lag_s = max(0.0, time.monotonic() - before - self.period_s)
