"""The provisioning driver (Yealink): settings travel as a file the device fetches.

The same ``Driver`` interface as the SSH drivers, so the push engine runs backup,
diff, apply, verify and rollback unchanged:

- ``connect``: log in to the device's HTTPS interface (``POST /api/auth/login``);
- ``read``: the device's running configuration, its own export
  (``GET /api/config/export``, ``key = value`` lines), parsed by the dialect;
- ``apply``: stage one setting (nothing is sent);
- ``verify``: publish the device's file in the provisioning store (the expected
  values merged into its last file), send ``NOTIFY check-sync``, wait until the
  device's auto-provisioning status (``GET /api/autop/status``) shows a fetch that
  ended after the NOTIFY, then read back.  A fetch that failed, or settings the
  device refused, raise ``CommandFailed``, and the engine rolls back: the backed-up
  values staged, published, triggered and read back the same way.  Once read back,
  the file is rewritten to what the device runs;
- ``settled`` (a push that needs no change, a backup): the device's file becomes
  what it runs, so that a device that reboots later is served exactly that.

The file of a device holds the keys vcfleet manages on it (the native names of the
neutral settings, and the keys earlier files held), each with the value the device
reported at the last read: never a value the device does not run (keys it did not
report are left out), and ``sip.notify_reboot_enable = 0`` (``cfgfile.MANAGED``).
With nothing staged (a rollback of a device that never took the new values),
``verify`` only brings the store back in step and reads: a device that could not
fetch is not asked to fetch again, yet a later reboot finds the old values.
Every wait has a deadline: the login ``Deadlines.connect_s``, each request and the
trigger-to-fetch wait ``Deadlines.command_s``.
"""

from __future__ import annotations

import asyncio
import json
import ssl
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiohttp

from inventory import Endpoint, vendors
from inventory.secrets import SecretUnavailable, resolve_secret
from vcfleet.provisioning import cfgfile
from vcfleet.provisioning.notify import CheckSync, NotifyError, send_check_sync
from vcfleet.push.dialects import DIALECTS
from vcfleet.push.driver import (
    CommandFailed,
    DeviceTimeout,
    DriverOptions,
    PushError,
    RunningConfig,
    Unreachable,
    verify_by_reading,
)

SECRET_MASK = "********"
"""How a device shows a secret it will not tell: never a value to publish."""
POLL_S = 0.15
"""How often the device's auto-provisioning status is read while it fetches."""
MAX_REPLY = 1 << 20
"""Largest reply read from a device (a configuration export is a few kilobytes)."""


