"""Simulated Yealink rooms against a real HTTPS provisioning server started here.

The server is a small aiohttp one (vcfleet's own lives in vcfleet/push): HTTPS with a
certificate made for the test, HTTP Basic with the per-device passwords of
``inventory.provisioning.device_password``, one file per device.  The rooms fetch at
boot, on SIP NOTIFY check-sync (UDP and TCP) and on ``POST /api/autop/now``, and show
what they did over their HTTPS ``/api`` (docs/simulator.md, Yealink).
"""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from inventory import Inventory, load_inventory
from inventory.demofleet import self_signed_certificate
from inventory.provisioning import device_password
from simulator import Simulator
from simulator.endpoint import SimulatedEndpoint
from simulator.faults import parse_faults
from simulator.yealink import AutoProvisioning, mac_of
from tests.simulated import parse_response, write_inventory

SECRET = "test-provisioning-secret"
DEADLINE_S = 10.0
HEADER = "#!version:1.0.0.1\n"


@dataclass
class ProvisioningServer:
    """HTTPS, Basic auth per device, ``files[endpoint id]`` served as its MAC file."""

    cert: Path
    key: Path
    secret: str = SECRET
    files: dict[str, str] = field(default_factory=dict)
    common: str | None = HEADER
    requests: list[tuple[str, str, str]] = field(default_factory=list)
    """(client address, user, path) of every request, authenticated or not."""
    port: int = 0
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}/yealink/"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/yealink/{name}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(self.cert, self.key)
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=tls)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _user(self, request: web.Request) -> str | None:
        kind, _, value = request.headers.get("Authorization", "").partition(" ")
        if kind != "Basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if password == device_password(self.secret, user) else None

    async def _file(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        user = self._user(request)
        self.requests.append((request.remote or "", user or "", name))
        if user is None:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="p"'})
        if name == "y000000000000.cfg":
            return web.Response(status=404) if self.common is None else web.Response(
                text=self.common)
        if name == f"{mac_of(user)}.cfg" and user in self.files:
            return web.Response(text=self.files[user])
        return web.Response(status=404)


@dataclass
class Fleet:
    sim: Simulator
    inv: Inventory
    server: ProvisioningServer
    prefix: str

    def room(self, n: int) -> SimulatedEndpoint:
        return self.sim.endpoints[f"yealink-{n}"]

    def autop(self, n: int) -> AutoProvisioning:
        autop = self.room(n).provisioning
        assert autop is not None
        return autop


def write_certificate(folder: Path, name: str) -> tuple[Path, Path]:
    cert_pem, key_pem = self_signed_certificate(days=2)
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
    cert.write_bytes(cert_pem)
    key.write_bytes(key_pem)
    return cert, key


def yealink_inventory(folder: Path, prefix: str, url: str, rooms: int = 2) -> Path:
    path = write_inventory(folder, prefix, vendors=("yealink",) * rooms)
    (folder / "prov-secret.txt").write_text(SECRET + "\n", encoding="utf-8")
    with path.open("a", encoding="utf-8") as out:
        out.write(f"provisioning:\n  listen: 127.0.0.1:8446\n  url: {url}\n"
                  "  certificate: prov-cert.pem\n  key: prov-key.pem\n"
                  '  secret: "file:prov-secret.txt"\n')
    return path


@pytest.fixture
async def fleet(tmp_path: Path, loopback_prefix: str) -> AsyncIterator[Fleet]:
    cert, key = write_certificate(tmp_path / "fleet", "prov")
    server = ProvisioningServer(cert, key)
    server.files = {"yealink-1": HEADER + "local_time.ntp_server1 = ntp2.example\n"}
    await server.start()
    try:
        inv = load_inventory(yealink_inventory(tmp_path / "fleet", loopback_prefix, server.url))
        async with Simulator(inv, None, tmp_path / "state", reboot_s=0.3) as sim:
            fleet = Fleet(sim, inv, server, loopback_prefix)
            await fleet.autop(1).wait_fetches(1)
            await fleet.autop(2).wait_fetches(1)
            yield fleet
    finally:
        await server.stop()


def notify(host: str, port: int, event: str, transport: str = "UDP",
           call_id: str | None = None) -> bytes:
    call_id = call_id or uuid.uuid4().hex
    return (f"NOTIFY sip:yealink@{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} 127.0.0.1:5999;branch=z9hG4bK{call_id};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:vcfleet@127.0.0.1>;tag=v{call_id}\r\n"
            f"To: <sip:yealink@{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            "CSeq: 10 NOTIFY\r\n"
            f"Event: {event}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


class _Udp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.replies: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.replies.put_nowait(data)


async def sip_udp(host: str, request: bytes) -> tuple[int, dict[str, list[str]]]:
    loop = asyncio.get_running_loop()
    transport, client = await loop.create_datagram_endpoint(_Udp, local_addr=("127.0.0.1", 0))
    try:
        transport.sendto(request, (host, 5060))
        return parse_response(await asyncio.wait_for(client.replies.get(), DEADLINE_S))
    finally:
        transport.close()


async def sip_tcp(host: str, request: bytes) -> tuple[int, dict[str, list[str]]]:
    async with asyncio.timeout(DEADLINE_S):
        reader, writer = await asyncio.open_connection(host, 5060)
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
        finally:
            writer.close()
    return parse_response(head)


class Api:
    """A client of a simulated room's HTTPS /api (self-signed: not verified)."""

    def __init__(self, host: str) -> None:
        self.base = f"https://{host}:8443"
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=DEADLINE_S),
                                          cookie_jar=aiohttp.CookieJar(unsafe=True))

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    async def login(self, pwd: str = "simulated-Secret-1") -> dict[str, Any]:
        async with self.http.post(f"{self.base}/api/auth/login", ssl=False,
                                  data={"username": "admin", "pwd": pwd}) as r:
            assert r.status == 200
            return dict(await r.json())

    async def get(self, path: str) -> tuple[int, Any]:
        async with self.http.get(f"{self.base}{path}", ssl=False) as r:
            body = await r.text()
            return r.status, json.loads(body) if r.content_type == "application/json" else body

    async def post(self, path: str, payload: Any) -> tuple[int, Any]:
        async with self.http.post(f"{self.base}{path}", ssl=False, json=payload) as r:
            return r.status, await r.json()

    async def data(self, path: str) -> Any:
        status, body = await self.get(path)
        assert status == 200, body
        assert body["ret"] == "ok"
        return body["data"]


