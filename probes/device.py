"""Device check: what the codec itself says, read over its management API.

One SSH session per call (Cisco xAPI, Poly SSH API), host key verified against
known_hosts exactly as push does (probes/sshkeys.py).  The commands are sent
together and their replies read in order; each phase has its deadline: the SSH
connection (TCP, handshake, authentication) ``connect_s``, the login banner
``login_s``, each reply ``command_s``, and the whole check ``timeout_s`` (the
check's deadline unless set).  At most ``Settings.max_sessions`` sessions
run at once per event loop.

The result's sweep JSON (``checks.device``)::

    {"ok", "registration": {"state": "registered|failed|inactive", "registrar",
     "reason"}, "calls": N, "standby": bool, "dnd": bool, "peripherals": [{"kind",
     "name", "connected", "muted"?}], "diagnostics": [{"level", "text"}],
     "software", "uptime_s"}

``ok`` says the device was read; what it read is judged by vcfleet/report.py.
Poly documents no standby or uptime query: both are null for Poly.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncssh

from probes import device_cisco, device_poly, device_yealink
from probes.base import LoopSemaphores, OwnDeadline, ProbeResult, Target
from probes.sshkeys import HostKeyClient, KnownHosts

VENDORS = ("cisco_ce", "poly")
READ_SIZE = 65536
MAX_REPLY = 1 << 20
"""A reply larger than this is not a codec's answer: the check stops reading."""

ENCRYPTION_ALGS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                   "chacha20-poly1305@openssh.com", "aes128-ctr", "aes192-ctr", "aes256-ctr")
"""Ciphers in the order the check offers them: AES-GCM first (AES-NI; in asyncssh about
40 % less CPU per session than ChaCha20-Poly1305, at both ends), then asyncssh's other
default choices, so that a codec without GCM still connects.  No weak cipher (CBC, RC4,
3DES) is offered; key exchange and host-key algorithms stay asyncssh's defaults
(post-quantum hybrid first).  docs/sweep.md has the figures."""

_sessions = LoopSemaphores()
"""Sessions open at once, per event loop (``Settings.max_sessions``)."""


@dataclass(frozen=True, slots=True)
class DeviceTarget(Target):
    """Where and how to log in: the endpoint's SSH address, port, user and secret (for
    Yealink its HTTPS port and ``url``, ``verify_tls`` as the inventory says)."""

    vendor: str = ""
    """``cisco_ce``, ``poly`` or ``yealink``."""
    username: str = ""
    password: str | None = field(default=None, repr=False)
    """The resolved secret; None logs in with the SSH agent."""


PeripheralKind = Literal["camera", "microphone", "display", "touch_panel"]
"""The kinds of peripheral the check reports (``peripherals[].kind``)."""


@dataclass(frozen=True)
class Settings(OwnDeadline):
    """Settings of the device check, and the profile's device policy that judges it."""

    known_hosts: KnownHosts | None = None
    """The trusted host keys (push's file, ``vcfleet sweep --known-hosts``); None refuses
    every host.  Set by the sweep, not by a profile (a file, loaded once per sweep)."""
    timeout_s: float | None = None
    """The whole check (waiting for a session slot included); None: the check's deadline."""
    connect_s: float = 5.0
    """TCP connect, SSH handshake and authentication."""
    login_s: float = 5.0
    """From the session's start to the end of the login banner."""
    command_s: float = 5.0
    """Each command's reply."""
    max_sessions: int = 32
    """Sessions open at once (per event loop)."""
    port: int = 22
    required: tuple[PeripheralKind, ...] = ("camera", "microphone")
    """Peripheral kinds the room cannot meet without: none of a kind connected makes it
    down; a disconnected peripheral of another kind only degrades it."""
    software_min: dict[Literal["cisco_ce", "poly", "yealink"], str] = field(
        default_factory=dict)
    """Oldest software each vendor may run (``{cisco_ce: "ce9.15", poly: "6.2"}``); an
    older codec is degraded.  Empty: no policy."""


