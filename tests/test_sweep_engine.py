"""The sweep engine: deadlines, isolation, events, cancellation (real TCP listeners)."""

from __future__ import annotations

import asyncio
import time

from inventory import Inventory
from inventory.loader import parse_inventory
from probes import ProbeResult, Target
from vcfleet.checks import GROUPS
from vcfleet.report import Verdict
from vcfleet.sweep import (
    CheckFinished,
    EndpointFinished,
    EndpointStarted,
    Sweep,
    SweepEvent,
    SweepOptions,
    parse_checks,
    run_sweep,
)


def _inventory(prefix: str, count: int, ssh_port: int) -> Inventory:
    lines = [
        "profiles:",
        "  tcp-only: {checks: [tcp]}",
        "defaults:",
        "  vendor: cisco_ce",
        f"  services: {{ssh: {{port: {ssh_port}}}}}",
        "  profile: tcp-only",
        "  tier: commune",
        "endpoints:",
    ]
    for i in range(count):
        lines += [f"  - id: e{i}", f"    name: Điểm cầu {i}", f"    address: {prefix}.{i + 1}"]
    return parse_inventory("\n".join(lines) + "\n", "test.yaml")


async def _listen(prefix: str, count: int) -> tuple[list[asyncio.Server], int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    first = await asyncio.start_server(handle, f"{prefix}.1", 0)
    port = first.sockets[0].getsockname()[1]
    servers = [first] + [await asyncio.start_server(handle, f"{prefix}.{i + 1}", port)
                         for i in range(1, count)]
    return servers, port


async def _close(servers: list[asyncio.Server]) -> None:
    for s in servers:
        s.close()
        await s.wait_closed()


async def test_listening_endpoints_ready_and_closed_ones_down(loopback_prefix: str) -> None:
    servers, port = await _listen(loopback_prefix, 3)
    try:
        inv = _inventory(loopback_prefix, 4, port)  # the 4th address has no listener
        report = await run_sweep(inv)
    finally:
        await _close(servers)
    verdicts = {r.endpoint.id: r.verdict for r in report.endpoints}
    assert verdicts == {"e0": Verdict.READY, "e1": Verdict.READY, "e2": Verdict.READY,
                        "e3": Verdict.DOWN}
    assert report.get("e3").reasons == (f"tcp: connection refused on port {port}",)  # type: ignore[union-attr]
    assert report.summary() == {"total": 4, "ready": 3, "degraded": 0, "down": 1}
    assert report.get("e0").checks["tcp"].result.figures["connect_ms"] >= 0  # type: ignore[union-attr]


async def test_hanging_check_times_out_without_delaying_others(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 20, 9)

    async def runner(target: Target, settings: object) -> ProbeResult:
        if target.name in ("e3", "e7"):
            await asyncio.sleep(3600)
        return ProbeResult(ok=True, figures={"connect_ms": 1.0})

    options = SweepOptions(runners={"tcp": runner}, timeouts={"tcp": 0.3})
    t0 = time.monotonic()
    report = await run_sweep(inv, options=options)
    assert time.monotonic() - t0 < 0.3 + 1.0
    down = {r.endpoint.id for r in report.endpoints if r.verdict is Verdict.DOWN}
    assert down == {"e3", "e7"}
    assert report.get("e3").checks["tcp"].timed_out  # type: ignore[union-attr]
    assert report.get("e3").reasons == ("tcp: no answer within 0.3 s",)  # type: ignore[union-attr]


async def test_a_crashing_probe_fails_only_its_check(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 3, 9)

    async def runner(target: Target, settings: object) -> ProbeResult:
        if target.name == "e1":
            raise RuntimeError("boom")
        return ProbeResult(ok=True)

    report = await run_sweep(inv, options=SweepOptions(runners={"tcp": runner}))
    assert [r.verdict for r in report.endpoints] == [Verdict.READY, Verdict.DOWN, Verdict.READY]
    assert report.endpoints[1].reasons == ("tcp: probe error: RuntimeError: boom",)


async def test_events_arrive_in_order_for_each_endpoint(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 5, 9)
    events: list[SweepEvent] = []

    async def runner(target: Target, settings: object) -> ProbeResult:
        return ProbeResult(ok=True)

    await run_sweep(inv, options=SweepOptions(runners={"tcp": runner}), on_event=events.append)
    for i in range(5):
        mine = [type(e) for e in events
                if getattr(e, "endpoint_id", None) == f"e{i}"
                or (isinstance(e, EndpointFinished) and e.report.endpoint.id == f"e{i}")]
        assert mine == [EndpointStarted, CheckFinished, EndpointFinished]


async def test_cancel_reports_what_finished(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 10, 9)

    async def runner(target: Target, settings: object) -> ProbeResult:
        if target.name != "e0":
            await asyncio.sleep(3600)
        return ProbeResult(ok=True)

    sweep = Sweep(inv, options=SweepOptions(runners={"tcp": runner}))
    task = asyncio.create_task(sweep.run())
    await asyncio.sleep(0.2)
    sweep.cancel()
    report = await asyncio.wait_for(task, 2)
    assert report.cancelled
    assert report.endpoints[0].verdict is Verdict.READY
    assert {r.verdict for r in report.endpoints[1:]} == {Verdict.UNKNOWN}
    assert report.endpoints[1].reasons == ("not checked: sweep cancelled",)


async def test_sweep_deadline_bounds_the_whole_sweep(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 4, 9)

    async def runner(target: Target, settings: object) -> ProbeResult:
        await asyncio.sleep(3600)
        return ProbeResult(ok=True)

    options = SweepOptions(runners={"tcp": runner}, timeouts={"tcp": 60}, deadline_s=0.3)
    t0 = time.monotonic()
    report = await run_sweep(inv, options=options)
    assert time.monotonic() - t0 < 1.3
    assert report.cancelled
    assert report.endpoints[0].reasons == ("not checked: sweep deadline passed",)


def test_parse_checks_expands_groups() -> None:
    assert parse_checks("net,webrtc") == frozenset({*GROUPS["net"], "webrtc"})
    assert {"icmp", "tcp", "sip", "https", "dns"} <= set(GROUPS["net"])
    assert parse_checks("") is None


async def test_kind_limit_bounds_checks_in_flight_and_waiting_is_not_timed(
        loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 12, 9)
    running, peak = 0, 0

    async def runner(target: Target, settings: object) -> ProbeResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.1)
        running -= 1
        return ProbeResult(ok=True)

    # 12 checks, 3 at a time, 0.1 s each: the last waits 0.3 s, longer than its 0.25 s
    # deadline, and is still on time because its deadline starts with its turn.
    options = SweepOptions(runners={"tcp": runner}, kind_limits={"tcp": 3},
                           timeouts={"tcp": 0.25})
    report = await run_sweep(inv, options=options)
    assert peak == 3
    assert {r.verdict for r in report.endpoints} == {Verdict.READY}
    assert all(r.checks["tcp"].duration_s < 0.25 for r in report.endpoints)