# -- fetching ---------------------------------------------------------------------------


async def test_boot_fetch_applies_known_keys_with_per_device_credentials(fleet: Fleet
                                                                         ) -> None:
    room = fleet.room(1)
    assert room.device.config["local_time.ntp_server1"] == "ntp2.example"
    status = fleet.autop(1).status()
    assert status["state"] == "idle"
    assert status["fetches"] == 1
    last = status["last"]
    assert (last["trigger"], last["result"], last["reason"]) == ("boot", "ok", "")
    assert last["files"] == ["y000000000000.cfg", f"{mac_of('yealink-1')}.cfg"]
    assert last["applied"] == ["local_time.ntp_server1"]
    # every request authenticated as the device, from the device's own address, common first
    mine = [r for r in fleet.server.requests if r[0] == f"{fleet.prefix}.1"]
    assert [(u, p) for _, u, p in mine] == [("yealink-1", "y000000000000.cfg"),
                                           ("yealink-1", f"{mac_of('yealink-1')}.cfg")]
    # room 2 has no file on the server: its fetch fails on the MAC file's 404
    last2 = fleet.autop(2).status()["last"]
    assert (last2["result"], last2["reason"]) == ("failed", "HTTP 404")
    assert fleet.room(2).device.config["local_time.ntp_server1"] == "ntp.thanhhoa.gov.vn"


