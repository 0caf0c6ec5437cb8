"""SSH banner probe: does the management port speak SSH, and which server answers.

Opens a TCP connection and reads the server's identification line (RFC 4253 4.2:
``SSH-2.0-softwareversion comments``, which a server may precede with other lines),
then closes without a key exchange: no credential is needed and nothing is logged in
on the codec.  Figures ``connect_ms`` and ``banner_ms`` (from connected to the line).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from dataclasses import dataclass

from probes.base import Info, OwnDeadline, ProbeResult, Target

PRINTABLE = re.compile(r"[^\x20-\x7e]")
"""RFC 4253 allows only printable US-ASCII in the identification line; the rest is dropped."""


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the SSH banner check."""

    port: int = 22
    """Port to connect to when the target names none."""
    max_lines: int = 8
    """Lines read before the identification line at most (RFC 4253 lets servers send some)."""
    timeout_s: float | None = None
    """Deadline of connect and banner together; None: the check's deadline."""


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Read the SSH identification line of ``target.address:port``."""
    port = target.port or settings.port
    figures: dict[str, float] = {}
    try:
        async with asyncio.timeout(settings.timeout_s):
            return await _banner(target.address, port, settings, figures)
    except TimeoutError:
        phase = "no SSH banner" if "connect_ms" in figures else "no connection"
        return ProbeResult.failure(f"{phase} on port {port} within {settings.timeout_s:g} s",
                                   **figures)


async def _banner(address: str, port: int, settings: Settings,
                  figures: dict[str, float]) -> ProbeResult:
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(address, port, limit=256)
    except ConnectionRefusedError:
        return ProbeResult.failure(f"connection refused on port {port}")
    except OSError as exc:
        return ProbeResult.failure(f"cannot connect to port {port}: {exc.strerror or exc}")
    connected = time.perf_counter()
    figures["connect_ms"] = round((connected - start) * 1000.0, 3)
    try:
        for _ in range(settings.max_lines + 1):
            try:
                line = await reader.readuntil(b"\n")
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                return ProbeResult.failure(f"port {port} closed or sent no SSH banner",
                                           **figures)
            text = PRINTABLE.sub("", line.decode("ascii", "replace"))
            if text.startswith("SSH-"):
                figures["banner_ms"] = round((time.perf_counter() - connected) * 1000.0, 3)
                return _judged(text, port, figures)
        return ProbeResult.failure(f"port {port} sent no SSH banner in {settings.max_lines} "
                                   "lines", **figures)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _judged(banner: str, port: int, figures: dict[str, float]) -> ProbeResult:
    protocol, _, software = banner.removeprefix("SSH-").partition("-")
    info: dict[str, Info] = {"port": port, "banner": banner[:255], "protocol": protocol}
    if protocol not in ("2.0", "1.99"):
        return ProbeResult(ok=False, figures=figures, info=info,
                           reason=f"SSH protocol {protocol!r} on port {port}, not 2.0")
    return ProbeResult(ok=True, figures=figures, info={**info, "software": software[:255]})
