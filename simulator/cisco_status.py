"""The ``xStatus`` tree of a simulated Cisco codec, as CE9/RoomOS prints it (docs/simulator.md).

Leaves are ``(path, value, quoted)``; strings are quoted, enums and integers bare,
list instances numbered inline (``Call 3 Status``), as in ``*s Call 3 Status: Connected``.
"""

from __future__ import annotations

import hashlib

from simulator.codec_state import CodecState
from simulator.devices import Device

SOFTWARE = "ce9.15.3.17"
SOFTWARE_NAME = "s53200"
RELEASE_DATE = "2023-09-20"
TOUCH_PANEL_ID = 1001
"""Peripherals ConnectedDevice instance of the touch panel (ids are arbitrary on CE)."""
MICROPHONES = 2
LIST_ROOTS = (("Call",), ("Diagnostics",), ("Diagnostics", "Message"), ("Peripherals",),
              ("Peripherals", "ConnectedDevice"))
"""Valid paths whose lists may be empty: ``xStatus Call`` when idle is ``** end`` / ``OK``."""
LEVELS = {"info": "Info", "warning": "Warning", "error": "Error", "critical": "Critical"}

Row = tuple[str, str, bool]


def software(state: CodecState) -> str:
    """The software version the codec reports."""
    return state.software or SOFTWARE


def display_name(version: str) -> str:
    """``ce9.15.3.17`` -> ``ce 9.15.3``, CE's DisplayName style [I]."""
    digits = version.removeprefix("ce")
    return "ce " + ".".join(digits.split(".")[:3])


def status_rows(d: Device) -> list[Row]:
    """Every status leaf of the device, in CE's order (alphabetical by path)."""
    s = d.state
    rows: list[Row] = []
    rows += _audio(s)
    rows += _calls(s)
    rows.append(("Conference DoNotDisturb", "Active" if s.dnd else "Inactive", False))
    for i, (level, text) in enumerate(s.diagnostics, start=1):
        rows += [(f"Diagnostics Message {i} Description", text, True),
                 (f"Diagnostics Message {i} Level", LEVELS.get(level, "Info"), False),
                 (f"Diagnostics Message {i} References", "", True),
                 (f"Diagnostics Message {i} Type", "Other", False)]
    rows.append(("Network 1 IPv4 Address", d.endpoint.address, True))
    rows += _touch_panel(d)
    rows += _sip(d)
    rows.append(("Standby State", s.standby, False))
    rows += _system_unit(d)
    rows += _video(d)
    return rows


def _audio(s: CodecState) -> list[Row]:
    rows: list[Row] = []
    for n in range(1, MICROPHONES + 1):
        rows.append((f"Audio Input Connectors Microphone {n} ConnectionStatus",
                     "Connected" if s.mics_connected else "NotConnected", False))
    rows.append(("Audio Microphones Mute", "On" if s.mic_mute else "Off", False))
    return rows


def _calls(s: CodecState) -> list[Row]:
    rows: list[Row] = []
    for c in s.calls.values():
        p = f"Call {c.id}"
        rows += [(f"{p} AnswerState", "Answered" if c.direction == "Incoming" else
                  "Unanswered" if c.status != "Connected" else "Answered", False),
                 (f"{p} CallType", "Video", False),
                 (f"{p} CallbackNumber", f"sip:{c.remote}", True),
                 (f"{p} DeviceType", "MCU" if c.remote.startswith("mcu@") else "Endpoint", False),
                 (f"{p} Direction", c.direction, False),
                 (f"{p} DisplayName", c.display_name, True),
                 (f"{p} Duration", str(c.duration_s), False),
                 (f"{p} Encryption Type", "Aes-128", True),
                 (f"{p} PlacedOnHold", "False", False),
                 (f"{p} Protocol", "SIP", False),
                 (f"{p} ReceiveCallRate", str(c.rate), False),
                 (f"{p} RemoteNumber", c.remote, True),
                 (f"{p} Status", c.status, False),
                 (f"{p} TransmitCallRate", str(c.rate), False)]
    return rows


