"""One channel to a child Python process: spawn, ready, framed messages, cancel, stop.

Every child process of vcfleet speaks this: the sweep process (``vcfleet.sweep_process``),
the media workers (``vcfleet.media``) and the simulator workers (``simulator.worker``).
It lives in ``probes`` because that is the lowest layer all three may import (the
simulator imports only ``probes`` and ``inventory``); it imports nothing of vcfleet.

The parent side is ``Child``::

    child = Child("simulator.worker", ["0", "2"], name="simulator worker 0")
    await child.start()                          # spawn, wait for its ready message
    reply = await child.call(("start", hello), timeout=60)
    await child.stop()                           # end of channel, grace, then kill

The child side is ``ParentLink``: ``await ParentLink.connect()``, ``link.ready()`` once
loaded, then ``await link.serve(handle)`` runs each request as a task and replies with
what ``handle`` returns (an exception is an error reply); ``serve`` returns when the
parent closes the channel, after cancelling and awaiting the requests still running.

Framing: a header (body length, request id, frame kind) and a pickled body.  Pickle,
because both ends are this same copy of vcfleet (the child is started with this copy's
root first on ``PYTHONPATH``) and the messages are our own objects (inventories, sweep
options, probe targets and results, reports) which JSON could not carry without a
second schema for each; no other peer speaks this channel, and it is a socket pair
that only the child inherits, so nothing untrusted is ever unpickled.  The request id
sits in the header, not in the pickle, so that a body that cannot be unpickled still
gets its error reply instead of leaving its caller waiting.

The channel is a socket pair passed as a descriptor (``VCFLEET_CHANNEL_FD``), not
stdin/stdout: a stray ``print`` in the child, or a library writing to stdout, cannot
corrupt the framing.  ``python -P`` keeps the working directory off the child's path
(``-m`` would put it first, ahead of ``PYTHONPATH``).  The child's stdout is discarded;
its stderr goes to ``stderr_path`` when given (only a crash writes there), else to the
parent's stderr.

Guarantees: ``start`` fails within ``start_timeout_s`` (the child is killed) if no ready
message comes; when the child dies, every pending request fails with ``ChildError``
at once (the socket's end is seen by the reader task), never a hang; ``cancel(id,
grace_s)`` asks the child to cancel a request and kills the child if the request is
still pending after the grace; ``stop`` awaits the process and the reader task.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pickle
import socket
import struct
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

CHANNEL_FD_ENV = "VCFLEET_CHANNEL_FD"
"""The environment variable that tells a child which descriptor is its channel."""

_HEADER = struct.Struct(">IQB")
"""Body length, request id, frame kind."""
EVENT, REQUEST, REPLY, ERROR = 0, 1, 2, 3
"""Frame kinds: an event (id 0, either way), a request, its reply, its error reply."""
_STREAM_LIMIT = 1 << 22


class ChildError(RuntimeError):
    """The child could not start, died, or answered a request with an error."""


def child_env(root: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """The environment, with this copy's root (or ``root``) first on ``PYTHONPATH``: a
    source tree that is not installed, or installed elsewhere, runs the same code in the
    child as in the parent."""
    first = str(root) if root is not None else str(Path(__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": first + (os.pathsep + path if path else "")}


def encode(kind: int, request_id: int, body: Any) -> bytes:
    """One frame; raises what pickle raises if ``body`` cannot travel."""
    payload = pickle.dumps(body, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload), request_id, kind) + payload


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    """The next frame's kind, request id and pickled body; IncompleteReadError at the end."""
    size, request_id, kind = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    return kind, request_id, await reader.readexactly(size)


EventHandler = Callable[[Any], None]
"""Called in the parent's event loop with each event body the child sends."""


