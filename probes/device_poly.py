"""Reading a Poly codec's state from its SSH API (Group Series / G7500 command set).

The probe sends ``COMMANDS`` in one session; ``parse`` reads the replies as one text.
Poly documents no query for standby or uptime: those are reported as None.
"""

from __future__ import annotations

from typing import Any

COMMANDS = (
    "status",
    "callinfo all",
    "autoanswer get",
    "mute near get",
    "systemsetting get sipproxyserver",
    "version",
)


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def parse(text: str) -> tuple[dict[str, Any], str]:
    """(the sweep JSON's device entries, the far end of a call)."""
    flags: dict[str, bool] = {}
    calls: list[list[str]] = []
    dnd = muted = False
    registrar = software = ""
    for raw in text.replace("\r", "").split("\n"):
        line = raw.strip().removeprefix("-> ").strip()
        words = line.split()
        if len(words) == 2 and words[1] in ("online", "offline"):
            flags[words[0]] = words[1] == "online"
        elif line.startswith("callinfo:"):
            calls.append(line.split(":"))
        elif words[:1] == ["autoanswer"] and len(words) == 2:
            dnd = words[1] == "donotdisturb"
        elif words[:2] == ["mute", "near"] and len(words) == 3:
            muted = words[2] == "on"
        elif words[:2] == ["systemsetting", "sipproxyserver"]:
            registrar = _unquote(line.split(None, 2)[2] if len(words) > 2 else "")
        elif words[:1] == ["version"] and len(words) >= 2:
            software = _unquote(line.split(None, 1)[1])
    registered = flags.get("sipserver", False)
    state = "registered" if registered else "failed" if registrar else "inactive"
    remote = ""
    if calls:
        remote = calls[0][2] if len(calls[0]) > 2 and calls[0][2] else (
            calls[0][3] if len(calls[0]) > 3 else "")
    peripherals: list[dict[str, Any]] = []
    if "camera" in flags:
        peripherals.append({"kind": "camera", "name": "Camera",
                            "connected": flags["camera"]})
    if "microphones" in flags:
        peripherals.append({"kind": "microphone", "name": "Microphones",
                            "connected": flags["microphones"], "muted": muted})
    details: dict[str, Any] = {
        "registration": {"state": state, "registrar": registrar,
                         "reason": "" if registered or not registrar else "sipserver offline"},
        "calls": len(calls),
        "standby": None,
        "dnd": dnd,
        "peripherals": peripherals,
        "diagnostics": [],
        "software": software,
    }
    return details, remote
