"""HTTPS probe: TLS handshake time, the management page's status, certificate expiry.

One GET of the management page over a fresh connection, timed in phases:

- ``connect_ms``: TCP connect;
- ``tls_ms``: the TLS handshake alone;
- ``http_ms``: from sending the request to the status line (time to first byte);
- ``cert_expiry_days``: days until the server certificate's notAfter (negative once
  it has expired).

Codecs ship self-signed certificates, so the certificate is not verified unless
the target or the settings ask for it; its expiry is read either way.

**Which statuses count as ok.**  The page is served when it answers 2xx or 3xx
(codecs redirect to their login page) or 401/403 (it wants credentials the probe
does not send).  Other 4xx (wrong path) and 5xx fail the check, and so does an
expired certificate (``fail_expired``): web and WebRTC clients that verify refuse it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import ssl
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from probes.base import Info, OwnDeadline, ProbeResult, Target

OK_STATUSES = frozenset({401, 403})


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the HTTPS management-page check."""

    verify: bool = False
    """Verify the certificate chain and host name (the target's ``verify_tls`` wins)."""
    path: str = "/"
    """Page to fetch when the target has no URL."""
    port: int = 443
    """Port when the target names none."""
    fail_expired: bool = True
    """Fail the check when the certificate has expired."""
    user_agent: str = "vcfleet-probe"
    ca_file: str | None = None
    """CA bundle for verification (default: the system's)."""
    timeout_s: float | None = None
    """The probe's own deadline (the sweep engine sets it under the check's deadline)."""


@functools.lru_cache(maxsize=8)
def _context(verify: bool, ca_file: str | None) -> ssl.SSLContext:
    """One client context per kind, shared by every probe: making one costs 0.3 ms, and
    45 ms with the system CA store loaded (a fleet sweep would pay that per room)."""
    if verify:
        return ssl.create_default_context(cafile=ca_file)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def cert_expiry_days(der: bytes, now: dt.datetime | None = None) -> float:
    """Days from ``now`` until the certificate's notAfter (negative once expired)."""
    left = _not_after(der) - (now or dt.datetime.now(dt.UTC))
    return left.total_seconds() / 86400.0


@functools.lru_cache(maxsize=1024)
def _not_after(der: bytes) -> dt.datetime:
    from cryptography import x509

    return x509.load_der_x509_certificate(der).not_valid_after_utc


async def probe(target: Target, settings: Settings) -> ProbeResult:
    """Fetch the management page; figures connect_ms, tls_ms, http_ms, cert_expiry_days."""
    figures: dict[str, float] = {}
    try:
        async with asyncio.timeout(settings.timeout_s):
            return await _fetch(target, settings, figures)
    except TimeoutError:
        phase = ("no TLS handshake" if "connect_ms" in figures and "tls_ms" not in figures
                 else "no answer from the management page" if "tls_ms" in figures
                 else "could not connect")
        return ProbeResult.failure(f"{phase} within {settings.timeout_s:g} s", **figures)


async def _fetch(target: Target, settings: Settings, figures: dict[str, float]) -> ProbeResult:
    url = urlsplit(target.url) if target.url else None
    host = target.address
    port = (url.port if url and url.port else None) or target.port or settings.port
    path = (url.path or "/") + (f"?{url.query}" if url and url.query else "") if url \
        else settings.path
    verify = settings.verify if target.verify_tls is None else target.verify_tls
    ctx = _context(verify, settings.ca_file)
    t0 = time.perf_counter()
    try:
        reader, writer = await asyncio.open_connection(host, port)
        t1 = time.perf_counter()
        figures["connect_ms"] = round((t1 - t0) * 1000.0, 3)
    except ConnectionRefusedError:
        return ProbeResult.failure(f"connection refused on port {port}")
    except OSError as exc:
        return ProbeResult.failure(f"cannot connect to port {port}: {exc.strerror or exc}")
    finished = False
    try:
        try:
            await writer.start_tls(ctx, server_hostname=host if verify else None)
        except ssl.SSLCertVerificationError as exc:
            return ProbeResult.failure(f"TLS certificate not trusted: {exc.verify_message}",
                                       **figures)
        except (ssl.SSLError, ConnectionError) as exc:
            return ProbeResult.failure(f"TLS handshake failed: {_ssl_text(exc)}", **figures)
        t2 = time.perf_counter()
        figures["tls_ms"] = round((t2 - t1) * 1000.0, 3)
        info = _tls_info(writer, figures)
        writer.write(_request(host, port, path, settings.user_agent))
        await writer.drain()
        status_line = await reader.readline()
        figures["http_ms"] = round((time.perf_counter() - t2) * 1000.0, 3)
        headers = await _headers(reader)
        finished = True
    except (ssl.SSLError, ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
        return ProbeResult.failure(f"management page: {_ssl_text(exc)}", **figures)
    finally:
        if finished:  # the server closes after its answer (Connection: close)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 0.5)
        else:  # failed or cancelled midway: drop the connection at once
            writer.transport.abort()
    return _judge(status_line, headers, figures, info, path, settings)


def _ssl_text(exc: BaseException) -> str:
    if isinstance(exc, ssl.SSLError) and exc.reason:
        return str(exc.reason).replace("_", " ").lower()
    return str(exc) or type(exc).__name__


def _tls_info(writer: asyncio.StreamWriter, figures: dict[str, float]) -> dict[str, Info]:
    info: dict[str, Info] = {}
    obj = writer.get_extra_info("ssl_object")
    if obj is None:
        return info
    info["tls_version"] = obj.version() or ""
    der = obj.getpeercert(binary_form=True)
    if der:
        with contextlib.suppress(ValueError):
            figures["cert_expiry_days"] = round(cert_expiry_days(der), 2)
    return info


def _request(host: str, port: int, path: str, user_agent: str) -> bytes:
    authority = f"[{host}]" if ":" in host else host
    return (f"GET {path} HTTP/1.1\r\nHost: {authority}:{port}\r\nUser-Agent: {user_agent}\r\n"
            "Accept: */*\r\nConnection: close\r\n\r\n").encode()


async def _headers(reader: asyncio.StreamReader) -> dict[str, str]:
    headers: dict[str, str] = {}
    for _ in range(100):
        line = await reader.readline()
        if not line.strip():
            break
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _judge(status_line: bytes, headers: dict[str, str], figures: dict[str, float],
           info: dict[str, Info], path: str, settings: Settings) -> ProbeResult:
    parts = status_line.decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        reason = "answered with something that is not HTTP" if status_line \
            else "closed without an answer"
        return ProbeResult(ok=False, figures=figures, info=info, reason=f"management page {reason}")
    status = int(parts[1])
    info["status"] = status
    if headers.get("server"):
        info["server"] = headers["server"]
    if status >= 400 and status not in OK_STATUSES:
        words = parts[2].strip() if len(parts) > 2 else ""
        text = f"management page {path} answered {status} {words}"
        return ProbeResult(ok=False, figures=figures, info=info, reason=text.rstrip())
    days = figures.get("cert_expiry_days")
    if settings.fail_expired and days is not None and days < 0:
        return ProbeResult(ok=False, figures=figures, info=info,
                           reason=f"TLS certificate expired {-days:.0f} days ago")
    return ProbeResult(ok=True, figures=figures, info=info)
