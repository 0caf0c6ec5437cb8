"""HTTPS probe against real aiohttp servers with generated certificates on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from probes.base import Target
from probes.https import Settings, cert_expiry_days, probe


def make_cert(tmp: Path, host: str, days: float) -> ssl.SSLContext:
    """A self-signed certificate for ``host`` valid ``days`` from now (negative: expired)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "codec.test")])
    now = dt.datetime.now(dt.UTC)
    not_after = now + dt.timedelta(days=days)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(min(now, not_after) - dt.timedelta(days=1))
            .not_valid_after(not_after).sign(key, hashes.SHA256()))
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return ctx


async def page(request: web.Request) -> web.Response:
    status = int(request.query.get("status", "200"))
    return web.Response(status=status, text="codec web", headers={"Server": "CodecWeb/2"})


@contextlib.asynccontextmanager
async def https_server(host: str, ctx: ssl.SSLContext) -> AsyncIterator[int]:
    app = web.Application()
    app.router.add_get("/", page)
    app.router.add_get("/web/signin", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, ssl_context=ctx)
    await site.start()
    try:
        yield site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_server(host: str, greeting: bytes | None) -> AsyncIterator[int]:
    """A TCP server that sends ``greeting`` (garbage) or nothing at all (silence)."""
    writers: list[asyncio.StreamWriter] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        if greeting is not None:
            writer.write(greeting)
            writer.close()
            return
        with contextlib.suppress(OSError):
            await reader.read()

    server = await asyncio.start_server(serve, host, 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        for w in writers:
            w.close()
        await server.wait_closed()


def _target(host: str, port: int, path: str = "/", verify: bool | None = None) -> Target:
    return Target(host, port, url=f"https://{host}:{port}{path}", verify_tls=verify)


async def test_self_signed_page_ok_with_figures(loopback_prefix: str, tmp_path: Path) -> None:
    host = f"{loopback_prefix}.3"
    async with https_server(host, make_cert(tmp_path, host, 90)) as port:
        result = await probe(_target(host, port), Settings(timeout_s=5))
    assert result.ok, result.reason
    assert result.info["status"] == 200
    assert result.info["server"] == "CodecWeb/2"
    assert str(result.info["tls_version"]).startswith("TLS")
    assert 89 < result.figures["cert_expiry_days"] <= 90
    for name in ("connect_ms", "tls_ms", "http_ms"):
        assert result.figures[name] >= 0


@pytest.mark.parametrize(("status", "ok"), [(302, True), (401, True), (403, True),
                                            (404, False), (500, False), (503, False)])
async def test_status_decides(loopback_prefix: str, tmp_path: Path, status: int,
                              ok: bool) -> None:
    host = f"{loopback_prefix}.3"
    async with https_server(host, make_cert(tmp_path, host, 90)) as port:
        result = await probe(_target(host, port, f"/web/signin?status={status}"),
                             Settings(timeout_s=5))
    assert result.ok is ok
    assert result.info["status"] == status
    if not ok:
        assert result.reason.startswith(f"management page /web/signin?status={status} "
                                        f"answered {status}")


async def test_verification_refuses_a_self_signed_certificate(loopback_prefix: str,
                                                              tmp_path: Path) -> None:
    host = f"{loopback_prefix}.3"
    async with https_server(host, make_cert(tmp_path, host, 90)) as port:
        by_target = await probe(_target(host, port, verify=True), Settings(timeout_s=5))
        by_settings = await probe(_target(host, port), Settings(verify=True, timeout_s=5))
        trusted = await probe(_target(host, port, verify=True),
                              Settings(timeout_s=5, ca_file=str(tmp_path / "cert.pem")))
    assert not by_target.ok
    assert by_target.reason.startswith("TLS certificate not trusted: ")
    assert not by_settings.ok
    # trusted CA, but the certificate names codec.test, not the address
    assert not trusted.ok
    assert "TLS certificate not trusted" in trusted.reason


async def test_expired_certificate_fails_with_its_age(loopback_prefix: str,
                                                      tmp_path: Path) -> None:
    host = f"{loopback_prefix}.3"
    async with https_server(host, make_cert(tmp_path, host, -10)) as port:
        result = await probe(_target(host, port), Settings(timeout_s=5))
        lenient = await probe(_target(host, port), Settings(timeout_s=5, fail_expired=False))
    assert not result.ok
    assert result.reason == "TLS certificate expired 10 days ago"
    assert result.figures["cert_expiry_days"] == pytest.approx(-10, abs=0.01)
    assert lenient.ok


async def test_garbage_silence_and_refused(loopback_prefix: str) -> None:
    host = f"{loopback_prefix}.3"
    async with raw_server(host, b"SSH-2.0-OpenSSH_9.6\r\n") as port:
        garbage = await probe(Target(host, port), Settings(timeout_s=2))
    async with raw_server(host, None) as port:
        silent = await probe(Target(host, port), Settings(timeout_s=0.3))
    refused = await probe(Target(host, port), Settings(timeout_s=2))
    assert not garbage.ok
    assert garbage.reason.startswith("TLS handshake failed: ")
    assert not silent.ok
    assert silent.reason == "no TLS handshake within 0.3 s"
    assert "connect_ms" in silent.figures
    assert refused.reason == f"connection refused on port {port}"


def test_expiry_days_of_a_certificate(tmp_path: Path) -> None:
    make_cert(tmp_path, "x", 30)
    der = x509.load_pem_x509_certificate((tmp_path / "cert.pem").read_bytes()).public_bytes(
        serialization.Encoding.DER)
    assert cert_expiry_days(der) == pytest.approx(30, abs=0.01)
