"""The configuration a simulated codec holds, per vendor, and how values are checked.

Every setting of ``inventory.vendors`` exists under its native name, plus a few
realistic extras, so that push drivers meet the same names on the simulator as
on a real codec.  A ``Device`` is one endpoint's live state: its configuration
(kept across reboots for the simulator's lifetime), its boot time and the
settings a fault makes it refuse.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from inventory import Endpoint
from inventory.vendors import BOOL_WORDS, SETTINGS
from simulator.codec_state import CodecState


@dataclass(frozen=True)
class Spec:
    """What values one native setting accepts."""

    kind: str = "str"
    """``str``, ``enum`` or ``int``."""
    choices: tuple[str, ...] = ()
    low: int = 0
    high: int = 0
    max_len: int = 255

    def check(self, value: str) -> str | None:
        """The value in canonical spelling, or None when the device refuses it."""
        if self.kind == "enum":
            for choice in self.choices:
                if choice.lower() == value.lower():
                    return choice
            return None
        if self.kind == "int":
            try:
                number = int(value)
            except ValueError:
                return None
            return str(number) if self.low <= number <= self.high else None
        return value if len(value) <= self.max_len else None


def _enum(*choices: str) -> Spec:
    return Spec("enum", choices)


def _int(low: int, high: int) -> Spec:
    return Spec("int", low=low, high=high)


STR = Spec()

# Extras beyond inventory.vendors: (native name, spec, default).
CISCO_EXTRAS: tuple[tuple[str, Spec, str], ...] = (
    ("Audio DefaultVolume", _int(0, 100), "50"),
    ("Conference AutoAnswer Delay", _int(0, 50), "0"),
    ("Conference DefaultCall Rate", _int(64, 6000), "6000"),
    ("NetworkServices NTP Mode", _enum("Auto", "Manual", "Off"), "Manual"),
    ("NetworkServices SSH Mode", _enum("On", "Off"), "On"),
    ("SIP DefaultTransport", _enum("Auto", "TCP", "UDP", "Tls"), "Auto"),
    ("SIP ListenPort", _enum("On", "Off"), "On"),
    ("Time Zone", STR, "Asia/Ho_Chi_Minh"),
    ("UserInterface Language", _enum("English", "Vietnamese", "French"), "English"),
)
POLY_EXTRAS: tuple[tuple[str, Spec, str], ...] = (
    ("maxcallrate", _int(64, 6144), "4096"),
    ("ntpmode", _enum("auto", "manual", "off"), "manual"),
    ("sipenable", _enum("true", "false"), "true"),
    ("siptransport", _enum("auto", "tcp", "udp", "tls"), "auto"),
    ("timezone", STR, "Asia/Ho_Chi_Minh"),
)
YEALINK_EXTRAS: tuple[tuple[str, Spec, str], ...] = (
    # configuration-file keys (docs/simulator.md, Yealink); the staged values come from
    # simulator/yealink.py ``stage``
    ("account.1.auth_name", STR, ""),
    ("account.1.enable", _enum("1", "0"), "1"),
    ("account.1.label", STR, ""),
    ("account.1.password", STR, ""),
    ("account.1.sip_server.1.expires", _int(30, 86400), "3600"),
    ("account.1.sip_server.1.port", _int(1, 65535), "5060"),
    ("account.1.sip_server.1.transport_type", _int(0, 3), "0"),
    ("account.1.sip_server.2.address", STR, ""),
    ("account.1.user_name", STR, ""),
    ("local_time.ntp_server2", STR, ""),
    ("local_time.time_zone", STR, "+7"),
    ("sip.notify_reboot_enable", _int(0, 2), "1"),
    ("static.auto_provision.power_on", _enum("1", "0"), "1"),
    ("static.auto_provision.repeat.enable", _enum("1", "0"), "0"),
    ("static.auto_provision.repeat.minutes", _int(1, 43200), "1440"),
    ("static.auto_provision.server.password", STR, ""),
    ("static.auto_provision.server.url", STR, ""),
    ("static.auto_provision.server.username", STR, ""),
    ("static.security.trust_certificates", _enum("1", "0"), "1"),
)
EXTRAS = {"cisco_ce": CISCO_EXTRAS, "poly": POLY_EXTRAS, "yealink": YEALINK_EXTRAS}

SIP_DOMAIN = "thanhhoa.gov.vn"
DEFAULTS: dict[str, str] = {
    "sip.proxy": f"sip.{SIP_DOMAIN}",
    "ntp.server": f"ntp.{SIP_DOMAIN}",
    "conference.auto_answer": "false",
    "audio.mute_on_join": "false",
    "video.selfview": "true",
}


def specs(vendor: str) -> dict[str, Spec]:
    """Native setting name -> spec, for one vendor (empty for vendors without an API)."""
    out: dict[str, Spec] = {}
    for s in SETTINGS.values():
        native = s.native.get(vendor)
        if native:
            out[native] = _enum(*BOOL_WORDS[vendor]) if s.kind == "bool" else STR
    for name, spec, _ in EXTRAS.get(vendor, ()):
        out[name] = spec
    return out


def initial_config(endpoint: Endpoint) -> dict[str, str]:
    """A fresh codec's configuration for an endpoint, native names in sorted order."""
    vendor = endpoint.vendor
    values: dict[str, str] = {}
    for s in SETTINGS.values():
        native = s.native.get(vendor)
        if not native:
            continue
        if s.kind == "bool":
            on, off = BOOL_WORDS[vendor]
            values[native] = on if DEFAULTS.get(s.key) == "true" else off
        elif s.key in ("system.name", "sip.display_name"):
            values[native] = endpoint.name
        elif s.key == "sip.uri":
            values[native] = f"{endpoint.id}@{SIP_DOMAIN}"
        else:
            values[native] = DEFAULTS.get(s.key, "")
    for name, _, default in EXTRAS.get(vendor, ()):
        values[name] = default
    return dict(sorted(values.items()))


