"""The HTTPS management page of a simulated endpoint, and a TCP listener that hangs.

``GET /`` returns a small HTML status page, ``GET /status`` the same as JSON:
``{"id", "name", "vendor", "model", "uptime", "software", "sip_registration"}``
(``uptime`` in whole seconds since the simulated boot).
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import ssl
from typing import Any, cast

from aiohttp import web

from probes.httpserver import HttpLimits, guarded_protocol
from simulator.devices import Device

PROXY_KEYS = ("SIP Proxy 1 Address", "sipproxyserver", "account.1.sip_server.1.address")
"""Where each vendor keeps its SIP proxy (simulator/registration.py ``PROXY``)."""


def status(device: Device) -> dict[str, Any]:
    """What ``/status`` answers."""
    e = device.endpoint
    proxy = next((device.config[k] for k in PROXY_KEYS if k in device.config), "")
    return {"id": e.id, "name": e.name, "vendor": e.vendor, "model": e.model,
            "uptime": device.uptime_s, "software": _software(e.vendor),
            "sip_registration": "registered" if proxy else "inactive"}


def _software(vendor: str) -> str:
    from simulator import cisco, poly, yealink

    return {"cisco_ce": cisco.SOFTWARE, "poly": poly.VERSION}.get(vendor, yealink.FIRMWARE)


class HttpsService:
    """One endpoint's HTTPS listener."""

    def __init__(self, host: str, port: int, device: Device, tls: ssl.SSLContext) -> None:
        self.host, self.port, self.device, self.tls = host, port, device, tls
        self._web: web.Server | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen (OSError when the address cannot be bound)."""
        limits = HttpLimits()
        self._web = web.Server(self._handle, access_log=None, **limits.handler_args())
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(guarded_protocol(self._web, limits), self.host,
                                                self.port, ssl=self.tls, reuse_address=True,
                                                ssl_handshake_timeout=10)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._web is not None:
            with contextlib.suppress(Exception):
                await self._web.shutdown(2.0)
            self._web = None

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method not in ("GET", "HEAD"):
            return web.Response(status=405, headers={"Allow": "GET, HEAD"})
        data = status(self.device)
        if request.path == "/status":
            return web.json_response(data, dumps=_dumps)
        if request.path in ("/", "/index.html"):
            rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                           for k, v in data.items())
            page = (f"<!doctype html><html><head><meta charset='utf-8'>"
                    f"<title>{html.escape(self.device.endpoint.name)}</title></head>"
                    f"<body><h1>{html.escape(self.device.endpoint.name)}</h1>"
                    f"<table>{rows}</table></body></html>")
            return web.Response(text=page, content_type="text/html")
        return web.Response(status=404, text="not found\n")


def _dumps(data: Any) -> str:
    import json

    return json.dumps(data, ensure_ascii=False)


def tls_context(cert: str, key: str) -> ssl.SSLContext:
    """The server-side TLS context of every HTTPS port."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


class TcpListener:
    """A TCP listener that tracks its connections, so that ``stop`` closes and awaits
    every one.  Subclasses say what to do with a connection in ``handle``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server: asyncio.Server | None = None
        self._conns: dict[asyncio.Task[None], asyncio.StreamWriter] = {}

    async def start(self) -> None:
        """Listen (OSError when the address cannot be bound)."""
        self._server = await asyncio.start_server(self._serve, self.host, self.port,
                                                  reuse_address=True)

    async def stop(self) -> None:
        """Stop listening and close every connection."""
        if self._server is not None:
            self._server.close()
            self._server = None
        await _close_all(self._conns)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Serve one connection; returning (or a read error) closes it."""
        raise NotImplementedError

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns[task] = writer
        try:
            await self.handle(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                asyncio.CancelledError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            self._conns.pop(task, None)


class HangingTcp(TcpListener):
    """Accepts TCP connections and never answers (a ``hang`` fault; for SSH: no banner)."""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Read and discard until the peer gives up."""
        while await reader.read(4096):
            pass


class UdpListener(asyncio.DatagramProtocol):
    """A UDP socket bound to one address: ``start`` binds, ``stop`` closes.  Subclasses
    say what to do with a datagram in ``datagram_received`` (the SIP services, the
    registrar); this base alone receives and never answers (a ``hang`` fault)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.transport: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        """Bind (OSError when the address cannot be bound)."""
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=(self.host, self.port))

    async def stop(self) -> None:
        """Close the socket (replies still "in flight" in a shaper are lost)."""
        if self.transport is not None:
            self.transport.close()
            self.transport = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)


class HangingUdp(UdpListener):
    """Receives datagrams and never answers."""


async def _close_all(conns: dict[asyncio.Task[None], asyncio.StreamWriter]) -> None:
    """Close every held connection and await its task (cancelling any that lingers)."""
    for writer in list(conns.values()):
        writer.close()
    tasks = list(conns)
    if not tasks:
        return
    _, pending = await asyncio.wait(tasks, timeout=2.0)
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending, timeout=2.0)
