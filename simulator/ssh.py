"""The SSH side of a simulated endpoint: an asyncssh server speaking the vendor's API.

Interactive sessions (``ssh host``, netmiko) get the vendor's banner and a
line discipline: typed characters are echoed when the client asked for a
terminal, lines end at CR, LF or CRLF, output lines end in CRLF.  Exec sessions
(``ssh host 'xStatus SystemUnit Uptime'``) run the one command, print its reply
with LF line ends and exit with status 0, or 1 for an error reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol

import asyncssh

from simulator.devices import Device
from simulator.dialect import Reply, Session
from simulator.sessions import new_session

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 2.0


class SshPolicy(Protocol):
    """What the SSH server asks its endpoint at login and after a reboot command."""

    device: Device

    def check_password(self, username: str, password: str) -> bool:
        """True when this login may proceed."""

    def check_public_key(self, username: str, key_data: bytes) -> bool:
        """True when this key may log in as this user."""

    def request_reboot(self) -> None:
        """A session asked the device to reboot."""


class _Server(asyncssh.SSHServer):
    def __init__(self, owner: SshService) -> None:
        self.owner = owner
        self.conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self.conn = conn
        self.owner.connections.add(conn)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.conn is not None:
            self.owner.connections.discard(self.conn)

    def begin_auth(self, username: str) -> bool:
        return True

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return self.owner.policy.check_password(username, password)

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return self.owner.policy.check_public_key(username, key.public_data)


class SshService:
    """One endpoint's SSH listener, its connections and its session tasks."""

    def __init__(self, host: str, port: int, host_key: asyncssh.SSHKey,
                 policy: SshPolicy) -> None:
        self.host, self.port = host, port
        self.host_key = host_key
        self.policy = policy
        self.connections: set[asyncssh.SSHServerConnection] = set()
        self.sessions: set[asyncio.Task[None]] = set()
        self._acceptor: asyncssh.SSHAcceptor | None = None

    async def start(self) -> None:
        """Listen (OSError when the address cannot be bound)."""
        self._acceptor = await asyncssh.create_server(
            lambda: _Server(self), self.host, self.port,
            server_host_keys=[self.host_key], process_factory=self._session,
            encoding="utf-8", line_editor=False, allow_scp=False,
            agent_forwarding=False, x11_forwarding=False, login_timeout=30,
            reuse_address=True)

    async def stop(self) -> None:
        """Stop listening, close every connection and await every session."""
        if self._acceptor is not None:
            self._acceptor.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._acceptor.wait_closed(), CLOSE_TIMEOUT_S)
            self._acceptor = None
        await self.close_connections()

    async def close_connections(self) -> None:
        """Drop every open session (a reboot does this)."""
        conns = list(self.connections)
        for conn in conns:
            conn.close()
        for conn in conns:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(conn.wait_closed(), CLOSE_TIMEOUT_S)
        tasks = [t for t in self.sessions if t is not asyncio.current_task()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_S)
            for t in pending:
                t.cancel()
            if pending:
                await asyncio.wait(pending, timeout=CLOSE_TIMEOUT_S)

    async def _session(self, process: asyncssh.SSHServerProcess[str]) -> None:
        task = asyncio.current_task()
        assert task is not None
        self.sessions.add(task)
        try:
            session = new_session(self.policy.device)
            if process.command is not None:
                reply = session.handle(process.command)
                process.stdout.write(reply.text)
                process.exit(0 if reply.ok else 1)
                if reply.reboot:
                    self.policy.request_reboot()
            else:
                await _Shell(process, session, self.policy.request_reboot).run()
        except (asyncssh.Error, OSError, asyncio.CancelledError, BrokenPipeError):
            pass
        except Exception:  # a dialect bug must not kill the server
            log.exception("SSH session on %s failed", self.host)
        finally:
            with contextlib.suppress(Exception):
                process.exit(0)
            self.sessions.discard(task)


class _Shell:
    """An interactive session: echo, line splitting, CRLF output."""

    def __init__(self, process: asyncssh.SSHServerProcess[str], session: Session,
                 on_reboot: Callable[[], None]) -> None:
        self.process = process
        self.session = session
        self.on_reboot = on_reboot
        self.echo = process.get_terminal_type() is not None
        self.line = ""
        self.after_cr = False
        self._held: list[str] | None = None

    def write(self, text: str) -> None:
        self._raw(text.replace("\n", "\r\n"))

    def _raw(self, text: str) -> None:
        if self._held is not None:
            self._held.append(text)
        else:
            self.process.stdout.write(text)

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held:
            self.process.stdout.write("".join(held))

    async def run(self) -> None:
        attach = getattr(self.session, "attach", None)
        if attach is not None:  # a dialect with unsolicited output (Cisco xFeedback)
            attach(self.write)
        try:
            await self._run()
        finally:
            detach = getattr(self.session, "detach", None)
            if detach is not None:
                detach()

    async def _run(self) -> None:
        self.write(self.session.banner() + self.session.prompt())
        while True:
            data = await self.process.stdin.read(4096)
            if not data:
                return
            # What one read makes the codec say (echo, replies, prompts) goes out in one
            # write: one SSH packet, not two or more a command, as a codec's TCP stream
            # would carry it.  Same text, same order.
            self._held = []
            for ch in data:
                reply = self.feed(ch)
                if reply is None:
                    continue
                self.write(reply.text)
                if reply.close or reply.reboot:
                    self._flush()
                    await self.process.stdout.drain()
                    self.process.exit(0)
                    if reply.reboot:
                        self.on_reboot()
                    return
                self.write(self.session.prompt())
            self._flush()

    def feed(self, ch: str) -> Reply | None:
        """Take one typed character; a Reply when it ended a line."""
        if ch == "\n" and self.after_cr:
            self.after_cr = False
            return None
        self.after_cr = ch == "\r"
        if ch in "\r\n":
            if self.echo:
                self.write("\n")
            line, self.line = self.line, ""
            return self.session.handle(line.strip())
        if ch in "\x7f\b":
            if self.line:
                self.line = self.line[:-1]
                if self.echo:
                    self._raw("\b \b")
            return None
        if ch == "\x03":
            self.line = ""
            return None
        if ch == "\x04" and not self.line:
            return Reply("", close=True)
        if ch.isprintable() or ch == "\t":
            self.line += ch
            if self.echo:
                self._raw(ch)
        return None
