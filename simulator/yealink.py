"""A simulated Yealink room: its staged configuration, auto provisioning and check-sync.

A Yealink device has no SSH API.  It fetches its configuration file from the
provisioning URL in its own configuration (``static.auto_provision.server.url``) at
boot, on a SIP ``NOTIFY`` with ``Event: check-sync`` and on ``POST /api/autop/now``;
it applies the keys it knows, refuses invalid values and locked keys (fault
``reject_settings``), ignores unknown keys, and logs all of it.  docs/simulator.md
("Yealink") has the behaviour, the sources and what is inferred.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import aiohttp

from inventory import Inventory
from inventory.provisioning import device_password, file_path
from probes.base import cancel_and_wait
from simulator.devices import Device

log = logging.getLogger(__name__)

FIRMWARE = "84.86.0.30"
"""The firmware version a simulated Yealink reports (the ``software`` fault replaces it)."""
MAC_PREFIX = "001565"
"""A Yealink OUI (00:15:65)."""
COMMON_FILE = "y000000000000.cfg"
HEADER = "#!version:1.0.0.1"
SECRET_MASK = "********"
"""How a secret value is shown; served back, it leaves the secret unchanged."""
REQUEST_TIMEOUT_S = 5.0
FETCH_TIMEOUT_S = 10.0
MAX_FILE_BYTES = 256 * 1024
NOTIFY_DELAY_S = 0.05
"""How long after its answer a check-sync acts (the 200 OK goes out first)."""
URL_KEY = "static.auto_provision.server.url"
USER_KEY = "static.auto_provision.server.username"
PASSWORD_KEY = "static.auto_provision.server.password"
POWER_ON_KEY = "static.auto_provision.power_on"
TRUST_KEY = "static.security.trust_certificates"
REBOOT_KEY = "sip.notify_reboot_enable"
UNREACHABLE = "cannot reach provisioning server"


class SipRequest(Protocol):
    """What check-sync reads of a SIP request (``simulator.sip.Request``)."""

    def get(self, name: str) -> list[str]:
        """Values of one header (long lower-case name), in order."""
        ...


def mac_of(endpoint_id: str) -> str:
    """The simulated device's MAC: 12 lowercase hex digits, stable per endpoint id."""
    return MAC_PREFIX + hashlib.sha256(endpoint_id.encode("utf-8")).hexdigest()[:6]


def is_secret(key: str) -> bool:
    """Keys whose values are never shown (passwords)."""
    return key.endswith(".password")


def stage(device: Device, inventory: Inventory, secret: str | None) -> None:
    """Configure a fresh device as a site does before deployment: its SIP account, the
    provisioning URL and per-device credentials, re-provision on NOTIFY without reboot."""
    e = device.endpoint
    config = device.config
    config.update({"account.1.label": e.name, "account.1.user_name": e.id,
                   "account.1.auth_name": e.id, REBOOT_KEY: "0", USER_KEY: e.id})
    prov = inventory.provisioning
    if prov is not None:
        config[URL_KEY] = prov.url
        if secret is not None:
            config[PASSWORD_KEY] = device_password(secret, e.id)
    device.config = dict(sorted(config.items()))


def export_cfg(config: dict[str, str]) -> str:
    """The running configuration as a .cfg file: sorted, secrets left out (stable text)."""
    lines = [HEADER, *(f"{k} = {v}" for k, v in sorted(config.items()) if not is_secret(k))]
    return "\n".join(lines) + "\n"


class FileError(ValueError):
    """A fetched file that is not a Yealink configuration file."""


