"""The one small interface every push driver implements, its errors and its options.

A driver talks to one endpoint: ``connect``, ``read`` (running configuration,
raw and as native settings), ``apply`` one setting, ``verify`` expected values,
``settled`` (the endpoint keeps what was read), ``close``.  The push engine owns
the flow (backup, diff, apply, verify, rollback); drivers only move text, and
their dialect (``dialects.py``) says what the text means.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from inventory import Endpoint
from inventory.secrets import unresolvable
from vcfleet.push.dialects import DIALECTS, Dialect

if TYPE_CHECKING:
    from vcfleet.provisioning.site import ProvisioningSite
    from vcfleet.push.hostkeys import KnownHosts

DriverKind = Literal["asyncssh", "netmiko"]


class PushError(Exception):
    """Something went wrong talking to one endpoint; the message is for the operator."""


class Unreachable(PushError):
    """No working session: connection refused or timed out, login failed, host key refused."""


class CommandFailed(PushError):
    """The device answered a command with an error."""


class DeviceTimeout(PushError):
    """The device did not answer a command within its deadline."""


@dataclass(frozen=True)
class Deadlines:
    """How long each step may take, in seconds."""

    connect_s: float = 10.0
    """TCP connect, SSH handshake and login."""
    command_s: float = 10.0
    """One command and its complete reply."""
    endpoint_s: float = 90.0
    """Everything for one endpoint except a rollback, which gets ``command_s`` per command."""


@dataclass
class DriverOptions:
    """What every driver needs besides the endpoint."""

    known_hosts: KnownHosts
    base_dir: Path
    """Folder that ``file:`` credential references are relative to (the inventory's)."""
    deadlines: Deadlines = field(default_factory=Deadlines)
    kind: DriverKind = "asyncssh"
    pool: ThreadPoolExecutor | None = None
    """Threads for synchronous drivers (netmiko); bounded by the push concurrency."""
    provisioning: ProvisioningSite | None = None
    """The inventory's provisioning site (None: it has no ``provisioning:`` section), through
    which provisioned devices (Yealink) receive their settings."""


@dataclass(frozen=True)
class RunningConfig:
    """An endpoint's configuration as read: the raw text and native name -> value."""

    raw: str
    settings: dict[str, str]


class Driver(Protocol):
    """A session with one endpoint."""

    endpoint: Endpoint
    dialect: Dialect

    async def connect(self) -> None:
        """Open the session (raises Unreachable)."""

    async def read(self) -> RunningConfig:
        """The running configuration."""

    async def apply(self, name: str, value: str) -> None:
        """Set one native setting (raises CommandFailed or DeviceTimeout)."""

    async def verify(self, expected: Mapping[str, str | None]) -> dict[str, str | None]:
        """Read back; the settings whose value differs from ``expected``, with what was read."""

    async def settled(self) -> None:
        """The endpoint keeps what ``read`` last returned (a push that needs no change, a
        backup): a driver whose device fetches its settings publishes what the device runs,
        so that a later fetch (a reboot) gets exactly that (SSH drivers: nothing to do)."""

    async def close(self) -> None:
        """Close the session; never raises."""


async def verify_by_reading(driver: Driver, expected: Mapping[str, str | None]
                            ) -> dict[str, str | None]:
    """``Driver.verify`` for drivers that can read their whole configuration."""
    actual = (await driver.read()).settings
    return {name: actual.get(name) for name, want in expected.items()
            if not driver.dialect.same(name, actual.get(name), want)}


def supported(endpoint: Endpoint, options: DriverOptions | None = None) -> str | None:
    """Why vcfleet cannot push to or back up this endpoint (None: it can).

    A provisioned vendor's rooms need the inventory's ``provisioning:`` section
    (``options.provisioning``; no options: none).
    """
    dialect = DIALECTS.get(endpoint.vendor)
    if dialect is None:
        return f"no push driver for vendor {endpoint.vendor}"
    if dialect.provisioned and (options is None or options.provisioning is None):
        return (f"{endpoint.vendor} rooms fetch their settings from a provisioning server, "
                "and the inventory has no provisioning: section (docs/push.md)")
    if getattr(endpoint.services, dialect.service) is None:
        return f"no {dialect.service} service in the inventory"
    return None


def cannot_check(endpoint: Endpoint, options: DriverOptions) -> str | None:
    """``cannot check: REASON`` when the endpoint's credentials do not resolve here.

    Such an endpoint is skipped before any connection: the fault is in this
    machine's configuration, so calling the room unreachable would mislead.
    """
    reason = unresolvable(endpoint.credentials.secret, options.base_dir)
    return None if reason is None else f"cannot check: {reason}"

