"""The fleet as data: endpoints, their services, credentials references and profiles.

An inventory file has four parts (see docs/inventory.md):

- ``tiers``: the ordered levels of the administrative tree, top first;
- ``thresholds``: the figures at which a room becomes degraded, fleet-wide;
- ``profiles``: named sets of checks, each check required or advisory, with the checks'
  settings and threshold overrides;
- ``defaults`` and ``groups``: partial endpoint data that endpoints inherit;
- ``endpoints``: the conference rooms;
- ``provisioning`` (optional): vcfleet's auto-provisioning server, for devices that fetch
  their configuration file (Yealink).

Every model forbids unknown keys.  Defaults live in the models.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from inventory.errors import N_, Message

SLUG = r"^[a-z0-9][a-z0-9-]*$"
SECRET_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+|keyring:[^/\s]+/\S+|agent)$")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
CANONICAL_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
HOSTNAME = re.compile(r"^(?=.{1,253}$)([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*"
                      r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

VENDORS = ("cisco_ce", "poly", "yealink")
"""Vendors vcfleet knows: Cisco RoomOS/CE (xAPI over SSH), Poly (SSH API), Yealink (no SSH API)."""

CheckKinds = Mapping[str, Callable[[], type[Any]]]
"""The check kinds a profile may name, each with a way to get its settings type.  The
application passes them to the loader (``load_inventory(..., kinds=...)``; vcfleet's table
is ``vcfleet.checks``), so that this package never learns them by heart.  Without them a
check name is only checked to be a slug and ``settings:`` only to be mappings."""

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
    raise ValueError(Message.of(N_("control or bidi character U+{code} at position {position}: "
                                   "remove it (it would act on the terminal that shows this "
                                   "text)"), code=f"{code:04X}", position=found.start() + 1))


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


def _known_check(value: str, info: ValidationInfo) -> str:
    kinds = (info.context or {}).get("kinds")
    if kinds is not None and value not in kinds:
        raise ValueError(Message.of(N_("unknown check {value} (choose from {kinds})"),
                                    value=repr(value), kinds=", ".join(kinds)))
    return value


CheckName = Annotated[str, Field(pattern=SLUG, max_length=64), AfterValidator(_known_check)]
"""A check kind's name: one of the kinds the loader was given (see ``CheckKinds``)."""

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Ratio = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]
Mos = Annotated[float, Field(ge=1, le=5, allow_inf_nan=False)]


class Thresholds(Strict):
    """Figures at which a room becomes degraded (defaults from ITU-T G.114, testRTC, Webex).

    Set fleet-wide by the inventory's ``thresholds:``, per profile by its ``thresholds:``
    and per sweep by ``vcfleet sweep --threshold KEY=VALUE``, each winning key by key
    over the one before (``Inventory.thresholds_for``)."""

    rtt_ms: Positive = 250.0
    """Round-trip time (SIP OPTIONS, ICMP, media) at or above which a room is degraded."""
    jitter_ms: Positive = 30.0
    """Jitter, either direction."""
    loss_ratio: Ratio = 0.03
    """Packet loss, either direction (0.03 = 3 %)."""
    mos: Mos = 3.6
    """Estimated MOS below which a room is degraded."""

    def overridden(self, overrides: Mapping[str, float]) -> Thresholds:
        """These thresholds with some keys replaced, validated (ValidationError if bad)."""
        if not overrides:
            return self
        return Thresholds.model_validate({**self.model_dump(), **overrides})


class ThresholdOverrides(Strict):
    """A profile's ``thresholds:``: only the keys it sets replace the fleet's."""

    rtt_ms: Positive | None = None
    jitter_ms: Positive | None = None
    loss_ratio: Ratio | None = None
    mos: Mos | None = None

    def values(self) -> dict[str, float]:
        """The keys this profile sets."""
        return {k: v for k, v in self.model_dump().items() if v is not None}


