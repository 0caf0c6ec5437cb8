"""The private names of aiortc, aioice and Textual that vcfleet relies on still have the shape
their adapter module expects.

Each adapter (``probes.aiortc_internals``, ``probes.aioice_internals``,
``tui.fast_table``) lists its upstream names in ``UPSTREAM``; each is looked up
here on a real object of the installed library (a field on an instance, a
method's parameters, text its source must contain).  A failure says which name
changed and points to docs/decisions.md 'Upgrading pinned libraries'.  The
last tests check that no private name of those libraries is used outside its
adapter.
"""

from __future__ import annotations

import datetime
import inspect
import random
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import aioice
import aioice.ice
import aiortc.clock
import pytest
from aiortc import RTCCertificate, RTCPeerConnection
from aiortc.rtcdtlstransport import SRTP_PROFILES
from aiortc.rtcrtpreceiver import StreamStatistics
from aiortc.rtp import RtpPacket
from textual.widgets import DataTable

from probes import aioice_internals, aiortc_internals
from probes.upstream import Upstream
from probes.webrtc_net import ice_addresses
from tui import fast_table

ROOT = Path(__file__).resolve().parent.parent
TEXTUAL_UPSTREAM = tuple(Upstream("textual", *entry) for entry in fast_table.UPSTREAM)
ADAPTERS = {"probes/aiortc_internals.py": aiortc_internals.UPSTREAM,
            "probes/aioice_internals.py": aioice_internals.UPSTREAM,
            "tui/fast_table.py": TEXTUAL_UPSTREAM}


def problem(entry: Upstream, holder: object) -> str | None:
    """What changed about ``entry`` on ``holder`` (an instance, or a module), if anything."""
    if entry.kind != "function" and type(holder).__name__ != entry.owner:
        return f"test set-up: {entry.where} looked up on a {type(holder).__name__}"
    if entry.kind == "field" and entry.source_has:
        return f"adapter: {entry.where} is a field: it has no source to check"
    try:
        value = getattr(holder, entry.attribute)
    except AttributeError:
        return entry.changed()
    if entry.kind in ("method", "function") and not callable(value):
        return entry.changed("is no longer a method")
    if entry.parameters is not None:
        found = tuple(inspect.signature(value).parameters)
        if found != entry.parameters:
            return entry.changed(f"now takes ({', '.join(found)}), "
                                 f"not ({', '.join(entry.parameters)})")
    if entry.source_has:
        source = inspect.getsource(value)
        for text in entry.source_has:
            if text not in source:
                return entry.changed(f"no longer contains `{text}`")
    return None


def assert_shapes(entries: Iterable[Upstream], holders: Mapping[str, object]) -> None:
    """Every entry is found as expected on the holder of its owner."""
    problems = [problem(entry, holders[entry.owner]) for entry in entries]
    found = [p for p in problems if p is not None]
    assert not found, "\n".join(found)


@pytest.fixture
async def aiortc_objects() -> AsyncIterator[dict[str, object]]:
    """A real peer connection's receiver, sender and ICE gatherer (never connected)."""
    pc = RTCPeerConnection()
    transceiver = pc.addTransceiver("audio")
    stream = StreamStatistics(48_000)
    stream.add(RtpPacket(payload_type=111, sequence_number=1, timestamp=960))
    try:
        yield {"RTCRtpReceiver": transceiver.receiver, "RTCRtpSender": transceiver.sender,
               "RTCIceGatherer": transceiver.receiver.transport.transport.iceGatherer,
               "RTCPeerConnection": pc, "StreamStatistics": stream,
               "RTCDtlsTransport": transceiver.receiver.transport,
               "RTCIceTransport": transceiver.receiver.transport.transport,
               "RTCCertificate": RTCCertificate.generateCertificate(),
               "aiortc.clock": aiortc.clock}
    finally:
        await pc.close()


async def test_aiortc_has_the_private_names_we_use(aiortc_objects: dict[str, object]) -> None:
    assert_shapes(aiortc_internals.UPSTREAM, aiortc_objects)


async def test_aiortc_connect_task_is_found_by_its_qualified_name(
        aiortc_objects: dict[str, object]) -> None:
    entry = aiortc_internals.PEER_CONNECTION_CONNECT
    method: Any = getattr(RTCPeerConnection, entry.attribute)
    assert method.__qualname__ == entry.where, entry.changed(
        f"is now named {method.__qualname__} in tracebacks")


