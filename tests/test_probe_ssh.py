"""The SSH banner check against the simulator's SSH servers and hand-made listeners."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from probes import Target
from probes.ssh import Settings, probe
from tests.simulated import PORTS, simulated_fleet
from vcfleet.checks import load_fleet, target_for
from vcfleet.report import Verdict
from vcfleet.sweep import SweepOptions, run_sweep

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@asynccontextmanager
async def listener(handler: Handler) -> AsyncIterator[int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


def sends(data: bytes, then_wait: float = 0.0) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()
        await asyncio.sleep(then_wait)
        writer.close()

    return handler


async def test_the_simulators_ssh_server_answers_with_its_banner(
        tmp_path: Path, loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix, vendors=("cisco_ce",)) as (_, inv):
        target = target_for(inv, inv.endpoints[0], "ssh")
        assert target == Target(f"{loopback_prefix}.1", PORTS["ssh"], name="cisco-ce-1")
        assert isinstance(target, Target)
        result = await probe(target, Settings(timeout_s=2.0))
    assert result.ok, result.reason
    assert result.info["banner"].startswith("SSH-2.0-")
    assert set(result.figures) == {"connect_ms", "banner_ms"}


async def test_a_sweep_runs_the_ssh_check_a_profile_names(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    async with simulated_fleet(tmp_path, loopback_prefix,
                               vendors=("cisco_ce", "yealink")) as (_, inv):
        assert inv.path is not None
        path = inv.path.with_name("ssh.yaml")
        path.write_text("profiles:\n  standard: {checks: [ssh]}\n"
                        + inv.path.read_text("utf-8"), encoding="utf-8")
        report = await run_sweep(load_fleet(path), options=SweepOptions(media_workers=0))
    cisco, yealink = report.endpoints
    assert cisco.verdict is Verdict.READY
    assert cisco.checks["ssh"].result.info["protocol"] == "2.0"
    assert yealink.checks == {}  # no SSH service: the check is not run


async def test_other_lines_before_the_banner_are_skipped() -> None:
    async with listener(sends(b"Welcome\r\nSSH-2.0-OpenSSH_9.6 Debian\r\n")) as port:
        result = await probe(Target("127.0.0.1", port), Settings(timeout_s=2.0))
    assert result.ok
    assert result.info["software"] == "OpenSSH_9.6 Debian"


async def test_a_port_that_speaks_something_else_fails() -> None:
    async with listener(sends(b"HTTP/1.1 400 Bad Request\r\n\r\n" * 9)) as port:
        result = await probe(Target("127.0.0.1", port), Settings(timeout_s=2.0))
    assert not result.ok
    assert result.reason == f"port {port} sent no SSH banner in 8 lines"


async def test_an_old_protocol_version_fails() -> None:
    async with listener(sends(b"SSH-1.5-ancient\r\n")) as port:
        result = await probe(Target("127.0.0.1", port), Settings(timeout_s=2.0))
    assert not result.ok
    assert result.reason == f"SSH protocol '1.5' on port {port}, not 2.0"


async def test_control_characters_in_the_banner_are_dropped() -> None:
    async with listener(sends(b"SSH-2.0-evil\x1b]0;title\x07\r\n")) as port:
        result = await probe(Target("127.0.0.1", port), Settings(timeout_s=2.0))
    assert result.info["banner"] == "SSH-2.0-evil]0;title"


async def test_a_silent_port_ends_at_the_deadline_with_what_it_saw() -> None:
    async with listener(sends(b"", then_wait=5.0)) as port:
        result = await asyncio.wait_for(
            probe(Target("127.0.0.1", port), Settings(timeout_s=0.3)), 3)
    assert not result.ok
    assert result.reason == f"no SSH banner on port {port} within 0.3 s"
    assert "connect_ms" in result.figures


async def test_a_closed_port_is_refused() -> None:
    async with listener(sends(b"")) as port:
        pass
    result = await probe(Target("127.0.0.1", port), Settings(timeout_s=2.0))
    assert result.reason == f"connection refused on port {port}"
