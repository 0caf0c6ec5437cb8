"""The provisioning server, store and NOTIFY sender on loopback: real TLS with the demo
certificate, real UDP and TCP SIP answerers, the audit log read back."""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from inventory import Endpoint
from inventory.provisioning import device_password
from vcfleet.provisioning import cfgfile
from vcfleet.provisioning.notify import CheckSync, NotifyError, send_check_sync
from vcfleet.provisioning.server import ProvisioningServer, basic
from vcfleet.provisioning.site import ProvisioningSite
from vcfleet.provisioning.store import ProvisioningStore

DEMO = Path(__file__).resolve().parent.parent / "inventory" / "demo"
SECRET = "Provisioning-test-Secret-3"
MAC = "00156574b150"


def site(tmp_path: Path, port: int = 0) -> ProvisioningSite:
    """A site on 127.0.0.1 with the demo certificate (made for 127.0.0.1 and localhost)."""
    return ProvisioningSite("127.0.0.1", port, f"https://127.0.0.1:{port}/yealink/",
                            DEMO / "prov-cert.pem", DEMO / "prov-key.pem",
                            ProvisioningStore(tmp_path / "store"), SECRET)


def device(ident: str) -> Endpoint:
    return Endpoint(id=ident, name=ident, tier="commune", address="127.0.0.1", vendor="yealink")


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[ProvisioningServer]:
    s = ProvisioningServer(site(tmp_path), [device("xa-a"), device("xa-b")],
                           tmp_path / "audit.jsonl")
    await s.start()
    try:
        yield s
    finally:
        await s.stop()


async def fetch(server: ProvisioningServer, path: str, user: str | None = None,
                password: str | None = None) -> tuple[int, str, dict[str, str]]:
    """GET over TLS, trusting exactly the site's certificate, as a device does."""
    headers = {}
    if user is not None:
        headers["Authorization"] = basic(user, password if password is not None
                                         else device_password(SECRET, user))
    url = f"https://127.0.0.1:{server.port}{path}"
    async with asyncio.timeout(10), aiohttp.ClientSession() as http, http.get(
            url, headers=headers, ssl=server.site.client_context()) as resp:
        return resp.status, await resp.text(), dict(resp.headers)