class SessionError(Exception):
    """The codec's session could not be opened or failed; the message says why, in an
    operator's words.  ``unchecked``: a trust not yet set up (a host key never recorded),
    which says nothing of the room."""

    unchecked = False


class _Failed(SessionError):
    """The check stops with this reason."""


class _Unchecked(_Failed):
    """The check could not be made here (a room whose host key was never recorded): the
    room's state is unknown, not down."""

    unchecked = True


async def probe(target: DeviceTarget, settings: Settings) -> ProbeResult:
    """Log in to the codec and read registration, calls, standby, DND, peripherals,
    diagnostics, software and uptime."""
    if target.vendor == "yealink":  # no SSH API: its HTTPS one (probes/device_yealink.py)
        return await device_yealink.probe(target, settings)
    if target.vendor not in VENDORS:
        return ProbeResult.failure(f"vendor {target.vendor or '?'} has no device API here")
    if settings.known_hosts is None:
        return ProbeResult.cannot_check("no known_hosts file to verify the host key against")
    try:
        async with asyncio.timeout(settings.timeout_s):
            async with _sessions.get(settings.max_sessions):
                text = await _read(target, settings)
    except _Unchecked as exc:
        return ProbeResult.cannot_check(str(exc))
    except _Failed as exc:
        return ProbeResult.failure(str(exc))
    except TimeoutError:
        return ProbeResult.failure(f"the device was not read within {settings.timeout_s:g} s")
    return _result(target.vendor, text)


def _result(vendor: str, text: str) -> ProbeResult:
    uptime: float | None = None
    if vendor == "cisco_ce":
        details, uptime, remote = device_cisco.parse(text)
    else:
        details, remote = device_poly.parse(text)
    figures = {"uptime_s": uptime} if uptime is not None else {}
    if uptime is None:
        details["uptime_s"] = None
    info: dict[str, str] = {"call_with": remote} if remote else {}
    return ProbeResult(ok=True, figures=figures, details=details, info=info)


async def _read(target: DeviceTarget, settings: Settings) -> str:
    conn = await connect(target, settings)
    try:
        return await _converse(conn, target.vendor, settings)
    except asyncssh.Error as exc:
        raise _Failed(f"SSH session failed: {exc.reason}") from None
    except OSError as exc:
        raise _Failed(f"SSH session failed: {exc.strerror or exc}") from None
    finally:
        await close(conn)


async def connect(target: DeviceTarget, settings: Settings,
                  keepalive_s: float = 0.0) -> asyncssh.SSHClientConnection:
    """An authenticated SSH connection to the codec, its host key verified against
    ``settings.known_hosts`` (which must be set), within ``settings.connect_s``;
    ``keepalive_s`` > 0 sends SSH keepalives that long apart (a session kept open).
    SessionError says why not (``unchecked`` for a host key never recorded)."""
    port = target.port or settings.port
    known = settings.known_hosts
    assert known is not None
    client = HostKeyClient(known, target.address, port)
    auth: dict[str, Any] = (
        {"password": target.password, "client_keys": None, "agent_path": None,
         "preferred_auth": "password,keyboard-interactive"}
        if target.password is not None else {})
    if keepalive_s > 0:
        auth.update(keepalive_interval=keepalive_s, keepalive_count_max=3)
    where = f"{target.address}:{port}"
    try:
        async with asyncio.timeout(settings.connect_s):
            return await asyncssh.connect(
                target.address, port, username=target.username, config=None,
                known_hosts=(known.trusted(target.address, port), [], []),
                client_factory=lambda: client, login_timeout=settings.connect_s,
                encryption_algs=ENCRYPTION_ALGS, **auth)
    except asyncssh.HostKeyNotVerifiable:
        why = known.refusal(target.address, port, client.offered)
        # A key that differs from the recorded one may be an impersonation: a failure.  A
        # key never recorded is a trust not yet set up: the room could not be checked.
        raise (_Failed(why) if known.trusted(target.address, port) else _Unchecked(why)) from None
    except asyncssh.PermissionDenied:
        raise _Failed(f"login as {target.username!r} refused (authentication failed)") from None
    except TimeoutError:
        raise _Failed(f"no SSH session within {settings.connect_s:g} s ({where})") from None
    except OSError as exc:
        raise _Failed(f"cannot connect to {where}: {exc.strerror or exc}") from None
    except asyncssh.Error as exc:
        raise _Failed(f"SSH session failed: {exc.reason}") from None


