"""Where each check of an endpoint points: the bridge from the inventory to ``probes``.

Probes know nothing of the inventory; this module turns an endpoint and a check
kind into a ``Target``.  A check the endpoint cannot have (no such service, a
``dns`` check on a literal address) gives None and is not run.  A target that
cannot be built (an unresolvable secret) gives a ``ProbeResult.cannot_check`` instead:
the room is unknown, not down, since the fault is on the prober's side.
"""

from __future__ import annotations

from typing import Any

from inventory import Endpoint, Inventory
from inventory.secrets import SecretUnavailable, resolve_secret
from probes import ProbeResult, Target


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def target_for(inventory: Inventory, endpoint: Endpoint, kind: str) -> Target | ProbeResult | None:
    """The target of one check of one endpoint (see the module docstring)."""
    svc = endpoint.services
    base: dict[str, Any] = {"address": endpoint.address, "name": endpoint.id}
    if kind == "icmp":
        return Target(**base)
    if kind == "dns":
        return Target(**base) if endpoint.is_name else None
    if kind == "tcp":
        port = svc.ssh.port if svc.ssh else svc.https.port if svc.https else None
        return Target(**base, port=port) if port else None
    if kind == "sip":
        return Target(**base, port=svc.sip.port, transport=svc.sip.transport) if svc.sip else None
    if kind == "https":
        if svc.https is None:
            return None
        url = f"https://{_host(endpoint.address)}:{svc.https.port}{svc.https.path}"
        return Target(**base, port=svc.https.port, url=url, verify_tls=svc.https.verify_tls)
    if kind == "webrtc":
        if svc.webrtc is None:
            return None
        token = None
        if svc.webrtc.token:
            try:
                token = resolve_secret(svc.webrtc.token, inventory.base_dir())
            except SecretUnavailable as exc:
                return ProbeResult.cannot_check(exc.reason)
        return Target(**base, port=svc.webrtc.port, url=endpoint.webrtc_url(), token=token)
    raise ValueError(f"unknown check kind {kind!r}")
