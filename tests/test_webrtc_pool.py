"""The media worker pool: probes in worker processes, admission, cancellation, worker loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from probes.base import Target
from probes.webrtc import Settings
from probes.webrtc_responder import Responder
from vcfleet.media import MediaPool, PoolLimits

SHORT = Settings(duration_s=1.0, rtcp_grace_s=2.5)


@pytest.fixture
async def responders(loopback_prefix: str) -> AsyncIterator[list[Responder]]:
    rs = [Responder(token="t") for _ in range(3)]
    try:
        for i, r in enumerate(rs):
            await r.start(f"{loopback_prefix}.{i + 1}", 0)
        yield rs
    finally:
        for r in rs:
            await r.stop()


def target(r: Responder) -> Target:
    return Target(r.host, url=r.url, token="t", name=r.host)


@pytest.mark.timeout(90)
async def test_probes_run_in_workers(responders: list[Responder]) -> None:
    async with MediaPool(workers=2) as pool:
        assert len(pool.workers) == 2
        results = await asyncio.gather(*(pool(target(r), SHORT) for r in responders))
        assert all(w.in_flight == 0 for w in pool.workers)
    assert [r.ok for r in results] == [True] * 3, [r.reason for r in results]
    assert all(r.figures["rtt_ms"] > 0 for r in results)
    assert all(r.sessions_total == 1 and not r.sessions for r in responders)


@pytest.mark.timeout(90)
async def test_admission_waits_for_capacity(responders: list[Responder]) -> None:
    limits = PoolLimits(start=1, minimum=1, maximum=1)
    async with MediaPool(workers=1, limits=limits) as pool:
        async with pool.slot():
            waiting = asyncio.create_task(_in_slot(pool))
            await asyncio.sleep(0.3)
            assert not waiting.done()  # the only slot is held
            result = await pool(target(responders[0]), SHORT)  # runs in the held slot
        assert result.ok, result.reason
        async with asyncio.timeout(30):
            assert await waiting


async def _in_slot(pool: MediaPool) -> bool:
    async with pool.slot():
        return True


@pytest.mark.timeout(90)
async def test_cancelled_probe_is_cancelled_in_the_worker(responders: list[Responder]) -> None:
    r = responders[0]
    async with MediaPool(workers=1) as pool:
        task = asyncio.create_task(pool(target(r), Settings(duration_s=10)))
        async with asyncio.timeout(20):
            while not any(s.connected for s in r.sessions.values()):
                await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        async with asyncio.timeout(10):
            while r.sessions or pool.workers[0].in_flight:
                await asyncio.sleep(0.05)  # the worker closed the probe: DELETE, slot freed


@pytest.mark.timeout(90)
async def test_lost_worker_fails_its_probes_clearly(responders: list[Responder]) -> None:
    async with MediaPool(workers=1) as pool:
        task = asyncio.create_task(pool(target(responders[0]), Settings(duration_s=10)))
        await asyncio.sleep(0.5)
        pool.workers[0].process.kill()
        async with asyncio.timeout(10):
            result = await task
        assert not result.ok
        assert result.reason == "media worker 0 exited"
        later = await pool(target(responders[1]), SHORT)
        assert later.reason == "no media worker is running"


@pytest.mark.timeout(90)
async def test_a_running_probe_counts_once_against_the_limit(
        responders: list[Responder]) -> None:
    limits = PoolLimits(start=1, minimum=1, maximum=1)
    async with MediaPool(workers=2, limits=limits) as pool:
        runs = [asyncio.create_task(pool(target(r), SHORT)) for r in responders[:2]]
        async with asyncio.timeout(20):
            while sum(w.in_flight for w in pool.workers) < 2:
                await asyncio.sleep(0.02)  # both run at once: one slot each, no more
        results = await asyncio.gather(*runs)
        assert pool._in_use() == 0
    assert all(r.ok for r in results), [r.reason for r in results]