async def test_aioice_has_the_private_names_we_use(loopback_prefix: str) -> None:
    """A real aioice connection that gathered on one loopback address, and its socket."""
    connection = aioice.Connection(ice_controlling=True)
    try:
        with ice_addresses([f"{loopback_prefix}.1"]):
            await connection.gather_candidates()
        assert [c.host for c in connection.local_candidates] == [f"{loopback_prefix}.1"], \
            aioice_internals.GATHER_READS_HOST_ADDRESSES.changed("ignores our host addresses")
        protocols = aioice_internals.connection_protocols(connection)
        assert protocols, aioice_internals.CONNECTION_PROTOCOLS.changed("is empty")
        assert_shapes(aioice_internals.UPSTREAM,
                      {"aioice.ice": aioice.ice, "Connection": connection,
                       "StunProtocol": protocols[0]})
    finally:
        await connection.close()


def test_textual_has_the_private_names_we_use() -> None:
    table: DataTable[Any] = DataTable()
    assert_shapes(TEXTUAL_UPSTREAM, {"DataTable": table,
                                     "TwoWayDict": table._row_locations})


def test_a_missing_name_fails_with_one_line_naming_it_and_the_upgrade_doc() -> None:
    class RTCRtpReceiver:  # an upgraded aiortc whose receiver lost the field
        pass

    message = problem(aiortc_internals.RECEIVER_RTCP_SSRC, RTCRtpReceiver())
    assert message is not None
    assert re.fullmatch(r"aiortc \S+ no longer has RTCRtpReceiver\.__rtcp_ssrc: see "
                        r"docs/decisions\.md 'Upgrading pinned libraries'", message), message
    with pytest.raises(RuntimeError, match=r"no longer has RTCRtpReceiver\.__rtcp_ssrc"):
        aiortc_internals.receiver_rtcp_ssrc(RTCRtpReceiver())  # type: ignore[arg-type]


def test_a_changed_signature_or_source_is_named() -> None:
    entry = aiortc_internals.RECEIVER_SEND_PLI

    class RTCRtpReceiver:
        async def _send_rtcp_pli(self, ssrc: int, reason: str) -> None: ...

    assert problem(entry, RTCRtpReceiver()) == entry.changed(
        "now takes (ssrc, reason), not (media_ssrc)")
    hook = aiortc_internals.SENDER_HANDLE_RTCP

    class RTCRtpSender:
        async def _handle_rtcp_packet(self, packet: Any) -> None: ...

    assert problem(hook, RTCRtpSender()) == hook.changed(
        "no longer contains `self._send_keyframe()`")


# --- nothing outside the adapters ---------------------------------------------------

def _private_names(entries: Iterable[Upstream]) -> set[str]:
    """The entries' private attributes (``__init__`` and the like are public protocol)."""
    return {e.attribute for e in entries
            if e.attribute.startswith("_") and not e.attribute.endswith("__")}


def _uses(paths: Iterable[Path], names: Iterable[str], *, on_self: bool) -> list[str]:
    """Lines that read or name an attribute ``.NAME`` or ``"NAME"`` (``self.NAME`` too if
    ``on_self``: our own classes may have private names of their own)."""
    alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
    before = r"\." if on_self else r"(?<!\bself)\."
    pattern = re.compile(rf"(?:{before}|[\"'])(?:{alternatives})\b")
    found = []
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if pattern.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def _sources(*folders: str) -> list[Path]:
    adapters = {ROOT / p for p in ADAPTERS}
    return [p for folder in folders for p in sorted((ROOT / folder).rglob("*.py"))
            if p not in adapters]


def test_no_private_name_of_aiortc_or_aioice_outside_its_adapter() -> None:
    names = _private_names((*aiortc_internals.UPSTREAM, *aioice_internals.UPSTREAM))
    names |= {"_data", "get_host_addresses", "__connect"}  # packet._data, a module, a qualname
    found = _uses(_sources("probes", "vcfleet", "tui"), names, on_self=False)
    assert not found, "\n".join(found)


def test_no_private_name_of_datatable_outside_fast_table() -> None:
    found = _uses(_sources("tui"), _private_names(TEXTUAL_UPSTREAM), on_self=True)
    assert not found, "\n".join(found)