def parse_cfg(text: str, name: str) -> tuple[dict[str, str], int]:
    """(key -> value, number of lines without ``=``) of a .cfg file; FileError when its
    first line is not the version header."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != HEADER:
        raise FileError(f"invalid file {name}: first line is not {HEADER}")
    values: dict[str, str] = {}
    bad = 0
    for line in lines[1:]:
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, eq, value = stripped.partition("=")
        if not eq or not key.strip():
            bad += 1
            continue
        values[key.strip()] = value.strip()
    return values, bad


@dataclass
class FetchOutcome:
    """One fetch as ``/api/autop/status`` shows it (``last``)."""

    trigger: str
    result: str = "ok"
    reason: str = ""
    files: list[str] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    invalid: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    time: str = ""

    def to_json(self) -> dict[str, Any]:
        """The JSON of ``last``."""
        return {"time": self.time, "trigger": self.trigger, "result": self.result,
                "reason": self.reason, "files": self.files, "applied": sorted(self.applied),
                "rejected": sorted(self.rejected), "invalid": sorted(self.invalid),
                "ignored": sorted(self.ignored)}


class _Failed(Exception):
    """A fetch failed; the message is the reason the device shows."""


_CONTEXTS: dict[tuple[str, float], ssl.SSLContext] = {}


def trust_context(cert: Path) -> ssl.SSLContext:
    """A client TLS context that trusts one certificate (cached while the file is unchanged)."""
    try:
        key = (str(cert), cert.stat().st_mtime)
    except OSError as exc:
        raise _Failed(f"no trusted certificate ({exc.strerror or exc})") from None
    if key not in _CONTEXTS:
        _CONTEXTS[key] = ssl.create_default_context(cafile=str(cert))
    return _CONTEXTS[key]


class AutoProvisioning:
    """One Yealink device's auto provisioning: one fetch at a time, status, check-sync.

    ``unreachable`` says whether the ``provisioning: unreachable`` fault is in force;
    ``reboot`` reboots the device (the endpoint then calls ``boot``)."""

    def __init__(self, device: Device, trusted: Path | None,
                 unreachable: Callable[[], bool] = lambda: False,
                 reboot: Callable[[], None] = lambda: None) -> None:
        self.device = device
        self.trusted = trusted
        self.unreachable = unreachable
        self.reboot = reboot
        self.mac = mac_of(device.endpoint.id)
        self.fetches = 0
        self.last: FetchOutcome | None = None
        self.fetching = False
        self._pending: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Condition()
        self._last_notify: tuple[str, str] | None = None
        self._timers: set[asyncio.TimerHandle] = set()
        self._stopped = False
        self._last_time: datetime.datetime | None = None

    # -- triggers --------------------------------------------------------------

    def boot(self) -> None:
        """The device (re)booted: fetch when ``static.auto_provision.power_on`` is 1."""
        if self.device.config.get(POWER_ON_KEY) == "1":
            self.trigger("boot")

    def trigger(self, kind: str) -> None:
        """Fetch soon (``boot``, ``notify``, ``api``); one during a fetch runs after it."""
        if self._stopped:
            return
        self._pending = kind
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def on_notify(self, req: SipRequest) -> tuple[int, str]:
        """Answer a SIP NOTIFY: check-sync is taken (acting after the answer), any other
        event is 489 Bad Event.  A retransmission (same Call-ID and CSeq) acts once."""
        event = (req.get("event") or req.get("o") or [""])[0]
        name, *params = [p.strip().lower() for p in event.split(";")]
        if name != "check-sync":
            return 489, "Bad Event"
        transaction = ("".join(req.get("call-id")), "".join(req.get("cseq")))
        if transaction == self._last_notify:
            return 200, "OK"
        self._last_notify = transaction
        reboot_asked = "reboot=true" in params
        mode = self.device.config.get(REBOOT_KEY, "1")
        log.info("%s: NOTIFY check-sync%s (sip.notify_reboot_enable = %s)",
                 self.device.endpoint.id, ";reboot=true" if reboot_asked else "", mode)
        if mode == "2":
            return 200, "OK"
        self._later(self.reboot if mode == "1" or reboot_asked
                    else lambda: self.trigger("notify"))
        return 200, "OK"

    def _later(self, action: Callable[[], None]) -> None:
        """Act once the answer is out (``stop`` cancels what has not run yet)."""
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            if handle is not None:
                self._timers.discard(handle)
            if not self._stopped:
                action()

        handle = asyncio.get_running_loop().call_later(NOTIFY_DELAY_S, run)
        self._timers.add(handle)

    async def wait_fetches(self, count: int, timeout_s: float = 15.0) -> None:
        """Return once ``count`` fetches have finished (tests)."""
        async with asyncio.timeout(timeout_s), self._done:
            await self._done.wait_for(lambda: self.fetches >= count)

    async def stop(self) -> None:
        """Cancel a running fetch and pending check-syncs, and await them."""
        self._stopped = True
        self._pending = None
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        await cancel_and_wait(self._task)
        self._task = None

    def status(self) -> dict[str, Any]:
        """``data`` of ``GET /api/autop/status``."""
        return {"state": "fetching" if self.fetching else "idle", "fetches": self.fetches,
                "last": self.last.to_json() if self.last else None}

    # -- one fetch -------------------------------------------------------------

    async def _run(self) -> None:
        while self._pending is not None:
            kind, self._pending = self._pending, None
            url = self.device.config.get(URL_KEY, "").strip()
            if not url:
                log.info("%s: no provisioning URL configured: no fetch", self.device.endpoint.id)
                continue
            self.fetching = True
            try:
                outcome = await self._fetch(kind, url)
            finally:
                self.fetching = False
            outcome.time = self._stamp()
            self.last = outcome
            self.fetches += 1
            self._log(outcome)
            async with self._done:
                self._done.notify_all()

    def _stamp(self) -> str:
        """The end time of a fetch, at least a millisecond after the previous one's."""
        now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
        if self._last_time is not None:
            now = max(now, self._last_time + datetime.timedelta(milliseconds=1))
        self._last_time = now
        return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z"

    async def _fetch(self, kind: str, url: str) -> FetchOutcome:
        outcome = FetchOutcome(kind)
        try:
            if self.unreachable():
                raise _Failed(UNREACHABLE)
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                files = await self._download(url, outcome)
        except _Failed as exc:
            outcome.result, outcome.reason = "failed", str(exc)
            return outcome
        except TimeoutError:
            outcome.result, outcome.reason = "failed", "timeout"
            return outcome
        values: dict[str, str] = {}
        for name, text in files:
            try:
                parsed, bad = parse_cfg(text, name)
            except FileError as exc:
                outcome.result, outcome.reason = "failed", str(exc)
                return outcome
            if bad:
                log.warning("%s: %s: %d line(s) without '=' ignored",
                            self.device.endpoint.id, name, bad)
            values.update(parsed)
        self._apply(values, outcome)
        return outcome

    async def _download(self, url: str, outcome: FetchOutcome) -> list[tuple[str, str]]:
        config = self.device.config
        tls: ssl.SSLContext | bool = False
        if config.get(TRUST_KEY, "1") == "1":
            if self.trusted is None:
                raise _Failed("no trusted certificate")
            tls = trust_context(self.trusted)
        auth = aiohttp.encode_basic_auth(config.get(USER_KEY, ""), config.get(PASSWORD_KEY, ""))
        connector = aiohttp.TCPConnector(local_addr=(self.device.endpoint.address, 0),
                                         force_close=True)
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        files: list[tuple[str, str]] = []
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         headers={"Authorization": auth}) as http:
            for name in (COMMON_FILE, f"{self.mac}.cfg"):
                text = await self._get(http, url + name, name, tls)
                if text is not None:
                    files.append((name, text))
                    outcome.files.append(name)
                elif name != COMMON_FILE:
                    raise _Failed("HTTP 404")
        return files

    async def _get(self, http: aiohttp.ClientSession, url: str, name: str,
                   tls: ssl.SSLContext | bool) -> str | None:
        """One file's text; None for a 404 of the common file; _Failed otherwise."""
        try:
            async with http.get(url, ssl=tls, allow_redirects=False) as resp:
                if resp.status in (401, 403):
                    raise _Failed(f"authentication failed ({resp.status})")
                if resp.status == 404 and name == COMMON_FILE:
                    log.info("%s: %s: 404, skipped", self.device.endpoint.id, name)
                    return None
                if resp.status != 200:
                    raise _Failed(f"HTTP {resp.status}")
                body = await resp.content.read(MAX_FILE_BYTES + 1)
        except aiohttp.ClientConnectorCertificateError:
            raise _Failed("certificate verify failed") from None
        except aiohttp.ClientSSLError as exc:
            raise _Failed(f"TLS error: {exc.__class__.__name__}") from None
        except aiohttp.ClientConnectorError as exc:
            log.info("%s: %s: %s", self.device.endpoint.id, name, exc.os_error)
            raise _Failed(UNREACHABLE) from None
        except TimeoutError:
            raise _Failed("timeout") from None
        except aiohttp.ClientError as exc:
            raise _Failed(f"{name}: {exc.__class__.__name__}") from None
        if len(body) > MAX_FILE_BYTES:
            raise _Failed(f"{name}: larger than {MAX_FILE_BYTES // 1024} KiB")
        try:
            return body.decode("utf-8")
        except UnicodeDecodeError:
            raise _Failed(f"invalid file {name}: not UTF-8") from None

    def _apply(self, values: dict[str, str], outcome: FetchOutcome) -> None:
        device = self.device
        who = device.endpoint.id
        for key, value in values.items():
            if key not in device.specs:
                log.info("%s: ignored unknown key %s", who, key)
                outcome.ignored.append(key)
                outcome.rejected.append(key)
                continue
            if is_secret(key) and value == SECRET_MASK:
                continue
            before = device.config.get(key)
            try:
                stored = device.set(key, value)
            except PermissionError:
                log.warning("%s: refused locked key %s", who, key)
                outcome.rejected.append(key)
                continue
            except ValueError:
                log.warning("%s: refused invalid value for %s", who, key)
                outcome.rejected.append(key)
                outcome.invalid.append(key)
                continue
            if stored != before:
                outcome.applied.append(key)

    def _log(self, outcome: FetchOutcome) -> None:
        who = self.device.endpoint.id
        if outcome.result != "ok":
            # INFO: at a simulator's start without a provisioning server every room's boot
            # fetch fails, and the console would fill with it; /api/autop/status shows it
            log.info("%s: auto provisioning (%s) failed: %s", who, outcome.trigger,
                     outcome.reason)
            return
        log.info("%s: auto provisioning (%s): %s; applied %s, rejected %s",
                 who, outcome.trigger, ", ".join(outcome.files),
                 ", ".join(sorted(outcome.applied)) or "nothing",
                 ", ".join(sorted(outcome.rejected)) or "nothing")


def trusted_certificate(inventory: Inventory) -> Path | None:
    """The certificate a staged device trusts: the inventory's provisioning certificate."""
    prov = inventory.provisioning
    return file_path(prov, "certificate", inventory.base_dir()) if prov else None
