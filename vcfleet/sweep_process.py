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

The child (``python -m vcfleet.sweep_process FD``, like the media workers) loads the
probe modules once and then runs one sweep at a time for as long as it lives.  If it
dies, the running sweep fails with ``SweepProcessError`` (never a hang) and the next
``run()`` starts a new child.  Options travel by pickle, so their runners must be
importable functions or objects, not closures; the child gets the parent's
``sys.path`` to import them.  Its log records come back to the parent's loggers; its
stderr (only a crash writes there) goes to ``stderr_path`` when one is given, so that
it never draws over the console.

``multiprocessing`` is not used: its ``spawn`` passes ``sys.stderr``'s descriptor to
its resource tracker, which fails inside Textual (stderr is captured, no descriptor).

Protocol: ``multiprocessing.connection`` messages on a socket pair.  Parent to child:
``("init", sys_path)`` then ``("inventory", inventory, log_level)``, then any of
``("sweep", ids, options, flush_s)``, ``("cancel",)``, ``("stop",)`` (or the socket's
end); child to parent: ``("ready",)``, ``("progress", reports)`` every ``flush_s``,
``("log", name, level, text)``, ``("done", report)``, ``("failed", problem)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from inventory import Inventory
from vcfleet.report import EndpointReport, SweepReport
from vcfleet.sweep import EndpointFinished, Sweep, SweepEvent, SweepOptions

log = logging.getLogger(__name__)

START_TIMEOUT_S = 60.0
"""How long the child may take to start and load the probes (aiortc is slow to import)."""
CANCEL_GRACE_S = 10.0
"""How long a cancelled sweep may take to wind up before its child is killed."""
POLL_S = 0.5
"""How often a waiting parent checks that the child is still alive."""

