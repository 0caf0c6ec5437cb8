"""The hostile-input corpus over HTTP: every ``tests/hostile/http/<case>.yaml`` against the
real servers, in-process on 127.0.0.1 port 0, plus slow clients that must be cut off.

A case names its server and its request (raw bytes, or method, path, headers and
body) and the status it must get.  Whatever a case says, the server must log at
most one line for it (``log_lines``, default 1), with no traceback and no control
character.  Format::

    # why this case exists
    server: exporter          # exporter | responder | provisioning (over TLS)
    raw: "GET / HTTP/1.1\\r\\n\\r\\n"   # the bytes as they are sent (or raw_b64: ...)
    method: POST              # ... or a request built from these, with Content-Length
    path: /whip               #     and Connection: close
    headers: {Content-Type: application/sdp, Authorization: "Bearer {token}"}
                              # ({device_auth}: HTTP Basic of device "hub", provisioning)
    body: "v=0..."            # (or body_b64: ...)
    status: 400
    body_contains: "invalid SDP offer"   # optional
    log_lines: 1
"""

from __future__ import annotations

import asyncio
import base64
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from probes.httpserver import HttpLimits

CORPUS = Path(__file__).resolve().parent / "hostile" / "http"
DEMO_CERT = Path(__file__).resolve().parent.parent / "inventory" / "demo" / "prov-cert.pem"
DEMO_KEY = DEMO_CERT.with_name("prov-key.pem")
CASES = sorted(CORPUS.glob("*.yaml"))
TOKEN = "Hostile-http-Token-5"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]")
FLEET = """\
tiers: [province]
endpoints:
  - id: hub
    name: Hub
    tier: province
    address: 127.0.0.9
    vendor: cisco_ce
"""
KEYS = {"server", "raw", "raw_b64", "method", "path", "headers", "body", "body_b64", "status",
        "body_contains", "log_lines"}


@asynccontextmanager
async def serving(kind: str, tmp_path: Path, limits: HttpLimits | None = None
                  ) -> AsyncIterator[int]:
    """Serve one kind of server on 127.0.0.1, port 0; yield its port."""
    limits = limits or HttpLimits()
    if kind == "exporter":
        from vcfleet.exporter import Exporter, ExporterConfig

        (tmp_path / "fleet.yaml").write_text(FLEET, encoding="utf-8")
        exporter = Exporter(ExporterConfig(inventory_path=tmp_path / "fleet.yaml", port=0,
                                           interval_s=0, process_metrics=False,
                                           limits=limits))
        await exporter.start()
        try:
            yield exporter.port
        finally:
            await exporter.stop()
    elif kind == "responder":
        from probes.webrtc_responder import Responder

        responder = Responder(TOKEN, limits=limits)
        await responder.start("127.0.0.1", 0)
        try:
            yield responder.port
        finally:
            await responder.stop()
    elif kind == "provisioning":
        from inventory import Endpoint
        from vcfleet.provisioning.server import ProvisioningServer
        from vcfleet.provisioning.site import ProvisioningSite
        from vcfleet.provisioning.store import ProvisioningStore

        site = ProvisioningSite("127.0.0.1", 0, "https://127.0.0.1/yealink/", DEMO_CERT,
                                DEMO_KEY, ProvisioningStore(tmp_path / "store"), TOKEN)
        site.store.update("hub", {"local_time.ntp_server1": "ntp.example"})
        site.store.update("other", {"local_time.ntp_server1": "other.example"})
        hub = Endpoint(id="hub", name="Hub", tier="province", address="127.0.0.9",
                       vendor="yealink")
        other = hub.model_copy(update={"id": "other"})
        server = ProvisioningServer(site, [hub, other], tmp_path / "audit.jsonl", limits)
        await server.start()
        try:
            yield server.port
        finally:
            await server.stop()
    else:
        raise AssertionError(f"unknown server {kind!r}")


def device_auth() -> str:
    """The Authorization header of the provisioning case's device ``hub``."""
    from inventory.provisioning import device_password
    from vcfleet.provisioning.server import basic

    return basic("hub", device_password(TOKEN, "hub"))


def request_bytes(case: dict[str, Any]) -> bytes:
    """The bytes a case sends."""
    if "raw" in case:
        return str(case["raw"]).encode("utf-8", "surrogateescape")
    if "raw_b64" in case:
        return base64.b64decode(case["raw_b64"])
    body = (base64.b64decode(case["body_b64"]) if "body_b64" in case
            else str(case.get("body", "")).encode("utf-8"))
    headers = {"Host": "127.0.0.1", "Connection": "close", **(case.get("headers") or {}),
               "Content-Length": str(len(body))}
    head = f"{case.get('method', 'GET')} {case.get('path', '/')} HTTP/1.1\r\n"
    def filled(value: object) -> str:
        return str(value).replace("{token}", TOKEN).replace("{device_auth}", device_auth())

    head += "".join(f"{k}: {filled(v)}\r\n" for k, v in headers.items())
    return head.encode("utf-8") + b"\r\n" + body