async def test_invalid_values_are_refused_and_unknown_keys_ignored(
        fleet: Fleet, caplog: pytest.LogCaptureFixture) -> None:
    device = fleet.room(1).device
    fleet.server.files["yealink-1"] = HEADER + (
        "# a comment\n\naccount.1.auto_answer = maybe\naccount.1.sip_server.1.port = 70000\n"
        "foo.bar = 1\naccount.1.display_name=Phòng họp 1\nno equals sign here\n")
    caplog.set_level("INFO", logger="simulator.yealink")
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(2)
    last = fleet.autop(1).status()["last"]
    assert last["result"] == "ok"
    assert last["applied"] == ["account.1.display_name"]
    assert last["invalid"] == ["account.1.auto_answer", "account.1.sip_server.1.port"]
    assert last["ignored"] == ["foo.bar"]
    assert last["rejected"] == ["account.1.auto_answer", "account.1.sip_server.1.port",
                                "foo.bar"]
    assert device.config["account.1.auto_answer"] == "0"
    assert device.config["account.1.sip_server.1.port"] == "5060"
    assert device.config["account.1.display_name"] == "Phòng họp 1"
    text = caplog.text
    assert "ignored unknown key foo.bar" in text
    assert "refused invalid value for account.1.auto_answer" in text
    assert "1 line(s) without '=' ignored" in text


async def test_a_file_without_the_version_header_changes_nothing(fleet: Fleet) -> None:
    fleet.server.files["yealink-1"] = "local_time.ntp_server1 = ntp3.example\n"
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(2)
    last = fleet.autop(1).status()["last"]
    assert last["result"] == "failed"
    assert last["reason"] == (f"invalid file {mac_of('yealink-1')}.cfg: first line is not "
                              "#!version:1.0.0.1")
    assert fleet.room(1).device.config["local_time.ntp_server1"] == "ntp2.example"


async def test_untrusted_certificate_and_wrong_credentials_fail(fleet: Fleet,
                                                                tmp_path: Path) -> None:
    other_cert, other_key = write_certificate(tmp_path / "other", "other")
    impostor = ProvisioningServer(other_cert, other_key)
    impostor.files = {"yealink-1": HEADER + "local_time.ntp_server1 = evil.example\n"}
    await impostor.start()
    try:
        device = fleet.room(1).device
        device.config["static.auto_provision.server.url"] = impostor.url
        fleet.autop(1).trigger("api")
        await fleet.autop(1).wait_fetches(2)
        assert fleet.autop(1).status()["last"]["reason"] == "certificate verify failed"
        assert impostor.requests == []  # nothing sent before the certificate was checked
        assert device.config["local_time.ntp_server1"] == "ntp2.example"
    finally:
        await impostor.stop()
    fleet.server.secret = "another-secret"
    fleet.room(1).device.config["static.auto_provision.server.url"] = fleet.server.url
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(3)
    assert fleet.autop(1).status()["last"]["reason"] == "authentication failed (401)"


async def test_nothing_listening_is_unreachable(fleet: Fleet) -> None:
    await fleet.server.stop()
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(2)
    last = fleet.autop(1).status()["last"]
    assert (last["result"], last["reason"]) == ("failed", "cannot reach provisioning server")


async def test_export_served_back_changes_nothing(fleet: Fleet) -> None:
    async with Api(f"{fleet.prefix}.1") as api:
        assert (await api.login())["ret"] == "ok"
        status, exported = await api.get("/api/config/export")
    assert status == 200
    assert exported.startswith(HEADER)
    assert "password" not in exported
    lines = exported.splitlines()[1:]
    assert lines == sorted(lines)
    fleet.server.files["yealink-1"] = exported
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(2)
    last = fleet.autop(1).status()["last"]
    assert (last["result"], last["applied"], last["rejected"]) == ("ok", [], [])
    before = fleet.autop(1).status()["last"]["time"]
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(3)
    assert fleet.autop(1).status()["last"]["time"] > before