ProgressHandler = Callable[[tuple[EndpointReport, ...], int], None]
"""Called with each batch of finished rooms and the count finished so far."""


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
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self._start_lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._cancel_by: float | None = None
        self._sweeping = False
        self._closed = False

    @property
    def alive(self) -> bool:
        """True while the child runs."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The child's process id, if one was started."""
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        """Start the child unless it runs, and wait until it has loaded the probes."""
        with self._start_lock:
            if self._closed:
                raise SweepProcessError("the sweep process was closed")
            if self.alive:
                return
            self._reap()
            ours, theirs = socket.socketpair()
            try:
                with contextlib.ExitStack() as stack:
                    stderr = stack.enter_context(self.stderr_path.open("ab")) \
                        if self.stderr_path is not None else None
                    process = subprocess.Popen(
                        [sys.executable, "-m", "vcfleet.sweep_process", str(theirs.fileno())],
                        pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=stderr, env=_child_env())
            except OSError as exc:
                ours.close()
                raise SweepProcessError(f"the sweep process did not start: {exc}") from exc
            finally:
                theirs.close()
            self._process, self._conn = process, Connection(ours.detach())
            try:
                self._send(("init", list(sys.path)))
                self._send(("inventory", self.inventory,
                            logging.getLogger().getEffectiveLevel()))
                hello = self._receive(time.monotonic() + self.start_timeout_s)
            except (OSError, SweepProcessError) as exc:
                self._reap()
                if isinstance(exc, SweepProcessError):
                    raise
                raise SweepProcessError(f"the sweep process did not start: {exc}") from exc
            if hello != ("ready",):
                self._reap()
                raise SweepProcessError(f"the sweep process did not start: {hello!r}")

    def run(self, endpoint_ids: Sequence[str], options: SweepOptions,
            on_progress: ProgressHandler | None = None, *, flush_s: float = 0.1
            ) -> SweepReport:
        """Sweep these rooms in the child; blocks until the report (partial if cancelled).

        A ``cancel()`` that comes while the child is still starting, or before this call
        (the caller decided to sweep, then cancelled), cancels this sweep."""
        try:
            self.start()
            try:
                self._send(("sweep", list(endpoint_ids), options, flush_s))
                self._sweeping = True
                if self._cancel_by is not None:  # cancelled before the child had the sweep
                    self._cancel_by = time.monotonic() + self.cancel_grace_s
                    self._send(("cancel",))
            except (pickle.PicklingError, AttributeError, TypeError) as exc:  # nothing sent
                raise SweepProcessError(
                    f"these sweep options cannot be sent to the sweep process: {exc}") from exc
            except OSError:  # the child died since start()
                raise SweepProcessError(self._ended()) from None
            done = 0
            while True:
                message = self._receive(None)
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
            self._sweeping = False
            self._cancel_by = None

    def cancel(self) -> None:
        """Stop the running sweep, or the next one if none runs yet: ``run()`` returns what
        finished (the child is killed if it has not wound up within ``cancel_grace_s``)."""
        self._cancel_by = time.monotonic() + self.cancel_grace_s
        with contextlib.suppress(OSError, SweepProcessError):
            self._send(("cancel",))

    def close(self, timeout: float = 5.0) -> None:
        """Stop the child (a running sweep is cancelled) and wait for it to exit."""
        self._closed = True
        with contextlib.suppress(OSError, SweepProcessError):
            self._send(("stop",))
        process = self._process
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self._reap()
        if self.stderr_path is not None:  # keep the file only if a child wrote to it
            with contextlib.suppress(OSError):
                if self.stderr_path.stat().st_size == 0:
                    self.stderr_path.unlink()

    # -- internals ------------------------------------------------------------------------

    def _send(self, message: tuple[Any, ...]) -> None:
        conn = self._conn
        if conn is None:
            raise SweepProcessError("the sweep process is not running")
        with self._send_lock:
            conn.send(message)

    def _receive(self, deadline: float | None) -> tuple[Any, ...]:
        """The child's next message other than a log record; fails if the child dies, or
        when ``deadline`` (or a cancel's grace) passes."""
        conn, process = self._conn, self._process
        assert conn is not None
        assert process is not None
        while True:
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self._kill()
                raise SweepProcessError(
                    f"the sweep process did not answer within {self.start_timeout_s:g} s")
            if self._sweeping and self._cancel_by is not None and now >= self._cancel_by:
                self._kill()
                raise SweepProcessError(
                    f"the sweep did not stop within {self.cancel_grace_s:g} s of its "
                    "cancel; its process was killed")
            try:
                if not conn.poll(POLL_S):
                    if process.poll() is not None:
                        raise SweepProcessError(self._ended())
                    continue
                message = conn.recv()
            except (EOFError, OSError):
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(1.0)
                raise SweepProcessError(self._ended()) from None
            if message[0] != "log":
                return tuple(message)
            _, name, level, text = message
            logging.getLogger(name).log(level, "%s", text)

    def _ended(self) -> str:
        code = self._process.poll() if self._process is not None else None
        how = "was stopped" if self._closed else "ended unexpectedly"
        where = f"; see {self.stderr_path}" if self.stderr_path and not self._closed else ""
        return f"the sweep process {how} (exit code {code}{where})"

    def _kill(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(2.0)

    def _reap(self) -> None:
        """Make sure the last child is gone and its socket closed."""
        process, conn = self._process, self._conn
        if process is not None and process.poll() is None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(2.0)
            self._kill()
        if conn is not None:
            conn.close()
        self._process = self._conn = None


def _child_env() -> dict[str, str]:
    """The environment, with this copy of vcfleet first on the path (a source tree that
    is not installed, or installed elsewhere, runs the same code in the child)."""
    root = str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": root + (os.pathsep + path if path else "")}


# -- the child --------------------------------------------------------------------------


class _Channel:
    """The child's end of the pipe; ``send`` from any thread (log records come from
    executor threads too)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._lock = threading.Lock()

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock, contextlib.suppress(OSError):  # the parent has gone: stop quietly
            self.conn.send(message)


class _ForwardLogs(logging.Handler):
    """Log records of the child, sent to the parent's loggers."""

    def __init__(self, channel: _Channel) -> None:
        super().__init__()
        self.channel = channel

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:
            self.handleError(record)
            return
        self.channel.send(("log", record.name, record.levelno, text))


def main(argv: list[str] | None = None) -> int:
    """Entry point of the child (``python -m vcfleet.sweep_process FD``)."""
    args = sys.argv[1:] if argv is None else argv
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when it ends
    conn = Connection(int(args[0]))
    try:
        _, sys_path = conn.recv()
        sys.path[:] = sys_path + [p for p in sys.path if p not in sys_path]
        _, inventory, log_level = conn.recv()
    except (EOFError, OSError):
        return 1  # the parent went away before the start
    _child_main(conn, inventory, log_level)
    return 0


def _child_main(conn: Connection, inventory: Inventory, log_level: int) -> None:
    """Body of the child: load the probes, then serve sweeps until told to stop."""
    channel = _Channel(conn)
    root = logging.getLogger()
    root.handlers[:] = [_ForwardLogs(channel)]
    root.setLevel(log_level)
    logging.captureWarnings(True)
    from vcfleet.checks import KINDS

    for kind in KINDS.values():  # import them now (aiortc takes a second), not in the first sweep
        try:
            kind.probe()
        except Exception as exc:
            log.debug("probe %s not loaded in advance: %s", kind, exc)
    try:
        asyncio.run(_serve(channel, inventory))
    finally:
        conn.close()


async def _serve(channel: _Channel, inventory: Inventory) -> None:
    loop = asyncio.get_running_loop()
    commands: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
    fd = channel.conn.fileno()

    def readable() -> None:
        try:
            message = channel.conn.recv()
        except (EOFError, OSError):  # the parent has gone
            loop.remove_reader(fd)
            message = ("stop",)
        commands.put_nowait(message)

    loop.add_reader(fd, readable)
    channel.send(("ready",))
    sweep: Sweep | None = None
    task: asyncio.Task[None] | None = None
    try:
        while True:
            message = await commands.get()
            if message[0] == "stop":
                break
            if message[0] == "cancel" and sweep is not None:
                sweep.cancel()
            elif message[0] == "sweep":
                if task is not None and not task.done():
                    channel.send(("failed", "a sweep is already running in this process"))
                    continue
                _, ids, options, flush_s = message
                batches = _Batches()
                try:
                    sweep = Sweep(inventory, [inventory.get(i) for i in ids], options,
                                  batches.on_event)
                except KeyError as exc:
                    channel.send(("failed", f"no room {exc} in the inventory"))
                    continue
                task = asyncio.create_task(_run(channel, sweep, batches, flush_s))
    finally:
        loop.remove_reader(fd)
        if sweep is not None:
            sweep.cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)


class _Batches:
    """Finished rooms not yet sent to the parent."""

    def __init__(self) -> None:
        self.reports: list[EndpointReport] = []

    def on_event(self, event: SweepEvent) -> None:
        """The sweep's event handler: keep each finished room."""
        if isinstance(event, EndpointFinished):
            self.reports.append(event.report)

    def flush(self, channel: _Channel) -> None:
        if self.reports:
            channel.send(("progress", tuple(self.reports)))
            self.reports.clear()


async def _run(channel: _Channel, sweep: Sweep, batches: _Batches, flush_s: float) -> None:
    """Run one sweep, sending its finished rooms every ``flush_s`` and then its report."""

    async def flush_every() -> None:
        while True:
            await asyncio.sleep(flush_s)
            batches.flush(channel)

    ticker = asyncio.create_task(flush_every())
    try:
        report = await sweep.run()
    except Exception as exc:
        batches.flush(channel)
        channel.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    finally:
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
    batches.flush(channel)
    channel.send(("done", report))


if __name__ == "__main__":
    raise SystemExit(main())