def native_names(vendor: str, keys: list[str]) -> set[str]:
    """Native names of neutral keys, for one vendor (keys it lacks are skipped); a key
    that is not neutral is taken as a native name of its own (Yealink's ``account.1.label``)."""
    return {SETTINGS[k].native[vendor] if k in SETTINGS else k for k in keys
            if k not in SETTINGS or vendor in SETTINGS[k].native}


@dataclass
class Device:
    """One simulated codec's live state."""

    endpoint: Endpoint
    config: dict[str, str] = field(default_factory=dict)
    booted_at: float = field(default_factory=time.monotonic)
    rejected: set[str] = field(default_factory=set)
    """Native names of settings the device refuses to change (fault ``reject_settings``)."""
    boots: int = 0
    state: CodecState = field(default_factory=CodecState)
    """Registration, calls, standby, peripherals, diagnostics (simulator/codec_state.py)."""
    on_change: Callable[[str], None] | None = None
    """Called with the native name of each setting that changed value."""

    def __post_init__(self) -> None:
        if not self.config:
            self.config = initial_config(self.endpoint)
        self.specs = specs(self.endpoint.vendor)

    @property
    def uptime_s(self) -> int:
        """Whole seconds since the last (simulated) boot."""
        return int(time.monotonic() - self.booted_at)

    def set(self, name: str, value: str) -> str:
        """Change a setting; returns the stored value.

        Raises KeyError for an unknown name, PermissionError for a refused
        setting and ValueError for a value the setting does not accept.
        """
        spec = self.specs[name]
        if name in self.rejected:
            raise PermissionError(name)
        canonical = spec.check(value)
        if canonical is None:
            raise ValueError(value)
        changed = self.config.get(name) != canonical
        self.config[name] = canonical
        if changed and self.on_change is not None:
            self.on_change(name)
        return canonical

    def reboot(self) -> None:
        """Simulate a reboot: the configuration persists, the uptime restarts."""
        self.booted_at = time.monotonic()
        self.boots += 1
