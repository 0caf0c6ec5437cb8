"""A Cisco RoomOS/CE driver over netmiko's ``cisco_tp`` device type (``--driver netmiko``).

netmiko is synchronous: each call runs in the push's bounded thread pool.
netmiko's own timeouts bound every wait in the thread; the asyncio side waits
at most a little longer and then reports a timeout (the thread finishes on its
own).  Host keys are checked by paramiko against the same known_hosts file;
with ``--accept-new-host-keys`` a new key is first fetched and recorded
through asyncssh, so both drivers trust exactly the same keys.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import asyncssh

from inventory import Endpoint
from vcfleet.push.asyncssh_driver import password_of
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

T = TypeVar("T")
EXPECT = r"\n(OK|ERROR|Command not recognized\.)\s*$"
SLACK_S = 2.0


class NetmikoDriver:
    """Cisco xAPI through netmiko's ``cisco_tp`` driver (``CiscoTpTcCeSSH``), in a thread pool."""

    def __init__(self, endpoint: Endpoint, options: DriverOptions) -> None:
        self.endpoint = endpoint
        self.dialect = DIALECTS[endpoint.vendor]
        self.options = options
        self._conn: Any = None
        self._stale = False

    async def _in_thread(self, fn: Callable[[], T], timeout: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(timeout + SLACK_S):
                return await loop.run_in_executor(self.options.pool, fn)
        except TimeoutError:
            raise DeviceTimeout(f"no answer to {what} within {timeout:g} s") from None

    async def connect(self) -> None:
        e, d = self.endpoint, self.options.deadlines
        assert e.services.ssh is not None
        port = e.services.ssh.port
        known = self.options.known_hosts
        if known.accept_new and not known.trusted(e.address, port):
            await self._record_new_key(port)
        if not known.path.exists():
            raise Unreachable(known.refusal(e.address, port, None))
        password = password_of(e, self.options)
        params = {
            "host": e.address, "port": port,
            "username": e.credentials.username, "password": password or "",
            "use_keys": password is None, "allow_agent": password is None,
            "ssh_strict": True, "system_host_keys": False, "alt_host_keys": True,
            "alt_key_file": str(known.path), "conn_timeout": d.connect_s,
            "auth_timeout": d.connect_s, "banner_timeout": d.connect_s,
            "read_timeout_override": d.command_s, "fast_cli": True,
        }
        try:
            self._conn = await self._in_thread(functools.partial(_connect, params),
                                               d.connect_s * 2, "the SSH login")
        except DeviceTimeout as exc:
            raise Unreachable(str(exc)) from None

    async def _record_new_key(self, port: int) -> None:
        e = self.endpoint
        try:
            async with asyncio.timeout(self.options.deadlines.connect_s):
                key = await asyncssh.get_server_host_key(e.address, port)
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise Unreachable(f"cannot fetch the host key of {e.address}:{port}: "
                              f"{exc or 'timeout'}") from None
        if key is not None:
            self.options.known_hosts.record(e.address, port, key)

    async def command(self, command: str) -> str:
        """Send one command; its reply (raises CommandFailed, DeviceTimeout)."""
        if self._stale or self._conn is None:
            # A timed-out call may still be running in its thread: never share that
            # session; drop it and log in afresh (a rollback gets a clean session).
            await self.close()
            await self.connect()
        timeout = self.options.deadlines.command_s
        fn = functools.partial(self._conn.send_command, command, expect_string=EXPECT,
                               read_timeout=timeout, strip_prompt=False, strip_command=True)
        self._stale = True
        try:
            reply = str(await self._in_thread(fn, timeout, repr(command)))
        except (OSError, EOFError) as exc:
            raise PushError(f"session lost during {command!r}: {exc}") from None
        self._stale = False
        error = self.dialect.error_of(reply)
        if error is not None:
            raise CommandFailed(error)
        return reply

    async def read(self) -> RunningConfig:
        reply = await self.command(self.dialect.dump_command)
        raw = "\n".join(ln for ln in reply.replace("\r\n", "\n").split("\n")
                        if ln.strip() not in ("", "OK", "** end")) + "\n"
        return RunningConfig(raw, self.dialect.parse_dump(raw))

    async def apply(self, name: str, value: str) -> None:
        await self.command(self.dialect.set_command(name, value))

    async def verify(self, expected: Mapping[str, str | None]) -> dict[str, str | None]:
        return await verify_by_reading(self, expected)

    async def settled(self) -> None:
        pass  # the device holds its configuration itself

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        self._stale = False
        if conn is not None:
            loop = asyncio.get_running_loop()
            try:
                async with asyncio.timeout(5):
                    await loop.run_in_executor(self.options.pool, _bye, conn)
            except Exception:  # closing is best effort; the session is gone either way
                pass


def _bye(conn: Any) -> None:
    """End the xAPI session and close the socket (netmiko's ``disconnect`` would first
    probe for a config mode CE does not have, for about 2 s)."""
    try:
        conn.write_channel("bye" + conn.RETURN)
    finally:
        conn.paramiko_cleanup()


def _cisco_tp_class() -> Any:
    """netmiko's ``cisco_tp`` driver, with a session start that waits for the banner's ``OK``.

    The stock ``session_preparation`` waits for two quiet seconds and then sends
    ``terminal width`` (which CE does not know): 2.5 s per login.  CE ends its
    login banner with ``OK``, so waiting for that line is both faster and exact.
    """
    from netmiko.cisco.cisco_tp_tcce import CiscoTpTcCeSSH

    class CiscoTp(CiscoTpTcCeSSH):
        def session_preparation(self) -> None:
            self.read_until_pattern(pattern=r"\r?\nOK\r?\n",
                                    read_timeout=float(self.conn_timeout))
            self.set_base_prompt()

    return CiscoTp


def _connect(params: dict[str, Any]) -> Any:
    import netmiko
    import paramiko

    try:
        return _cisco_tp_class()(**params)
    except netmiko.NetmikoAuthenticationException:
        raise Unreachable(f"login as {params['username']!r} refused "
                          "(authentication failed)") from None
    except (netmiko.NetmikoTimeoutException, paramiko.SSHException) as exc:
        # netmiko re-raises paramiko's host key errors as timeouts; tell them apart by text.
        text = str(exc)
        where = f"[{params['host']}]:{params['port']}"
        if "does not match" in text or isinstance(exc, paramiko.BadHostKeyException):
            raise Unreachable(f"host key for {where} differs from the one in "
                              f"{params['alt_key_file']}: refused (possible impersonation; if "
                              "the codec was replaced, remove its line from the file and rerun "
                              "with --accept-new-host-keys)") from None
        if "not found in known_hosts" in text:
            raise Unreachable(f"unknown host key for {where}: refused; rerun with "
                              "--accept-new-host-keys to record it in "
                              f"{params['alt_key_file']}") from None
        first = next((ln.strip() for ln in text.splitlines() if ln.strip()), type(exc).__name__)
        raise Unreachable(f"no SSH session within {params['conn_timeout']:g} s: {first}"
                          ) from None
    except OSError as exc:
        raise Unreachable(f"cannot connect: {exc}") from None