async def test_a_probe_that_ignores_its_own_deadline_is_cut_by_the_engine(
        loopback_prefix: str) -> None:
    from dataclasses import dataclass

    from probes.base import OwnDeadline

    @dataclass(frozen=True)
    class Settings(OwnDeadline):  # declares that its probe keeps the deadline itself
        timeout_s: float | None = None

    seen: list[float | None] = []

    async def runner(target: Target, settings: Settings) -> ProbeResult:
        seen.append(settings.timeout_s)
        await asyncio.sleep(3600)  # ignores its deadline
        return ProbeResult(ok=True)

    inv = _inventory(loopback_prefix, 2, 9)
    options = SweepOptions(runners={"tcp": runner}, settings={"tcp": Settings()},
                           timeouts={"tcp": 0.3})
    report = await run_sweep(inv, options=options)
    assert seen == [0.3, 0.3]  # the probe was handed the check's deadline
    check = report.endpoints[0].checks["tcp"]
    assert check.timed_out
    assert check.result.reason == "no answer within 0.3 s"
    assert check.duration_s >= 0.3 + 0.25  # the engine's grace for probes that keep time


async def test_paced_kind_starts_no_faster_than_its_rate(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 6, 9)
    starts: list[float] = []

    async def runner(target: Target, settings: object) -> ProbeResult:
        starts.append(time.monotonic())
        return ProbeResult(ok=True)

    options = SweepOptions(runners={"tcp": runner}, kind_rates={"tcp": 20.0})
    begun = time.monotonic()
    report = await run_sweep(inv, options=options)
    assert {r.verdict for r in report.endpoints} == {Verdict.READY}
    starts.sort()
    # 20 a second: the k-th start comes no sooner than k x 50 ms after the sweep began.
    # Neither each gap nor the time since the first start is asserted: a loop stall
    # wakes the overdue ones together, and the first start alone waits for the probe
    # module's import; both only delay, and a delay never brings a start ahead.
    early = [(k, round(t - begun, 4)) for k, t in enumerate(starts)
             if t - begun < k * 0.05 - 0.001]
    assert early == [], (begun, starts)


