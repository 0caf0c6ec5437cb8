"""Sweeps in a child process, so that a busy sweep never holds the caller's interpreter.

A sweep is CPU work in the prober (TLS handshakes, socket calls, building and judging
results), much of it in C code that holds the interpreter lock.  Run in a thread of
the operator console, a sweep of the demo fleet made the console's event loop wait
80-90 ms at a time for the lock, whatever it was drawing (a bare 5 ms ticker, no UI).
In a child process the same sweep leaves that loop late by at most 4-15 ms, so the
console runs its sweeps here (``bench/bench_tui.py`` measures it; docs/decisions.md).

The API is blocking, for a worker thread; ``cancel()`` and ``close()`` may be called
from any thread::

    sweeper = SweepProcess(inventory)
    sweeper.start()                                   # optional: warm up in advance
    report = sweeper.run(ids, options, on_progress)   # on_progress(reports, done)
    sweeper.close()

The child (``python -m vcfleet.sweep_process``, like the media workers) loads the
probe modules once and then runs one sweep at a time for as long as it lives.  If it
dies, the running sweep fails with ``SweepProcessError`` (never a hang) and the next
``run()`` starts a new child.  Options travel by pickle, so their runners must be
importable functions or objects, not closures; the child gets the parent's
``sys.path`` to import them.  Its log records come back to the parent's loggers; its
stderr (only a crash writes there) goes to ``stderr_path`` when one is given, so that
it never draws over the console.

``multiprocessing`` is not used: its ``spawn`` passes ``sys.stderr``'s descriptor to
its resource tracker, which fails inside Textual (stderr is captured, no descriptor).
The child is a ``probes.childproc.Child``, the channel every child process of vcfleet
speaks, driven by an event loop in a thread of this object (the API stays blocking).

Messages, parent to child: events ``("init", sys_path)`` and ``("inventory",
inventory, log_level)`` before the ready message, then requests ``("sweep", ids,
options, flush_s)`` and the channel's ``("cancel", id)``; child to parent: events
``("ready",)``, ``("progress", reports)`` every ``flush_s``, ``("log", name, level,
text)``, and the reply ``("done", report)`` or ``("failed", problem)``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import pickle
import queue
import signal
import sys
import threading
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

from inventory import Inventory
from probes.childproc import Child, ChildError, ParentLink
from vcfleet.report import EndpointReport, SweepReport
from vcfleet.sweep import EndpointFinished, Sweep, SweepEvent, SweepOptions

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
"""How long the child may take to start and load the probes (aiortc is slow to import)."""
CANCEL_GRACE_S = 10.0
"""How long a cancelled sweep may take to wind up before its child is killed."""

ProgressHandler = Callable[[tuple[EndpointReport, ...], int], None]
"""Called with each batch of finished rooms and the count finished so far."""
_T = TypeVar("_T")


class SweepProcessError(RuntimeError):
    """The sweep process could not start, died, or refused the sweep."""


class SweepProcess:
    """A child process that runs sweeps of one inventory."""

    def __init__(self, inventory: Inventory, *, start_timeout_s: float = START_TIMEOUT_S,
                 cancel_grace_s: float = CANCEL_GRACE_S,
                 stderr_path: str | os.PathLike[str] | None = None) -> None:
        self.inventory = inventory
        self.start_timeout_s = start_timeout_s
        self.cancel_grace_s = cancel_grace_s
        self.stderr_path = Path(stderr_path) if stderr_path is not None else None
        self._child: Child | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._cancel_lock = threading.Lock()
        self._cancel_wanted = False
        self._sweep_id: int | None = None
        self._events: queue.Queue[tuple[Any, ...]] | None = None
        self._closed = False

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._child is not None and self._child.alive

    @property
    def pid(self) -> int | None:
        """The child's process id, if one was started."""
        return self._child.pid if self._child is not None else None

    def start(self) -> None:
        """Start the child unless it runs, and wait until it has loaded the probes."""
        with self._start_lock:
            if self._closed:
                raise SweepProcessError("the sweep process was closed")
            if self.alive:
                return
            self._on_loop(self._start_child())

    async def _start_child(self) -> None:
        if self._child is not None:
            await self._child.stop(grace_s=2.0)
        if self._closed:  # close() came while this start waited for its turn
            raise SweepProcessError("the sweep process was closed")
        self._child = Child("vcfleet.sweep_process", name="the sweep process",
                            start_timeout_s=self.start_timeout_s,
                            stderr_path=self.stderr_path, on_event=self._on_event)
        try:
            await self._child.start(("init", list(sys.path)),
                                    ("inventory", self.inventory,
                                     logging.getLogger().getEffectiveLevel()))
        except ChildError as exc:
            raise SweepProcessError(str(exc)) from None

    def run(self, endpoint_ids: Sequence[str], options: SweepOptions,
            on_progress: ProgressHandler | None = None, *, flush_s: float = 0.1
            ) -> SweepReport:
        """Sweep these rooms in the child; blocks until the report (partial if cancelled).

        A ``cancel()`` that comes while the child is still starting, or before this call
        (the caller decided to sweep, then cancelled), cancels this sweep."""
        events: queue.Queue[tuple[Any, ...]] = queue.Queue()
        try:
            self.start()
            self._events = events
            self._on_loop(self._submit(("sweep", list(endpoint_ids), options, flush_s),
                                       events))
            done = 0
            while True:
                message = events.get()
                if message[0] == "progress":
                    done += len(message[1])
                    if on_progress is not None:
                        on_progress(message[1], done)
                elif message[0] == "done":
                    report: SweepReport = message[1]
                    return report
                elif message[0] == "failed":
                    raise SweepProcessError(message[1])
        finally:
            self._events = None
            with self._cancel_lock:
                self._sweep_id = None
                self._cancel_wanted = False

    async def _submit(self, request: tuple[Any, ...],
                      events: queue.Queue[tuple[Any, ...]]) -> None:
        """Send the sweep; its reply (or the child's end) lands in ``events``."""
        child = self._child
        assert child is not None
        try:
            sweep_id, reply = child.request(request)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:  # nothing sent
            raise SweepProcessError(
                f"these sweep options cannot be sent to the sweep process: {exc}") from exc
        except ChildError as exc:  # the child died since start()
            raise SweepProcessError(str(exc)) from None

        def answered(reply: asyncio.Future[Any]) -> None:
            exc = reply.exception()
            events.put(("failed", str(exc)) if exc is not None else tuple(reply.result()))

        reply.add_done_callback(answered)
        with self._cancel_lock:
            self._sweep_id = sweep_id
            if self._cancel_wanted:  # cancelled before the child had the sweep
                self._cancel_sweep()

    def cancel(self) -> None:
        """Stop the running sweep, or the next one if none runs yet: ``run()`` returns what
        finished (the child is killed if it has not wound up within ``cancel_grace_s``)."""
        with self._cancel_lock:
            self._cancel_wanted = True
            if self._sweep_id is not None and self._loop is not None:
                with contextlib.suppress(RuntimeError):  # the loop has closed
                    self._loop.call_soon_threadsafe(self._cancel_sweep)

    def _cancel_sweep(self) -> None:
        if self._child is not None and self._sweep_id is not None:
            self._child.cancel(self._sweep_id, self.cancel_grace_s, what="the sweep")

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child (a running sweep is cancelled) and wait for it to exit."""
        self._closed = True
        self._stop_child(timeout)  # a start under way fails at once
        with self._start_lock:  # and has ended here
            self._stop_child(timeout)
            self._stop_loop()
        if self.stderr_path is not None:  # keep the file only if a child wrote to it
            with contextlib.suppress(OSError):
                if self.stderr_path.stat().st_size == 0:
                    self.stderr_path.unlink()

    # -- internals ------------------------------------------------------------------------

    def _on_event(self, body: Any) -> None:
        """An event of the child, in the loop thread: progress to ``run``, logs here."""
        if body[0] == "log":
            _, name, level, text = body
            logging.getLogger(name).log(level, "%s", text)
        elif body[0] == "progress" and self._events is not None:
            self._events.put(body)

    def _on_loop(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Run ``work`` on this object's event loop thread and return its result."""
        if self._loop is None or self._loop.is_closed():
            loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=loop.run_forever,
                                            name="sweep-process-channel", daemon=True)
            self._thread.start()
            self._loop = loop
        future: concurrent.futures.Future[_T] = asyncio.run_coroutine_threadsafe(
            work, self._loop)
        return future.result()

    def _stop_child(self, timeout: float) -> None:
        loop, child = self._loop, self._child
        if loop is not None and child is not None and not loop.is_closed():
            asyncio.run_coroutine_threadsafe(child.stop(grace_s=timeout), loop).result()

    def _stop_loop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10.0)
        if not thread.is_alive():
            loop.close()
        self._loop = self._thread = None


