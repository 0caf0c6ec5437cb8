"""The sweep engine: run each endpoint's checks concurrently, each under its own deadline.

Like blackbox_exporter's handler, the engine (not the probe) owns the
cross-cutting work: it builds the target, derives the deadline, times the
check, cancels it when the deadline passes, and turns any crash into that
check's failure, so that one endpoint's trouble never disturbs another's
result.  Progress is reported through events as it happens; ``Sweep.cancel()``
stops a running sweep and its report says what finished.

    report = await run_sweep(inventory, inventory.select("tier=commune"),
                             SweepOptions(checks=parse_checks("net")))
"""

from __future__ import annotations

import asyncio
import bisect
import collections
import contextlib
import dataclasses
import logging
import resource
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from inventory import Endpoint, InputError, Inventory, Thresholds
from probes import ProbeResult, ProbeSettings, Target
from vcfleet.checks import CHECKS, DEFAULT_TIMEOUTS, GROUPS, KINDS, target_for
from vcfleet.report import (
    CheckReport,
    EndpointReport,
    SweepReport,
    Verdict,
    judge,
)

log = logging.getLogger(__name__)

Runner = Callable[[Target, Any], Awaitable[ProbeResult]]
"""How one check runs: ``probe(target, settings)`` or a stand-in (e.g. a worker pool)."""

DEFAULT_KIND_LIMITS: dict[str, int] = {"https": 128}
"""At most this many checks of a kind at once, sweep-wide (see ``SweepOptions.kind_limits``)."""
DEFAULT_KIND_RATES: dict[str, float] = {"https": 1000.0}
"""At most this many checks of a kind start per second (see ``SweepOptions.kind_rates``)."""

STALL_S = 0.25
"""A check that ran out of time while the sweep's event loop stalled this long at once
says nothing about the room: the
prober was starved (a competing process, a burst of TLS handshakes), so it is measured
once more, and if that still fails under a stall the room is unknown, never down."""
NET_RETRY_CONCURRENCY = 64
"""At most this many such re-measurements of timed-out checks at once (cheap checks,
most of them dead rooms that wait their deadline: 8 at a time would make a loaded
sweep with 34 dead rooms 9 s longer).  A kind with a limit of its own in flight
(``kind_limits``: HTTPS, whose TLS handshakes cost CPU) is re-measured
``retry_concurrency`` at a time."""

PROBE_GRACE_S = 0.25
"""How long after a check's deadline the engine cuts a probe that keeps the deadline itself
(its timer and the engine's would otherwise fire in the same loop iteration when the loop
lags, and the engine's bare message would win)."""


def parse_checks(text: str | None) -> frozenset[str] | None:
    """``--checks net,webrtc`` as a set of check kinds; None (profile decides) if empty."""
    if not text:
        return None
    out: set[str] = set()
    for word in (w.strip() for w in text.split(",")):
        if word in GROUPS:
            out.update(GROUPS[word])
        elif word in CHECKS:
            out.add(word)
        else:
            names = ", ".join([*GROUPS, *CHECKS])
            raise InputError(f"unknown check {word!r} in --checks (choose from {names})")
    return frozenset(out)