class ProvisioningDriver:
    """A session with one provisioned device: HTTPS to read, the provisioning store to write."""

    def __init__(self, endpoint: Endpoint, options: DriverOptions) -> None:
        if options.provisioning is None:
            raise PushError("the inventory has no provisioning: section")
        self.endpoint = endpoint
        self.dialect = DIALECTS[endpoint.vendor]
        self.options = options
        self.site = options.provisioning
        https = endpoint.services.https
        assert https is not None  # supported() checked it
        host = f"[{endpoint.address}]" if ":" in endpoint.address else endpoint.address
        self.base = f"https://{host}:{https.port}"
        self._verify_tls = https.verify_tls
        self._http: aiohttp.ClientSession | None = None
        self._staged: dict[str, str] = {}
        self._running: dict[str, str] | None = None
        """The settings the device reported at the last ``read``."""

    # -- the session ------------------------------------------------------------------

    async def connect(self) -> None:
        e, d = self.endpoint, self.options.deadlines
        try:
            password = resolve_secret(e.credentials.secret, self.options.base_dir)
        except SecretUnavailable as exc:
            raise Unreachable(f"credentials: {exc}") from None
        if password is None:
            raise Unreachable("credentials: the SSH agent cannot log in over HTTPS; "
                              "give the room a password reference")
        tls: ssl.SSLContext | bool = ssl.create_default_context() if self._verify_tls else False
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls, limit=2),
            cookie_jar=aiohttp.CookieJar(unsafe=True),  # devices are IP addresses
            timeout=aiohttp.ClientTimeout(total=None))
        try:
            async with asyncio.timeout(d.connect_s):
                reply = await self._request("POST", "/api/auth/login", data={
                    "username": e.credentials.username, "pwd": password}, login=True)
        except TimeoutError:
            await self.close()
            raise Unreachable(f"no HTTPS login within {d.connect_s:g} s ({self.base})") from None
        except (aiohttp.ClientError, OSError) as exc:
            await self.close()
            raise Unreachable(f"cannot connect to {self.base}: {_client_why(exc)}") from None
        except PushError as exc:
            await self.close()
            raise Unreachable(f"HTTPS login failed: {exc}") from None
        if not isinstance(reply, dict) or reply.get("ret") != "ok":
            await self.close()
            raise Unreachable(f"login as {e.credentials.username!r} refused "
                              "(authentication failed)")

    async def _request(self, method: str, path: str, *, data: Mapping[str, str] | None = None,
                       text: bool = False, login: bool = False) -> Any:
        """One request's JSON (or text) reply; PushError for an HTTP error or a bad reply."""
        assert self._http is not None
        async with self._http.request(method, self.base + path, data=data,
                                      allow_redirects=False) as resp:
            body = await resp.content.read(MAX_REPLY + 1)
            if len(body) > MAX_REPLY:
                raise PushError(f"{path}: reply longer than {MAX_REPLY} bytes")
            if resp.status == 401 and not login:
                raise _SessionExpired(f"{path}: HTTP 401 (session expired)")
            if resp.status != 200:
                raise PushError(f"{path}: HTTP {resp.status} {resp.reason or ''}".rstrip())
        decoded = body.decode("utf-8", "replace")
        if text:
            return decoded
        try:
            return json.loads(decoded)
        except ValueError:
            raise PushError(f"{path}: the reply is not JSON") from None

    async def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A request within ``command_s``, logging in again once if the session expired."""
        timeout = self.options.deadlines.command_s
        if self._http is None:
            await self.connect()
        try:
            async with asyncio.timeout(timeout):
                try:
                    return await self._request(method, path, **kwargs)
                except _SessionExpired:
                    pass
            await self.close()
            await self.connect()
            async with asyncio.timeout(timeout):
                return await self._request(method, path, **kwargs)
        except TimeoutError:
            raise DeviceTimeout(f"no complete reply to {method} {path} within {timeout:g} s"
                                ) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise PushError(f"{method} {path}: {_client_why(exc)}") from None

    async def close(self) -> None:
        http, self._http = self._http, None
        if http is not None:
            try:
                async with asyncio.timeout(2):
                    await http.close()
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass

    # -- the Driver interface ---------------------------------------------------------

    async def read(self) -> RunningConfig:
        raw = await self._call("GET", "/api/config/export", text=True)
        assert isinstance(raw, str)
        config = RunningConfig(raw, self.dialect.parse_dump(raw))
        self._running = config.settings
        return config

    async def apply(self, name: str, value: str) -> None:
        self._staged[name] = value

    async def verify(self, expected: Mapping[str, str | None]) -> dict[str, str | None]:
        values = {k: v for k, v in expected.items() if v is not None}
        staged, self._staged = self._staged, {}
        if staged:
            await self._provision({**values, **staged}, staged)
        else:
            self._store_update(values)
        wrong = await verify_by_reading(self, expected)
        await self.settled()  # values the device refused or lost leave the file too
        return wrong

    async def settled(self) -> None:
        """Publish what the device ran at the last ``read`` as its provisioning file."""
        if self._running is None:
            return
        store, running = self.site.store, self._running
        keys = set(store.settings(self.endpoint.id)) | self._managed_keys()
        values = {k: running[k] for k in keys - set(cfgfile.MANAGED)
                  if k in running and running[k] != SECRET_MASK}
        try:
            store.write(self.endpoint.id, cfgfile.render(values))
        except OSError as exc:
            raise PushError(_store_problem(store.root, exc)) from None

    def _managed_keys(self) -> set[str]:
        """The native names of every neutral setting vcfleet knows for this vendor."""
        vendor = self.endpoint.vendor
        return {s.native[vendor] for s in vendors.SETTINGS.values() if vendor in s.native}

    def _store_update(self, values: dict[str, str]) -> None:
        try:
            self.site.store.update(self.endpoint.id, values)
        except OSError as exc:
            raise PushError(_store_problem(self.site.store.root, exc)) from None

    # -- publish, trigger, wait -------------------------------------------------------

    async def _provision(self, values: dict[str, str], staged: Mapping[str, str]) -> None:
        """Publish the file, trigger a fetch, wait for it; CommandFailed if it failed."""
        before = await self._autop()
        self._store_update(values)
        timeout = self.options.deadlines.command_s
        try:
            async with asyncio.timeout(timeout):
                await self._trigger(timeout)
                last = await self._fetched_after(before.get("last"))
        except TimeoutError:
            raise DeviceTimeout(f"the device did not fetch its provisioning file within "
                                f"{timeout:g} s of NOTIFY check-sync") from None
        if last.get("result") != "ok":
            reason = str(last.get("reason") or "no reason given")[:200]
            raise CommandFailed(f"the device could not fetch its provisioning file: {reason}")
        rejected = [str(k) for k in last.get("rejected") or [] if str(k) in staged]
        if rejected:
            raise CommandFailed("the device refused " + ", ".join(
                self._label(k) for k in sorted(rejected)))

    async def _trigger(self, timeout: float) -> None:
        sip = self.endpoint.services.sip
        request = CheckSync(self.endpoint.id, self.endpoint.address,
                            sip.port if sip else 5060, sip.transport if sip else "udp")
        try:
            await send_check_sync(request, timeout)
        except NotifyError as exc:
            raise CommandFailed(str(exc)) from None

    async def _autop(self) -> dict[str, Any]:
        reply = await self._call("GET", "/api/autop/status")
        data = reply.get("data") if isinstance(reply, dict) else None
        if not isinstance(data, dict):
            raise PushError("/api/autop/status: unexpected reply")
        return data

    async def _fetched_after(self, baseline: Any) -> dict[str, Any]:
        """The device's ``last`` fetch once it differs from ``baseline`` and the device is idle."""
        while True:
            await asyncio.sleep(POLL_S)
            try:
                data = await self._autop()
            except DeviceTimeout:
                raise
            except PushError:
                continue  # rebooting (notify_reboot_enable = 1): its HTTPS comes back
            last = data.get("last")
            if isinstance(last, dict) and last != baseline and data.get("state") != "fetching":
                return last

    def _label(self, native: str) -> str:
        for key, setting in vendors.SETTINGS.items():
            if setting.native.get(self.endpoint.vendor) == native:
                return f"{key} ({native})"
        return native


class _SessionExpired(PushError):
    """The device answered 401: the login cookie is no longer valid."""


def _store_problem(root: Path, exc: OSError) -> str:
    return f"provisioning store {root}: cannot write the device's file: {exc.strerror or exc}"


def _client_why(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError) and exc.os_error.strerror:
        return exc.os_error.strerror
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
