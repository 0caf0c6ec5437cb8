"""The push itself: per endpoint back up, diff, apply, read back, verify, roll back on failure.

One endpoint's failure is recorded in its result and never stops the others,
except during a canary stage: when any canary endpoint fails, the rest of the
rollout is not attempted.  A rollback re-applies the backed-up value of every
setting the push meant to change and verifies those values in turn.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from inventory import Endpoint
from vcfleet.push.driver import (
    Driver,
    DriverOptions,
    PushError,
    Unreachable,
    cannot_check,
    supported,
)
from vcfleet.push.drivers import make_driver
from vcfleet.push.template import NativeChange, Template, check_template, render

log = logging.getLogger(__name__)

SECRET_WORDS = ("password", "passphrase", "secret", "privatekey", "token")
REDACTED = "********"


class Outcome(StrEnum):
    """What happened to one endpoint in a push."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    WOULD_CHANGE = "would-change"
    """Dry run: the push would change these settings."""
    ROLLED_BACK = "rolled-back"
    """Applying or verifying failed; the backed-up values are back and verified."""
    ROLLBACK_FAILED = "rollback-failed"
    """Applying failed and so did restoring: the endpoint needs a person."""
    FAILED = "failed"
    """Reached, but the current settings could not be read (or, for a device that fetches
    its settings, what it runs could not be published); nothing was changed."""
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"
    """Not pushable (no driver for its vendor, no SSH service)."""
    NOT_ATTEMPTED = "not-attempted"
    """Left alone because the canary stage failed."""


OK_OUTCOMES = frozenset({Outcome.CHANGED, Outcome.UNCHANGED, Outcome.WOULD_CHANGE,
                         Outcome.SKIPPED})


@dataclass(frozen=True)
class Change:
    """One setting the push changes on one endpoint."""

    name: str
    """Native name (xConfiguration path, Poly setting)."""
    key: str | None
    """Neutral key, None for a raw vendor line."""
    before: str | None
    """Value read before the push (None: the device did not report the setting)."""
    after: str

    @property
    def label(self) -> str:
        """How the operator reads the setting: its neutral key, else its native name."""
        return self.key or self.name

    @property
    def secret(self) -> bool:
        """Whether the values must never be shown or logged."""
        folded = self.name.lower().replace(" ", "") + (self.key or "").lower()
        return any(w in folded for w in SECRET_WORDS)

    def shown(self) -> dict[str, str | None]:
        """The change as printed and audited, secrets redacted."""
        if self.secret:
            return {"setting": self.label, "native": self.name,
                    "before": REDACTED, "after": REDACTED}
        return {"setting": self.label, "native": self.name,
                "before": self.before, "after": self.after}


@dataclass
class EndpointResult:
    """How the push went for one endpoint."""

    endpoint: Endpoint
    outcome: Outcome
    changes: list[Change] = field(default_factory=list)
    error: str | None = None
    duration_s: float = 0.0
    canary: bool = False


@dataclass(frozen=True)
class PushOptions:
    """How to run a push."""

    dry_run: bool = False
    canary: int = 0
    """Push to this many endpoints first; stop the rollout if any of them fails."""
    concurrency: int = 32


@dataclass
class PushReport:
    """Every endpoint's result, in inventory order."""

    results: list[EndpointResult]
    duration_s: float
    canary_failed: bool = False

    def count(self, *outcomes: Outcome) -> int:
        """How many endpoints ended with one of these outcomes."""
        return sum(r.outcome in outcomes for r in self.results)

    @property
    def ok(self) -> bool:
        """Whether every endpoint ended well (changed, unchanged, would change or skipped)."""
        return not self.canary_failed and all(r.outcome in OK_OUTCOMES for r in self.results)


OnResult = Callable[[EndpointResult], None]


def plan(template: Template, endpoints: Sequence[Endpoint],
         options: DriverOptions | None = None) -> dict[str, list[NativeChange]]:
    """Every pushable endpoint's native settings; InputError before any device is touched.

    Endpoints the push will skip (``supported``) are neither checked nor rendered.
    """
    pushable = [e for e in endpoints if supported(e, options) is None]
    check_template(template, pushable)
    out: dict[str, list[NativeChange]] = {}
    for e in pushable:
        last: dict[str, NativeChange] = {}
        for change in render(template, e):
            last.pop(change.name, None)
            last[change.name] = change
        out[e.id] = list(last.values())
    return out


