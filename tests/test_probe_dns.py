"""DNS probe through the system resolver (hosts file names and a reserved .invalid name)."""

from __future__ import annotations

import asyncio

from probes.base import Target
from probes.dns import Settings, probe


async def test_localhost_resolves() -> None:
    result = await probe(Target("localhost"), Settings(timeout_s=5))
    assert result.ok, result.reason
    assert result.figures["resolve_ms"] >= 0
    assert "127.0.0.1" in str(result.info["addresses"]).split(",") or \
        "::1" in str(result.info["addresses"]).split(",")


async def test_ipv4_only() -> None:
    result = await probe(Target("localhost"), Settings(family="ipv4", timeout_s=5))
    assert result.ok
    assert result.info["addresses"] == "127.0.0.1"


async def test_unknown_name_fails_with_the_resolver_message() -> None:
    result = await asyncio.wait_for(probe(Target("no-such-room.invalid"),
                                          Settings(timeout_s=8)), 10)
    assert not result.ok
    assert result.reason.startswith("cannot resolve no-such-room.invalid: ") or \
        result.reason == "no-such-room.invalid did not resolve within 8 s"


async def test_bad_family_setting() -> None:
    result = await probe(Target("localhost"), Settings(family="ipx"))
    assert result.reason == "unknown address family 'ipx'"
