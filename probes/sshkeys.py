"""SSH host keys the operator trusts: an OpenSSH-format known_hosts file.

An endpoint whose key is not in the file is refused, with its fingerprint in
the message, unless the operator passed ``--accept-new-host-keys``; then the
key is recorded (like OpenSSH's ``StrictHostKeyChecking=accept-new``).  A key
that differs from the recorded one is always refused.  Push (vcfleet/push) and
the device check (probes/device.py) both verify host keys with this one module.
"""

from __future__ import annotations

import ipaddress
import os
import threading
from pathlib import Path
from typing import Any

import asyncssh
from pydantic_core import core_schema


def is_address(host: str) -> bool:
    """Whether ``host`` is an IPv4 or IPv6 address literal (not a host name)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def host_pattern(host: str, port: int) -> str:
    """How OpenSSH names a host and port in known_hosts."""
    return host if port == 22 else f"[{host}]:{port}"


class KnownHosts:
    """The known_hosts file, read once, appended to when a new key is accepted."""

    def __init__(self, path: Path, *, accept_new: bool = False) -> None:
        self.path = path
        self.accept_new = accept_new
        self._lock = threading.Lock()
        self._recorded: dict[tuple[str, int], asyncssh.SSHKey] = {}
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            text = ""
        except OSError as exc:
            raise OSError(f"{path}: cannot read known_hosts file: {exc.strerror or exc}") from None
        self._known = asyncssh.import_known_hosts(text)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its file (read again where it is unpickled): the console's sweep
        process gets the sweep's settings so.  Keys accepted in this run are not carried."""
        return (type(self), (self.path,), {"accept_new": self.accept_new})

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.accept_new = state["accept_new"]

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: Any) -> core_schema.CoreSchema:
        """A settings field of this type (``probes.device.Settings.known_hosts``) takes a
        loaded file only: a profile cannot name one (the sweep's ``--known-hosts`` does)."""

        def loaded(value: Any) -> KnownHosts:
            if not isinstance(value, cls):
                raise ValueError("set by the sweep (--known-hosts), not by a profile")
            return value

        return core_schema.no_info_plain_validator_function(loaded)

    def trusted(self, host: str, port: int, addr: str = "") -> list[asyncssh.SSHKey]:
        """Keys trusted for this host and port (file entries and keys accepted in this run).

        ``host`` is matched as written in the inventory, a name or an address, against
        plain and hashed entries, as OpenSSH does; ``addr``, the peer address once
        connected, is matched too (OpenSSH's ``CheckHostIP``).
        """
        with self._lock:
            if (host, port) in self._recorded:
                return [self._recorded[(host, port)]]
        if not addr and is_address(host):
            addr = host
        keys = self._known.match(host, addr if is_address(addr) else "", port)[0]
        return list(keys)

    def record(self, host: str, port: int, key: asyncssh.SSHKey) -> None:
        """Trust a new key: remember it and append it to the file."""
        line = f"{host_pattern(host, port)} {key.export_public_key('openssh').decode().strip()}\n"
        with self._lock:
            if (host, port) in self._recorded:
                return
            self._recorded[(host, port)] = key
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a", encoding="utf-8") as f:
                f.write(line)

    def refusal(self, host: str, port: int, offered: asyncssh.SSHKey | None) -> str:
        """Why a host key was refused, in words an operator can act on."""
        fp = offered.get_fingerprint() if offered is not None else "unknown fingerprint"
        where = host_pattern(host, port)
        if self.trusted(host, port):
            return (f"host key for {where} ({fp}) differs from the one in {self.path}: "
                    "refused (possible impersonation; if the codec was replaced, remove "
                    "its line from the file and rerun with --accept-new-host-keys)")
        return (f"unknown host key for {where} ({fp}): refused; check the fingerprint and "
                f"rerun with --accept-new-host-keys to record it in {self.path}")


class HostKeyClient(asyncssh.SSHClient):
    """Decides about keys that are not in known_hosts (asyncssh asks only for those).

    Pass ``known_hosts=(known.trusted(host, port), [], [])`` to ``asyncssh.connect``
    with ``client_factory=lambda: client``; ``offered`` is the key the server showed,
    for ``KnownHosts.refusal``.
    """

    def __init__(self, known: KnownHosts, host: str, port: int) -> None:
        self.known, self.host, self.port = known, host, port
        self.offered: asyncssh.SSHKey | None = None

    def validate_host_public_key(self, host: str, addr: str, port: int,
                                 key: asyncssh.SSHKey) -> bool:
        """Trust a key recorded under the peer's address, or a new one with accept_new."""
        self.offered = key
        if addr and addr != self.host and any(
                k.public_data == key.public_data for k in self.known.trusted(addr, self.port)):
            return True  # recorded under the address the name resolved to
        if self.known.accept_new and not self.known.trusted(self.host, self.port):
            self.known.record(self.host, self.port, key)
            return True
        return False
