"""ICMP echo probe: a real burst against loopback, the statistics, and the not-permitted path.

The bursts need an ICMP socket: raw (root or CAP_NET_RAW) or datagram (a group in
net.ipv4.ping_group_range).  Where neither opens they skip, and under
VCFLEET_REQUIRE_EXTERNAL=1 (CI, which runs as root) they fail.  The datagram path
is also exercised in a network namespace of its own, where the test may widen
ping_group_range (it is per namespace) without touching the machine's.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import sys

import pytest

from probes import icmp
from probes.base import Target
from probes.icmp import (
    Settings,
    checksum,
    echo_request,
    judged_replies,
    probe,
    starved,
    summarise,
)
from tests.conftest import ROOT, require_external

QUICK = Settings(count=5, interval_s=0.01, reply_timeout_s=1.0)


def _permitted(mode: str) -> bool:
    try:
        icmp._open_socket(socket.AF_INET, mode)[0].close()
    except icmp.NotPermitted:
        return False
    return True


def require_icmp() -> None:
    """Skip unless a raw or a datagram ICMP socket opens here (fail under
    VCFLEET_REQUIRE_EXTERNAL=1)."""
    try:
        icmp._open_socket(socket.AF_INET, "auto")[0].close()
    except icmp.NotPermitted as exc:
        require_external(False, str(exc))


async def test_burst_against_loopback(loopback_prefix: str) -> None:
    require_icmp()
    result = await probe(Target(f"{loopback_prefix}.7"), QUICK)
    assert result.ok, result.reason
    assert result.figures["loss_ratio"] == 0.0
    assert result.info["sent"] == result.info["received"] == 5
    assert 0 <= result.figures["rtt_min_ms"] <= result.figures["rtt_ms"] \
        <= result.figures["rtt_max_ms"]
    assert result.figures["jitter_ms"] >= 0


async def test_concurrent_bursts_share_one_socket_and_get_their_own_replies(
        loopback_prefix: str) -> None:
    require_icmp()
    targets = [Target(f"{loopback_prefix}.{i}") for i in range(1, 41)]
    results = await asyncio.gather(*(probe(t, QUICK) for t in targets))
    assert all(r.ok and r.figures["loss_ratio"] == 0.0 for r in results)
    assert icmp._PINGERS == {}  # the shared socket is closed once the last probe is done


async def test_a_name_is_resolved() -> None:
    require_icmp()
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


IN_NAMESPACE = """
import asyncio, json, sys
from probes.base import Target
from probes.icmp import Settings, probe
mode = sys.argv[1]
r = asyncio.run(probe(Target("127.0.0.1"), Settings(count=3, interval_s=0.01, mode=mode)))
print(json.dumps({"ok": r.ok, "reason": r.reason, "socket": r.info.get("socket")}))
"""


def run_in_network_namespace(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run Python in a new network namespace with loopback up and every group allowed
    unprivileged ICMP; skip (never fail: CI containers may forbid namespaces) if it
    cannot be made."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if not (unshare and ip):
        pytest.skip("unshare or ip is not installed")
    setup = (f"{ip} link set lo up && "
             "echo '0 2147483647' > /proc/sys/net/ipv4/ping_group_range && exec \"$@\"")
    proc = subprocess.run([unshare, "--net", "sh", "-c", setup, "sh", sys.executable, "-c",
                           script, *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=30)
    if proc.returncode != 0 and not proc.stdout:
        pytest.skip(f"no network namespace here: {proc.stderr.strip()[-200:]}")
    return proc


@pytest.mark.parametrize(("required", "outcome"), [("1", pytest.fail.Exception),
                                                   ("", pytest.skip.Exception)])
def test_no_icmp_socket_skips_the_bursts_but_fails_them_in_ci(
        monkeypatch: pytest.MonkeyPatch, required: str, outcome: type[BaseException]) -> None:
    def refuse(*args: object) -> socket.socket:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(icmp, "_new_socket", refuse)
    monkeypatch.setenv("VCFLEET_REQUIRE_EXTERNAL", required)
    with pytest.raises(outcome, match="ICMP not permitted: no raw socket"):
        require_icmp()


@pytest.mark.timeout(60)
def test_datagram_socket_in_a_namespace_that_permits_it() -> None:
    proc = run_in_network_namespace(IN_NAMESPACE, "unprivileged")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {"ok": True, "reason": "", "socket": "datagram"}


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


def test_requests_whose_wait_the_deadline_cut_are_not_counted_lost() -> None:
    # A starved loop fell behind the burst: the last two were sent 0.1 and 0.05 s
    # before the deadline and are unanswered; they were not lost, just not waited for.
    rtts = [0.001, None, 0.001, None, None]
    waited = [1.5, 1.45, 1.4, 0.1, 0.05]
    assert judged_replies(rtts, waited, 1.0) == [0.001, None, 0.001]  # the 2nd was lost
    assert judged_replies(rtts, [2.0] * 5, 1.0) == rtts  # every one had its full wait
    assert judged_replies([None, None], [0.2, 0.1], 1.0) == [None, None]  # nothing at all


def test_loss_seen_by_a_late_loop_is_not_measured() -> None:
    rtts = [0.001, None, 0.001, 0.002]
    late = starved(summarise(rtts, 4), rtts, 1, 0.4)
    assert late.unreliable
    assert "loss_ratio" not in late.figures
    assert late.figures["rtt_ms"] == 1.0
    assert late.info["overloaded"] == "prober"
    assert late.info["unjudged"] == 1
    on_time = starved(summarise(rtts, 4), rtts, 0, 0.01)
    assert not on_time.unreliable
    assert on_time.figures["loss_ratio"] == 0.25
    answered = [0.001, 0.001]
    assert not starved(summarise(answered, 2), answered, 0, 0.4).unreliable  # nothing lost
