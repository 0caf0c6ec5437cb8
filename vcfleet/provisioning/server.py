"""The provisioning server: hands each device its own configuration file over HTTPS.

A device logs in with HTTP Basic, user name = its endpoint id, password =
``inventory.provisioning.device_password(secret, id)``.  Authenticated, it gets
the common file (``y000000000000.cfg``, any ``y`` + 12 digits name) and its own
file under any MAC name (``<12 lowercase hex>.cfg``: the inventory holds no MACs,
so the MAC asked for is only recorded).  Bad or missing credentials: 401; any
other path, or a device without a file yet: 404; never a listing.  The files
are read from the store on every fetch, so a push in another process publishes
by writing the store.

Bounded as every vcfleet HTTP server (``probes.httpserver``: header, handshake,
body and idle deadlines, aiohttp's size limits).  Every request that reaches the
handler is one JSON line in the provisioning audit log and one log record;
neither ever holds a password.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import errno
import hashlib
import hmac
import json
import logging
import os
import re
import ssl
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import platformdirs
from aiohttp import web

from inventory import Endpoint, InputError
from probes.httpserver import GuardedSite, HttpLimits, body_deadline, one_line
from vcfleet.provisioning import cfgfile
from vcfleet.provisioning.site import ProvisioningSite

log = logging.getLogger("vcfleet.provisioning")

COMMON_FILE = re.compile(r"^y\d{12}\.cfg$")
MAC_FILE = re.compile(r"^([0-9a-f]{12})\.cfg$")
MAX_SHOWN = 80
"""Longest piece of client text (path, user name) written to a log or audit line."""
REALM = 'Basic realm="vcfleet provisioning", charset="UTF-8"'


def default_audit_log() -> Path:
    """``provisioning-audit.jsonl`` in the user's data directory (beside push's audit log)."""
    return Path(platformdirs.user_data_dir("vcfleet")) / "provisioning-audit.jsonl"


def basic(user: str, password: str) -> str:
    """An ``Authorization`` header value for HTTP Basic."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _shown(text: str) -> str:
    line = one_line(text)
    return line if len(line) <= MAX_SHOWN else line[:MAX_SHOWN - 1] + "…"


class FetchAudit:
    """The provisioning audit log: one JSON line per request, appended, mode 0600."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self.lost = 0

    def record(self, line: dict[str, Any]) -> None:
        """Append one line (a full disk costs the line, never the fetch)."""
        when = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        try:
            self._file.write(json.dumps({"time": when.replace("+00:00", "Z"), **line},
                                        ensure_ascii=False, sort_keys=True) + "\n")
            self._file.flush()
        except OSError:
            self.lost += 1

    def close(self) -> None:
        """Close the file; never raises."""
        try:
            self._file.close()
        except OSError:
            self.lost += 1


class ProvisioningServer:
    """The HTTPS server of one provisioning site, for the devices of ``endpoints``.

    ``start`` binds (OSError when the address is taken), ``stop`` closes every
    connection and the audit log.
    """

    def __init__(self, site: ProvisioningSite, endpoints: list[Endpoint], audit_path: Path,
                 limits: HttpLimits | None = None) -> None:
        self.site = site
        self.limits = limits or HttpLimits(header_s=10.0, body_s=10.0, idle_s=30.0)
        self._devices = {e.id: e for e in endpoints}
        self._passwords: dict[str, bytes] = {}
        self._audit_path = audit_path
        self._audit: FetchAudit | None = None
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self.fetches: Counter[str] = Counter()
        """Files served (status 200) per endpoint id, since start."""

    @property
    def port(self) -> int:
        """The bound port (the configured one, or the one chosen for port 0)."""
        return self._site.port if self._site is not None else self.site.port

    async def start(self) -> None:
        """Bind and serve; OSError if the address cannot be bound."""
        context = self.site.server_context()
        app = web.Application(client_max_size=4096, middlewares=[body_deadline(self.limits)])
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(app, access_log=None, handle_signals=False,
                               **self.limits.handler_args())
        await runner.setup()
        site = GuardedSite(runner, self.site.host, self.site.port, self.limits,
                           ssl_context=context)
        try:
            await site.start()
            self._audit = FetchAudit(self._audit_path)  # only once the address is ours
        except BaseException:
            await runner.cleanup()
            raise
        self._runner, self._site = runner, site

    async def stop(self) -> None:
        """Stop serving and close the audit log."""
        runner, self._runner, self._site = self._runner, None, None
        if runner is not None:
            await runner.cleanup()
        if self._audit is not None:
            self._audit.close()
            self._audit = None

    @property
    def devices(self) -> list[str]:
        """The endpoint ids the server hands files to, in inventory order."""
        return list(self._devices)

    def update(self, endpoints: list[Endpoint]) -> None:
        """Serve these endpoints from now on (an inventory reload): a room added can fetch
        at once, a removed one is refused (401) from its next request."""
        devices = {e.id: e for e in endpoints}
        self._passwords = {k: v for k, v in self._passwords.items() if k in devices}
        self._devices = devices

    def _password(self, endpoint_id: str) -> bytes:
        if endpoint_id not in self._passwords:
            self._passwords[endpoint_id] = self.site.device_password(endpoint_id).encode()
        return self._passwords[endpoint_id]

    def _authenticated(self, request: web.Request) -> tuple[str | None, str]:
        """The endpoint id the request proves it is (None: none), and the claimed user."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token or len(token) > 512:
            return None, ""
        try:
            user, colon, password = base64.b64decode(token.strip(), validate=True
                                                     ).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None, ""
        if not colon or user not in self._devices:
            return None, user
        ok = hmac.compare_digest(password.encode(), self._password(user))
        return (user if ok else None), user

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        endpoint_id, claimed = self._authenticated(request)
        name = request.path[len(self.site.prefix):] if request.path.startswith(
            self.site.prefix) else None
        body: str | None = None
        mac: str | None = None
        if endpoint_id is None:
            status = 401
        elif request.method not in ("GET", "HEAD") or name is None:
            status = 404
        else:
            if COMMON_FILE.match(name):
                body = cfgfile.common_file()
            elif (m := MAC_FILE.match(name)) is not None:
                mac = m.group(1)
                body = self.site.store.read(endpoint_id)
            status = 200 if body is not None else 404
        self._record(request, endpoint_id, claimed, name, mac, status, body)
        if status == 401:
            return web.Response(status=401, text="authentication required\n",
                                headers={"WWW-Authenticate": REALM})
        if body is None:
            return web.Response(status=404, text="not found\n")
        assert endpoint_id is not None
        self.fetches[endpoint_id] += 1
        return web.Response(text=body, content_type="text/plain", charset="utf-8",
                            headers={"Cache-Control": "no-store"})

    def _record(self, request: web.Request, endpoint_id: str | None, claimed: str,
                name: str | None, mac: str | None, status: int, body: str | None) -> None:
        data = body.encode("utf-8") if body is not None else b""
        line: dict[str, Any] = {
            "endpoint": endpoint_id, "remote": request.remote, "method": _shown(request.method),
            "path": _shown(request.path), "status": status, "bytes": len(data),
        }
        if endpoint_id is None and claimed:
            line["user"] = _shown(claimed)
        if mac is not None:
            line["mac"] = mac
        if body is not None:
            line["sha256"] = hashlib.sha256(data).hexdigest()
        if self._audit is not None:
            self._audit.record(line)
        who = endpoint_id or (f"unauthenticated user {line['user']!r}" if "user" in line
                              else "a client without credentials")
        log.info("provisioning: %s from %s: %s %s -> %d", who, request.remote, line["method"],
                 line["path"], status)