def audit(tmp_path: Path) -> list[dict[str, object]]:
    text = (tmp_path / "audit.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


async def test_each_device_gets_only_its_own_file(server: ProvisioningServer,
                                                  tmp_path: Path) -> None:
    server.site.store.update("xa-a", {"local_time.ntp_server1": "ntp2.example"})
    status, body, _ = await fetch(server, "/yealink/y000000000000.cfg", "xa-a")
    assert (status, body) == (200, "#!version:1.0.0.1\n")
    status, body, headers = await fetch(server, f"/yealink/{MAC}.cfg", "xa-a")
    assert status == 200
    assert cfgfile.parse(body) == {"local_time.ntp_server1": "ntp2.example",
                                   "sip.notify_reboot_enable": "0"}
    assert body.startswith("#!version:1.0.0.1\n")
    assert headers["Cache-Control"] == "no-store"
    # Any MAC name: the inventory holds no MACs; the other device has no file yet.
    assert (await fetch(server, "/yealink/0015657400aa.cfg", "xa-a"))[0] == 200
    assert (await fetch(server, f"/yealink/{MAC}.cfg", "xa-b"))[0] == 404
    assert server.fetches == {"xa-a": 3}
    lines = audit(tmp_path)
    assert [(ln["endpoint"], ln["status"]) for ln in lines] == [
        ("xa-a", 200), ("xa-a", 200), ("xa-a", 200), ("xa-b", 404)]
    assert lines[1]["mac"] == MAC
    assert lines[1]["sha256"]
    assert all(device_password(SECRET, "xa-a") not in json.dumps(ln) for ln in lines)


@pytest.mark.parametrize(("path", "user", "password", "status"), [
    (f"/yealink/{MAC}.cfg", None, None, 401),                    # no credentials
    (f"/yealink/{MAC}.cfg", "xa-a", "wrong", 401),                # wrong password
    (f"/yealink/{MAC}.cfg", "xa-a", device_password(SECRET, "xa-b"), 401),  # another's
    (f"/yealink/{MAC}.cfg", "nobody", "x", 401),                  # not a device
    ("/yealink/", "xa-a", None, 404),                             # no listing
    ("/yealink/xa-b.cfg", "xa-a", None, 404),                     # not a MAC name
    ("/yealink/00156574B150.cfg", "xa-a", None, 404),             # upper case
    ("/yealink/..%2fxa-b.cfg", "xa-a", None, 404),                # traversal
    (f"/other/{MAC}.cfg", "xa-a", None, 404),                     # outside the prefix
])
async def test_refusals(server: ProvisioningServer, path: str, user: str | None,
                        password: str | None, status: int, tmp_path: Path,
                        caplog: pytest.LogCaptureFixture) -> None:
    server.site.store.update("xa-b", {"a": "b"})
    server.site.store.update("xa-a", {"a": "c"})
    caplog.set_level(logging.INFO)
    got, body, headers = await fetch(server, path, user, password)
    assert got == status
    assert "a = b" not in body
    if status == 401:
        assert headers["WWW-Authenticate"].startswith("Basic ")
    records = [r for r in caplog.records if r.levelno >= logging.INFO]
    assert len(records) == 1, [r.getMessage() for r in records]
    assert (password or "§") not in records[0].getMessage()
    assert len(audit(tmp_path)) == 1


async def test_tls_is_required_and_certificate_checked(server: ProvisioningServer) -> None:
    async with asyncio.timeout(10), aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            await http.get(f"https://127.0.0.1:{server.port}/yealink/y000000000000.cfg",
                           ssl=ssl.create_default_context())
        with pytest.raises(aiohttp.ClientError):
            await http.get(f"http://127.0.0.1:{server.port}/yealink/y000000000000.cfg")


def test_store_writes_atomically_and_merges(tmp_path: Path) -> None:
    store = ProvisioningStore(tmp_path / "s")
    assert store.read("xa-a") is None
    assert store.update("xa-a", {"b": "2", "a": "1"}) is True
    assert store.update("xa-a", {"a": "1"}) is False  # unchanged: not rewritten
    assert store.update("xa-a", {"a": "3"}) is True
    text = store.read("xa-a")
    assert text is not None
    assert text.splitlines()[0] == cfgfile.HEADER
    assert [ln for ln in text.splitlines() if " = " in ln] == [
        "a = 3", "b = 2", "sip.notify_reboot_enable = 0"]
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["xa-a.cfg"]
    with pytest.raises(ValueError, match="not an endpoint id"):
        store.path("../x")


@pytest.mark.parametrize(("line", "problem"), [
    ("account.1.label = Hà Sơn", None),
    ("features.auto_answer_delay=2", None),
    ("anything", "must read '<key> = <value>'"),
    ("# comment = 1", "must read '<key> = <value>'"),
    ("static.auto_provision.server.url = http://evil/", "provisioning manages"),
    ("sip.notify_reboot_enable = 1", "provisioning manages"),
])
def test_vendor_lines(line: str, problem: str | None) -> None:
    found = cfgfile.check_line(line)
    assert (found is None) if problem is None else (problem in (found or ""))


class SipAnswerer(asyncio.DatagramProtocol):
    """A device's SIP side over UDP: answers NOTIFY with ``status`` after ``drop`` misses."""

    def __init__(self, status: int = 200, drop: int = 0) -> None:
        self.status, self.drop = status, drop
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a datagram transport

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.received.append(data)
        if len(self.received) <= self.drop:
            return
        assert self.transport is not None
        self.transport.sendto(answer(data, self.status), addr)


def answer(request: bytes, status: int) -> bytes:
    head = request.decode().split("\r\n\r\n")[0].split("\r\n")
    keep = [h for h in head[1:] if h.split(":")[0].lower() in ("via", "from", "to", "call-id",
                                                               "cseq")]
    phrase = {200: "OK", 489: "Bad Event"}.get(status, "Whatever")
    return ("\r\n".join([f"SIP/2.0 {status} {phrase}", *keep, "Content-Length: 0"])
            + "\r\n\r\n").encode()


async def udp_answerer(answerer: SipAnswerer) -> tuple[asyncio.DatagramTransport, int]:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: answerer,
                                                       local_addr=("127.0.0.1", 0))
    return transport, transport.get_extra_info("sockname")[1]


async def test_notify_over_udp_retransmits_until_answered() -> None:
    answerer = SipAnswerer(drop=2)
    transport, port = await udp_answerer(answerer)
    try:
        resp = await send_check_sync(CheckSync("xa-a", "127.0.0.1", port), 5, t1_s=0.05)
    finally:
        transport.close()
    assert resp.code == 200
    assert len(answerer.received) == 3
    assert len(set(answerer.received)) == 1  # the same request each time
    first = answerer.received[0].decode()
    assert first.startswith(f"NOTIFY sip:xa-a@127.0.0.1:{port} SIP/2.0\r\n")
    assert "\r\nEvent: check-sync;reboot=false\r\n" in first


async def test_notify_refused_and_unanswered() -> None:
    transport, port = await udp_answerer(SipAnswerer(status=489))
    try:
        with pytest.raises(NotifyError, match="answered SIP 489 Bad Event"):
            await send_check_sync(CheckSync("xa-a", "127.0.0.1", port), 5, t1_s=0.05)
    finally:
        transport.close()
    transport, port = await udp_answerer(SipAnswerer(drop=1000))
    try:
        with pytest.raises(NotifyError, match=r"no answer to NOTIFY check-sync .* within 0\.3 s"):
            await send_check_sync(CheckSync("xa-a", "127.0.0.1", port), 0.3, t1_s=0.05)
    finally:
        transport.close()


async def test_notify_over_tcp() -> None:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await reader.readuntil(b"\r\n\r\n")
        seen.append(request)
        writer.write(answer(request, 200))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        resp = await send_check_sync(CheckSync("xa-a", "127.0.0.1", port, "tcp"), 5)
    finally:
        server.close()
        await server.wait_closed()
    assert resp.code == 200
    assert b"Via: SIP/2.0/TCP " in seen[0]
