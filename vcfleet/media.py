"""Media probes in worker processes, at a concurrency that keeps their figures true.

A WebRTC loopback is CPU work (SRTP, RTCP, DTLS, ICE) paced on an event loop.
Its figures are timed by the kernel's receive stamps, so a busy loop does not
show in them, but a starved one sends its stream in bursts and a sweep that
overloads it takes longer for every probe in flight.  ``MediaPool`` runs
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

Workers (``python -m vcfleet.media KIND``) speak ``probes.childproc``: requests
``("probe", target, settings)`` answered with a ``ProbeResult``, the channel's
``("cancel", id)``; events ``("ready",)`` and ``("lag", p95_s)`` out.

``start_pool`` is the one way the sweep and the exporter start a pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvloop

from probes import ProbeResult, Target, load_probe
from probes.childproc import Child, ChildError, ParentLink

log = logging.getLogger(__name__)

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
    lag_target_ms: float = 15.0
    """Event-loop lag (95th percentile over half a second) above which a worker's
    limit shrinks by a fifth (at most every 2 s); below half of it, a busy worker's
    limit grows by a quarter (at least one) per report.  The probe's figures are timed
    by the kernel and do not move with the lag (tests/test_kernel_arrival.py), so the
    target is what keeps well inside the probe's own limit (``max_loop_lag_ms``, 50)
    while both cores work: 15 ms kept 1.8 of 2 cores busy, 6 ms (the target while
    arrivals were timed by the loop) 1.4-1.6 (docs/webrtc.md, "Sixth session")."""


@dataclass
class MediaWorker:
    """One media worker process of a pool, and what the pool knows of its load."""

    index: int
    child: Child
    limit: int
    in_flight: int = 0
    lag_ms: float = 0.0
    alive: bool = True
    stopped: bool = False
    """Stopped by the pool (not lost)."""
    last_decrease: float = 0.0
    orphans: set[int] = field(default_factory=set)
    """Jobs whose caller was cancelled: still running here until the worker says so."""

    @property
    def process(self) -> asyncio.subprocess.Process:
        """The worker's process."""
        assert self.child.process is not None
        return self.child.process


class MediaPool:
    """WebRTC (and other media) probes spread over worker processes; see the module doc."""

    def __init__(self, workers: int | None = None, limits: PoolLimits | None = None,
                 kind: str = "webrtc", start_timeout_s: float = 30.0) -> None:
        self.size = workers or max(1, os.cpu_count() or 1)
        self.limits = limits or PoolLimits()
        self.kind = kind
        self.start_timeout_s = start_timeout_s
        self.workers: list[MediaWorker] = []
        self._reserved = 0
        self._changed = asyncio.Event()

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
        child = Child("vcfleet.media", [self.kind], name=f"media worker {index}",
                      start_timeout_s=self.start_timeout_s)
        worker = MediaWorker(index, child, self.limits.start)
        child.on_event = lambda body: self._event(worker, body)
        child.on_exit = lambda reason: self._exited(worker)
        self.workers.append(worker)
        try:
            await child.start()
        except ChildError as exc:
            raise RuntimeError(str(exc)) from None

    async def stop(self) -> None:
        """Stop every worker (their probes end and close their connections)."""
        for worker in self.workers:
            worker.alive, worker.stopped = False, True
        await asyncio.gather(*(w.child.stop(grace_s=5.0) for w in self.workers))
        self.workers = []
        self._wake()

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
        while not (self._in_use() < self._total_limit()
                   or not any(w.alive for w in self.workers)):
            self._changed.clear()  # every waiter wakes on a change and looks again
            await self._changed.wait()
        self._reserved += 1
        token = _SLOT_HOLDER.set(asyncio.current_task())
        try:
            yield
        finally:
            _SLOT_HOLDER.reset(token)
            self._reserved -= 1
            self._wake()

    def _wake(self) -> None:
        self._changed.set()

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
        try:
            job, done = worker.child.request(("probe", target, settings))
        except ChildError:
            return ProbeResult.failure(self._lost(worker))
        worker.in_flight += 1
        done.add_done_callback(lambda _: self._finish(worker, job))
        try:
            result: ProbeResult = await asyncio.shield(done)
            return result
        except asyncio.CancelledError:
            # The worker cancels the probe, which closes its connection; the slot
            # stays counted until the worker says the probe has ended.
            if not done.done():
                worker.orphans.add(job)
                worker.child.cancel(job)
            raise
        except ChildError:
            return ProbeResult.failure(self._lost(worker))

    def _lost(self, worker: MediaWorker) -> str:
        return "media worker stopped" if worker.stopped else \
            f"media worker {worker.index} exited"

    def _event(self, worker: MediaWorker, body: Any) -> None:
        if body[0] == "lag":
            self._adapt(worker, float(body[1]) * 1000.0)
            self._wake()

    def _exited(self, worker: MediaWorker) -> None:
        worker.alive = False
        self._wake()

    def _finish(self, worker: MediaWorker, job: int) -> None:
        worker.in_flight -= 1
        worker.orphans.discard(job)
        self._wake()

    def _adapt(self, worker: MediaWorker, lag_ms: float) -> None:
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


async def start_pool(workers: int | None, where: str = "this process") -> MediaPool | None:
    """A started pool of ``workers`` media workers, or None (with a warning saying the
    WebRTC checks run in ``where`` instead) if the workers cannot start."""
    pool = MediaPool(workers)
    try:
        await pool.start()
    except (OSError, RuntimeError, TimeoutError) as exc:
        log.warning("WebRTC checks run in %s: no media workers: %s", where, exc)
        return None
    return pool


# -- the worker process ------------------------------------------------------------------

WORKER_NICE = 5
"""How much lower than the sweep's own process a media worker runs.  Its figures are
timed by the kernel (arrivals) and at the moment of sending, so waiting for the CPU
costs it time, not truth; the sweep's process (the SIP, ICMP and HTTPS probes, whose
verdicts depend on answering in time) and anything else on the machine go first."""


async def _worker_main(kind: str) -> None:
    from probes.webrtc_media import opus_packet
    from probes.webrtc_stats import LoopLag

    link = await ParentLink.connect()
    probe_kind = load_probe(kind)
    opus_packet()  # encode the shared packet before the first probe's clock starts

    async def run(request: tuple[Any, ...]) -> ProbeResult:
        _, target, settings = request
        try:
            return await probe_kind.probe(target, settings)
        except asyncio.CancelledError:
            return ProbeResult.failure("cancelled")
        except Exception as exc:  # one probe's crash is that probe's failure
            return ProbeResult.failure(f"probe error: {type(exc).__name__}: {exc}")

    lag = LoopLag.of_running_loop()
    lag.acquire()

    async def report_lag() -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            link.send(("lag", lag.summary(now - 0.5, now)[0]))

    reporter = asyncio.create_task(report_lag())
    link.ready()
    try:
        await link.serve(run)
    finally:
        reporter.cancel()
        await asyncio.gather(reporter, return_exceptions=True)
        await lag.release()
        await link.close()


def main(argv: list[str] | None = None) -> int:
    """Entry point of a worker process (``python -m vcfleet.media KIND``)."""
    args = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.ERROR, stream=sys.stderr)
    with contextlib.suppress(OSError):
        os.nice(WORKER_NICE)
    with contextlib.suppress(KeyboardInterrupt):
        # uvloop: a media worker spends its time in the loop's UDP and timer paths,
        # where uvloop costs about 30 % less CPU per room (docs/decisions.md).
        uvloop.run(_worker_main(args[0] if args else "webrtc"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