@contextlib.asynccontextmanager
async def serving_during(site: ProvisioningSite, endpoints: list[Endpoint], audit_path: Path,
                         limits: HttpLimits | None = None) -> AsyncIterator[str]:
    """Serve ``site`` for the duration of the block; yield a line saying how.

    If the address is already taken, by a vcfleet provisioning server of the same
    inventory that serves the same store (a standing ``vcfleet serve``), the push
    publishes through that store instead; anything else there is an InputError.
    """
    server = ProvisioningServer(site, endpoints, audit_path, limits)
    where = f"{site.host}:{site.port}"
    try:
        await server.start()
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise InputError(f"provisioning.listen {where}: cannot listen: "
                             f"{exc.strerror or exc}") from None
        problem = await shared_server_problem(site, endpoints)
        if problem is not None:
            raise InputError(f"provisioning.listen {where}: address already in use, and "
                             f"{problem}") from None
        yield (f"provisioning: {site.url} is already served by another vcfleet (vcfleet "
               f"serve?); publishing through the shared store {site.store.root}")
        return
    try:
        yield f"provisioning: serving {site.url} during the push (store {site.store.root})"
    finally:
        await server.stop()


async def shared_server_problem(site: ProvisioningSite, endpoints: list[Endpoint],
                                timeout_s: float = 5.0) -> str | None:
    """Why the server at the site's address is not one this push can publish through
    (None: it is vcfleet's, knows the inventory's secret and serves this store's files)."""
    import aiohttp

    if not endpoints:
        return "no provisioned endpoint to check it with"
    probe = endpoints[0]
    host = f"[{site.host}]" if ":" in site.host else site.host
    url = f"https://{host}:{site.port}{site.prefix}000000000000.cfg"
    auth = {"Authorization": basic(probe.id, site.device_password(probe.id))}
    try:
        async with asyncio.timeout(timeout_s), aiohttp.ClientSession() as http, http.get(
                url, headers=auth, ssl=site.client_context(), allow_redirects=False) as resp:
            body = (await resp.content.read(1 << 20)).decode("utf-8", "replace")
            status = resp.status
    except (TimeoutError, aiohttp.ClientError, OSError, ssl.SSLError) as exc:
        why = f"no answer within {timeout_s:g} s" if isinstance(exc, TimeoutError) else (
            one_line(exc)[:200] or type(exc).__name__)
        return f"what listens there is not vcfleet's provisioning server ({why})"
    own = site.store.read(probe.id)
    if (status, body) == (200, own) or (status == 404 and own is None):
        return None
    if status == 401:
        return "the server there does not know this inventory's provisioning secret"
    return (f"the server there serves other files than {site.store.root} (status {status}): "
            "give --provisioning-store the folder that server uses")
