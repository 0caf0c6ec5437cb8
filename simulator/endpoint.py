"""One simulated endpoint: its device, its services and the faults in force.

Each service (``ssh``, ``sip``, ``https``, ``webrtc``) the inventory offers is
in one of three modes: ``up``, ``down`` (nothing listens) or ``hang`` (accepts
and never answers).  ``reconcile()`` moves every service to the mode the faults,
a flap or a reboot ask for, touching only those whose mode changes.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import asyncssh

from inventory import Endpoint, InputError, Inventory
from inventory.secrets import resolve_secret
from probes.base import cancel_and_wait
from probes.shaping import Shaper, seeded_rng
from simulator import cisco, poly, webrtc, yealink
from simulator.devices import Device, native_names
from simulator.faults import EndpointFaults
from simulator.registration import PROXY, RegistrationAgent, registration_keys
from simulator.sip import NotifyHandler, SipTcp, SipUdp
from simulator.ssh import SshService
from simulator.web import HangingTcp, HangingUdp, HttpsService
from simulator.webrtc import Listener
from simulator.yealink_web import YealinkHttps

log = logging.getLogger(__name__)


class SimulatorError(InputError):
    """The simulator cannot start (an address cannot be bound, a limit cannot be raised)."""


@dataclass
class Shared:
    """What every endpoint of one simulator shares."""

    inventory: Inventory
    state_dir: Path
    host_keys: dict[str, asyncssh.SSHKey]
    tls: ssl.SSLContext
    authorized_keys: list[bytes] = field(default_factory=list)
    reboot_s: float = 1.0
    seed: int = 0
    """Seeds each endpoint's shaper (``seeded_rng(seed, endpoint id)``)."""
    sip_hosts: dict[str, str] = field(default_factory=dict)
    """The simulator's DNS for SIP proxies: name -> address (the registrar's)."""


class _Group:
    """Several listeners started and stopped as one (SIP over UDP and TCP)."""

    def __init__(self, *parts: Listener) -> None:
        self.parts = parts

    async def start(self) -> None:
        started: list[Listener] = []
        try:
            for part in self.parts:
                await part.start()
                started.append(part)
        except BaseException:
            for part in started:
                await part.stop()
            raise

    async def stop(self) -> None:
        for part in self.parts:
            await part.stop()


def _server_header(endpoint: Endpoint) -> str:
    model = endpoint.model or endpoint.vendor
    if endpoint.vendor == "cisco_ce":
        return f"Cisco/{model} {cisco.SOFTWARE}"
    if endpoint.vendor == "poly":
        return f"Poly/{model} {poly.VERSION}"
    return f"Yealink {model} {yealink.FIRMWARE}"


def _why(exc: OSError) -> str:
    """``Address already in use`` rather than asyncio's long wording."""
    return os.strerror(exc.errno) if exc.errno else str(exc)


def _resolve(ref: str | None, inventory: Inventory, what: str, endpoint_id: str) -> str | None:
    if not ref:
        return None
    try:
        return resolve_secret(ref, inventory.base_dir())
    except InputError as exc:
        log.warning("%s: %s of the simulated endpoint is disabled: %s", endpoint_id, what, exc)
        return None


_PROVISIONING_SECRETS: dict[tuple[str, str], str | None] = {}


def _provisioning_secret(inventory: Inventory) -> str | None:
    """The inventory's provisioning secret, resolved (and warned about) once per process."""
    prov = inventory.provisioning
    if prov is None:
        return None
    key = (prov.secret, str(inventory.base_dir()))
    if key not in _PROVISIONING_SECRETS:
        try:
            _PROVISIONING_SECRETS[key] = resolve_secret(prov.secret, inventory.base_dir())
        except InputError as exc:
            log.warning("the Yealink rooms fetch without a password: %s", exc)
            _PROVISIONING_SECRETS[key] = None
    return _PROVISIONING_SECRETS[key]


