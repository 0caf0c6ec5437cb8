"""Reading a Yealink room's state from its HTTPS API (the web UI's JSON, firmware v86+).

Yealink documents no status API: the paths and answers read here are reconstructed from
third-party notes (docs/simulator.md, "HTTPS /api (reconstructed)", says which).  One
login (``POST /api/auth/login``, the room's credentials, a session cookie), then
``/api/common/info``, ``/api/account/status``, ``/api/call/status`` and
``/api/peripheral/status``, each under ``Settings.command_s``; the login (TCP, TLS and
the answer) under ``connect_s``; the whole check under ``timeout_s``.  TLS is verified
as the https check does it: when the endpoint's ``verify_tls`` says so.

The result has the same JSON as the SSH vendors (probes/device.py); Yealink's API has
no standby and no diagnostics: ``standby`` is null and ``diagnostics`` empty.
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
from typing import Any, Protocol

import aiohttp

from probes.base import LoopSemaphores, ProbeResult

PATHS = ("/api/common/info", "/api/account/status", "/api/call/status",
         "/api/peripheral/status")
MAX_ANSWER = 1 << 20
"""An answer larger than this is not the device's: the check stops reading."""
STATES = {"registered": "registered", "registering": "failed", "failed": "failed",
          "disabled": "inactive"}
"""Yealink's account states in the device check's words."""
KINDS = (("camera", "camera"), ("microphones", "microphone"), ("display", "display"))
"""(key of ``/api/peripheral/status``, the check's peripheral kind)."""

class DeviceTarget(Protocol):
    """What the check reads of ``probes.device.DeviceTarget`` (a Protocol here, so that
    this module does not import the one that dispatches to it)."""

    @property
    def address(self) -> str: ...
    @property
    def port(self) -> int | None: ...
    @property
    def url(self) -> str | None: ...
    @property
    def verify_tls(self) -> bool | None: ...
    @property
    def username(self) -> str: ...
    @property
    def password(self) -> str | None: ...


class Settings(Protocol):
    """What the check reads of ``probes.device.Settings``."""

    @property
    def timeout_s(self) -> float | None: ...
    @property
    def connect_s(self) -> float: ...
    @property
    def command_s(self) -> float: ...
    @property
    def max_sessions(self) -> int: ...


_sessions = LoopSemaphores()
"""Sessions open at once, per event loop (``Settings.max_sessions``)."""


class _Failed(Exception):
    """The check stops with this reason."""


@functools.lru_cache(maxsize=2)
def _tls(verify: bool) -> ssl.SSLContext:
    """One client context per kind, shared by every check (the https check's choice)."""
    if verify:
        return ssl.create_default_context()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


async def probe(target: DeviceTarget, settings: Settings) -> ProbeResult:
    """Log in to the room's HTTPS API and read registration, calls, DND, peripherals,
    software and uptime."""
    if target.password is None:
        return ProbeResult.cannot_check("a Yealink room's API needs a password "
                                        "(credentials.secret), not the SSH agent")
    try:
        async with asyncio.timeout(settings.timeout_s), _sessions.get(settings.max_sessions):
            answers = await _read(target, target.password, settings)
    except _Failed as exc:
        return ProbeResult.failure(str(exc))
    except TimeoutError:
        return ProbeResult.failure(f"the device was not read within {settings.timeout_s:g} s")
    details, uptime, remote = parse(answers)
    figures = {"uptime_s": uptime} if uptime is not None else {}
    info = {"call_with": remote} if remote else {}
    return ProbeResult(ok=True, figures=figures, details=details, info=info)


def _base(target: DeviceTarget) -> str:
    if target.url:
        return target.url.rstrip("/")
    host = f"[{target.address}]" if ":" in target.address else target.address
    return f"https://{host}:{target.port or 443}"


async def _read(target: DeviceTarget, password: str, settings: Settings) -> dict[str, Any]:
    base = _base(target)
    tls = _tls(bool(target.verify_tls))
    connector = aiohttp.TCPConnector(ssl=tls, limit=1, force_close=False)
    jar = aiohttp.CookieJar(unsafe=True)  # the room is an IP address: keep its cookie
    async with aiohttp.ClientSession(connector=connector, cookie_jar=jar,
                                     headers={"User-Agent": "vcfleet-probe"}) as http:
        login = await _call(http, "POST", f"{base}/api/auth/login", settings.connect_s,
                            data={"username": target.username, "pwd": password})
        if login.get("ret") != "ok" or login.get("data") is not True:
            raise _Failed(f"login as {target.username!r} refused (authentication failed)")
        answers: dict[str, Any] = {}
        for path in PATHS:
            body = await _call(http, "GET", base + path, settings.command_s)
            if body.get("ret") != "ok":
                raise _Failed(f"{path}: the device answered {_error(body)}")
            answers[path] = body.get("data")
        return answers