def _touch_panel(d: Device) -> list[Row]:
    p = f"Peripherals ConnectedDevice {TOUCH_PANEL_ID}"
    serial = hashlib.sha256(f"touch|{d.endpoint.id}".encode()).hexdigest()
    mac = ":".join(serial[i:i + 2] for i in range(0, 12, 2))
    return [(f"{p} HardwareInfo", "101701-3 [06]", True),
            (f"{p} ID", mac, True),
            (f"{p} Name", "Cisco TelePresence Touch", True),
            (f"{p} SoftwareInfo", software(d.state), True),
            (f"{p} Status", "Connected" if d.state.touch_connected else "ResponseTimedOut",
             False),
            (f"{p} Type", "TouchPanel", False),
            (f"{p} UpgradeStatus", "None", False)]


def _sip(d: Device) -> list[Row]:
    r = d.state.registration
    proxy = d.config.get("SIP Proxy 1 Address", "")
    return [("SIP Proxy 1 Address", proxy, True),
            ("SIP Proxy 1 Status", r.proxy_status, False),
            ("SIP Registration 1 Authentication", "Off", False),
            ("SIP Registration 1 Reason", r.reason, True),
            ("SIP Registration 1 Status", r.status, False),
            ("SIP Registration 1 URI", d.config.get("SIP URI", ""), True)]


def _system_unit(d: Device) -> list[Row]:
    s = d.state
    serial = "FOC" + hashlib.sha256(d.endpoint.id.encode()).hexdigest()[:8].upper()
    active = sum(1 for c in s.calls.values() if c.status == "Connected")
    return [("SystemUnit Hardware Module SerialNumber", serial, True),
            ("SystemUnit ProductId", f"Cisco {d.endpoint.model or 'Room Kit'}", True),
            ("SystemUnit ProductPlatform", d.endpoint.model or "Room Kit", True),
            ("SystemUnit ProductType", "Cisco Codec", True),
            ("SystemUnit Software DisplayName", display_name(software(s)), True),
            ("SystemUnit Software Name", SOFTWARE_NAME, True),
            ("SystemUnit Software ReleaseDate", RELEASE_DATE, True),
            ("SystemUnit Software Version", software(s), True),
            ("SystemUnit State NumberOfActiveCalls", str(active), False),
            ("SystemUnit State NumberOfInProgressCalls", str(len(s.calls) - active), False),
            ("SystemUnit State NumberOfSuspendedCalls", "0", False),
            ("SystemUnit Uptime", str(d.uptime_s), False)]


def _video(d: Device) -> list[Row]:
    s = d.state
    cam = "True" if s.camera_connected else "False"
    screen = "True" if s.display_connected else "False"
    return [("Video Input Connector 1 Connected", cam, False),
            ("Video Input Connector 1 SignalState", "OK" if s.camera_connected else "Unknown",
             False),
            ("Video Input Connector 1 SourceId", "1", False),
            ("Video Input Connector 1 Type", "Camera", False),
            ("Video Input Connector 2 Connected", "False", False),
            ("Video Input Connector 2 SignalState", "Unknown", False),
            ("Video Input Connector 2 SourceId", "2", False),
            ("Video Input Connector 2 Type", "HDMI", False),
            ("Video Output Connector 1 Connected", screen, False),
            ("Video Output Connector 1 ConnectedDevice Name",
             "Display" if s.display_connected else "", True),
            ("Video Output Connector 1 MonitorRole", "First", False),
            ("Video Output Connector 1 Resolution Height", "1080" if s.display_connected
             else "0", False),
            ("Video Output Connector 1 Resolution RefreshRate", "60" if s.display_connected
             else "0", False),
            ("Video Output Connector 1 Resolution Width", "1920" if s.display_connected
             else "0", False),
            ("Video Output Connector 1 Type", "HDMI", False)]
