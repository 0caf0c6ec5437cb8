"""Media probes in worker processes, at a concurrency that keeps their figures true.

A WebRTC loopback is CPU work (SRTP, RTCP, DTLS, ICE) paced on an event loop;
when that loop is starved, packets are stamped late and the probe reports the
prober's lag as the network's jitter and round-trip time.  ``MediaPool`` runs
the probes in ``workers`` processes (one per core by default), each an asyncio
loop running many probes at once, and limits how many each worker has in
flight.  The limit adapts to the worker's event-loop lag (additive increase,
multiplicative decrease), which every worker reports twice a second.  The
probes themselves still mark a result ``unreliable`` if lag crept in anyway.

The pool is a sweep runner (``SweepOptions.runners={"webrtc": pool}``):
``slot()`` admits a check when capacity frees, before its deadline starts, and
calling the pool runs the probe in a worker::

    async with MediaPool() as pool:
        async with pool.slot():
            result = await pool(target, settings)

Worker protocol (``python -m vcfleet.media``): length-prefixed pickles on
stdin/stdout; ``("probe", id, kind, target, settings)``, ``("cancel", id)`` in;
``("ready",)``, ``("lag", p95_s)``, ``("result", id, ProbeResult)`` out.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import itertools
import logging
import os
import pickle
import struct
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from probes import ProbeResult, Target, load_probe

log = logging.getLogger(__name__)

_HEADER = struct.Struct(">I")
_SLOT_HOLDER: contextvars.ContextVar[asyncio.Task[Any] | None] = contextvars.ContextVar(
    "media_slot_holder", default=None)
"""The task that holds a slot (tasks it starts inherit the variable, not the slot)."""


def _holding_slot() -> bool:
    return _SLOT_HOLDER.get() is asyncio.current_task()


@dataclass(frozen=True)
class PoolLimits:
    """How many probes a worker may run at once, and how the limit adapts."""

    start: int = 8
    """Concurrent probes per worker at first: a sweep begins with every room's network
    checks at once, and a burst of DTLS handshakes on top would skew the first RTTs."""
    minimum: int = 6
    """The floor: lag caused by other processes on the machine is not cured by
    starving the sweep (the probes mark what it spoils as unreliable)."""
    maximum: int = 64
    lag_target_ms: float = 6.0
    """Event-loop lag (95th percentile over half a second) above which a worker's
    limit shrinks by a fifth (at most every 2 s); below half of it, a busy worker's
    limit grows by a quarter (at least one) per report."""


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process
    limit: int
    in_flight: int = 0
    lag_ms: float = 0.0
    alive: bool = True
    last_decrease: float = 0.0
    reader: asyncio.Task[None] | None = None
    jobs: dict[int, asyncio.Future[ProbeResult]] = field(default_factory=dict)
    orphans: set[int] = field(default_factory=set)
    """Jobs whose caller was cancelled: still running here until the worker says so."""

    def send(self, message: tuple[Any, ...]) -> None:
        stdin = self.process.stdin
        if not self.alive or stdin is None or stdin.is_closing():
            raise ConnectionError(f"media worker {self.index} is gone")
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(_HEADER.pack(len(payload)) + payload)


class MediaPool:
    """WebRTC (and other media) probes spread over worker processes; see the module doc."""

    def __init__(self, workers: int | None = None, limits: PoolLimits | None = None,
                 kind: str = "webrtc", start_timeout_s: float = 30.0) -> None:
        self.size = workers or max(1, os.cpu_count() or 1)
        self.limits = limits or PoolLimits()
        self.kind = kind
        self.start_timeout_s = start_timeout_s
        self.workers: list[_Worker] = []
        self._ids = itertools.count(1)
        self._reserved = 0
        self._capacity = asyncio.Condition()

    async def __aenter__(self) -> MediaPool:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Start the workers and wait until each has loaded the probe."""
        try:
            async with asyncio.timeout(self.start_timeout_s):
                await asyncio.gather(*(self._spawn(i) for i in range(self.size)))
        except BaseException:
            await self.stop()
            raise

    async def _spawn(self, index: int) -> None:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vcfleet.media", self.kind,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        worker = _Worker(index, process, self.limits.start)
        self.workers.append(worker)
        assert process.stdout is not None
        hello = await _read_message(process.stdout)
        if hello != ("ready",):
            raise RuntimeError(f"media worker {index} did not start: {hello!r}")
        worker.reader = asyncio.create_task(self._read(worker), name=f"media-worker-{index}")

    async def stop(self) -> None:
        """Stop every worker (their probes end and close their connections)."""
        for worker in self.workers:
            worker.alive = False
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in self.workers:
            try:
                async with asyncio.timeout(5):
                    await worker.process.wait()
            except TimeoutError:
                worker.process.kill()
                await worker.process.wait()
            if worker.reader is not None:
                worker.reader.cancel()
                await asyncio.gather(worker.reader, return_exceptions=True)
            self._fail_jobs(worker, "media worker stopped")
        self.workers = []

    # -- admission ----------------------------------------------------------------------

    def _total_limit(self) -> int:
        return sum(w.limit for w in self.workers if w.alive)

    def _in_use(self) -> int:
        # Every running probe holds a slot, except those whose caller was cancelled
        # and which the worker is still closing.
        return self._reserved + sum(len(w.orphans) for w in self.workers)

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Wait for capacity and hold it; a probe run inside uses it."""
        if _holding_slot():
            yield
            return
        async with self._capacity:
            await self._capacity.wait_for(lambda: self._in_use() < self._total_limit()
                                          or not any(w.alive for w in self.workers))
            self._reserved += 1
        token = _SLOT_HOLDER.set(asyncio.current_task())
        try:
            yield
        finally:
            _SLOT_HOLDER.reset(token)
            self._reserved -= 1
            await self._notify()

    async def _notify(self) -> None:
        async with self._capacity:
            self._capacity.notify_all()

    # -- running ------------------------------------------------------------------------

    async def __call__(self, target: Target, settings: Any) -> ProbeResult:
        """Run one probe in a worker (waiting for capacity unless a slot is held)."""
        if not _holding_slot():
            async with self.slot():
                return await self._run(target, settings)
        return await self._run(target, settings)

    async def _run(self, target: Target, settings: Any) -> ProbeResult:
        alive = [w for w in self.workers if w.alive]
        if not alive:
            return ProbeResult.failure("no media worker is running")
        worker = min(alive, key=lambda w: (w.in_flight / max(1, w.limit), w.in_flight))
        job = next(self._ids)
        done: asyncio.Future[ProbeResult] = asyncio.get_running_loop().create_future()
        worker.jobs[job] = done
        worker.in_flight += 1
        try:
            worker.send(("probe", job, self.kind, target, settings))
            return await asyncio.shield(done)
        except asyncio.CancelledError:
            # The worker cancels the probe, which closes its connection; the slot
            # stays counted until the worker says the probe has ended.
            if job in worker.jobs:
                worker.orphans.add(job)
            with contextlib.suppress(ConnectionError):
                worker.send(("cancel", job))
            raise
        except ConnectionError as exc:
            worker.jobs.pop(job, None)
            worker.in_flight -= 1
            return ProbeResult.failure(str(exc))

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        try:
            while True:
                message = await _read_message(stdout)
                if message[0] == "result":
                    self._finish(worker, message[1], message[2])
                    await self._notify()
                elif message[0] == "lag":
                    self._adapt(worker, float(message[1]) * 1000.0)
                    await self._notify()
        except (asyncio.IncompleteReadError, ConnectionError, EOFError):
            pass
        worker.alive = False
        self._fail_jobs(worker, f"media worker {worker.index} exited")
        await self._notify()

    def _finish(self, worker: _Worker, job: int, result: ProbeResult) -> None:
        worker.in_flight -= 1
        worker.orphans.discard(job)
        done = worker.jobs.pop(job, None)
        if done is not None and not done.done():
            done.set_result(result)

    def _fail_jobs(self, worker: _Worker, reason: str) -> None:
        for done in worker.jobs.values():
            if not done.done():
                done.set_result(ProbeResult.failure(reason))
        worker.in_flight -= len(worker.jobs)
        worker.jobs.clear()
        worker.orphans.clear()

    def _adapt(self, worker: _Worker, lag_ms: float) -> None:
        worker.lag_ms = lag_ms
        limits = self.limits
        now = time.monotonic()
        if lag_ms > limits.lag_target_ms:
            if now - worker.last_decrease > 2.0:
                worker.limit = max(limits.minimum, int(worker.limit * 0.8))
                worker.last_decrease = now
                log.debug("media worker %d lags %.1f ms: limit %d", worker.index, lag_ms,
                          worker.limit)
        elif lag_ms < limits.lag_target_ms / 2 and worker.in_flight >= worker.limit:
            worker.limit = min(limits.maximum, worker.limit + max(1, worker.limit // 4))

    def status(self) -> list[dict[str, float]]:
        """Per worker: limit, in flight, last reported lag (for logs and benches)."""
        return [{"limit": w.limit, "in_flight": w.in_flight, "lag_ms": round(w.lag_ms, 1)}
                for w in self.workers]


async def _read_message(stream: asyncio.StreamReader) -> tuple[Any, ...]:
    header = await stream.readexactly(_HEADER.size)
    (size,) = _HEADER.unpack(header)
    message = pickle.loads(await stream.readexactly(size))
    assert isinstance(message, tuple)
    return message


# -- the worker process ------------------------------------------------------------------


async def _worker_main(kind: str) -> None:
    from probes.webrtc_media import opus_packet
    from probes.webrtc_stats import LoopLag

    probe_kind = load_probe(kind)
    opus_packet()  # encode the shared packet before the first probe's clock starts
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 22)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin,
                                                       sys.stdout)
    writer = asyncio.StreamWriter(transport, protocol, None, loop)
    running: dict[int, asyncio.Task[None]] = {}

    def send(message: tuple[Any, ...]) -> None:
        payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        writer.write(_HEADER.pack(len(payload)) + payload)

    async def run(job: int, target: Target, settings: Any) -> None:
        try:
            result = await probe_kind.probe(target, settings)
        except asyncio.CancelledError:
            result = ProbeResult.failure("cancelled")
        except Exception as exc:  # one probe's crash is that probe's failure
            result = ProbeResult.failure(f"probe error: {type(exc).__name__}: {exc}")
        finally:
            running.pop(job, None)
        send(("result", job, result))

    lag = LoopLag.of_running_loop()
    lag.acquire()

    async def report_lag() -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            send(("lag", lag.summary(now - 0.5, now)[0]))

    reporter = asyncio.create_task(report_lag())
    send(("ready",))
    try:
        while True:
            try:
                message = await _read_message(reader)
            except (asyncio.IncompleteReadError, EOFError):
                break
            if message[0] == "probe":
                _, job, _kind, target, settings = message
                running[job] = asyncio.create_task(run(job, target, settings))
            elif message[0] == "cancel" and message[1] in running:
                running[message[1]].cancel()
    finally:
        for task in list(running.values()):
            task.cancel()
        reporter.cancel()
        await asyncio.gather(reporter, *running.values(), return_exceptions=True)
        await lag.release()
        with contextlib.suppress(ConnectionError):
            await writer.drain()


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process (``python -m vcfleet.media KIND``)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_worker_main(args[0] if args else "webrtc"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
