"""The fleet as data: endpoints, their services, credentials references and profiles.

An inventory file has four parts (see docs/inventory.md):

- ``tiers``: the ordered levels of the administrative tree, top first;
- ``profiles``: named sets of checks, each check required or advisory;
- ``defaults`` and ``groups``: partial endpoint data that endpoints inherit;
- ``endpoints``: the conference rooms.

Every model forbids unknown keys.  Defaults live in the models.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

SLUG = r"^[a-z0-9][a-z0-9-]*$"
SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|keyring:[^/\s]+/\S+|agent)$")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CANONICAL_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

VENDORS = ("cisco_ce", "poly", "yealink")
"""Vendors vcfleet knows: Cisco RoomOS/CE (xAPI over SSH), Poly (SSH API), Yealink (no SSH API)."""

NET_CHECKS = ("icmp", "tcp", "sip", "https", "dns")
MEDIA_CHECKS = ("webrtc",)
CHECKS = NET_CHECKS + MEDIA_CHECKS
"""Every check kind a profile may name; ``net`` on the command line means NET_CHECKS."""

DEFAULT_TIERS = ["province", "department", "district", "commune"]

UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                         r"\u2066-\u2069]")
"""Characters no inventory text may hold: C0 controls (TAB and line ends too), DEL, C1
controls, line separators and bidi marks, overrides and isolates.  Shown on a terminal
they act (ESC starts colour and "set title" sequences) or reorder what staff read;
``vcfleet.safe_text`` escapes the same set wherever outside text is printed."""


def _text_is_safe(value: str) -> str:
    found = UNSAFE_TEXT.search(value)
    if found is None:
        return value
    code = ord(found.group())
    raise ValueError(f"control or bidi character U+{code:04X} at position {found.start() + 1}: "
                     "remove it (it would act on the terminal that shows this text)")


Text = Annotated[str, AfterValidator(_text_is_safe)]
"""A text field staff write (names, contact, model): no control or bidi character."""

Port = Annotated[int, Field(ge=1, le=65535)]
Slug = Annotated[str, Field(pattern=SLUG, max_length=64)]


class Strict(BaseModel):
    """Base of every inventory model: unknown keys are errors, instances are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SipService(Strict):
    """The endpoint's SIP side, probed with OPTIONS."""

    port: Port = 5060
    """UDP/TCP port the endpoint's SIP stack listens on."""
    transport: Literal["udp", "tcp"] = "udp"
    """Transport the probe uses for OPTIONS."""


class SshService(Strict):
    """The endpoint's SSH management API (xAPI for Cisco, the SSH API for Poly)."""

    port: Port = 22


class HttpsService(Strict):
    """The endpoint's HTTPS management page."""

    port: Port = 443
    path: Text = "/"
    verify_tls: bool = False
    """Codecs ship self-signed certificates; verify only where a site has a CA."""


class WebrtcService(Strict):
    """The site-side WebRTC echo responder (WHIP-style signalling)."""

    port: Port = 8089
    path: Text = "/whip"
    scheme: Literal["http", "https"] = "http"
    token: Text | None = None
    """Bearer token reference (env:, file:, keyring:); never the token itself."""

    @field_validator("token")
    @classmethod
    def _token_is_reference(cls, value: str | None) -> str | None:
        return _check_secret_ref(value)


class Services(Strict):
    """Which services the endpoint offers; an absent service is not offered."""

    sip: SipService | None = None
    ssh: SshService | None = None
    https: HttpsService | None = None
    webrtc: WebrtcService | None = None


class Credentials(Strict):
    """Who vcfleet logs in as, and where the secret lives (never the secret itself)."""

    username: Text = "admin"
    secret: Text = "agent"
    """``env:VAR``, ``file:PATH`` (relative to the inventory file), ``keyring:SERVICE/USER``
    or ``agent`` (the SSH agent)."""

    @field_validator("secret")
    @classmethod
    def _secret_is_reference(cls, value: str) -> str:
        checked = _check_secret_ref(value)
        assert checked is not None
        return checked


class Contact(Strict):
    """Who to phone when the room is not ready."""

    name: Text = ""
    phone: Text = ""


class Profile(Strict):
    """A named set of checks: required ones make the room down when they fail,
    advisory ones only make it degraded."""

    checks: list[Literal["icmp", "tcp", "sip", "https", "dns", "webrtc"]]
    advisory: list[Literal["icmp", "tcp", "sip", "https", "dns", "webrtc"]] = []

    @model_validator(mode="after")
    def _advisory_subset(self) -> Profile:
        extra = [c for c in self.advisory if c not in self.checks]
        if extra:
            raise ValueError(f"advisory checks {extra} are not in checks")
        return self


DEFAULT_PROFILES: dict[str, Profile] = {
    "standard": Profile(checks=["icmp", "sip", "https", "webrtc"], advisory=["icmp", "https"]),
    "network": Profile(checks=["icmp", "sip", "https"], advisory=["icmp", "https"]),
    "sip-only": Profile(checks=["sip"]),
}


class Endpoint(Strict):
    """One conference room ("điểm cầu") and how to reach it."""

    id: Slug
    """Stable slug, unique in the inventory; the key of metrics, backups and history."""
    name: Annotated[str, Field(min_length=1), AfterValidator(_text_is_safe)]
    """The unit's name as staff write it, diacritics kept."""
    tier: Slug
    parent: Slug | None = None
    """Id of the endpoint of the unit above this one; None for the root."""
    district: Slug | None = None
    """District-level unit the room belongs to (historical after 2025), for selectors."""
    address: str
    vendor: Literal["cisco_ce", "poly", "yealink"]
    model: Text = ""
    services: Services = Services()
    credentials: Credentials = Credentials()
    profile: str = "standard"
    tags: list[Annotated[str, Field(pattern=SLUG)]] = []
    contact: Contact = Contact()
    maintenance: bool = False
    """A room under maintenance is swept but never alerts."""

    @field_validator("address")
    @classmethod
    def _address_valid(cls, value: str) -> str:
        if CANONICAL_IPV4.fullmatch(value):
            return value  # already what ipaddress would return; ten times faster
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            pass
        if HOSTNAME.match(value) and not value.replace(".", "").isdigit():
            return value
        raise ValueError(f"invalid address {value!r}: expected an IP address or a host name")

    @property
    def is_name(self) -> bool:
        """True when the address is a DNS name rather than a literal IP address."""
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            return True
        return False

    def webrtc_url(self) -> str | None:
        """The responder URL derived from the address and the webrtc service, if offered."""
        svc = self.services.webrtc
        if svc is None:
            return None
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{svc.scheme}://{host}:{svc.port}{svc.path}"


ENDPOINT_FIELDS = tuple(Endpoint.model_fields)
INHERITABLE_FIELDS = tuple(f for f in ENDPOINT_FIELDS if f not in ("id", "name"))


def _check_secret_ref(value: str | None) -> str | None:
    if value is None or SECRET_REF.match(value):
        return value
    raise ValueError(
        "plaintext secret is not allowed: use env:VAR, file:PATH, keyring:SERVICE/USER or agent"
    )
