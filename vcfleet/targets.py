"""Where each check of an endpoint points: the bridge from the inventory to ``probes``.

Probes know nothing of the inventory; each function here turns an endpoint into the
``Target`` of one check kind (the table of kinds, ``vcfleet.checks``, names which
function builds which kind's target).  A check the endpoint cannot have (no such
service, a ``dns`` check on a literal address) gives None and is not run.  A target that
cannot be built (an unresolvable secret) gives a ``ProbeResult.cannot_check`` instead:
the room is unknown, not down, since the fault is on the prober's side.
"""

from __future__ import annotations

from collections.abc import Callable

from inventory import Endpoint, Inventory
from inventory.secrets import SecretUnavailable, resolve_secret
from probes import ProbeResult, Target

TargetBuilder = Callable[[Endpoint, Inventory], Target | ProbeResult | None]
"""How a kind's target is built from an endpoint (see the module docstring)."""


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


def address_target(endpoint: Endpoint, inventory: Inventory) -> Target:
    """The endpoint's address itself (icmp)."""
    return Target(endpoint.address, name=endpoint.id)


def name_target(endpoint: Endpoint, inventory: Inventory) -> Target | None:
    """The endpoint's DNS name; None for a literal address, which has nothing to resolve."""
    return Target(endpoint.address, name=endpoint.id) if endpoint.is_name else None


def management_port_target(endpoint: Endpoint, inventory: Inventory) -> Target | None:
    """The SSH port, else the HTTPS port (tcp connect)."""
    svc = endpoint.services
    port = svc.ssh.port if svc.ssh else svc.https.port if svc.https else None
    return Target(endpoint.address, port, name=endpoint.id) if port else None


def service_port(service: str) -> TargetBuilder:
    """A builder for "the port of this service" (``ssh``, ``https``...): None when the
    endpoint does not offer the service.  Most new kinds need no builder of their own."""

    def build(endpoint: Endpoint, inventory: Inventory) -> Target | None:
        svc = getattr(endpoint.services, service)
        return None if svc is None else Target(endpoint.address, svc.port, name=endpoint.id)

    return build


def sip_target(endpoint: Endpoint, inventory: Inventory) -> Target | None:
    """The SIP port and transport, if the endpoint offers SIP."""
    sip = endpoint.services.sip
    if sip is None:
        return None
    return Target(endpoint.address, sip.port, name=endpoint.id, transport=sip.transport)


def https_target(endpoint: Endpoint, inventory: Inventory) -> Target | None:
    """The management page's URL, if the endpoint offers HTTPS."""
    https = endpoint.services.https
    if https is None:
        return None
    url = f"https://{_host(endpoint.address)}:{https.port}{https.path}"
    return Target(endpoint.address, https.port, name=endpoint.id, url=url,
                  verify_tls=https.verify_tls)


def webrtc_target(endpoint: Endpoint, inventory: Inventory) -> Target | ProbeResult | None:
    """The echo responder's URL and resolved token, if the endpoint offers WebRTC."""
    webrtc = endpoint.services.webrtc
    if webrtc is None:
        return None
    token = None
    if webrtc.token:
        try:
            token = resolve_secret(webrtc.token, inventory.base_dir())
        except SecretUnavailable as exc:
            return ProbeResult.cannot_check(exc.reason)
    return Target(endpoint.address, webrtc.port, name=endpoint.id, url=endpoint.webrtc_url(),
                  token=token)


DEVICE_VENDORS = ("cisco_ce", "poly", "yealink")
"""Vendors whose management API the device check reads: SSH for Cisco and Poly, HTTPS
for Yealink (no SSH API)."""


def device_target(endpoint: Endpoint, inventory: Inventory) -> Target | ProbeResult | None:
    """The codec's management API, its vendor and login with the resolved secret (None:
    the SSH agent): the SSH service for Cisco and Poly, the HTTPS one (its port, its
    ``verify_tls``) for Yealink; None when the endpoint has no such service or its vendor
    no API the check reads.  The trusted host keys are the sweep's
    (``probes.device.Settings``)."""
    if endpoint.vendor not in DEVICE_VENDORS:
        return None
    https = endpoint.services.https
    ssh = endpoint.services.ssh
    if (https if endpoint.vendor == "yealink" else ssh) is None:
        return None
    from probes.device import DeviceTarget  # asyncssh: imported only when a room has one

    try:
        password = resolve_secret(endpoint.credentials.secret, inventory.base_dir())
    except SecretUnavailable as exc:
        return ProbeResult.cannot_check(exc.reason)
    if endpoint.vendor == "yealink":
        assert https is not None
        return DeviceTarget(endpoint.address, https.port, name=endpoint.id,
                            url=f"https://{_host(endpoint.address)}:{https.port}",
                            verify_tls=https.verify_tls, vendor=endpoint.vendor,
                            username=endpoint.credentials.username, password=password)
    assert ssh is not None
    return DeviceTarget(endpoint.address, ssh.port, name=endpoint.id, vendor=endpoint.vendor,
                        username=endpoint.credentials.username, password=password)