async def _call(http: aiohttp.ClientSession, method: str, url: str, deadline_s: float,
                data: dict[str, str] | None = None) -> dict[str, Any]:
    path = url.split("/", 3)[-1]
    try:
        async with asyncio.timeout(deadline_s):
            async with http.request(method, url, data=data, allow_redirects=False) as resp:
                if resp.status == 401:
                    raise _Failed(f"/{path}: the device refused the session (401)")
                if resp.status != 200:
                    raise _Failed(f"/{path}: HTTP {resp.status}")
                raw = await resp.content.read(MAX_ANSWER + 1)
    except TimeoutError:
        raise _Failed(f"no answer to {method} /{path} within {deadline_s:g} s") from None
    except aiohttp.ClientConnectorCertificateError as exc:
        raise _Failed(f"TLS certificate not trusted: "
                      f"{getattr(exc.certificate_error, 'verify_message', exc)}") from None
    except aiohttp.ClientSSLError as exc:
        raise _Failed(f"TLS handshake failed: {exc.__class__.__name__}") from None
    except aiohttp.ClientConnectorError as exc:
        why = exc.os_error.strerror or exc.os_error
        raise _Failed(f"cannot connect to {url.split('/')[2]}: {why}") from None
    except aiohttp.ClientError as exc:
        raise _Failed(f"/{path}: {exc.__class__.__name__}") from None
    if len(raw) > MAX_ANSWER:
        raise _Failed(f"/{path}: an answer larger than {MAX_ANSWER} bytes")
    try:
        body = json.loads(raw)
    except ValueError:
        raise _Failed(f"/{path}: the answer is not JSON") from None
    if not isinstance(body, dict):
        raise _Failed(f"/{path}: unexpected answer")
    return body


def _error(body: dict[str, Any]) -> str:
    error = body.get("error")
    msg = error.get("msg") if isinstance(error, dict) else None
    return repr(msg) if isinstance(msg, str) else "an error"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse(answers: dict[str, Any]) -> tuple[dict[str, Any], float | None, str]:
    """(the sweep JSON's device entries, the uptime in seconds, the far end of a call)
    from the ``data`` of each path read."""
    info = _dict(answers.get("/api/common/info"))
    accounts = _dict(answers.get("/api/account/status")).get("accounts")
    account = _dict(accounts[0]) if isinstance(accounts, list) and accounts else {}
    calls = _dict(answers.get("/api/call/status"))
    devices = _dict(answers.get("/api/peripheral/status"))
    state = STATES.get(str(account.get("state", "")), "inactive")
    reason = str(account.get("reason") or "")
    if account.get("state") == "registering" and not reason:
        reason = "registering"
    peripherals: list[dict[str, Any]] = []
    for key, kind in KINDS:
        item = _dict(devices.get(key))
        if not item:
            continue
        entry: dict[str, Any] = {"kind": kind, "name": str(item.get("name") or kind),
                                 "connected": item.get("connected") is True}
        if "muted" in item:
            entry["muted"] = item.get("muted") is True
        peripherals.append(entry)
    active = [c for c in calls.get("calls") or [] if isinstance(c, dict)]
    count = calls.get("count")
    uptime = info.get("uptime_s")
    details: dict[str, Any] = {
        "registration": {"state": state, "registrar": str(account.get("server") or ""),
                         "reason": "" if state == "registered" else reason},
        "calls": count if isinstance(count, int) and count >= 0 else len(active),
        "standby": None,
        "dnd": calls.get("dnd") is True,
        "peripherals": peripherals,
        "diagnostics": [],
        "software": str(info.get("firmware") or ""),
    }
    figure = float(uptime) if isinstance(uptime, int | float) and uptime >= 0 else None
    if figure is None:
        details["uptime_s"] = None
    remote = ""
    if active:
        remote = str(active[0].get("name") or active[0].get("remote") or "")
    return details, figure, remote
