"""TCP connect probe: can we open a connection to the port, and how long does it take."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass

from probes.base import EngineDeadline, ProbeResult, Target


@dataclass(frozen=True)
class Settings(EngineDeadline):
    """Settings of the TCP connect check."""

    port: int | None = None
    """Port to connect to when the target names none."""


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Connect to ``target.address:port``; figure ``connect_ms``."""
    port = target.port or settings.port
    if port is None:
        return ProbeResult.failure("no port to connect to")
    start = time.perf_counter()
    try:
        _, writer = await asyncio.open_connection(target.address, port)
    except ConnectionRefusedError:
        return ProbeResult.failure(f"connection refused on port {port}")
    except OSError as exc:
        return ProbeResult.failure(f"cannot connect to port {port}: {exc.strerror or exc}")
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return ProbeResult(ok=True, figures={"connect_ms": round(elapsed_ms, 3)},
                       info={"port": port})