async def run_push(template: Template, endpoints: Sequence[Endpoint], driver_options: DriverOptions,
                   options: PushOptions, on_result: OnResult | None = None) -> PushReport:
    """Push a checked template to endpoints; InputError (nothing touched) if it does not fit."""
    desired = plan(template, endpoints, driver_options)
    start = time.monotonic()
    done: dict[str, EndpointResult] = {}
    sem = asyncio.Semaphore(max(1, options.concurrency))

    def finish(result: EndpointResult) -> None:
        done[result.endpoint.id] = result
        if on_result is not None:
            on_result(result)

    async def one(e: Endpoint, canary: bool) -> None:
        def interrupted(result: EndpointResult) -> None:
            result.canary = canary
            finish(result)

        async with sem:
            result = await push_endpoint(e, desired.get(e.id), driver_options, options.dry_run,
                                         interrupted)
        result.canary = canary
        finish(result)

    own_pool = driver_options.pool is None and driver_options.kind == "netmiko"
    if own_pool:
        driver_options = replace(driver_options, pool=ThreadPoolExecutor(
            max_workers=max(1, options.concurrency), thread_name_prefix="vcfleet-push"))
    try:
        pushable = [e for e in endpoints if e.id in desired]
        for e in endpoints:
            if e.id not in desired:
                finish(EndpointResult(e, Outcome.SKIPPED, error=supported(e, driver_options)))
        n = 0 if options.dry_run else max(0, options.canary)
        canary, rest = pushable[:n], pushable[n:]
        await _all(one(e, True) for e in canary)
        canary_failed = any(done[e.id].outcome not in OK_OUTCOMES for e in canary)
        if canary_failed:
            for e in rest:
                finish(EndpointResult(e, Outcome.NOT_ATTEMPTED,
                                      error="not attempted: the canary stage failed"))
        else:
            await _all(one(e, False) for e in rest)
    finally:
        if own_pool and driver_options.pool is not None:
            driver_options.pool.shutdown(wait=False, cancel_futures=True)
    return PushReport([done[e.id] for e in endpoints], time.monotonic() - start, canary_failed)


async def _all(coros: Iterable[Coroutine[Any, Any, None]]) -> None:
    async with asyncio.TaskGroup() as group:
        for c in coros:
            group.create_task(c)


def diff(before: dict[str, str], desired: Sequence[NativeChange], driver: Driver) -> list[Change]:
    """The settings whose current value differs from the desired one."""
    return [Change(c.name, c.key, before.get(c.name), c.value) for c in desired
            if not driver.dialect.same(c.name, before.get(c.name), c.value)]


async def push_endpoint(endpoint: Endpoint, desired: list[NativeChange] | None,
                        options: DriverOptions, dry_run: bool,
                        on_interrupt: OnResult | None = None) -> EndpointResult:
    """The whole push for one endpoint; never raises, except when cancelled.

    Cancelled (Ctrl-C) while settings are being applied, it first rolls back, hands
    that result to ``on_interrupt`` and then lets the cancellation through.
    """
    start = time.monotonic()
    if desired is None:
        return EndpointResult(endpoint, Outcome.SKIPPED, error=supported(endpoint, options))
    if why := cannot_check(endpoint, options):
        return EndpointResult(endpoint, Outcome.SKIPPED, error=why)
    try:
        driver = make_driver(endpoint, options)
        try:
            result = await _push(driver, desired, options, dry_run, on_interrupt, start)
        finally:
            await driver.close()
    except Exception as exc:  # a bug must cost this endpoint its result, not the whole push
        result = EndpointResult(endpoint, Outcome.FAILED, error=internal_error(exc))
    result.duration_s = time.monotonic() - start
    return result


def internal_error(exc: Exception) -> str:
    """An unexpected exception as one line of an endpoint's result (traceback at debug)."""
    log.debug("unexpected error", exc_info=exc)
    return f"internal error: {type(exc).__name__}: {exc}"


