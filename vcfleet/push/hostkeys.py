"""SSH host keys the operator trusts (the one implementation is probes/sshkeys.py).

Push and the device check verify host keys the same way: this module re-exports
``probes.sshkeys`` and adds where vcfleet keeps the file by default.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from probes.sshkeys import HostKeyClient, KnownHosts, host_pattern, is_address

__all__ = ["HostKeyClient", "KnownHosts", "default_known_hosts", "host_pattern", "is_address"]


def default_known_hosts() -> Path:
    """``known_hosts`` in the user's data directory (``~/.local/share/vcfleet`` on Linux)."""
    return Path(platformdirs.user_data_dir("vcfleet")) / "known_hosts"