async def test_a_hanging_check_gives_up_its_place_after_its_lease(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 4, 9)
    finished: list[str] = []

    async def runner(target: Target, settings: object) -> ProbeResult:
        if target.name == "e0":
            await asyncio.sleep(3600)
        return ProbeResult(ok=True)

    def on(event: SweepEvent) -> None:
        if isinstance(event, CheckFinished):
            finished.append(event.endpoint_id)

    # One place for tcp checks: e0 takes it and hangs; after its lease the others go on
    # and finish long before e0's deadline.
    options = SweepOptions(runners={"tcp": runner}, kind_limits={"tcp": 1},
                           timeouts={"tcp": 2.0})
    report = await run_sweep(inv, options=options, on_event=on)
    assert finished[-1] == "e0"
    assert set(finished[:-1]) == {"e1", "e2", "e3"}
    assert report.get("e0").verdict is Verdict.DOWN  # type: ignore[union-attr]


async def test_unreliable_figures_are_measured_once_more(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 3, 9)
    calls: dict[str, int] = {}

    async def runner(target: Target, settings: object) -> ProbeResult:
        calls[target.name] = calls.get(target.name, 0) + 1
        starved = target.name == "e2" or (calls[target.name] == 1 and target.name == "e1")
        return ProbeResult(ok=True, figures={"connect_ms": 1.0}, unreliable=starved)

    report = await run_sweep(inv, options=SweepOptions(runners={"tcp": runner}))
    assert calls == {"e0": 1, "e1": 2, "e2": 2}
    verdicts = [r.verdict for r in report.endpoints]
    assert verdicts == [Verdict.READY, Verdict.READY, Verdict.UNKNOWN]  # never degraded
    assert report.endpoints[2].checks["tcp"].result.unreliable


async def test_retries_wait_their_turn_only_while_first_measurements_remain(
        loopback_prefix: str) -> None:
    """retry_concurrency holds while a first measurement of the kind is still to come;
    after the last one, the retries are all that is left and run side by side."""
    inv = _inventory(loopback_prefix, 6, 9)
    calls: dict[str, int] = {}
    last_first_done = False
    running = 0
    peak = {"before": 0, "after": 0}

    async def runner(target: Target, settings: object) -> ProbeResult:
        nonlocal running, last_first_done
        calls[target.name] = calls.get(target.name, 0) + 1
        if calls[target.name] == 1:
            if target.name == "e5":  # the last first measurement, still running
                await asyncio.sleep(0.5)
                last_first_done = True
            return ProbeResult(ok=True, unreliable=True)
        running += 1
        phase = "after" if last_first_done else "before"
        peak[phase] = max(peak[phase], running)
        try:
            await asyncio.sleep(0.2)
        finally:
            running -= 1
        return ProbeResult(ok=True)

    # A kind with a limit in flight is a costly one: its retries go through the gate.
    options = SweepOptions(runners={"tcp": runner}, kind_limits={"tcp": 6},
                           retry_concurrency=1)
    report = await run_sweep(inv, options=options)
    assert calls == {f"e{i}": 2 for i in range(6)}
    assert [r.verdict for r in report.endpoints] == [Verdict.READY] * 6
    assert peak["before"] == 1
    assert peak["after"] >= 2


async def test_a_failed_retry_keeps_the_unreliable_figures(loopback_prefix: str) -> None:
    inv = _inventory(loopback_prefix, 1, 9)
    results = iter([ProbeResult(ok=True, unreliable=True), ProbeResult.failure("timed out")])

    async def runner(target: Target, settings: object) -> ProbeResult:
        return next(results)

    report = await run_sweep(inv, options=SweepOptions(runners={"tcp": runner}))
    assert report.endpoints[0].verdict is Verdict.UNKNOWN
    assert report.endpoints[0].checks["tcp"].result.ok


async def test_the_report_lists_the_checks_that_ran_not_those_asked_for(
        loopback_prefix: str) -> None:
    from vcfleet.render.table import report_table

    servers, port = await _listen(loopback_prefix, 1)
    try:
        report = await run_sweep(_inventory(loopback_prefix, 1, port),
                                 options=SweepOptions(checks=parse_checks("net")))
    finally:
        await _close(servers)
    assert report.checks == ("tcp",)  # net asks for six kinds; the tcp-only rooms ran one
    assert report.to_json()["checks"] == ["tcp"]
    assert report_table(report).startswith("Sweep of 1 rooms (tcp) in ")
