"""ICMP echo probe: a real burst against loopback, the statistics, and the not-permitted path."""

from __future__ import annotations

import asyncio
import socket

import pytest

from probes import icmp
from probes.base import Target
from probes.icmp import Settings, checksum, echo_request, probe, summarise

QUICK = Settings(count=5, interval_s=0.01, reply_timeout_s=1.0)


def _permitted(mode: str) -> bool:
    try:
        icmp._open_socket(socket.AF_INET, mode)[0].close()
    except icmp.NotPermitted:
        return False
    return True


async def test_burst_against_loopback(loopback_prefix: str) -> None:
    if not _permitted("auto"):
        pytest.skip("ICMP is not permitted on this machine")
    result = await probe(Target(f"{loopback_prefix}.7"), QUICK)
    assert result.ok, result.reason
    assert result.figures["loss_ratio"] == 0.0
    assert result.info["sent"] == result.info["received"] == 5
    assert 0 <= result.figures["rtt_min_ms"] <= result.figures["rtt_ms"] \
        <= result.figures["rtt_max_ms"]
    assert result.figures["jitter_ms"] >= 0


async def test_concurrent_bursts_share_one_socket_and_get_their_own_replies(
        loopback_prefix: str) -> None:
    if not _permitted("auto"):
        pytest.skip("ICMP is not permitted on this machine")
    targets = [Target(f"{loopback_prefix}.{i}") for i in range(1, 41)]
    results = await asyncio.gather(*(probe(t, QUICK) for t in targets))
    assert all(r.ok and r.figures["loss_ratio"] == 0.0 for r in results)
    assert icmp._PINGERS == {}  # the shared socket is closed once the last probe is done


async def test_a_name_is_resolved() -> None:
    if not _permitted("auto"):
        pytest.skip("ICMP is not permitted on this machine")
    result = await probe(Target("localhost"), QUICK)
    assert result.ok, result.reason


async def test_unresolvable_name_fails_with_a_reason() -> None:
    result = await asyncio.wait_for(probe(Target("no-such-room.invalid"), QUICK), 10)
    assert not result.ok
    assert result.reason.startswith("cannot resolve no-such-room.invalid")


async def test_unprivileged_mode_works_or_says_how_to_fix_it(loopback_prefix: str) -> None:
    result = await probe(Target(f"{loopback_prefix}.7"), Settings(count=2, mode="unprivileged",
                                                                  interval_s=0.01))
    if _permitted("unprivileged"):
        assert result.ok, result.reason
        assert result.info["socket"] == "datagram"
    else:
        assert not result.ok
        assert result.reason.startswith("ICMP not permitted: group ")
        assert "net.ipv4.ping_group_range" in result.reason
        assert "sysctl -w net.ipv4.ping_group_range=" in result.reason


async def test_not_permitted_at_all_is_a_result_not_a_crash(
        monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(icmp, "_new_socket", refuse)
    result = await probe(Target("127.0.0.1"), QUICK)
    assert not result.ok
    assert result.reason.startswith("ICMP not permitted: no raw socket (needs root or "
                                    "CAP_NET_RAW); group ")
    assert result.info["not_permitted"] is True


def test_statistics_of_a_burst() -> None:
    # RTTs 10, 12, lost, 11, 20 ms: median of the four replies 11.5; successive
    # differences 2, 1, 9 -> jitter 4; one of five lost.
    result = summarise([0.010, 0.012, None, 0.011, 0.020], 5)
    assert result.ok
    assert result.figures["rtt_ms"] == pytest.approx(11.5)
    assert result.figures["jitter_ms"] == pytest.approx(4.0)
    assert result.figures["loss_ratio"] == pytest.approx(0.2)
    assert result.figures["rtt_min_ms"] == pytest.approx(10.0)
    assert result.figures["rtt_max_ms"] == pytest.approx(20.0)


def test_no_reply_at_all_fails() -> None:
    result = summarise([None, None, None], 3)
    assert not result.ok
    assert result.reason == "no echo reply to 3 requests"
    assert result.figures["loss_ratio"] == 1.0
    assert "jitter_ms" not in summarise([0.01, None], 2).figures


def test_echo_request_checksum_verifies() -> None:
    packet = echo_request(socket.AF_INET, 0x1234, 7, b"vcfleet-abc")
    assert checksum(packet) == 0
    assert packet[0] == 8
    assert packet[4:8] == bytes.fromhex("12340007")