# -- NOTIFY check-sync and registration -------------------------------------------------


@pytest.mark.parametrize("transport", ["UDP", "TCP"])
async def test_notify_check_sync_fetches_without_reboot(fleet: Fleet, transport: str) -> None:
    host = f"{fleet.prefix}.1"
    fleet.server.files["yealink-1"] = HEADER + "account.1.label = Phòng 1\n"
    exchange = sip_udp if transport == "UDP" else sip_tcp
    code, headers = await exchange(host, notify(host, 5060, "check-sync;reboot=false",
                                                transport))
    assert code == 200
    assert headers["cseq"] == ["10 NOTIFY"]
    assert headers["to"][0].startswith(f"<sip:yealink@{host}:5060>;tag=")
    await fleet.autop(1).wait_fetches(2)
    assert fleet.autop(1).status()["last"]["trigger"] == "notify"
    assert fleet.room(1).device.config["account.1.label"] == "Phòng 1"
    assert fleet.room(1).device.boots == 0


async def test_notify_with_another_event_is_a_bad_event(fleet: Fleet) -> None:
    host = f"{fleet.prefix}.1"
    code, headers = await sip_udp(host, notify(host, 5060, "presence"))
    assert code == 489
    assert headers["allow-events"] == ["check-sync"]
    await asyncio.sleep(0.3)
    assert fleet.autop(1).fetches == 1


async def test_notify_reboot_enable_1_reboots_and_fetches_at_boot(fleet: Fleet) -> None:
    host = f"{fleet.prefix}.1"
    device = fleet.room(1).device
    device.config["sip.notify_reboot_enable"] = "1"
    code, _ = await sip_udp(host, notify(host, 5060, "check-sync;reboot=false"))
    assert code == 200
    await fleet.autop(1).wait_fetches(2)
    assert device.boots == 1
    assert fleet.autop(1).status()["last"]["trigger"] == "boot"
    device.config["sip.notify_reboot_enable"] = "2"
    code, _ = await sip_udp(host, notify(host, 5060, "check-sync"))
    assert code == 200
    await asyncio.sleep(0.3)
    assert (device.boots, fleet.autop(1).fetches) == (1, 2)


async def test_a_wrong_proxy_unregisters_and_the_old_one_registers_again(fleet: Fleet
                                                                        ) -> None:
    host = f"{fleet.prefix}.1"
    registrar = fleet.sim.registrar
    assert registrar is not None
    assert registrar.registered("yealink-1@sip.thanhhoa.gov.vn")
    async with Api(host) as api:
        await api.login()
        [account] = (await api.data("/api/account/status"))["accounts"]
        assert account == {"id": 1, "state": "registered", "user": "yealink-1",
                           "server": "sip.thanhhoa.gov.vn", "reason": ""}
        fleet.server.files["yealink-1"] = HEADER + (
            "account.1.sip_server.1.address = sip.wrong.example\n")
        await sip_udp(host, notify(host, 5060, "check-sync"))
        await fleet.autop(1).wait_fetches(2)
        await asyncio.sleep(0.2)
        [account] = (await api.data("/api/account/status"))["accounts"]
        assert (account["state"], account["reason"]) == ("failed", "DNS lookup failed")
        fleet.server.files["yealink-1"] = HEADER + (
            "account.1.sip_server.1.address = sip.thanhhoa.gov.vn\n")
        await sip_udp(host, notify(host, 5060, "check-sync"))
        await fleet.autop(1).wait_fetches(3)
        async with asyncio.timeout(DEADLINE_S):
            while account["state"] != "registered":
                await asyncio.sleep(0.05)
                [account] = (await api.data("/api/account/status"))["accounts"]


