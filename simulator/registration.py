"""A simulated codec's SIP registration: REGISTER to the proxy in its own configuration.

The codec registers at start, whenever its proxy, URI or SIP switch changes, when a
``registration`` fault changes, after a reboot, and otherwise on the Expires schedule
(at 90 % of the granted expiry; 60 s after a failure).  What it reports comes from the
real answer: ``Registered`` on 2xx; ``Failed`` with the registrar's status and reason,
``Timeout`` when none answers, ``DNS lookup failed`` when the proxy's name is not in the
simulator's host table; ``Inactive`` when no proxy is set or SIP is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import Mapping

from probes.base import cancel_and_wait
from simulator.codec_state import CodecState
from simulator.registrar import EXPIRES_S, REGISTRAR_PORT, register

log = logging.getLogger(__name__)

RETRY_S = 60.0
"""How soon a codec whose registration failed tries again."""
REGISTER_TIMEOUT_S = 4.0
PROXY = {"cisco_ce": "SIP Proxy 1 Address", "poly": "sipproxyserver",
         "yealink": "account.1.sip_server.1.address"}
URI = {"cisco_ce": "SIP URI", "poly": "sipuri", "yealink": "account.1.user_name"}
"""The codec's address of record; a bare user name (Yealink's) registers as user@proxy."""
ENABLE = {"poly": ("sipenable", "true"), "yealink": ("account.1.enable", "1")}
PORT = {"yealink": "account.1.sip_server.1.port"}
"""A separate proxy port setting, where the vendor has one."""


def registration_keys(vendor: str) -> set[str]:
    """Native names whose change makes the codec register again."""
    keys = {PROXY.get(vendor, ""), URI.get(vendor, ""), PORT.get(vendor, "")}
    keys.add(ENABLE.get(vendor, ("", ""))[0])
    return keys - {""}


def resolve_proxy(proxy: str, hosts: Mapping[str, str]) -> tuple[str, int] | None:
    """``host[:port]`` of a configured proxy as an address and port; None when the name
    is neither an address nor in ``hosts`` (the simulator's DNS)."""
    host, port = proxy.strip(), REGISTRAR_PORT
    if host.count(":") == 1:
        host, _, text = host.partition(":")
        if not text.isdigit() or not 0 < int(text) < 65536:
            return None
        port = int(text)
    host = host.removeprefix("sip:").strip("[]")
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    address = hosts.get(host.lower())
    return (address, port) if address else None


class RegistrationAgent:
    """Keeps one codec registered; ``kick()`` re-registers now, ``stop()`` ends it."""

    def __init__(self, vendor: str, address: str, config: dict[str, str], state: CodecState,
                 hosts: Mapping[str, str], call_id: str) -> None:
        self.vendor, self.address, self.config, self.state = vendor, address, config, state
        self.hosts = hosts
        self.call_id = call_id
        self.cseq = 0
        self.attempts = 0
        self._kick = asyncio.Event()
        self._first = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Begin registering in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._run())

    async def first_attempt(self) -> None:
        """Return once the first REGISTER has its outcome."""
        await self._first.wait()

    def kick(self) -> None:
        """Register again now (configuration or faults changed, or a reboot)."""
        self._kick.set()

    async def stop(self) -> None:
        """Stop and await the background task."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        while True:
            self._kick.clear()
            try:
                wait = await self.attempt()
            except OSError as exc:
                log.warning("REGISTER from %s failed: %s", self.address, exc)
                self.state.set_registration("Failed", str(exc.strerror or exc),
                                            self.config.get(PROXY[self.vendor], ""), "Off")
                wait = RETRY_S
            self._first.set()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), wait)

    async def attempt(self) -> float | None:
        """One registration; returns how long until the next (None: until kicked)."""
        self.attempts += 1
        proxy = self.config.get(PROXY[self.vendor], "").strip()
        uri = self.config.get(URI[self.vendor], "").strip()
        switch = ENABLE.get(self.vendor)
        off = switch is not None and self.config.get(switch[0], switch[1]) != switch[1]
        if not proxy or not uri or off:
            self.state.set_registration("Inactive", "", proxy, "Off")
            return None
        port = self.config.get(PORT.get(self.vendor, ""), "")
        target = resolve_proxy(proxy if not port or ":" in proxy else f"{proxy}:{port}",
                               self.hosts)
        if "@" not in uri:
            uri = f"{uri}@{proxy.split(':')[0]}"
        if target is None:
            self.state.set_registration("Failed", "DNS lookup failed", proxy, "DNSFailed")
            return RETRY_S
        now = self.state.registration
        if now.status != "Registered" or now.registrar != proxy:  # not a plain refresh
            self.state.set_registration("Registering", "", proxy, "Active")
        self.cseq += 1
        answer = await register(self.address, target, uri.removeprefix("sip:"),
                                call_id=self.call_id, cseq=self.cseq, expires=EXPIRES_S,
                                timeout_s=REGISTER_TIMEOUT_S)
        if answer is None:
            self.state.set_registration("Failed", "Timeout", proxy, "Timeout")
            return RETRY_S
        code, phrase, granted = answer
        if 200 <= code < 300:
            self.state.set_registration("Registered", "", proxy, "Active")
            return max(granted, 1) * 0.9
        self.state.set_registration("Failed", f"{code} {phrase}".strip(), proxy, "Active")
        return RETRY_S