async def exchange(port: int, data: bytes, timeout_s: float = 20.0, *, tls: bool = False
                   ) -> bytes:
    """Send ``data``, read until the server closes (within a deadline)."""
    import ssl

    context = ssl.create_default_context(cafile=str(DEMO_CERT)) if tls else None
    async with asyncio.timeout(timeout_s):
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=context)
        try:
            writer.write(data)
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()


class Lines(logging.Handler):
    """Every log record at INFO or above, as a list."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def log_lines() -> Any:
    handler = Lines()
    root = logging.getLogger()
    old = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
async def test_hostile_http_case(path: Path, tmp_path: Path, log_lines: Lines) -> None:
    case = yaml.safe_load(path.read_bytes().decode("utf-8"))  # noqa: ASYNC240 (a small file)
    assert not set(case) - KEYS, f"{path}: unknown keys {sorted(set(case) - KEYS)}"
    async with serving(case["server"], tmp_path) as port:
        log_lines.records.clear()
        answer = await exchange(port, request_bytes(case), tls=case["server"] == "provisioning")
        await asyncio.sleep(0.05)  # a log line written just after the response
        records = list(log_lines.records)
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    shown = f"answer: {answer[:500]!r}\nlog: {[r.getMessage() for r in records]}"
    assert re.match(rf"HTTP/1\.[01] {case['status']} ", status_line), shown
    if "body_contains" in case:
        assert case["body_contains"].encode() in answer, shown
    assert b"Traceback" not in answer, shown
    assert len(records) <= case.get("log_lines", 1), shown
    for r in records:
        text = r.getMessage()
        assert r.exc_info is None, f"a traceback was logged\n{shown}"
        assert "\n" not in text, shown
        assert CONTROL.search(text) is None, shown
        assert TOKEN not in text, shown
        assert device_auth().split()[1] not in text, shown


def test_the_http_corpus_is_not_empty() -> None:
    assert len(CASES) >= 5


# -- slow clients -------------------------------------------------------------------------

SHORT = HttpLimits(header_s=0.5, body_s=0.5, idle_s=1.0)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> float:
    """How long until the server closes the connection (fails after ``seconds``)."""
    start = time.monotonic()
    async with asyncio.timeout(seconds):
        while await reader.read(4096):
            pass
    return time.monotonic() - start


@pytest.mark.parametrize("kind", ["exporter", "responder"])
async def test_one_header_byte_a_second_is_cut_off(kind: str, tmp_path: Path) -> None:
    async with serving(kind, tmp_path, SHORT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()

        async def trickle() -> None:
            for byte in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.1)

        sender = asyncio.create_task(trickle())
        try:
            await closed_within(reader, 3.0)
        finally:
            sender.cancel()
            writer.close()
        assert time.monotonic() - start < 2.0


async def test_many_half_sent_requests_are_all_cut_off(tmp_path: Path) -> None:
    async with serving("exporter", tmp_path, SHORT) as port:
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
        for _, writer in conns:
            writer.write(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        start = time.monotonic()
        try:
            await asyncio.gather(*(closed_within(r, 3.0) for r, _ in conns))
        finally:
            for _, writer in conns:
                writer.close()
        assert time.monotonic() - start < 2.5
        # and the server still answers a well-behaved client
        answer = await exchange(port, b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n"
                                    b"Connection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 200 ")


async def test_a_slow_body_gets_408(tmp_path: Path) -> None:
    async with serving("exporter", tmp_path, SHORT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab")
        try:
            async with asyncio.timeout(3.0):
                answer = await reader.read()
        finally:
            writer.close()
        assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    async with serving("exporter", tmp_path, SHORT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /-/healthy HTTP/1.1\r\nHost: x\r\n\r\n")
        try:
            first = await asyncio.wait_for(reader.readuntil(b"healthy.\n"), 3.0)
            assert first.startswith(b"HTTP/1.1 200 ")
            waited = await closed_within(reader, 4.0)
        finally:
            writer.close()
        assert waited < 3.0


async def test_a_guarded_site_is_closed_by_the_runners_cleanup() -> None:
    """GuardedSite sets BaseSite's ``_server`` (aiohttp's subclass contract): pin that shape."""
    from aiohttp import web

    from probes.httpserver import GuardedSite

    runner = web.AppRunner(web.Application(), **SHORT.handler_args())
    await runner.setup()
    site = GuardedSite(runner, "127.0.0.1", 0, SHORT)
    await site.start()
    assert runner.addresses[0][1] == site.port
    await runner.cleanup()
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", site.port)


async def test_a_silent_tls_client_is_cut_off(tmp_path: Path, log_lines: Lines) -> None:
    """The provisioning server's TLS handshake falls under the header deadline too."""
    async with serving("provisioning", tmp_path, SHORT) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            waited = await closed_within(reader, 5.0)
        finally:
            writer.close()
        assert waited < 3.0
        answer = await exchange(port, b"GET /yealink/y000000000000.cfg HTTP/1.1\r\nHost: x\r\n"
                                + f"Authorization: {device_auth()}\r\n".encode()
                                + b"Connection: close\r\n\r\n", tls=True)
        assert answer.startswith(b"HTTP/1.1 200 "), answer
