"""Reading a Cisco RoomOS/CE codec's state from its xAPI terminal output.

The probe sends ``COMMANDS`` in one session and hands every ``*s`` line of the
replies to ``parse``.  Lines are ``*s PATH: VALUE`` (strings quoted, enums bare);
an ``ERROR`` reply (a path this product lacks) just contributes no lines.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

COMMANDS = (
    "xStatus SIP",
    "xStatus Call",
    "xStatus Standby",
    "xStatus Conference DoNotDisturb",
    "xStatus Audio",
    "xStatus Video Input Connector",
    "xStatus Video Output Connector",
    "xStatus Peripherals ConnectedDevice",
    "xStatus Diagnostics",
    "xStatus SystemUnit",
)
REGISTRATION = {"registered": "registered", "failed": "failed", "registering": "failed",
                "inactive": "inactive", "deregister": "inactive"}
"""CE's ``SIP Registration 1 Status`` -> the sweep JSON's state."""
IDLE_CALL = ("idle", "disconnecting")


def status_lines(text: str) -> dict[str, str]:
    """``*s`` lines as path -> value (quotes removed), in order."""
    out: dict[str, str] = {}
    for raw in text.replace("\r\n", "\n").split("\n"):
        line = raw.strip()
        if not line.startswith("*s ") or ":" not in line:
            continue
        path, _, value = line[3:].partition(":")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        out[path.strip()] = value
    return out


def _instances(leaves: dict[str, str], prefix: str) -> dict[str, dict[str, str]]:
    """Items of a list (``Call 3 Status`` -> {"3": {"Status": ...}})."""
    items: dict[str, dict[str, str]] = {}
    head = prefix.split()
    for path, value in leaves.items():
        words = path.split()
        if words[:len(head)] == head and len(words) > len(head) + 1 and words[len(head)].isdigit():
            items.setdefault(words[len(head)], {})[" ".join(words[len(head) + 1:])] = value
    return items


def parse(text: str) -> tuple[dict[str, Any], float | None, str]:
    """(the sweep JSON's device entries, uptime in seconds or None, the far end of a call)."""
    s = status_lines(text)
    calls = [c for c in _instances(s, "Call").values()
             if c.get("Status", "").lower() not in IDLE_CALL]
    remote = ""
    if calls:
        remote = calls[0].get("DisplayName") or calls[0].get("RemoteNumber", "")
    state = REGISTRATION.get(s.get("SIP Registration 1 Status", "").lower(), "inactive")
    details: dict[str, Any] = {
        "registration": {"state": state, "registrar": s.get("SIP Proxy 1 Address", ""),
                         "reason": s.get("SIP Registration 1 Reason", "")},
        "calls": len(calls),
        "standby": s.get("Standby State", "Off") not in ("Off", "Halfwake"),
        "dnd": s.get("Conference DoNotDisturb", "Inactive") == "Active",
        "peripherals": list(_peripherals(s)),
        "diagnostics": [{"level": m.get("Level", "Info").lower(),
                         "text": m.get("Description", "")}
                        for _, m in sorted(_instances(s, "Diagnostics Message").items(),
                                           key=lambda kv: int(kv[0]))],
        "software": s.get("SystemUnit Software Version", ""),
    }
    uptime = s.get("SystemUnit Uptime", "")
    return details, float(uptime) if uptime.isdigit() else None, remote


def _peripherals(s: dict[str, str]) -> Iterable[dict[str, Any]]:
    for n, c in sorted(_instances(s, "Video Input Connector").items(), key=lambda kv: int(kv[0])):
        if c.get("Type", "").lower() == "camera":
            yield {"kind": "camera", "name": f"Camera (input {n})",
                   "connected": c.get("Connected") == "True"}
    muted = s.get("Audio Microphones Mute") == "On"
    for n, m in sorted(_instances(s, "Audio Input Connectors Microphone").items(),
                       key=lambda kv: int(kv[0])):
        yield {"kind": "microphone", "name": f"Microphone {n}",
               "connected": m.get("ConnectionStatus") == "Connected", "muted": muted}
    for n, c in sorted(_instances(s, "Video Output Connector").items(),
                       key=lambda kv: int(kv[0])):
        name = c.get("ConnectedDevice Name") or f"Display (output {n})"
        yield {"kind": "display", "name": name, "connected": c.get("Connected") == "True"}
    for _, d in sorted(_instances(s, "Peripherals ConnectedDevice").items(),
                       key=lambda kv: int(kv[0])):
        if d.get("Type") == "TouchPanel":
            yield {"kind": "touch_panel", "name": d.get("Name", "Touch panel"),
                   "connected": d.get("Status") == "Connected"}
