"""Auto-provisioning credentials: the one rule both vcfleet's provisioning server and the
simulated devices follow (docs/inventory.md, Provisioning).

A device fetching its configuration file authenticates with HTTP Basic: the username is
its endpoint id, the password is derived from the inventory's ``provisioning.secret``, so
that the inventory holds one secret reference and never a password per device.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from inventory.model import Provisioning

PASSWORD_HEX = 32
"""Length of a device password: the first 32 hex digits of the HMAC (128 bits)."""


def device_password(secret: str, endpoint_id: str) -> str:
    """The password a device fetches its file with: HMAC-SHA256(secret, endpoint id), the
    first 32 hex digits."""
    digest = hmac.new(secret.encode("utf-8"), endpoint_id.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:PASSWORD_HEX]


def file_path(provisioning: Provisioning, which: str, base_dir: Path) -> Path:
    """The ``certificate`` or ``key`` file, a relative path taken from the inventory's folder."""
    path = Path(getattr(provisioning, which)).expanduser()
    return path if path.is_absolute() else base_dir / path


def listen_address(provisioning: Provisioning) -> tuple[str, int]:
    """``listen`` as (host, port), brackets of an IPv6 host removed."""
    host, _, port = provisioning.listen.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)
