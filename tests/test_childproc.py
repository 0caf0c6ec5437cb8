"""The child-process channel (``probes.childproc``) with a real child,
``tests/childproc_peer.py``: ready, round trips, cancel, kill after a grace, a killed
child, a child that never says ready, and no process left behind."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from typing import Any

import pytest

from probes.childproc import Child, ChildError

pytestmark = pytest.mark.timeout(60)

TESTS_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(autouse=True)
def _peer_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The peer lives in tests/, which is not in the package: the channel puts the package's
    root first on the child's PYTHONPATH (an installed wheel's site-packages in CI), so the
    folder holding tests/ goes after it."""
    path = os.environ.get("PYTHONPATH", "")
    monkeypatch.setenv("PYTHONPATH", TESTS_PARENT + (os.pathsep + path if path else ""))


def _peer(mode: str = "serve", **kwargs: Any) -> Child:
    return Child("tests.childproc_peer", [mode], name="the peer", **kwargs)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_ready_round_trip_events_and_error_replies() -> None:
    heard: list[Any] = []
    child = _peer(on_event=heard.append)
    try:
        assert await child.start() == ("ready", "peer", "serve")
        assert await child.call(("echo", {"rooms": [1, 2]}), timeout=10) == {"rooms": [1, 2]}
        replies = await asyncio.gather(*(child.call(("echo", i), timeout=10)
                                         for i in range(20)))
        assert replies == list(range(20))  # each reply found its request
        child.notify(("hello",))
        async with asyncio.timeout(10):
            while not heard:
                await asyncio.sleep(0.01)
        assert heard == [("heard", ("hello",))]
        with pytest.raises(ChildError, match="unknown request 'nope'"):
            await child.call(("nope",), timeout=10)
        with pytest.raises(AttributeError):  # a local object cannot travel: nothing sent
            child.request(("echo", lambda: None))
        assert await child.call(("echo", "still here"), timeout=10) == "still here"
    finally:
        await child.stop()


async def test_cancel_ends_the_request_and_keeps_the_child() -> None:
    child = _peer()
    try:
        await child.start()
        request_id, reply = child.request(("sleep", 60))
        await asyncio.sleep(0.2)
        child.cancel(request_id, grace_s=10)
        with pytest.raises(ChildError, match="cancelled"):
            await asyncio.wait_for(reply, 5)
        assert child.alive
        assert await child.call(("echo", 1), timeout=10) == 1
    finally:
        await child.stop()


async def test_a_request_that_ignores_its_cancel_is_killed_after_the_grace() -> None:
    child = _peer()
    try:
        await child.start()
        request_id, reply = child.request(("stubborn",))
        other = child.request(("sleep", 60))[1]
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        child.cancel(request_id, grace_s=0.5, what="the stubborn request")
        with pytest.raises(ChildError, match=r"^the stubborn request did not stop within "
                                             r"0.5 s of its cancel; its process was killed$"):
            await asyncio.wait_for(reply, 5)
        assert 0.5 <= time.monotonic() - t0 < 4
        with pytest.raises(ChildError, match="its process was killed"):
            await asyncio.wait_for(other, 5)  # the other request fails with the child
        assert await asyncio.wait_for(child.wait(), 5) == -signal.SIGKILL
        assert not child.alive
    finally:
        await child.stop()


async def test_a_killed_child_fails_every_pending_request_at_once() -> None:
    exits: list[str] = []
    child = _peer(on_exit=exits.append)
    try:
        await child.start()
        pending = [child.request(("sleep", 60))[1] for _ in range(3)]
        assert child.pid is not None
        os.kill(child.pid, signal.SIGKILL)
        t0 = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(*pending, return_exceptions=True), 5)
        assert time.monotonic() - t0 < 4
        assert [str(r) for r in results] == [
            "the peer ended unexpectedly (exit code -9)"] * 3
        assert exits == ["the peer ended unexpectedly (exit code -9)"]
        with pytest.raises(ChildError, match="ended unexpectedly"):
            child.request(("echo", 1))
    finally:
        await child.stop()


async def test_a_child_that_never_says_ready_fails_start_within_its_deadline() -> None:
    child = _peer("silent", start_timeout_s=1.5)
    t0 = time.monotonic()
    with pytest.raises(ChildError, match=r"^the peer did not start within 1.5 s$"):
        await child.start()
    assert time.monotonic() - t0 < 5
    assert child.pid is not None
    assert _gone(child.pid)


async def test_a_child_that_cannot_start_says_so_with_its_stderr(tmp_path: Any) -> None:
    child = Child("tests.no_such_module", name="the peer", stderr_path=tmp_path / "err")
    with pytest.raises(ChildError, match=r"^the peer ended unexpectedly \(exit code 1; see "):
        await asyncio.wait_for(child.start(), 30)
    assert "No module named tests.no_such_module" in (tmp_path / "err").read_text()


@pytest.mark.parametrize("mode", ["serve", "deaf"])
async def test_stop_leaves_no_process_behind(mode: str) -> None:
    child = _peer(mode)
    await child.start()
    pending = child.request(("sleep", 60))[1]
    pid = child.pid
    assert pid is not None
    t0 = time.monotonic()
    await child.stop(grace_s=1.0)  # the deaf child ignores its channel's end: killed
    assert time.monotonic() - t0 < 5
    assert _gone(pid)
    with pytest.raises(ChildError, match=r"^the peer was stopped"):
        await pending
    assert child.returncode == (0 if mode == "serve" else -signal.SIGKILL)
