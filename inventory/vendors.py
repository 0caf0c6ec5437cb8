"""Vendor-neutral setting keys and what each vendor calls them.

Push templates use the neutral keys; the push drivers and the simulator's
device models both read this table, so that a key means the same thing on both
sides.  A vendor that lacks a key cannot have it set (a template using it is
rejected before any device is touched).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["str", "bool"]


@dataclass(frozen=True)
class Setting:
    """One vendor-neutral setting."""

    key: str
    kind: Kind
    help: str
    native: dict[str, str]
    """Native name per vendor: the xConfiguration path for cisco_ce, the API setting for poly,
    the configuration-file key for yealink (docs/simulator.md, Yealink, has the sources)."""


SETTINGS: dict[str, Setting] = {s.key: s for s in [
    Setting("system.name", "str", "the room's system name",
            {"cisco_ce": "SystemUnit Name", "poly": "systemname"}),
    Setting("sip.proxy", "str", "SIP proxy (registrar) address",
            {"cisco_ce": "SIP Proxy 1 Address", "poly": "sipproxyserver",
             "yealink": "account.1.sip_server.1.address"}),
    Setting("sip.display_name", "str", "name shown to the far end",
            {"cisco_ce": "SIP DisplayName", "poly": "sipdisplayname",
             "yealink": "account.1.display_name"}),
    Setting("sip.uri", "str", "the room's SIP URI",
            {"cisco_ce": "SIP URI", "poly": "sipuri"}),
    Setting("ntp.server", "str", "NTP server",
            {"cisco_ce": "NetworkServices NTP Server 1 Address", "poly": "ntpserver",
             "yealink": "local_time.ntp_server1"}),
    Setting("conference.auto_answer", "bool", "answer incoming calls automatically",
            {"cisco_ce": "Conference AutoAnswer Mode", "poly": "autoanswer",
             "yealink": "account.1.auto_answer"}),
    Setting("audio.mute_on_join", "bool", "join calls with microphones muted",
            {"cisco_ce": "Conference AutoAnswer Mute", "poly": "muteautoanswer",
             "yealink": "account.1.auto_answer.mute"}),
    Setting("video.selfview", "bool", "show the room's own camera on screen",
            {"cisco_ce": "Video Selfview", "poly": "selfview"}),
    Setting("audio.default_volume", "str", "loudspeaker volume at start-up (0-100)",
            {"cisco_ce": "Audio DefaultVolume"}),
]}

BOOL_WORDS: dict[str, tuple[str, str]] = {"cisco_ce": ("On", "Off"), "poly": ("yes", "no"),
                                          "yealink": ("1", "0")}
"""How each vendor spells true and false."""


def native_value(vendor: str, setting: Setting, value: str | bool) -> str:
    """A neutral value in the vendor's spelling."""
    if setting.kind == "bool":
        on, off = BOOL_WORDS[vendor]
        truthy = value if isinstance(value, bool) else str(value).lower() in (
            "true", "on", "yes", "1")
        return on if truthy else off
    return str(value)


def neutral_value(vendor: str, setting: Setting, native: str) -> str | bool:
    """A vendor's value in neutral form (booleans as bool)."""
    if setting.kind == "bool":
        return native.strip().lower() == BOOL_WORDS[vendor][0].lower()
    return native


def settable(vendor: str) -> list[str]:
    """Neutral keys a vendor supports."""
    return [k for k, s in SETTINGS.items() if vendor in s.native]