class Profile(Strict):
    """A named set of checks: required ones make the room down when they fail,
    advisory ones only make it degraded."""

    checks: list[CheckName]
    advisory: list[CheckName] = []
    settings: dict[CheckName, dict[str, Any]] = {}
    """Per check kind, the probe settings this profile changes (``{sip: {retries: 3}}``);
    the loader validates them against the kind's settings type."""
    thresholds: ThresholdOverrides = ThresholdOverrides()
    """Threshold keys that differ for rooms of this profile."""

    @model_validator(mode="after")
    def _advisory_subset(self) -> Profile:
        extra = [c for c in self.advisory if c not in self.checks]
        if extra:
            raise ValueError(Message.of(N_("advisory checks {extra} are not in checks"),
                                        extra=extra))
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
        raise ValueError(Message.of(N_("invalid address {value}: expected an IP address or a "
                                       "host name"), value=repr(value)))

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


PEM_TEXT = "-----BEGIN"


def _listen_valid(value: str) -> str:
    host, sep, port = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError(Message.of(N_("expected HOST:PORT with a port 1-65535 "
                                       "(127.0.0.1:8446), got {value}"), value=repr(value)))
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not HOSTNAME.match(host):
            raise ValueError(Message.of(N_("invalid host {host} in {value}"),
                                        host=repr(host), value=repr(value))) from None
    return value


def _url_valid(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(Message.of(N_("expected an https:// URL (devices check the server's "
                                       "certificate), got {value}"), value=repr(value)))
    if parts.query or parts.fragment or not parts.path.endswith("/"):
        raise ValueError(Message.of(N_("must end with '/' and have no query (devices append "
                                       "their file names), got {value}"), value=repr(value)))
    return value


def _path_not_pem(value: str) -> str:
    if PEM_TEXT in value:
        raise ValueError(Message.of(N_("expected the path of a PEM file, not its content")))
    if not value.strip():
        raise ValueError(Message.of(N_("must not be empty")))
    return value


class Provisioning(Strict):
    """vcfleet's auto-provisioning server: where it listens, the URL devices fetch their
    configuration file from (DHCP option 66), its certificate and the secret that each
    device's fetch password derives from (``inventory.provisioning.device_password``)."""

    listen: Annotated[Text, AfterValidator(_listen_valid)]
    """``HOST:PORT`` the server binds."""
    url: Annotated[Text, AfterValidator(_url_valid)]
    """``https://HOST:PORT/PATH/`` devices fetch ``y000000000000.cfg`` and ``<mac>.cfg`` under."""
    certificate: Annotated[Text, AfterValidator(_path_not_pem)]
    """PEM certificate file, relative to the inventory file; devices trust it."""
    key: Annotated[Text, AfterValidator(_path_not_pem)]
    """PEM private key file, relative to the inventory file (a path, never the key)."""
    secret: Text
    """Credential reference (``env:``, ``file:``, ``keyring:``; not ``agent``)."""

    @field_validator("secret")
    @classmethod
    def _secret_is_reference(cls, value: str) -> str:
        if value == "agent":
            raise ValueError(Message.of(N_("the SSH agent holds no provisioning secret: use "
                                           "env:VAR, file:PATH or keyring:SERVICE/USER")))
        if not SECRET_REF.match(value):
            raise ValueError(Message.of(N_("plaintext secret is not allowed: use env:VAR, "
                                           "file:PATH or keyring:SERVICE/USER")))
        return value


ENDPOINT_FIELDS = tuple(Endpoint.model_fields)
INHERITABLE_FIELDS = tuple(f for f in ENDPOINT_FIELDS if f not in ("id", "name"))


def _check_secret_ref(value: str | None) -> str | None:
    if value is None or SECRET_REF.match(value):
        return value
    raise ValueError(Message.of(N_(
        "plaintext secret is not allowed: use env:VAR, file:PATH, keyring:SERVICE/USER or agent"
    )))