# -- the HTTPS /api -------------------------------------------------------------------


async def test_api_needs_a_session_and_answers_the_documented_json(fleet: Fleet) -> None:
    async with Api(f"{fleet.prefix}.1") as api:
        status, body = await api.get("/api/common/info")
        assert (status, body) == (401, {"ret": "failed", "data": False,
                                        "error": {"msg": "error_unauthorized"}})
        assert await api.login("wrong") == {
            "ret": "failed", "data": False,
            "error": {"msg": "error_username_or_password_is_wrong"}}
        assert await api.login() == {"ret": "ok", "data": True}
        info = await api.data("/api/common/info")
        assert info["model"] == "MVC860"
        assert info["firmware"] == "84.86.0.30"
        assert info["mac"] == mac_of("yealink-1")
        assert isinstance(info["uptime_s"], int)
        assert await api.data("/api/call/status") == {"count": 0, "dnd": False, "calls": []}
        assert await api.data("/api/peripheral/status") == {
            "camera": {"name": "MVC860 camera", "connected": True},
            "microphones": {"name": "MVC860 microphone array", "connected": True,
                            "muted": False},
            "display": {"name": "HDMI 1", "connected": True}}
        status, body = await api.post("/api/inner/readconfig", {"keys": [
            "local_time.ntp_server1", "static.auto_provision.server.password", "no.such"]})
        assert body == {"ret": "ok", "data": {"local_time.ntp_server1": "ntp2.example",
                                              "static.auto_provision.server.password":
                                              "********"}}
        status, body = await api.post("/api/inner/readconfig", {"keys": []})
        assert body["data"]["sip.notify_reboot_enable"] == "0"
        assert body["data"]["static.auto_provision.server.url"] == fleet.server.url
        assert not [k for k in body["data"] if k.endswith(".password")]
        status, body = await api.post("/api/inner/readconfig", {"keys": "all"})
        assert status == 400
        autop = await api.data("/api/autop/status")
        assert (autop["state"], autop["fetches"], autop["last"]["result"]) == ("idle", 1, "ok")
        status, body = await api.post("/api/autop/now", {})
        assert body == {"ret": "ok", "data": True}
        await fleet.autop(1).wait_fetches(2)
        status, _ = await api.get("/api/no/such")
        assert status == 404
        status, _ = await api.post("/api/common/info", {})
        assert status == 405
        status, body = await api.post("/api/auth/logout", {})
        assert body == {"ret": "ok", "data": True}
        status, _ = await api.get("/api/common/info")
        assert status == 401
        status, _ = await api.get("/")
        assert status == 200


async def test_faults_reach_the_api(fleet: Fleet) -> None:
    faults = parse_faults(
        "- select: id=yealink-1\n"
        "  device: {in_call: true, dnd: true, camera: disconnected, microphones: muted,\n"
        "           display: disconnected, software: '84.86.0.99', registration: fail}\n"
        "  reject_settings: [ntp.server, account.1.label]\n"
        "- select: id=yealink-2\n"
        "  auth: fail\n"
        "  provisioning: unreachable\n", "faults.yaml")
    await fleet.sim.reload_faults(faults)
    async with Api(f"{fleet.prefix}.1") as api:
        await api.login()
        assert (await api.data("/api/common/info"))["firmware"] == "84.86.0.99"
        calls = await api.data("/api/call/status")
        assert (calls["count"], calls["dnd"]) == (1, True)
        assert calls["calls"][0]["remote"] == "mcu@thanhhoa.gov.vn"
        assert calls["calls"][0]["direction"] == "incoming"
        peripherals = await api.data("/api/peripheral/status")
        assert peripherals["camera"]["connected"] is False
        assert peripherals["microphones"]["muted"] is True
        assert peripherals["display"]["connected"] is False
        async with asyncio.timeout(DEADLINE_S):
            while True:
                [account] = (await api.data("/api/account/status"))["accounts"]
                if account["state"] == "failed":
                    break
                await asyncio.sleep(0.05)
        assert account["reason"] == "403 Forbidden"
    fleet.server.files["yealink-1"] = HEADER + (
        "local_time.ntp_server1 = ntp9.example\naccount.1.label = X\n"
        "local_time.ntp_server2 = ntp8.example\n")
    fleet.autop(1).trigger("api")
    await fleet.autop(1).wait_fetches(2)
    last = fleet.autop(1).status()["last"]
    assert last["rejected"] == ["account.1.label", "local_time.ntp_server1"]
    assert last["applied"] == ["local_time.ntp_server2"]
    assert fleet.room(1).device.config["local_time.ntp_server1"] == "ntp2.example"
    async with Api(f"{fleet.prefix}.2") as api:
        assert (await api.login())["ret"] == "failed"
    fleet.autop(2).trigger("api")
    await fleet.autop(2).wait_fetches(2)
    last = fleet.autop(2).status()["last"]
    assert (last["result"], last["reason"]) == ("failed", "cannot reach provisioning server")
    assert len([r for r in fleet.server.requests if r[0] == f"{fleet.prefix}.2"]) == 2