async def close(conn: asyncssh.SSHClientConnection) -> None:
    """Close the connection, waiting at most a second for the codec to see it."""
    conn.close()
    try:
        async with asyncio.timeout(1.0):
            await conn.wait_closed()
    except (TimeoutError, asyncssh.Error, OSError):
        pass


async def open_shell(conn: asyncssh.SSHClientConnection, vendor: str, settings: Settings
                     ) -> tuple[asyncssh.SSHClientProcess[str], Replies]:
    """The codec's API session on ``conn``, its login banner read (within
    ``settings.login_s``); Cisco's echo is not yet turned off."""
    proc = await conn.create_process(encoding="utf-8", errors="replace")
    reader = Replies(proc, vendor)
    try:
        async with asyncio.timeout(settings.login_s):
            await reader.next_reply()
    except TimeoutError:
        raise _Failed(f"no login banner within {settings.login_s:g} s") from None
    return proc, reader


def result_of(vendor: str, text: str) -> ProbeResult:
    """The check's result from the replies of ``state_commands`` (one text)."""
    return _result(vendor, text)


def state_commands(vendor: str) -> tuple[str, ...]:
    """The commands that read the codec's whole state, in order."""
    return device_cisco.COMMANDS if vendor == "cisco_ce" else device_poly.COMMANDS


async def read_replies(proc: asyncssh.SSHClientProcess[str], reader: Replies,
                       commands: tuple[str, ...], settings: Settings) -> list[str]:
    """Send the commands together and read their replies in order, each within
    ``settings.command_s``."""
    proc.stdin.write("".join(f"{c}\r\n" for c in commands))
    replies: list[str] = []
    for command in commands:
        try:
            async with asyncio.timeout(settings.command_s):
                replies.append(await reader.next_reply())
        except TimeoutError:
            raise _Failed(f"no answer to {command!r} within {settings.command_s:g} s") from None
    return replies


async def _converse(conn: asyncssh.SSHClientConnection, vendor: str,
                    settings: Settings) -> str:
    """Banner, then every command; the replies as one text."""
    proc, reader = await open_shell(conn, vendor, settings)
    commands = state_commands(vendor)
    if vendor == "cisco_ce":
        commands = ("echo off", *commands)
    replies = await read_replies(proc, reader, commands, settings)
    # No "bye": closing the connection (the caller's) ends the session as well, and saves
    # both ends a command, its reply and the channel's own close exchange.
    return "\n".join(replies)


class Replies:
    """Splits the session's output into replies: Cisco's end at an ``OK``/``ERROR``
    line, Poly's at the ``-> `` prompt."""

    def __init__(self, proc: asyncssh.SSHClientProcess[str], vendor: str) -> None:
        self.proc, self.vendor = proc, vendor
        self.buffer = ""

    def _split(self) -> str | None:
        if self.vendor == "poly":
            i = self.buffer.find("-> ")
            if i < 0:
                return None
            reply, self.buffer = self.buffer[:i], self.buffer[i + 3:]
            return reply
        text = self.buffer.replace("\r\n", "\n")
        lines = text.split("\n")
        for i, line in enumerate(lines[:-1]):
            if line.strip() in ("OK", "ERROR", "Command not recognized."):
                self.buffer = "\n".join(lines[i + 1:])
                return "\n".join(lines[:i + 1])
        return None

    async def next_reply(self) -> str:
        """The next whole reply (raises _Failed when the session ends first)."""
        while True:
            reply = self._split()
            if reply is not None:
                return reply
            if len(self.buffer) > MAX_REPLY:
                raise _Failed(f"a reply longer than {MAX_REPLY} characters")
            chunk = await self.proc.stdout.read(READ_SIZE)
            if not chunk:
                raise _Failed("the codec closed the session")
            self.buffer += chunk