@dataclass(frozen=True)
class SweepOptions:
    """How a sweep runs; every field has an operator-sensible default."""

    checks: frozenset[str] | None = None
    """Restrict to these check kinds; None runs every check of each endpoint's profile."""
    concurrency: int = 1024
    """Endpoints in flight at once (each runs its checks concurrently).  High enough that a
    province's rooms all start at once: a room that hangs then ends with its deadline
    instead of waiting for a slot (measured on the demo fleet with 10 % hanging: 3.0-3.3 s
    at 1024, 3.9-4.1 s at 256, deadline 2 s); CPU-heavy kinds have their own limit."""
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TIMEOUTS))
    """Deadline of each check kind, in seconds."""
    deadline_s: float | None = None
    """Deadline of the whole sweep; endpoints not finished by then are reported unknown."""
    thresholds: Mapping[str, float] = field(default_factory=dict)
    """Threshold keys that win over the inventory's and the profiles' (``--threshold``)."""
    settings: Mapping[str, Any] = field(default_factory=dict)
    """Settings instance per check kind (defaults: each probe module's ``Settings()``);
    a profile's ``settings:`` change keys of it for that profile's rooms."""
    kind_limits: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_KIND_LIMITS))
    """At most this many checks of a kind in flight (each holding its place at most
    ``Turns.LEASE_S``, so that a check that hangs delays the others by that, never by its
    deadline).  With the pacing below it keeps a fleet larger than the prober can
    handshake with at once (3000 rooms: 2771 falsely degraded without it) to what
    completes.  A check's deadline starts when its turn comes."""
    kind_rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_KIND_RATES))
    """At most this many checks of a kind start per second.  A TLS handshake costs the
    prober (and, against the simulator, the same two cores) a millisecond or more of CPU;
    hundreds started at once starve the event loop, so every check would measure the
    prober's queue instead of the room.  Pacing the starts (HTTPS: 1000 a second, the
    demo fleet's 348 within 0.35 s) keeps fewer handshakes in flight, and unlike a limit
    on checks in flight it never makes a room wait for another room that hangs (demo
    fleet, 10 % hanging, deadline 2 s: 2.9 s paced, 4.5-4.7 s with 64 in flight).  A
    check's deadline starts when its turn comes."""
    runners: Mapping[str, Runner] = field(default_factory=dict)
    """Replacement runner per check kind (the WebRTC worker pool plugs in here).  A runner
    with a ``slot()`` async context manager admits each check before its deadline starts."""
    retry_unreliable: int = 1
    """How many times a check whose figures came back ``unreliable`` (the prober was
    overloaded) is measured again; only a good, reliable retry replaces them."""
    retry_concurrency: int = 8
    """At most this many such re-measurements at once, sweep-wide, while first
    measurements of the kind are still to run: the retry runs at lower concurrency than
    the pass that starved it.  Once every first measurement of the kind has run, the
    retries are all that is left and run as the runner admits them (``RetryGate``)."""
    media_workers: int | None = None
    """Worker processes for WebRTC checks when no runner is given (``vcfleet.media``):
    None one per core, 0 none (probes run in this process)."""
    source: str = "sweep"
    """Recorded in the report: who ran the sweep."""
    selector: str = ""


# -- events ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EndpointStarted:
    """An endpoint's checks have started."""

    endpoint_id: str


@dataclass(frozen=True)
class CheckFinished:
    """One check of one endpoint finished (successfully or not)."""

    endpoint_id: str
    check: CheckReport


@dataclass(frozen=True)
class EndpointFinished:
    """Every check of an endpoint finished; its verdict is known."""

    report: EndpointReport


SweepEvent = EndpointStarted | CheckFinished | EndpointFinished
EventHandler = Callable[[SweepEvent], None]


# -- the engine ------------------------------------------------------------------------