async def test_a_room_without_a_provisioning_section_does_not_fetch(
        tmp_path: Path, loopback_prefix: str) -> None:
    inv = load_inventory(write_inventory(tmp_path / "fleet", loopback_prefix, ("yealink",)))
    async with Simulator(inv, None, tmp_path / "state") as sim:
        room = sim.endpoints["yealink-1"]
        assert room.provisioning is not None
        await asyncio.sleep(0.2)
        assert room.provisioning.status() == {"state": "idle", "fetches": 0, "last": None}
        assert room.device.config["static.auto_provision.server.url"] == ""
        assert room.device.config["sip.notify_reboot_enable"] == "0"


async def test_rooms_served_by_worker_processes_fetch_too(tmp_path: Path,
                                                         loopback_prefix: str) -> None:
    """A worker's share of the inventory keeps its provisioning section."""
    cert, key = write_certificate(tmp_path / "fleet", "prov")
    server = ProvisioningServer(cert, key)
    server.files = {f"yealink-{n}": HEADER + f"account.1.label = Phòng {n}\n"
                    for n in (1, 2)}
    await server.start()
    try:
        inv = load_inventory(yealink_inventory(tmp_path / "fleet", loopback_prefix,
                                               server.url))
        async with Simulator(inv, None, tmp_path / "state", workers=2):
            for n in (1, 2):
                async with Api(f"{loopback_prefix}.{n}") as api:
                    await api.login()
                    async with asyncio.timeout(DEADLINE_S):
                        while (await api.data("/api/autop/status"))["fetches"] < 1:
                            await asyncio.sleep(0.05)
                    autop = await api.data("/api/autop/status")
                    assert autop["last"]["result"] == "ok", autop
                    _, body = await api.post("/api/inner/readconfig",
                                             {"keys": ["account.1.label"]})
                    assert body["data"] == {"account.1.label": f"Phòng {n}"}
    finally:
        await server.stop()


def test_yealink_fault_fields_are_validated() -> None:
    from inventory import InputError

    with pytest.raises(InputError) as caught:
        parse_faults("- select: id=a\n  provisioning: down\n"
                     "  reject_settings: [account.1.label, account.1.nope]\n", "f.yaml")
    assert caught.value.lines() == [
        "f.yaml:2:17: fault 1: provisioning: 'down' is not allowed; expected 'unreachable'",
        "f.yaml:3:20: fault 1: reject_settings: unknown setting key(s) account.1.nope (known: "
        "system.name, sip.proxy, sip.display_name, sip.uri, ntp.server, "
        "conference.auto_answer, audio.mute_on_join, video.selfview, audio.default_volume, "
        "or a Yealink configuration-file key)"]
