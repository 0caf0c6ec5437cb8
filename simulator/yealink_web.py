"""A simulated Yealink room's HTTPS ``/api``: login, status, running values, provisioning.

Reconstructed from third-party notes on the web UI's JSON of firmware v86+, not from a
vendor reference; docs/simulator.md ("HTTPS /api") has every path and answer.  ``/``
and ``/status`` stay as on every simulated endpoint (simulator/web.py); every other path
under ``/api/`` but the login needs the session cookie the login sets.
"""

from __future__ import annotations

import hmac
import json
import secrets
import ssl
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from simulator.devices import Device
from simulator.web import HttpsService
from simulator.yealink import FIRMWARE, SECRET_MASK, AutoProvisioning, export_cfg, is_secret

COOKIE = "JSESSIONID"
SESSION_IDLE_S = 600.0
MAX_SESSIONS = 16
MAX_BODY = 64 * 1024
STATES = {"Registered": "registered", "Registering": "registering", "Failed": "failed",
          "Inactive": "disabled"}
"""The registration as Yealink words it, from the simulated state's (Cisco's) words."""

Login = Callable[[str, str], bool]
"""(username, password) -> whether the device lets this login in (faults included)."""


def _ok(data: Any) -> web.Response:
    return web.json_response({"ret": "ok", "data": data}, dumps=_dumps)


def _failed(msg: str, status: int = 200) -> web.Response:
    return web.json_response({"ret": "failed", "data": False, "error": {"msg": msg}},
                             status=status, dumps=_dumps)


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False)


class Sessions:
    """The device's web sessions: at most ``MAX_SESSIONS``, each ending after
    ``SESSION_IDLE_S`` without a request."""

    def __init__(self) -> None:
        self._last: OrderedDict[str, float] = OrderedDict()

    def open(self) -> str:
        """A new session's token (the oldest session ends when there are too many)."""
        token = secrets.token_hex(16)
        self._last[token] = time.monotonic()
        while len(self._last) > MAX_SESSIONS:
            self._last.popitem(last=False)
        return token

    def valid(self, token: str | None) -> bool:
        """Whether a token is an open session (using it keeps it open)."""
        if not token:
            return False
        found = next((t for t in self._last if hmac.compare_digest(t, token)), None)
        if found is None or time.monotonic() - self._last[found] > SESSION_IDLE_S:
            self._last.pop(found or "", None)
            return False
        self._last[found] = time.monotonic()
        self._last.move_to_end(found)
        return True

    def close(self, token: str | None) -> None:
        """End a session."""
        self._last.pop(token or "", None)


class YealinkHttps(HttpsService):
    """The HTTPS service of a Yealink room: the common pages plus its ``/api``."""

    def __init__(self, host: str, port: int, device: Device, tls: ssl.SSLContext,
                 provisioning: AutoProvisioning, login: Login) -> None:
        super().__init__(host, port, device, tls)
        self.provisioning = provisioning
        self.login = login
        self.sessions = Sessions()

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        if not request.path.startswith("/api/"):
            return await super()._handle(request)
        route = ROUTES.get(request.path)
        if route is None:
            return _failed("error_not_found", 404)
        method, handler = route
        if request.method != method:
            resp = _failed("error_method_not_allowed", 405)
            resp.headers["Allow"] = method
            return resp
        if request.path != "/api/auth/login" and not self.sessions.valid(
                request.cookies.get(COOKIE)):
            return _failed("error_unauthorized", 401)
        if request.content_length is not None and request.content_length > MAX_BODY:
            return _failed("error_invalid_request", 413)
        return await handler(self, request)

    # -- handlers ----------------------------------------------------------------

    async def _login(self, request: web.BaseRequest) -> web.StreamResponse:
        form = await request.post()
        username, pwd = form.get("username"), form.get("pwd")
        if not isinstance(username, str) or not isinstance(pwd, str) or not self.login(
                username, pwd):
            return _failed("error_username_or_password_is_wrong")
        resp = _ok(True)
        resp.set_cookie(COOKIE, self.sessions.open(), path="/", httponly=True, secure=True)
        return resp

    async def _logout(self, request: web.BaseRequest) -> web.StreamResponse:
        self.sessions.close(request.cookies.get(COOKIE))
        return _ok(True)

    async def _info(self, request: web.BaseRequest) -> web.StreamResponse:
        d = self.device
        return _ok({"model": d.endpoint.model, "firmware": d.state.software or FIRMWARE,
                    "mac": self.provisioning.mac, "uptime_s": d.uptime_s})

    async def _account(self, request: web.BaseRequest) -> web.StreamResponse:
        reg = self.device.state.registration
        config = self.device.config
        return _ok({"accounts": [{
            "id": 1, "state": STATES.get(reg.status, "disabled"),
            "user": config.get("account.1.user_name", ""),
            "server": config.get("account.1.sip_server.1.address", ""),
            "reason": reg.reason}]})

    async def _calls(self, request: web.BaseRequest) -> web.StreamResponse:
        state = self.device.state
        calls = [{"remote": c.remote, "name": c.display_name, "direction": c.direction.lower(),
                  "duration_s": c.duration_s} for c in state.calls.values()]
        return _ok({"count": len(calls), "dnd": state.dnd, "calls": calls})

    async def _peripherals(self, request: web.BaseRequest) -> web.StreamResponse:
        state = self.device.state
        model = self.device.endpoint.model or "MeetingBar"
        return _ok({
            "camera": {"name": f"{model} camera", "connected": state.camera_connected},
            "microphones": {"name": f"{model} microphone array",
                            "connected": state.mics_connected, "muted": state.mic_mute},
            "display": {"name": "HDMI 1", "connected": state.display_connected}})

    async def _readconfig(self, request: web.BaseRequest) -> web.StreamResponse:
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _failed("error_invalid_request", 400)
        keys = body.get("keys") if isinstance(body, dict) else None
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            return _failed("error_invalid_request", 400)
        config = self.device.config
        if not keys:
            return _ok({k: v for k, v in sorted(config.items()) if not is_secret(k)})
        return _ok({k: SECRET_MASK if is_secret(k) else config[k] for k in keys
                    if k in config})

    async def _export(self, request: web.BaseRequest) -> web.StreamResponse:
        return web.Response(text=export_cfg(self.device.config), content_type="text/plain",
                            charset="utf-8",
                            headers={"Content-Disposition": "attachment; filename=config.cfg"})

    async def _autop_now(self, request: web.BaseRequest) -> web.StreamResponse:
        self.provisioning.trigger("api")
        return _ok(True)

    async def _autop_status(self, request: web.BaseRequest) -> web.StreamResponse:
        return _ok(self.provisioning.status())


Handler = Callable[[YealinkHttps, web.BaseRequest], Awaitable[web.StreamResponse]]
ROUTES: dict[str, tuple[str, Handler]] = {
    "/api/auth/login": ("POST", YealinkHttps._login),
    "/api/auth/logout": ("POST", YealinkHttps._logout),
    "/api/common/info": ("GET", YealinkHttps._info),
    "/api/account/status": ("GET", YealinkHttps._account),
    "/api/call/status": ("GET", YealinkHttps._calls),
    "/api/peripheral/status": ("GET", YealinkHttps._peripherals),
    "/api/inner/readconfig": ("POST", YealinkHttps._readconfig),
    "/api/config/export": ("GET", YealinkHttps._export),
    "/api/autop/now": ("POST", YealinkHttps._autop_now),
    "/api/autop/status": ("GET", YealinkHttps._autop_status),
}
"""Path -> (method, handler) of the ``/api`` the simulator serves."""