class Sweep:
    """One sweep over a list of endpoints.  ``run()`` once; ``cancel()`` from anywhere."""

    def __init__(self, inventory: Inventory, endpoints: Sequence[Endpoint] | None = None,
                 options: SweepOptions | None = None,
                 on_event: EventHandler | None = None) -> None:
        self.inventory = inventory
        self.endpoints = list(inventory.endpoints if endpoints is None else endpoints)
        self.options = options or SweepOptions()
        self.on_event = on_event
        self.results: dict[str, EndpointReport] = {}
        self._cancelled = False
        self._tasks: list[asyncio.Task[None]] = []
        self._runners: dict[tuple[str, str], tuple[Runner, Any]] = {}
        self._turns: dict[str, Turns] = {}
        self._pacers: dict[str, Pacer] = {}
        self._retries = RetryGate(1)
        self._timeout_retries = asyncio.Semaphore(NET_RETRY_CONCURRENCY)
        self._watch = LoopWatch()
        self._pooled: dict[str, Runner] = {}

    def cancel(self) -> None:
        """Stop the sweep; ``run()`` returns the report of what finished."""
        self._cancelled = True
        for task in self._tasks:
            task.cancel()

    async def run(self) -> SweepReport:
        """Run every endpoint's checks and return the report (partial if cancelled)."""
        started, t0 = time.time(), time.monotonic()
        sem = asyncio.Semaphore(max(1, self.options.concurrency))
        self._turns = {kind: Turns(n, self._watch)
                       for kind, n in self.options.kind_limits.items()}
        self._pacers = {kind: Pacer(rate) for kind, rate in self.options.kind_rates.items()
                        if rate > 0}
        self._retries = RetryGate(self.options.retry_concurrency)
        for endpoint in self.endpoints:
            self._retries.first_left.update(self._wanted(endpoint))
        pool = await self._start_media_pool()
        self._watch.start()
        self._tasks = [asyncio.create_task(self._endpoint(e, sem), name=f"sweep:{e.id}")
                       for e in self.endpoints]
        timed_out = False
        try:
            if self._tasks:
                _, pending = await asyncio.wait(self._tasks, timeout=self.options.deadline_s)
                timed_out = bool(pending)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            self._watch.stop()
            if pool is not None:
                await pool.stop()
        why = "sweep cancelled" if self._cancelled else "sweep deadline passed"
        reports = tuple(self.results.get(e.id) or EndpointReport(e, Verdict.UNKNOWN,
                                                                 (f"not checked: {why}",))
                        for e in self.endpoints)
        ran = {name for r in reports for name in r.checks}
        return SweepReport(
            endpoints=reports, started_at=started, duration_s=time.monotonic() - t0,
            checks=tuple(kind for kind in CHECKS if kind in ran), selector=self.options.selector,
            cancelled=self._cancelled or timed_out, source=self.options.source)

    async def _start_media_pool(self) -> Any:
        """Run WebRTC checks in worker processes (vcfleet.media) unless told otherwise."""
        wanted = self.options.checks is None or "webrtc" in self.options.checks
        if (not wanted or self.options.media_workers == 0 or "webrtc" in self.options.runners
                or not any(e.services.webrtc and "webrtc" in self.inventory.profile(e).checks
                           for e in self.endpoints)):
            return None
        from vcfleet.media import start_pool

        pool = await start_pool(self.options.media_workers)
        if pool is not None:
            self._pooled["webrtc"] = pool
        return pool

    def _emit(self, event: SweepEvent) -> None:
        if self.on_event is None:
            return
        try:
            self.on_event(event)
        except Exception:  # a consumer's bug must not break the sweep
            log.exception("sweep event handler failed")

    async def _endpoint(self, endpoint: Endpoint, sem: asyncio.Semaphore) -> None:
        async with sem:
            self._emit(EndpointStarted(endpoint.id))
            profile = self.inventory.profile(endpoint)
            planned = [(kind, target_for(self.inventory, endpoint, kind))
                       for kind in self._wanted(endpoint)]
            for kind, target in planned:
                if target is None:
                    self._retries.first_done(kind)  # the room has no such check
            runs = [self._check(endpoint, kind, target, kind not in profile.advisory)
                    for kind, target in planned if target is not None]
            checks = await asyncio.gather(*runs)
            thresholds = self.inventory.thresholds_for(endpoint, self.options.thresholds)
            settings = {kind: self._runners[kind, endpoint.profile][1] for kind in ("device",)
                        if (kind, endpoint.profile) in self._runners}  # its profile's policy
            report = judge(endpoint, {c.name: c for c in checks}, thresholds, settings)
            self.results[endpoint.id] = report
            self._emit(EndpointFinished(report))

    def _wanted(self, endpoint: Endpoint) -> list[str]:
        """The kinds of check the sweep asks of ``endpoint`` (some may not apply to it)."""
        return [c for c in self.inventory.profile(endpoint).checks
                if self.options.checks is None or c in self.options.checks]

    def _timeout(self, kind: str) -> float:
        return self.options.timeouts.get(kind, DEFAULT_TIMEOUTS.get(kind, 5.0))

    def _runner(self, kind: str, endpoint: Endpoint) -> tuple[Runner, Any]:
        """The runner and settings of a kind for rooms of the endpoint's profile (its
        ``settings:`` change keys of the sweep's settings; its thresholds, which depend
        on the profile only, fill the loss threshold a probe sizes its sample by)."""
        profile = endpoint.profile
        if (kind, profile) not in self._runners:
            spec = KINDS[kind].probe()
            settings = self.options.settings.get(kind) or KINDS[kind].settings()
            changes = self.inventory.profiles[profile].settings.get(kind)
            if changes:
                settings = dataclasses.replace(settings, **changes)
            settings = with_probe_deadline(settings, self._timeout(kind))
            settings = with_loss_threshold(
                settings, self.inventory.thresholds_for(endpoint, self.options.thresholds))
            runner = self.options.runners.get(kind) or self._pooled.get(kind, spec.probe)
            self._runners[kind, profile] = (runner, settings)
        return self._runners[kind, profile]

    def _hard_deadline(self, settings: Any, timeout: float) -> float:
        """The engine's own bound: the check's deadline, plus a grace when the probe keeps
        that deadline itself (so that the probe, not the engine, says what it saw)."""
        own = settings.own_deadline() if _is_probe_settings(type(settings)) else None
        return timeout + PROBE_GRACE_S if own is not None and own <= timeout else timeout

    async def _check(self, endpoint: Endpoint, kind: str, target: Target | ProbeResult,
                     required: bool) -> CheckReport:
        timeout = self._timeout(kind)
        turn = self._turns.get(kind)
        pacer = self._pacers.get(kind)
        if pacer is not None:
            await pacer.turn()
        async with turn.lease() if turn is not None else contextlib.nullcontext():
            start = time.monotonic()
            timed_out = False
            if isinstance(target, ProbeResult):  # the target could not be built (a secret)
                result = target
                self._retries.first_done(kind)
            else:
                result, timed_out = await self._run_probe(kind, endpoint, target, timeout)
                stalled = (self._starved(result, timed_out, start, timeout)
                           if KINDS[kind].group == "net" else None)  # media: its own test
                if stalled is not None:
                    result, timed_out = await self._measure_again(kind, endpoint, target,
                                                                  timeout, stalled)
                self._retries.first_done(kind)
                for _ in range(self.options.retry_unreliable if result.unreliable
                               and stalled is None else 0):
                    # The prober, not the network, was starved: measure once more (the
                    # media pool admits fewer checks while its loops lag).  Only a good,
                    # reliable retry replaces the first figures: a retry that fails under
                    # load must not turn an unjudged room into a down one.
                    async with self._retry_limit(kind):
                        retry, retry_timed_out = await self._run_probe(kind, endpoint, target,
                                                                       timeout)
                    if retry.ok and not retry.unreliable:
                        result, timed_out = retry, retry_timed_out
                        break
            duration = time.monotonic() - start
        check = CheckReport(kind, result, required, duration, timed_out)
        self._emit(CheckFinished(endpoint.id, check))
        return check

    def _starved(self, result: ProbeResult, timed_out: bool, start: float,
                 timeout: float) -> ProbeResult | None:
        """The result marked unreliable when it is a failure from running out of time
        while the event loop stalled (``STALL_S``); None when it tells about the room."""
        if result.ok or result.unchecked:
            return None
        end = time.monotonic()
        if not timed_out and end - start < 0.9 * timeout:
            return None  # refused, closed, garbage: an answer, not a deadline
        worst, total = self._watch.lag(start, end)
        if worst < STALL_S:  # a busy loop, many times a few ms late, loses no answer
            return None
        info = {**result.info, "loop_lag_max_ms": round(worst * 1000, 1),
                "loop_lag_total_ms": round(total * 1000, 1), "overloaded": "prober"}
        return dataclasses.replace(result, unreliable=True, info=info)

    def _cheap(self, kind: str) -> bool:
        """ICMP, SIP, TCP...: cheap to re-measure, mostly waiting (not media, not a kind
        with a limit in flight such as HTTPS, whose TLS handshakes cost CPU)."""
        return KINDS[kind].group == "net" and kind not in self.options.kind_limits

    def _retry_limit(self, kind: str) -> contextlib.AbstractAsyncContextManager[Any]:
        """How many re-measurements of a kind at once: ``retry_concurrency`` for the
        costly kinds while their first measurements run (``RetryGate``), else
        ``NET_RETRY_CONCURRENCY``."""
        return self._timeout_retries if self._cheap(kind) else self._retries.turn(kind)

    async def _measure_again(self, kind: str, endpoint: Endpoint, target: Target,
                             timeout: float, stalled: ProbeResult) -> tuple[ProbeResult, bool]:
        """Measure a check that timed out under a stall once more; its result stands
        unless it too timed out under a stall (then the first, unreliable, stays)."""
        async with self._retry_limit(kind):
            start = time.monotonic()
            retry, retry_timed_out = await self._run_probe(kind, endpoint, target, timeout)
        if self._starved(retry, retry_timed_out, start, timeout) is None:
            return retry, retry_timed_out
        return stalled, True

    async def _run_probe(self, kind: str, endpoint: Endpoint, target: Target,
                         timeout: float) -> tuple[ProbeResult, bool]:
        try:
            runner, settings = self._runner(kind, endpoint)
            slot = getattr(runner, "slot", None)  # a pool admits checks as capacity frees
            async with slot() if slot is not None else contextlib.nullcontext():
                async with asyncio.timeout(self._hard_deadline(settings, timeout)):
                    return await runner(target, settings), False
        except TimeoutError:
            return ProbeResult.failure(f"no answer within {timeout:g} s"), True
        except Exception as exc:  # one probe's crash is that check's failure, nothing more
            log.debug("probe %s on %s crashed", kind, target.name, exc_info=True)
            return ProbeResult.failure(f"probe error: {type(exc).__name__}: {exc}"), False