async def test_peer_connections_share_one_certificate_and_its_ssl_context() -> None:
    """share_certificate: a process's connections offer the same certificate (aiortc
    alone makes one per connection), whose SSL context is built once."""
    pcs = [RTCPeerConnection() for _ in range(3)]
    try:
        aiortc_internals.share_certificate(pcs[0])
        aiortc_internals.share_certificate(pcs[1])
        for pc in pcs:
            pc.addTransceiver("audio")
        prints = [pc.getTransceivers()[0].receiver.transport.getLocalParameters().fingerprints
                  for pc in pcs]
        assert prints[0] == prints[1]
        assert prints[2] != prints[0]
    finally:
        for pc in pcs:
            await pc.close()
    certificate = aiortc_internals.SharedCertificate.generateCertificate()
    assert certificate._create_ssl_context(SRTP_PROFILES) is \
        certificate._create_ssl_context(SRTP_PROFILES)


def test_stamped_statistics_count_as_aiortcs_at_the_stamped_arrivals(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """StampedStatistics.add is aiortc's add with the arrival from the datagram's stamp:
    fed the same packets (in order, reordered, repeated, wrapping the sequence number)
    at the same arrivals, both count the same loss, highest sequence and jitter.  The
    upstream copy reads its arrivals from ``time.time()``, replaced here by the same
    list of times (a fake clock, since the comparison needs identical arrivals)."""
    rng = random.Random(5)
    sequence = [65500 + i for i in range(60)]
    sequence[10], sequence[11] = sequence[11], sequence[10]
    sequence.insert(30, sequence[29])
    del sequence[40]
    packets = [RtpPacket(payload_type=111, sequence_number=n & 0xFFFF,
                         timestamp=(n * 960) & 0xFFFFFFFF, ssrc=1) for n in sequence]
    arrivals = [1000.0 + i * 0.02 + rng.uniform(0, 0.01) for i in range(len(packets))]
    now = [0.0]
    upstream = StreamStatistics(48000)
    monkeypatch.setattr("aiortc.rtcrtpreceiver.time.time", lambda: now[0])
    for packet, arrival in zip(packets, arrivals, strict=True):
        now[0] = arrival
        upstream.add(packet)
    monkeypatch.undo()
    ours = StreamStatistics(48000)
    ours.__class__ = aiortc_internals.StampedStatistics
    ours._vcfleet_arrival = lambda: now[0]  # type: ignore[attr-defined]
    now[0] = -1.0
    for packet, arrival in zip(packets, arrivals, strict=True):
        now[0] = arrival
        ours.add(packet)
    assert upstream.jitter > 0
    for name in ("max_seq", "cycles", "packets_received", "packets_lost", "jitter"):
        assert getattr(ours, name) == getattr(upstream, name), name


def test_the_fast_clock_reads_as_aiortcs(monkeypatch: pytest.MonkeyPatch) -> None:
    """use_fast_clock's current_ms and current_ntp_time give what upstream's datetime
    arithmetic gives for the same instant (a fixed time_ns, which both read: datetime
    takes the time from the same clock, floored to microseconds)."""
    unix_epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
    for ns in (1_764_633_600_123_456_789, 1_764_633_600_999_999_999, 1_000_000_000_000_000_000):
        moment = unix_epoch + datetime.timedelta(microseconds=ns // 1000)
        monkeypatch.setattr("aiortc.clock.current_datetime", lambda m=moment: m)
        upstream = (aiortc_internals.UPSTREAM_CLOCK["current_ms"](),
                    aiortc_internals.UPSTREAM_CLOCK["current_ntp_time"]())
        monkeypatch.setattr(aiortc_internals.time, "time_ns", lambda n=ns: n)
        ours = (aiortc_internals._current_ms(), aiortc_internals._current_ntp_time())
        monkeypatch.undo()
        assert ours == upstream, ns


async def test_new_peer_connections_make_no_certificate_of_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[object] = []
    generate = RTCCertificate.generateCertificate

    def counting() -> RTCCertificate:
        made.append(object())
        return generate()

    aiortc_internals.new_peer_connection().addTransceiver("audio")  # the shared one exists
    monkeypatch.setattr(RTCCertificate, "generateCertificate", counting)
    pcs = [aiortc_internals.new_peer_connection() for _ in range(3)]
    try:
        assert not made
        for pc in pcs:
            pc.addTransceiver("audio")
        prints = {str(pc.getTransceivers()[0].receiver.transport.getLocalParameters()
                      .fingerprints) for pc in pcs}
        assert len(prints) == 1
    finally:
        for pc in pcs:
            await pc.close()
    assert RTCCertificate.generateCertificate is counting  # put back as it was