class Child:
    """A child process ``python -m MODULE ARGS`` and its channel (parent side)."""

    def __init__(self, module: str, args: Sequence[str] = (), *, name: str | None = None,
                 start_timeout_s: float = 60.0,
                 stderr_path: str | os.PathLike[str] | None = None,
                 on_event: EventHandler | None = None,
                 on_exit: Callable[[str], None] | None = None) -> None:
        self.module = module
        self.args = list(args)
        self.name = name or module
        self.start_timeout_s = start_timeout_s
        self.stderr_path = Path(stderr_path) if stderr_path is not None else None
        self.on_event = on_event
        self.on_exit = on_exit
        self.process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._next_id = 1
        self._ready: asyncio.Future[Any] | None = None
        self._timers: list[asyncio.TimerHandle] = []
        self._stopping = False
        self._failure: str | None = None

    @property
    def pid(self) -> int | None:
        """The child's process id, once spawned."""
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        """The child's exit status once it has ended (negative: killed by that signal)."""
        return self.process.returncode if self.process is not None else None

    @property
    def alive(self) -> bool:
        """True from spawn until the child or its channel ends."""
        return (self.process is not None and self.process.returncode is None
                and self._failure is None)

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, *first: Any) -> Any:
        """Spawn the child, send it ``first`` (events, in order), and wait for its ready
        message; return that message's body.  ChildError (the child killed) if it does not
        come within ``start_timeout_s`` or the child ends first."""
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        env = {**child_env(), CHANNEL_FD_ENV: str(theirs.fileno())}
        stderr: IO[bytes] | None = None
        try:
            if self.stderr_path is not None:
                stderr = self.stderr_path.open("ab")
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-P", "-m", self.module, *self.args, pass_fds=(theirs.fileno(),),
                stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
                stderr=stderr, env=env)
        except OSError as exc:
            ours.close()
            raise ChildError(f"{self.name} did not start: {exc}") from exc
        finally:
            theirs.close()
            if stderr is not None:
                stderr.close()
        reader, self._writer = await asyncio.open_connection(sock=ours, limit=_STREAM_LIMIT)
        self._ready = loop.create_future()
        self._reader_task = asyncio.create_task(self._read(reader), name=f"{self.name} reader")
        try:
            for message in first:
                self._write(encode(EVENT, 0, message))
            async with asyncio.timeout(self.start_timeout_s):
                return await asyncio.shield(self._ready)
        except TimeoutError:
            self._failure = f"{self.name} did not start within {self.start_timeout_s:g} s"
            await self.stop(grace_s=0)
            raise ChildError(self._failure) from None
        except BaseException:
            await self.stop(grace_s=0)
            raise

    async def stop(self, grace_s: float = 5.0) -> None:
        """Close the channel (the child winds up and exits), kill it if it has not exited
        within ``grace_s``, and await it; pending requests fail."""
        self._stopping = True
        for timer in self._timers:
            timer.cancel()
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        process = self.process
        if process is not None:
            try:
                async with asyncio.timeout(grace_s):
                    await process.wait()
            except TimeoutError:
                self.kill()
                await process.wait()
        if self._reader_task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader_task
        self._fail_pending(self._ended())

    def kill(self) -> None:
        """Kill the child at once (its pending requests fail when its channel ends)."""
        if self.process is not None and self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def wait(self) -> int:
        """Wait for the child to exit; return its exit status."""
        assert self.process is not None
        return await self.process.wait()

    # -- messages -------------------------------------------------------------------------

    def notify(self, body: Any) -> None:
        """Send an event (no reply); ChildError if the child is gone."""
        self._write(encode(EVENT, 0, body))

    def request(self, body: Any) -> tuple[int, asyncio.Future[Any]]:
        """Send a request; return its id and the future of its reply body (ChildError if
        the child answers with an error or ends first).  Raises what pickle raises, with
        nothing sent, if ``body`` cannot travel."""
        frame_id = self._next_id
        data = encode(REQUEST, frame_id, body)
        self._write(data)
        self._next_id += 1
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[frame_id] = done
        return frame_id, done

    async def call(self, body: Any, timeout: float | None = None) -> Any:
        """Send a request and await its reply; ChildError after ``timeout`` seconds."""
        _, done = self.request(body)
        try:
            async with asyncio.timeout(timeout):
                return await done
        except TimeoutError:
            raise ChildError(f"{self.name} did not answer within {timeout:g} s") from None

    def cancel(self, request_id: int, grace_s: float | None = None,
               what: str = "the request") -> None:
        """Ask the child to cancel a request (``("cancel", request_id)`` event); with
        ``grace_s``, kill the child if the request is still pending after that."""
        with contextlib.suppress(ChildError):
            self.notify(("cancel", request_id))
        if grace_s is None:
            return

        def kill_if_pending() -> None:
            if request_id in self._pending and self.alive:
                self._failure = (f"{what} did not stop within {grace_s:g} s of its cancel; "
                                 "its process was killed")
                self.kill()

        self._timers.append(asyncio.get_running_loop().call_later(grace_s, kill_if_pending))

    # -- internals ------------------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing() or not self.alive:
            raise ChildError(self._ended())
        writer.write(data)

    async def _read(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                kind, frame_id, payload = await read_frame(reader)
                self._dispatch(kind, frame_id, payload)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            pass
        process = self.process
        if process is not None:  # the channel ends with the child: wait for its status
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(2.0):
                    await process.wait()
        reason = self._ended()
        if self._failure is None:
            self._failure = reason
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(ChildError(reason))
        self._fail_pending(reason)
        if self.on_exit is not None and not self._stopping:
            self.on_exit(reason)

    def _dispatch(self, kind: int, frame_id: int, payload: bytes) -> None:
        try:
            body = pickle.loads(payload)
        except Exception as exc:
            body, kind = f"{self.name} sent what cannot be read: {exc}", ERROR
        if kind == EVENT:
            if self._ready is not None and not self._ready.done():
                if isinstance(body, tuple) and body[:1] == ("ready",):
                    self._ready.set_result(body)
                else:
                    self._ready.set_exception(ChildError(
                        f"{self.name} did not start: {body!r}"))
            elif self.on_event is not None:
                self.on_event(body)
            return
        done = self._pending.pop(frame_id, None)
        if done is None or done.done():
            return
        if kind == REPLY:
            done.set_result(body)
        else:
            done.set_exception(ChildError(str(body)))

    def _fail_pending(self, reason: str) -> None:
        pending, self._pending = self._pending, {}
        for done in pending.values():
            if not done.done():
                done.set_exception(ChildError(reason))
                done.exception()  # retrieved: a caller that gave up is not an error

    def _ended(self) -> str:
        if self._failure is not None:
            return self._failure
        if self.process is None:
            return f"{self.name} is not running"
        how = "was stopped" if self._stopping else "ended unexpectedly"
        where = f"; see {self.stderr_path}" if self.stderr_path and not self._stopping else ""
        return f"{self.name} {how} (exit code {self.process.returncode}{where})"


RequestHandler = Callable[[Any], Awaitable[Any]]
"""Runs one request in the child and returns its reply body."""


class ParentLink:
    """The child's end of the channel (see the module doc)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self._loop = asyncio.get_running_loop()
        self.running: dict[int, asyncio.Task[None]] = {}

    @classmethod
    async def connect(cls) -> ParentLink:
        """The channel the parent passed (``VCFLEET_CHANNEL_FD``)."""
        sock = socket.socket(fileno=int(os.environ[CHANNEL_FD_ENV]))
        reader, writer = await asyncio.open_connection(sock=sock, limit=_STREAM_LIMIT)
        return cls(reader, writer)

    def send(self, body: Any, kind: int = EVENT, request_id: int = 0) -> None:
        """Send a frame from any thread (log records come from executor threads too);
        quietly nothing once the parent has gone."""
        data = encode(kind, request_id, body)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._write(data)
        else:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._write, data)

    def ready(self, *extra: Any) -> None:
        """Tell the parent that this child is loaded and serves requests."""
        self.send(("ready", *extra))

    async def receive(self) -> tuple[int, int, Any] | None:
        """The next frame (kind, request id, body), None when the parent has gone."""
        try:
            kind, frame_id, payload = await read_frame(self.reader)
        except (asyncio.IncompleteReadError, ConnectionError, OSError):
            return None
        return kind, frame_id, pickle.loads(payload)

    async def serve(self, handle: RequestHandler, *,
                    on_event: Callable[[Any], None] | None = None,
                    on_cancel: Callable[[int, asyncio.Task[None]], None] | None = None
                    ) -> None:
        """Run each request as a task until the parent closes the channel.  A
        ``("cancel", id)`` event calls ``on_cancel`` (default: cancel that request's
        task); other events go to ``on_event``.  On return (or cancellation) the requests
        still running are cancelled and awaited."""
        try:
            while True:
                try:
                    frame = await read_frame(self.reader)
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    return
                self._take(frame, handle, on_event, on_cancel)
        finally:
            tasks = list(self.running.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def close(self) -> None:
        """Flush what is queued and close the channel."""
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.drain()
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()

    def _take(self, frame: tuple[int, int, bytes], handle: RequestHandler,
              on_event: Callable[[Any], None] | None,
              on_cancel: Callable[[int, asyncio.Task[None]], None] | None) -> None:
        kind, frame_id, payload = frame
        try:
            body = pickle.loads(payload)
        except Exception as exc:
            if kind == REQUEST:
                self.send(f"{type(exc).__name__}: {exc}", ERROR, frame_id)
            else:
                log.error("unreadable event from the parent: %s", exc)
            return
        if kind == REQUEST:
            self.running[frame_id] = asyncio.create_task(self._answer(frame_id, body, handle))
        elif isinstance(body, tuple) and body[:1] == ("cancel",) and len(body) == 2:
            task = self.running.get(body[1])
            if task is not None:
                (on_cancel or _cancel_task)(body[1], task)
        elif on_event is not None:
            on_event(body)

    async def _answer(self, frame_id: int, body: Any, handle: RequestHandler) -> None:
        try:
            reply = await handle(body)
        except asyncio.CancelledError:
            self.send("cancelled", ERROR, frame_id)
            raise
        except Exception as exc:
            self.send(f"{type(exc).__name__}: {exc}" if not str(exc) else str(exc),
                      ERROR, frame_id)
        else:
            try:
                self.send(reply, REPLY, frame_id)
            except Exception as exc:  # the reply cannot travel: say so, never leave a wait
                self.send(f"the reply cannot be sent: {exc}", ERROR, frame_id)
        finally:
            self.running.pop(frame_id, None)

    def _write(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)


def _cancel_task(request_id: int, task: asyncio.Task[None]) -> None:
    task.cancel()