class SimulatedEndpoint:
    """An endpoint's services on its own address, driven by its faults."""

    def __init__(self, endpoint: Endpoint, shared: Shared) -> None:
        self.endpoint = endpoint
        self.shared = shared
        self.device = Device(endpoint)
        self.shaper = Shaper(rng=seeded_rng(shared.seed, endpoint.id))
        self.faults = EndpointFaults()
        creds = endpoint.credentials
        self.password = _resolve(creds.secret, shared.inventory, "password login", endpoint.id)
        svc = endpoint.services
        self.token = _resolve(svc.webrtc.token if svc.webrtc else None, shared.inventory,
                              "the responder token", endpoint.id)
        self.logins = 0
        """SSH logins this endpoint accepted (tests count them: live sessions make none
        per sweep)."""
        self.flap_down = False
        self.rebooting = False
        self.running: dict[str, tuple[str, Listener | None]] = {}
        self._lock = asyncio.Lock()
        self._flap_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.provisioning: yealink.AutoProvisioning | None = None
        if endpoint.vendor == "yealink":
            self.provisioning = self._stage_yealink()
        self.registration: RegistrationAgent | None = None
        if endpoint.vendor in PROXY:
            self.registration = RegistrationAgent(
                endpoint.vendor, endpoint.address, self.device.config, self.device.state,
                shared.sip_hosts, f"{endpoint.id}-{shared.seed}")
            self.device.on_change = self._setting_changed

    # -- SshPolicy --------------------------------------------------------------

    def check_password(self, username: str, password: str) -> bool:
        """Password login: the inventory's user and resolved secret, unless auth fails."""
        ok = (not self.faults.auth_fail and self.password is not None
              and username == self.endpoint.credentials.username
              and hmac.compare_digest(password.encode(), self.password.encode()))
        self.logins += ok
        return ok

    def check_public_key(self, username: str, key_data: bytes) -> bool:
        """Key login: a key of STATE_DIR/authorized_keys, unless auth fails."""
        ok = (not self.faults.auth_fail and username == self.endpoint.credentials.username
              and key_data in self.shared.authorized_keys)
        self.logins += ok
        return ok

    def _setting_changed(self, name: str) -> None:
        if self.registration is not None and name in registration_keys(self.endpoint.vendor):
            self.registration.kick()

    def _stage_yealink(self) -> yealink.AutoProvisioning:
        """A Yealink room as a site stages it: SIP account, provisioning URL and credentials."""
        inv = self.shared.inventory
        secret = _provisioning_secret(inv)
        yealink.stage(self.device, inv, secret)
        return yealink.AutoProvisioning(
            self.device, yealink.trusted_certificate(inv),
            unreachable=lambda: self.faults.provisioning_unreachable,
            reboot=self.request_reboot)

    def request_reboot(self) -> None:
        """Reboot in the background: every service goes away for ``reboot_s``."""
        self._spawn(self._reboot())

    # -- life cycle -------------------------------------------------------------

    def offered(self) -> list[str]:
        """Services the inventory gives this endpoint."""
        svc = self.endpoint.services
        return [name for name in ("ssh", "sip", "https", "webrtc") if getattr(svc, name)]

    def desired(self, service: str) -> str:
        """The mode a service should be in now."""
        if self.faults.down or self.flap_down or self.rebooting:
            return "down"
        return self.faults.services.get(service, "up")

    async def start(self, faults: EndpointFaults | None = None) -> None:
        """Start every service; SimulatorError when an address cannot be bound."""
        self._set(faults or EndpointFaults())
        await self.reconcile(strict=True)
        if self.faults.flap_s:
            self._flap_task = asyncio.create_task(self._flap(self.faults.flap_s))

    async def register(self) -> None:
        """Start keeping the codec registered; return once the first REGISTER has its
        outcome (after ``start``, once every endpoint listens, so as not to slow it).
        A Yealink room also makes its boot fetch now (in the background)."""
        if self.provisioning is not None and not self.faults.down:  # a room that is off
            self.provisioning.boot()
        if self.registration is not None:
            self.registration.start()
            await self.registration.first_attempt()

    async def stop(self) -> None:
        """Stop every service and background task."""
        tasks = [t for t in (self._flap_task, *self._tasks) if t is not None]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)
        self._flap_task = None
        if self.provisioning is not None:
            await self.provisioning.stop()
        if self.registration is not None:
            await self.registration.stop()
        self.device.state.close()
        async with self._lock:
            for service in list(self.running):
                await self._stop_service(service)

    async def apply(self, faults: EndpointFaults) -> None:
        """Put new faults in force; services whose mode stays the same are left alone."""
        old = self._set(faults)
        if faults.flap_s != old.flap_s:
            await cancel_and_wait(self._flap_task)
            self._flap_task = None
            self.flap_down = False
            if faults.flap_s:
                self._flap_task = asyncio.create_task(self._flap(faults.flap_s))
        await self.reconcile()

    def _set(self, faults: EndpointFaults) -> EndpointFaults:
        old, self.faults = self.faults, faults
        self.shaper.delay_ms = faults.delay_ms
        self.shaper.jitter_ms = faults.jitter_ms
        self.shaper.loss_pct = faults.loss_pct
        self.device.rejected = native_names(self.endpoint.vendor, list(faults.reject_settings))
        self.device.state.apply_faults(faults.device)
        if (self.registration is not None
                and faults.device.registration_fail != old.device.registration_fail):
            self.registration.kick()
        return old

    async def reconcile(self, strict: bool = False) -> None:
        """Move each service to its desired mode."""
        async with self._lock:
            for service in self.offered():
                want = self.desired(service)
                have = self.running.get(service, ("down", None))[0]
                if want == have and service in self.running:
                    continue
                await self._stop_service(service)
                await self._start_service(service, want, strict)

    async def _stop_service(self, service: str) -> None:
        _, listener = self.running.pop(service, ("down", None))
        if listener is not None:
            await listener.stop()

    async def _start_service(self, service: str, mode: str, strict: bool) -> None:
        listener = None if mode == "down" else self._listener(service, mode)
        if listener is not None:
            try:
                await listener.start()
            except OSError as exc:
                port = self._port(service)
                message = (f"cannot listen on {self.endpoint.address}:{port} ({service} of "
                           f"{self.endpoint.id}): {_why(exc)}")
                if strict:
                    raise SimulatorError(message) from None
                log.warning("%s", message)
                return
        self.running[service] = (mode, listener)

    def _port(self, service: str) -> int:
        svc = getattr(self.endpoint.services, service)
        return int(svc.port)

    def _listener(self, service: str, mode: str) -> Listener | None:
        host, port = self.endpoint.address, self._port(service)
        if mode == "hang":
            if service == "sip":
                return _Group(HangingUdp(host, port), HangingTcp(host, port))
            return HangingTcp(host, port)
        if service == "ssh":
            return SshService(host, port, self.shared.host_keys[self.endpoint.id], self)
        if service == "sip":
            server = _server_header(self.endpoint)
            def options() -> tuple[int, str] | None:
                return self.faults.sip_answer
            notify: NotifyHandler | None = (self.provisioning.on_notify
                                            if self.provisioning is not None else None)
            return _Group(SipUdp(host, port, self.shaper, server, options, notify),
                          SipTcp(host, port, server, options, notify))
        if service == "https":
            if self.provisioning is not None:
                return YealinkHttps(host, port, self.device, self.shared.tls,
                                    self.provisioning, self.check_password)
            return HttpsService(host, port, self.device, self.shared.tls)
        if service == "webrtc" and webrtc.available():
            svc = self.endpoint.services.webrtc
            assert svc is not None
            return webrtc.ResponderService(host, port, svc.path, self.token, self.shaper)
        return None

    # -- background -------------------------------------------------------------

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _reboot(self) -> None:
        self.device.reboot()
        self.device.state.disconnect()
        self.rebooting = True
        try:
            await self.reconcile()
            await asyncio.sleep(self.shared.reboot_s)
        finally:
            self.rebooting = False
        await self.reconcile()
        if self.registration is not None:
            self.registration.kick()
        if self.provisioning is not None:
            self.provisioning.boot()

    async def _flap(self, period_s: float) -> None:
        while True:
            await asyncio.sleep(period_s)
            self.flap_down = not self.flap_down
            await self.reconcile()


async def start_all(endpoints: Sequence[SimulatedEndpoint],
                    faults: dict[str, EndpointFaults]) -> None:
    """Start every endpoint with its faults; on failure stop those started and raise."""
    results = await asyncio.gather(*(ep.start(faults.get(ep.endpoint.id)) for ep in endpoints),
                                   return_exceptions=True)
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        await asyncio.gather(*(ep.stop() for ep in endpoints), return_exceptions=True)
        raise errors[0]
    await asyncio.gather(*(ep.register() for ep in endpoints))
