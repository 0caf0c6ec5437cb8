"""Limits every vcfleet HTTP server shares: header, body and idle timeouts, one-line logs.

aiohttp covers the idle time between two requests (``keepalive_timeout``) and the
sizes (``max_line_size``, ``max_field_size``, ``client_max_size``), but has no
deadline for a client that sends its request headers one byte a second: it waits
forever.  ``GuardedSite`` adds that deadline (``header_s``, from the connection's
first byte until the end of its first request's headers; later requests on the
connection fall under the idle timeout), ``body_deadline`` bounds the time to
read a request body, and ``OneLineLog`` logs a malformed request as one line
instead of a traceback at ERROR.  Lives in ``probes`` so that the WebRTC responder
can use it too (imports point one way, DESIGN.md).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

log = logging.getLogger("vcfleet.http")


@dataclass(frozen=True)
class HttpLimits:
    """How long a client may take; defaults fit an operator's browser and Prometheus."""

    header_s: float = 10.0
    """From a connection's first moment to the end of its request headers."""
    body_s: float = 30.0
    """To read a request's body once its headers are in."""
    idle_s: float = 60.0
    """Between the end of a response and the next request's headers (keep-alive)."""

    def handler_args(self) -> dict[str, Any]:
        """Keyword arguments for ``web.AppRunner`` / ``web.Server`` (aiohttp's own limits)."""
        # No lingering: aiohttp would otherwise keep reading an unread body for 10 s after
        # the response (a slow client's 408 or 413); body_deadline reads every body first.
        return {"keepalive_timeout": self.idle_s, "lingering_time": 0.0,
                "logger": cast(logging.Logger, OneLineLog())}


def one_line(text: object) -> str:
    """Text as one printable line (control characters escaped, whitespace folded)."""
    folded = " ".join(str(text).split())
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in folded)


class OneLineLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's server logger, with a malformed request logged as one WARNING line.

    aiohttp logs every request it cannot parse (an over-long URL, a bad request
    line) with ``logger.exception``: a full traceback at ERROR.  Those are the
    client's fault; a real bug in a handler keeps its traceback.
    """

    def __init__(self) -> None:
        super().__init__(log, {})

    def exception(self, msg: object, *args: object, exc_info: Any = True,
                  **kwargs: Any) -> None:
        """One line for a client's malformed request, aiohttp's traceback otherwise."""
        if isinstance(exc_info, HttpProcessingError):
            text = str(msg) % args if args else str(msg)
            self.logger.warning("%s: %s %s", text, exc_info.code, one_line(exc_info.message))
            return
        self.logger.error(msg, *args, exc_info=exc_info, **kwargs)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]
                ) -> tuple[Any, MutableMapping[str, Any]]:
        """Messages pass unchanged."""
        return msg, kwargs


class _HeaderDeadline(asyncio.Protocol):
    """Wraps aiohttp's protocol: closes the connection if the first request's headers
    are not complete within ``seconds``."""

    def __init__(self, inner: asyncio.Protocol, seconds: float) -> None:
        self.inner, self.seconds = inner, seconds
        self._timer: asyncio.TimerHandle | None = None
        self._tail = b""
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(self.seconds, self._expire)
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._timer is not None:
            seen = self._tail + data
            if b"\r\n\r\n" in seen or b"\n\n" in seen:
                self._cancel()
            else:
                self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._transport is None or self._transport.is_closing():
            return
        peer = self._transport.get_extra_info("peername")
        who = peer[0] if isinstance(peer, tuple) else "a client"
        log.info("closed the connection from %s: request headers not complete within %g s",
                 who, self.seconds)
        if isinstance(self._transport, asyncio.Transport):
            self._transport.abort()
        else:
            self._transport.close()


class GuardedSite(web.BaseSite):
    """``web.TCPSite`` with a header deadline on every connection (over TLS with
    ``ssl_context``, whose handshake must also end within ``header_s``)."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int,
                 limits: HttpLimits | None = None, *, reuse_address: bool = True,
                 ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(runner)
        self.app_runner, self.host, self.port = runner, host, port
        self.limits = limits or HttpLimits()
        self.reuse_address = reuse_address
        self.ssl_context = ssl_context

    @property
    def name(self) -> str:
        """The site's URL, as aiohttp's sites name themselves."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl_context else 'http'}://{host}:{self.port}"

    async def start(self) -> None:
        """Listen (OSError when the address cannot be bound)."""
        await super().start()
        server = self.app_runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        # BaseSite.stop() closes self._server: that attribute is the subclass contract.
        self._server = await loop.create_server(
            lambda: _HeaderDeadline(server(), self.limits.header_s), self.host, self.port,
            reuse_address=self.reuse_address, ssl=self.ssl_context,
            ssl_handshake_timeout=self.limits.header_s if self.ssl_context else None)
        sockets = self._server.sockets
        if sockets:
            self.port = int(sockets[0].getsockname()[1])


def guarded_protocol(factory: Callable[[], asyncio.Protocol], limits: HttpLimits
                     ) -> Callable[[], asyncio.Protocol]:
    """A protocol factory (e.g. a ``web.Server``) with the header deadline."""
    return lambda: _HeaderDeadline(factory(), limits.header_s)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def body_deadline(limits: HttpLimits) -> Any:
    """Middleware: read the whole body within ``limits.body_s`` or answer 408 and close."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.body_exists:
            try:
                async with asyncio.timeout(limits.body_s):
                    await request.read()  # cached: the handler's read() gets it at once
            except TimeoutError:
                log.info("closed the connection from %s: request body not complete within "
                         "%g s", request.remote, limits.body_s)
                response = web.Response(status=408, text="request body too slow\n")
                response.force_close()
                return response
        return await handler(request)

    return middleware
