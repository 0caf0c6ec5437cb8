"""Poly's state commands as the simulator answers them (docs/simulator.md).

``status`` (``... online|offline`` lines, ``status end``), ``getcallstate``
(``cs: call[N] ...``), ``callinfo all`` (``callinfo begin`` ... ``callinfo end``, or
``system is not in a call``), ``whoami`` (the login banner's block), ``dial manual
"SPEED" "DIALSTR" [sip]`` / ``dial auto``, ``hangup all`` / ``hangup video [ID]``,
``sleep``, ``wake``, ``autoanswer get|yes|no|donotdisturb``, ``mute near
get|on|off``.  Format per the Integrator's Reference Manual for the RealPresence
Group Series; lines docs/simulator.md marks [I] are inferred.
"""

from __future__ import annotations

import hashlib
import time

from simulator.codec_state import CodecState
from simulator.devices import Device
from simulator.dialect import Reply

VERSION = "6.2.2.5-501003"
CALL_SLOTS = 3
"""``getcallstate`` lists this many call slots (AVI-SPL: call[0]..call[2])."""
ILLEGAL = Reply("error: command has illegal parameters\n", ok=False)
MORE = Reply("error: command needs more parameters to execute successfully\n", ok=False)


def software(state: CodecState) -> str:
    """The software version the codec reports."""
    return state.software or VERSION


def _online(flag: bool) -> str:
    return "online" if flag else "offline"


def whoami(d: Device) -> str:
    """The ``Hi, my name is`` block (also the login banner)."""
    s = d.state
    serial = hashlib.sha256(d.endpoint.id.encode()).hexdigest()[:14].upper()
    now = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    return (f"Hi, my name is : {d.config.get('systemname', d.endpoint.name)}\n"
            "Here is what I know about myself:\n"
            f"Model: {d.endpoint.model or 'RealPresence Group 500'}\n"
            f"Serial Number: {serial}\n"
            f"Software Version: Release {software(s)}\n"
            f"Build Information: {software(s)} simulated\n"
            "Contact Number: \n"
            "Time In Last Call: 0:00:00\n"
            "Total Time In Calls: 0:00:00\n"
            f"Total Calls: {s.calls_made}\n"
            f"SNTP Time Service: auto insync {d.config.get('ntpserver', '')}\n"
            f"Local Time is: {now}\n"
            "Network Interface: NONE\n"
            f"IP Video Number: {d.endpoint.address}\n"
            "H323 Enabled: False\n"
            "HTTP Enabled: True\n"
            "SNMP Enabled: True\n")


def status(d: Device) -> str:
    """``status``: one ``NAME online|offline`` line each, then ``status end``."""
    s = d.state
    registered = s.registration.status == "Registered"
    rows = [("inacall", bool(s.calls)), ("autoanswerp2p", d.config.get("autoanswer") == "yes"
                                         and not s.dnd),
            ("remotecontrol", True), ("microphones", s.mics_connected),
            ("camera", s.camera_connected), ("visualboard", False),
            ("globaldirectory", False), ("ipnetwork", True), ("gatekeeper", False),
            ("sipserver", registered), ("logthreshold", False), ("meetingpassword", False),
            ("rpms", False)]
    return "".join(f"{name} {_online(flag)}\n" for name, flag in rows) + "status end\n"


def getcallstate(s: CodecState) -> str:
    """``cs:`` lines: the calls, then inactive slots up to ``CALL_SLOTS``."""
    lines = [f"cs: call[{c.id}] speed[{c.rate}] dialstr[{c.remote}] state[connected]"
             if c.status == "Connected" else
             f"cs: call[{c.id}] chan[0] dialstr[{c.remote}] state[RINGING]"
             for c in s.calls.values()]
    lines += [f"cs: call[{i}] inactive" for i in range(len(lines), CALL_SLOTS)]
    return "".join(f"{line}\n" for line in lines)


def callinfo_all(s: CodecState) -> str:
    """``callinfo:ID:NAME:NUMBER:SPEED:STATUS:MUTE:DIRECTION:TYPE`` lines, framed."""
    if not s.calls:
        return "system is not in a call\n"
    mute = "muted" if s.mic_mute else "notmuted"
    lines = [f"callinfo:{c.id}:{c.display_name}:{c.remote}:{c.rate}:"
             f"{'connected' if c.status == 'Connected' else 'connecting'}:{mute}:"
             f"{c.direction.lower()}:videocall" for c in s.calls.values()]
    return "callinfo begin\n" + "".join(f"{line}\n" for line in lines) + "callinfo end\n"


def command(d: Device, words: list[str]) -> Reply | None:
    """Run a state command; None when ``words`` is not one of them."""
    s = d.state
    verb = words[0].lower()
    rest = [w.lower() for w in words[1:]]
    if verb == "status" and not rest:
        return Reply(status(d))
    if verb == "getcallstate" and not rest:
        return Reply(getcallstate(s))
    if verb == "callinfo":
        return Reply(callinfo_all(s)) if rest == ["all"] else MORE if not rest else ILLEGAL
    if verb == "whoami" and not rest:
        return Reply(whoami(d))
    if verb == "dial":
        return _dial(s, words[1:])
    if verb == "hangup":
        return _hangup(s, rest)
    if verb == "sleep" and not rest:
        s.sleep()
        return Reply("sleep\n")
    if verb == "wake" and not rest:
        s.wake()
        return Reply("wake\n")
    if verb == "autoanswer" and len(rest) == 1:
        return _autoanswer(d, rest[0])
    if verb == "mute" and len(rest) == 2 and rest[0] == "near":
        if rest[1] in ("on", "off"):
            s.set_mute(rest[1] == "on")
        elif rest[1] == "toggle":
            s.set_mute(not s.mic_mute)
        elif rest[1] != "get":
            return ILLEGAL
        return Reply(f"mute near {'on' if s.mic_mute else 'off'}\n")
    return None


def _dial(s: CodecState, args: list[str]) -> Reply:
    if not args:
        return MORE
    how = args[0].lower()
    values = [a.strip('"') for a in args[1:]]
    if how not in ("manual", "auto") or len(values) < 2:
        return MORE if len(values) < 2 else ILLEGAL
    speed, number = values[0], values[1]
    if not speed.isdigit() or not number:
        return ILLEGAL
    call = s.dial(number.removeprefix("sip:"))
    call.rate = int(speed)
    return Reply(f"dialing {how}\n")


def _hangup(s: CodecState, rest: list[str]) -> Reply:
    if rest == ["all"]:
        s.disconnect()
        return Reply("hanging up all\n")
    if rest[:1] == ["video"] and len(rest) <= 2:
        if len(rest) == 2:
            if not rest[1].isdigit():
                return ILLEGAL
            if not s.disconnect(int(rest[1])):
                return Reply(f"connection {rest[1]} is not active\n")
        else:
            s.disconnect()
        return Reply("hanging up video\n")
    return MORE if not rest else ILLEGAL


def _autoanswer(d: Device, word: str) -> Reply:
    s = d.state
    if word == "donotdisturb":
        s.set_dnd(True)
    elif word in ("yes", "no"):
        s.set_dnd(False)
        d.set("autoanswer", word)
    elif word != "get":
        return ILLEGAL
    shown = "donotdisturb" if s.dnd else d.config.get("autoanswer", "no")
    return Reply(f"autoanswer {shown}\n")
