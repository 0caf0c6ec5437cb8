"""The simulator's state directory: host keys, TLS certificate, authorized keys.

Layout (docs/simulator.md)::

    STATE_DIR/hostkeys/<endpoint-id>.key   one ed25519 host key per endpoint (OpenSSH format)
    STATE_DIR/known_hosts                  every endpoint's host key, for SSH clients
    STATE_DIR/tls/cert.pem, key.pem        one self-signed certificate for every HTTPS port
    STATE_DIR/authorized_keys              optional: public keys that may log in to every endpoint

Keys are created once and reused, so that host-key verification can be tested.
Files are written to a temporary name and linked into place, so that two
simulators sharing a state directory never replace each other's keys.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import asyncssh

from inventory import Endpoint


def default_state_dir() -> Path:
    """The per-user default: ``platformdirs.user_state_path('vcfleet') / 'simulator'``."""
    import platformdirs

    return Path(platformdirs.user_state_path("vcfleet")) / "simulator"


def _write_once(path: Path, data: bytes, mode: int = 0o600) -> bytes:
    """Write ``data`` to ``path`` unless it exists; return what the file holds."""
    if path.exists():
        return path.read_bytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
        os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_bytes()


def host_key_path(state_dir: Path, endpoint_id: str) -> Path:
    """Where an endpoint's host key lives."""
    return state_dir / "hostkeys" / f"{endpoint_id}.key"


def host_key(state_dir: Path, endpoint_id: str) -> asyncssh.SSHKey:
    """An endpoint's host key, created on first use."""
    path = host_key_path(state_dir, endpoint_id)
    if path.exists():
        return asyncssh.import_private_key(path.read_bytes())
    key = asyncssh.generate_private_key("ssh-ed25519")
    return asyncssh.import_private_key(_write_once(path, key.export_private_key()))


def host_keys(state_dir: Path, endpoints: Iterable[Endpoint]) -> dict[str, asyncssh.SSHKey]:
    """Host keys of the endpoints that offer SSH, and an up-to-date ``known_hosts``."""
    keys = {e.id: host_key(state_dir, e.id) for e in endpoints if e.services.ssh}
    write_known_hosts(state_dir, endpoints, keys)
    return keys


def write_known_hosts(state_dir: Path, endpoints: Iterable[Endpoint],
                      keys: dict[str, asyncssh.SSHKey]) -> Path:
    """``STATE_DIR/known_hosts`` listing ``[address]:port`` and key of each SSH endpoint."""
    lines = []
    for e in endpoints:
        if e.services.ssh and e.id in keys:
            pub = keys[e.id].export_public_key().decode().strip()
            lines.append(f"[{e.address}]:{e.services.ssh.port} {pub}\n")
    path = state_dir / "known_hosts"
    fd, tmp = tempfile.mkstemp(dir=state_dir, prefix=".tmp-")
    with os.fdopen(fd, "w") as f:
        f.writelines(lines)
    os.replace(tmp, path)
    return path


def authorized_keys(state_dir: Path) -> list[bytes]:
    """Public keys (wire format) from ``STATE_DIR/authorized_keys``; empty if there is none."""
    path = state_dir / "authorized_keys"
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                out.append(asyncssh.import_public_key(line).public_data)
            except (asyncssh.KeyImportError, ValueError):
                continue
    return out


def tls_files(state_dir: Path) -> tuple[Path, Path]:
    """(cert.pem, key.pem) of the simulator's self-signed certificate, created on first use."""
    cert_path, key_path = state_dir / "tls" / "cert.pem", state_dir / "tls" / "key.pem"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    from inventory.demofleet import self_signed_certificate

    cert_pem, key_pem = self_signed_certificate(common_name="vcfleet simulator")
    _write_once(key_path, key_pem)
    if key_path.read_bytes() == key_pem:
        cert_path.unlink(missing_ok=True)
        _write_once(cert_path, cert_pem, 0o644)
    else:  # another simulator won the race; wait for its certificate
        import time

        for _ in range(50):
            if cert_path.exists():
                break
            time.sleep(0.05)
    return cert_path, key_path