class RetryGate:
    """Admits re-measurements of the costly kinds (media, and kinds with a limit in flight).

    At most ``low`` run at once, sweep-wide, while a first measurement of the same kind
    is still to come, so that a retry does not run under the load that spoiled the first
    run.  Once a kind's first measurements have all run, its retries compete only with
    one another and go through as fast as the runner admits them (the media pool's
    limit follows its workers' lag).  Eight at a time on an idle machine made a
    348-room media sweep with 121 retries run 22 s longer (bench_webrtc --timeline).
    """

    def __init__(self, low: int) -> None:
        self.low = max(1, low)
        self.running = 0
        self.first_left: collections.Counter[str] = collections.Counter()
        """Per kind: first measurements not yet run (every kind is counted; only the
        costly ones ask the gate)."""
        self._changed = asyncio.Event()

    def first_done(self, kind: str) -> None:
        """One first measurement of ``kind`` has run."""
        self.first_left[kind] -= 1
        self._changed.set()

    @contextlib.asynccontextmanager
    async def turn(self, kind: str) -> AsyncIterator[None]:
        """Hold one re-measurement's turn."""
        while self.running >= self.low and self.first_left[kind] > 0:
            self._changed.clear()
            await self._changed.wait()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1
            self._changed.set()


class LoopWatch:
    """How late the sweep's event loop ran: a timer every ``TICK_S`` notes its lateness,
    so that a check can be asked how much the loop stalled while it ran (``lag``)."""

    TICK_S = 0.02
    FLOOR_S = 0.005
    """Lateness below this is not kept (scheduling noise)."""
    LAGGING_S = 0.05
    RECENT_S = 0.25

    def __init__(self) -> None:
        self._late: list[tuple[float, float]] = []
        """(when the tick ran, how late it was), in time order, lateness >= FLOOR_S."""
        self._handle: asyncio.TimerHandle | None = None
        self._due = 0.0

    def start(self) -> None:
        """Start ticking (in the running loop)."""
        self._due = asyncio.get_running_loop().time() + self.TICK_S
        self._handle = asyncio.get_running_loop().call_at(self._due, self._tick)

    def stop(self) -> None:
        """Stop ticking."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now - self._due >= self.FLOOR_S:
            self._late.append((now, now - self._due))
        self._due = now + self.TICK_S
        self._handle = loop.call_at(self._due, self._tick)

    def lagging(self) -> bool:
        """True when the loop ran ``LAGGING_S`` late within the last ``RECENT_S``."""
        if not self._late:
            return False
        at, late = self._late[-1]
        return late >= self.LAGGING_S and time.monotonic() - at < self.RECENT_S

    def lag(self, start: float, end: float) -> tuple[float, float]:
        """The worst single stall and the total lateness of the loop between ``start``
        and ``end`` (``time.monotonic()``, the loop's clock), in seconds: only the part
        of a stall inside the window counts (a check that starts as a stall ends did
        not suffer it)."""
        worst = total = 0.0
        for at, late in self._late[bisect.bisect_left(self._late, (start, 0.0)):]:
            if at - late > end:
                break
            inside = min(at, end) - max(at - late, start)
            if inside > 0:
                worst, total = max(worst, inside), total + inside
        return worst, total


class Turns:
    """At most ``n`` checks of a kind in flight, each holding its place at most ``LEASE_S``.

    A check that is still running after its lease gives its place to the next one and
    goes on: the limit spreads the CPU-heavy start of hundreds of checks (a TLS
    handshake) over time and adapts to how fast they complete, yet a check that hangs
    delays the queue by its lease, never by its whole deadline."""

    LEASE_S = 0.25
    FLOOR = 8
    """While the sweep's loop lags (``LoopWatch.lagging``), no more than this many in
    flight: hundreds of TLS handshakes advanced in one slow loop iteration are what
    stalls a starved prober for a second at a time, and every check then times out."""

    def __init__(self, n: int, watch: LoopWatch | None = None) -> None:
        self.free = asyncio.Semaphore(max(1, n))
        self.watch = watch
        self.held = 0

    @contextlib.asynccontextmanager
    async def lease(self) -> AsyncIterator[None]:
        """Hold a place for the block, or for ``LEASE_S`` if the block runs longer."""
        while self.watch is not None and self.held >= self.FLOOR and self.watch.lagging():
            await asyncio.sleep(LoopWatch.TICK_S)
        await self.free.acquire()
        self.held += 1
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                self.held -= 1
                self.free.release()

        timer = asyncio.get_running_loop().call_later(self.LEASE_S, release)
        try:
            yield
        finally:
            timer.cancel()
            release()


class Pacer:
    """Paces the starts of one check kind at ``rate`` a second (FIFO): the k-th start
    comes no sooner than ``k/rate`` seconds after the first.  Starts are ``1/rate``
    apart while the loop keeps time; after a loop stall the overdue ones start in the
    same iteration (a stall delays starts, it never brings one ahead of the rate)."""

    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self.next_at = 0.0

    async def turn(self) -> None:
        """Wait for this caller's start time."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


_PROBE_SETTINGS: dict[type, bool] = {}


def _is_probe_settings(kind: type) -> bool:
    """``isinstance(settings, ProbeSettings)`` once per type: a runtime-checkable
    Protocol's isinstance walks its members (about 50 us), once per check before."""
    found = _PROBE_SETTINGS.get(kind)
    if found is None:
        found = _PROBE_SETTINGS[kind] = issubclass(kind, ProbeSettings)
    return found


def with_probe_deadline(settings: Any, timeout: float) -> Any:
    """Settings that keep the check's deadline where the probe keeps one itself
    (``ProbeSettings.with_deadline``), so that the probe stops on time and says what it
    saw ("no answer to OPTIONS in 2 s (3 transmissions)") rather than the engine's bare
    "no answer within 2 s".  The engine still cuts the check ``PROBE_GRACE_S`` later,
    whatever the probe does.  Settings of a stand-in runner pass unchanged."""
    return settings.with_deadline(timeout) if _is_probe_settings(type(settings)) else settings


def with_loss_threshold(settings: Any, thresholds: Thresholds) -> Any:
    """``settings`` with ``loss_threshold`` set to the loss ratio the room is judged by,
    where the probe takes one and none is set (the WebRTC probe measures an ambiguous
    room's loss on until it is clearly on one side of it)."""
    if getattr(settings, "loss_threshold", False) is None:
        return dataclasses.replace(settings, loss_threshold=thresholds.loss_ratio)
    return settings


async def run_sweep(inventory: Inventory, endpoints: Sequence[Endpoint] | None = None,
                    options: SweepOptions | None = None,
                    on_event: EventHandler | None = None) -> SweepReport:
    """Run one sweep to completion (or its deadline) and return its report."""
    return await Sweep(inventory, endpoints, options, on_event).run()


def raise_open_file_limit(wanted: int) -> int:
    """Raise RLIMIT_NOFILE's soft limit towards ``wanted``; return the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return soft
    new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