async def _push(driver: Driver, desired: list[NativeChange], options: DriverOptions,
                dry_run: bool, on_interrupt: OnResult | None, start: float) -> EndpointResult:
    e, budget = driver.endpoint, options.deadlines.endpoint_s
    deadline = time.monotonic() + budget
    try:
        async with asyncio.timeout(budget):
            await driver.connect()
    except Unreachable as exc:
        return EndpointResult(e, Outcome.UNREACHABLE, error=str(exc))
    except TimeoutError:
        return EndpointResult(e, Outcome.UNREACHABLE, error=f"no session within {budget:g} s")
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            before = (await driver.read()).settings
    except (PushError, TimeoutError) as exc:
        return EndpointResult(e, Outcome.FAILED, error=f"reading settings: {_why(exc)}")
    changes = diff(before, desired, driver)
    if not changes:
        if dry_run:
            return EndpointResult(e, Outcome.UNCHANGED)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await driver.settled()
        except (PushError, TimeoutError) as exc:
            return EndpointResult(e, Outcome.FAILED, error=_why(exc))
        return EndpointResult(e, Outcome.UNCHANGED)
    if dry_run:
        return EndpointResult(e, Outcome.WOULD_CHANGE, changes)
    try:
        async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
            for c in changes:
                await _apply(driver, c)
            wrong = await driver.verify({c.name: c.after for c in changes})
        if not wrong:
            return EndpointResult(e, Outcome.CHANGED, changes)
        error = "verification failed: " + _mismatches(changes, wrong, "after")
    except (PushError, TimeoutError) as exc:
        error = _why(exc)
    except Exception as exc:  # settings may be half applied: roll back all the same
        error = internal_error(exc)
    except asyncio.CancelledError:
        result = await _rollback(driver, changes, "interrupted while applying", options)
        result.duration_s = time.monotonic() - start
        if on_interrupt is not None:
            on_interrupt(result)
        raise
    return await _rollback(driver, changes, error, options)


async def _apply(driver: Driver, change: Change) -> None:
    try:
        await driver.apply(change.name, change.after)
    except PushError as exc:
        raise PushError(f"setting {change.label}: {exc}") from None


async def _rollback(driver: Driver, changes: list[Change], error: str,
                    options: DriverOptions) -> EndpointResult:
    """Restore every backed-up value, verify it, and say how that went."""
    e = driver.endpoint
    problems: list[str] = []
    budget = options.deadlines.command_s * (len(changes) + 2) + options.deadlines.connect_s
    try:
        async with asyncio.timeout(budget):
            moved = await _still_changed(driver, changes)
            problems += [f"{c.label}: no previous value to restore" for c in moved
                         if c.before is None]
            for c in moved:
                if c.before is None:
                    continue
                try:
                    await driver.apply(c.name, c.before)
                except PushError as exc:
                    problems.append(f"restoring {c.label}: {exc}")
            wrong = await driver.verify({c.name: c.before for c in changes
                                         if c.before is not None})
            if wrong:
                problems.append("restored values differ: " + _mismatches(changes, wrong, "before"))
    except (PushError, TimeoutError) as exc:
        problems.append(f"rollback: {_why(exc)}")
    except Exception as exc:
        problems.append(f"rollback: {internal_error(exc)}")
    if problems:
        return EndpointResult(e, Outcome.ROLLBACK_FAILED, changes,
                              f"{error}; ROLLBACK FAILED: {'; '.join(problems)}")
    return EndpointResult(e, Outcome.ROLLED_BACK, changes, f"{error}; rolled back")


async def _still_changed(driver: Driver, changes: list[Change]) -> list[Change]:
    """The changes whose setting no longer holds its backed-up value (all, if unreadable)."""
    try:
        now = (await driver.read()).settings
    except PushError:
        return changes
    return [c for c in changes if not driver.dialect.same(c.name, now.get(c.name), c.before)]


def _mismatches(changes: list[Change], wrong: dict[str, str | None], side: str) -> str:
    parts = []
    for c in changes:
        if c.name in wrong:
            want = REDACTED if c.secret else getattr(c, side)
            got = REDACTED if c.secret else wrong[c.name]
            parts.append(f"{c.label} is {got!r}, expected {want!r}")
    return "; ".join(parts)


def _why(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "endpoint deadline exceeded"
    return str(exc)