# -- the child --------------------------------------------------------------------------


class _ForwardLogs(logging.Handler):
    """Log records of the child, sent to the parent's loggers."""

    def __init__(self, link: ParentLink) -> None:
        super().__init__()
        self.link = link

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.link.send(("log", record.name, record.levelno, text))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child (``python -m vcfleet.sweep_process``, channel from
    ``probes.childproc``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when it ends
    return asyncio.run(_child_main())


async def _child_main() -> int:
    """Body of the child: take the path and inventory, load the probes, serve sweeps."""
    link = await ParentLink.connect()
    first = await link.receive()
    if first is None:
        return 1  # the parent went away before the start
    sys_path = first[2][1]
    sys.path[:] = sys_path + [p for p in sys.path if p not in sys_path]
    second = await link.receive()  # unpickled only now: it may need that path
    if second is None:
        return 1
    _, inventory, log_level = second[2]
    root = logging.getLogger()
    root.handlers[:] = [_ForwardLogs(link)]
    root.setLevel(log_level)
    logging.captureWarnings(True)
    from vcfleet.checks import KINDS

    for kind in KINDS.values():  # import them now (aiortc takes a second), not in the first sweep
        try:
            kind.probe()
        except Exception as exc:
            log.debug("probe %s not loaded in advance: %s", kind, exc)
    sweeps = _Sweeps(link, inventory)
    link.ready()
    try:
        await link.serve(sweeps.run, on_cancel=sweeps.cancel)
    finally:
        await link.close()
    return 0


class _Sweeps:
    """The child's sweeps, one at a time."""

    def __init__(self, link: ParentLink, inventory: Inventory) -> None:
        self.link, self.inventory = link, inventory
        self.sweep: Sweep | None = None
        self.cancelled = False

    def cancel(self, request_id: int, task: asyncio.Task[None]) -> None:
        """A cancel stops the sweep, which returns its partial report."""
        self.cancelled = True
        if self.sweep is not None:
            self.sweep.cancel()

    async def run(self, request: tuple[Any, ...]) -> tuple[Any, ...]:
        """Run one sweep, sending its finished rooms every ``flush_s``; its report."""
        if self.sweep is not None:
            return ("failed", "a sweep is already running in this process")
        _, ids, options, flush_s = request
        batches = _Batches()
        try:
            sweep = Sweep(self.inventory, [self.inventory.get(i) for i in ids], options,
                          batches.on_event)
        except KeyError as exc:
            return ("failed", f"no room {exc} in the inventory")
        self.sweep = sweep
        try:
            return await _run(self.link, sweep, batches, flush_s, lambda: self.cancelled)
        except asyncio.CancelledError:  # the parent closed the channel
            sweep.cancel()
            raise
        finally:
            self.sweep, self.cancelled = None, False


class _Batches:
    """Finished rooms not yet sent to the parent."""

    def __init__(self) -> None:
        self.reports: list[EndpointReport] = []

    def on_event(self, event: SweepEvent) -> None:
        """The sweep's event handler: keep each finished room."""
        if isinstance(event, EndpointFinished):
            self.reports.append(event.report)

    def flush(self, link: ParentLink) -> None:
        if self.reports:
            link.send(("progress", tuple(self.reports)))
            self.reports.clear()


async def _run(link: ParentLink, sweep: Sweep, batches: _Batches, flush_s: float,
               cancelled: Callable[[], bool]) -> tuple[Any, ...]:
    """Run one sweep, sending its finished rooms every ``flush_s``; then its report."""

    async def flush_every() -> None:
        while True:
            await asyncio.sleep(flush_s)
            batches.flush(link)
            if cancelled():  # again: a cancel before the sweep made its tasks is lost
                sweep.cancel()

    ticker = asyncio.create_task(flush_every())
    try:
        report = await sweep.run()
    except Exception as exc:
        batches.flush(link)
        return ("failed", f"{type(exc).__name__}: {exc}")
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    batches.flush(link)
    return ("done", report)


if __name__ == "__main__":
    raise SystemExit(main())
