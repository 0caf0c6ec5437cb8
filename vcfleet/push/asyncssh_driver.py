"""The default driver: one asyncssh interactive session per endpoint, any dialect.

Every wait has a deadline: the connection (TCP, handshake, login) gets
``Deadlines.connect_s``, each command and its reply ``Deadlines.command_s``.
A session whose command timed out is out of step with the device, so the next
command opens a fresh one (a rollback after a timeout still gets its chance).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import asyncssh

from inventory import Endpoint
from inventory.secrets import SecretUnavailable, resolve_secret
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
from vcfleet.push.hostkeys import HostKeyClient

READ_SIZE = 65536


def password_of(endpoint: Endpoint, options: DriverOptions) -> str | None:
    """The endpoint's SSH password (None: use the SSH agent); Unreachable if unresolvable."""
    try:
        return resolve_secret(endpoint.credentials.secret, options.base_dir)
    except SecretUnavailable as exc:
        raise Unreachable(f"credentials: {exc}") from None


def is_reply_done(vendor: str, buffer: str) -> bool:
    """Whether ``buffer`` holds a complete reply in this vendor's framing."""
    if vendor == "poly":
        return buffer.endswith("-> ")
    tail = buffer.rstrip().rpartition("\n")[2].strip()
    return tail in ("OK", "ERROR", "Command not recognized.") and buffer.endswith("\n")


def reply_body(vendor: str, command: str, buffer: str) -> str:
    """A reply without the echoed command, the prompt or the OK/ERROR terminator."""
    lines = buffer.replace("\r\n", "\n").split("\n")
    if vendor != "poly" and command and lines and lines[0].strip() == command.strip():
        lines = lines[1:]
    if vendor == "poly":
        if lines and lines[-1].startswith("->"):
            lines = lines[:-1]
    else:
        while lines and lines[-1].strip() in ("", "OK", "** end"):
            lines.pop()
    return "\n".join(lines).strip("\n") + "\n"


class ShellDriver:
    """A driver over one asyncssh interactive shell (Cisco xAPI or Poly SSH API)."""

    def __init__(self, endpoint: Endpoint, options: DriverOptions) -> None:
        self.endpoint = endpoint
        self.dialect = DIALECTS[endpoint.vendor]
        self.options = options
        self._conn: asyncssh.SSHClientConnection | None = None
        self._proc: asyncssh.SSHClientProcess[str] | None = None
        self._broken = False

    async def connect(self) -> None:
        e, d = self.endpoint, self.options.deadlines
        assert e.services.ssh is not None
        port = e.services.ssh.port
        password = password_of(e, self.options)
        client = HostKeyClient(self.options.known_hosts, e.address, port)
        auth: dict[str, object] = (
            {"password": password, "client_keys": None, "agent_path": None,
             "preferred_auth": "password,keyboard-interactive"} if password is not None else {})
        try:
            async with asyncio.timeout(d.connect_s):
                self._conn = await asyncssh.connect(
                    e.address, port, username=e.credentials.username, config=None,
                    known_hosts=(self.options.known_hosts.trusted(e.address, port), [], []),
                    client_factory=lambda: client, login_timeout=d.connect_s, **auth)
                self._proc = await self._conn.create_process(encoding="utf-8")
                await self._greet()
        except asyncssh.HostKeyNotVerifiable:
            await self.close()
            raise Unreachable(self.options.known_hosts.refusal(e.address, port,
                                                               client.offered)) from None
        except asyncssh.PermissionDenied:
            await self.close()
            raise Unreachable(f"login as {e.credentials.username!r} refused "
                              "(authentication failed)") from None
        except TimeoutError:
            await self.close()
            raise Unreachable(f"no SSH session within {d.connect_s:g} s "
                              f"({e.address}:{port})") from None
        except OSError as exc:
            await self.close()
            raise Unreachable(f"cannot connect to {e.address}:{port}: "
                              f"{exc.strerror or exc}") from None
        except (asyncssh.Error, PushError) as exc:
            await self.close()
            reason = exc.reason if isinstance(exc, asyncssh.Error) else str(exc)
            raise Unreachable(f"SSH session failed: {reason}") from None
        self._broken = False

    async def _greet(self) -> None:
        """Read the banner up to the first prompt and put the API in a known mode."""
        await self._read_reply("")
        if self.endpoint.vendor == "cisco_ce":
            await self._send("xPreferences outputmode terminal")

    async def _read_reply(self, command: str) -> str:
        """The raw reply up to and including its terminator (OK/ERROR or the prompt)."""
        assert self._proc is not None
        buffer = ""
        while not is_reply_done(self.endpoint.vendor, buffer):
            chunk = await self._proc.stdout.read(READ_SIZE)
            if not chunk:
                raise PushError(f"endpoint closed the session (after {command!r})")
            buffer += chunk
        return buffer.replace("\r\n", "\n")

    async def _send(self, command: str) -> str:
        assert self._proc is not None
        self._proc.stdin.write(command + "\n")
        return await self._read_reply(command)

    async def command(self, command: str) -> str:
        """Send one command; its reply body (raises DeviceTimeout, CommandFailed, PushError)."""
        if self._broken or self._proc is None:
            await self.close()
            await self.connect()
        timeout = self.options.deadlines.command_s
        # Until the whole reply is in, the session is out of step with the device (this
        # also covers a cancellation from the caller's deadline in the middle of a reply).
        self._broken = True
        try:
            async with asyncio.timeout(timeout):
                reply = await self._send(command)
        except TimeoutError:
            raise DeviceTimeout(f"no complete reply to {command!r} within {timeout:g} s"
                                ) from None
        except (asyncssh.Error, OSError) as exc:
            raise PushError(f"session lost during {command!r}: {exc}") from None
        self._broken = False
        error = self.dialect.error_of(reply)
        if error is not None:
            raise CommandFailed(error)
        return reply_body(self.endpoint.vendor, command, reply)

    async def read(self) -> RunningConfig:
        raw = await self.command(self.dialect.dump_command)
        return RunningConfig(raw, self.dialect.parse_dump(raw))

    async def apply(self, name: str, value: str) -> None:
        await self.command(self.dialect.set_command(name, value))

    async def verify(self, expected: Mapping[str, str | None]) -> dict[str, str | None]:
        return await verify_by_reading(self, expected)

    async def settled(self) -> None:
        pass  # the device holds its configuration itself

    async def close(self) -> None:
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is not None:
            proc.close()
        if conn is not None:
            conn.close()
            try:
                async with asyncio.timeout(2):
                    await conn.wait_closed()
            except (TimeoutError, asyncssh.Error, OSError):
                pass
