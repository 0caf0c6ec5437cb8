"""DNS probe: does the endpoint's name resolve, and how long does resolving take.

Run only for endpoints whose address is a name (a literal address has nothing to
resolve).  Resolution goes through the system resolver (``getaddrinfo``: hosts
file, then DNS as ``/etc/nsswitch.conf`` says), the same path every other probe's
connect takes, so a failure here explains their failures.

Figure ``resolve_ms``; ``info`` holds the addresses found (``addresses``, comma
separated, in resolver order).
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

from probes.base import OwnDeadline, ProbeResult, Target

FAMILIES = {"any": socket.AF_UNSPEC, "ipv4": socket.AF_INET, "ipv6": socket.AF_INET6}


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the DNS check."""

    family: str = "any"
    """``any``, ``ipv4`` (A records) or ``ipv6`` (AAAA records)."""
    timeout_s: float | None = None
    """The probe's own deadline (the sweep engine sets it under the check's deadline)."""


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Resolve ``target.address``; figure resolve_ms, info addresses."""
    loop = asyncio.get_running_loop()
    family = FAMILIES.get(settings.family)
    if family is None:
        return ProbeResult.failure(f"unknown address family {settings.family!r}")
    start = time.perf_counter()
    try:
        async with asyncio.timeout(settings.timeout_s):
            infos = await loop.getaddrinfo(target.address, None, family=family,
                                           type=socket.SOCK_STREAM)
    except TimeoutError:
        return ProbeResult.failure(
            f"{target.address} did not resolve within {settings.timeout_s:g} s")
    except socket.gaierror as exc:
        return ProbeResult.failure(f"cannot resolve {target.address}: {exc.strerror or exc}")
    elapsed_ms = (time.perf_counter() - start) * 1000.0
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    return ProbeResult(ok=True, figures={"resolve_ms": round(elapsed_ms, 3)},
                       info={"addresses": ",".join(addresses), "count": len(addresses)})
