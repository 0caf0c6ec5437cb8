"""The inventory's ``provisioning:`` section made usable: address, TLS, credentials, store.

Everything is checked and loaded once, before any device is touched or any port
bound: an unreadable certificate, key or secret is one ``InputError`` line.  The
resolved secret stays in this object and is never shown (``repr`` hides it).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from inventory import InputError, Inventory
from inventory.provisioning import device_password, file_path, listen_address
from inventory.secrets import SecretUnavailable, resolve_secret
from vcfleet.provisioning.store import ProvisioningStore


@dataclass(frozen=True)
class ProvisioningSite:
    """Where the provisioning server listens, what it serves from, and how devices log in."""

    host: str
    port: int
    url: str
    """What devices fetch from (DHCP option 66), ending with ``/``."""
    certificate: Path
    key: Path
    store: ProvisioningStore
    secret: str = field(repr=False)
    source: str = "provisioning"
    """Where the settings come from, for messages (``fleet.yaml: provisioning``)."""

    @property
    def prefix(self) -> str:
        """The URL's path (``/yealink/``): the folder the server serves files in."""
        path = urlsplit(self.url).path or "/"
        return path if path.endswith("/") else path + "/"

    def device_password(self, endpoint_id: str) -> str:
        """The password a device fetches its file with (its user name is its endpoint id)."""
        return device_password(self.secret, endpoint_id)

    def server_context(self) -> ssl.SSLContext:
        """TLS for the server: the inventory's certificate and key."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ctx.load_cert_chain(self.certificate, self.key)
        except (OSError, ssl.SSLError) as exc:
            raise InputError(f"{self.source}: cannot load the certificate {self.certificate} "
                             f"and its key {self.key}: {_why(exc)}") from None
        return ctx

    def client_context(self) -> ssl.SSLContext:
        """TLS as a device sees the server: trusting exactly the inventory's certificate."""
        ctx = ssl.create_default_context(cafile=str(self.certificate))
        ctx.check_hostname = False  # the certificate is pinned: trusted as the only CA
        return ctx


def _why(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__


def site_of(inventory: Inventory, store_root: Path) -> ProvisioningSite | None:
    """The inventory's provisioning site, None without a ``provisioning:`` section."""
    section = inventory.provisioning
    if section is None:
        return None
    base = inventory.base_dir()
    source = f"{inventory.path or 'inventory'}: provisioning"
    try:
        secret = resolve_secret(section.secret, base)
    except SecretUnavailable as exc:
        raise InputError(f"{source}.secret: {exc.reason}") from None
    if not secret:
        raise InputError(f"{source}.secret: the secret is empty")
    host, port = listen_address(section)
    url = section.url if section.url.endswith("/") else section.url + "/"
    site = ProvisioningSite(host, port, url, file_path(section, "certificate", base),
                            file_path(section, "key", base), ProvisioningStore(store_root),
                            secret, source)
    site.server_context()  # an unreadable certificate or key: one line now, not at bind time
    return site
