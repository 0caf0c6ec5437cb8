"""``xCommand`` and ``xFeedback`` of the simulated Cisco codec (docs/simulator.md).

Commands: ``Dial Number: URI``, ``Call Disconnect [CallId: N]``, ``Standby Activate``,
``Standby Deactivate``, ``Standby HalfWake``, ``Conference DoNotDisturb Activate`` /
``Deactivate``, ``Audio Microphones Mute`` / ``Unmute``, ``SystemUnit Boot``.  Results
are CE9's flattened form::

    *r DialResult (status=OK):
    *r DialResult CallId: 3
    *r DialResult ConferenceId: 3
    ** end

    OK

An unknown command is ``*r Result (status=Error):`` with ``Reason: "Unknown command"``
and the command's words (never its arguments) in ``XPath``.  ``xFeedback register
/Status/...`` or ``/Event/...`` makes the session print each matching change as it
happens: ``*s`` lines (``*s Call 3 (ghost=True):`` for a list item gone), or ``*e``
lines, then ``** end`` and no ``OK``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Protocol

from simulator.codec_state import Change
from simulator.devices import Device
from simulator.dialect import Reply


class CiscoSession(Protocol):
    """What the commands need of a Cisco session (simulator/cisco.py)."""

    device: Device
    json: bool

    def status_leaves(self) -> list[tuple[list[str], str, bool]]:
        """Every status leaf: (path words, value, quoted)."""

MAX_EXPRESSIONS = 38
"""CE's limit of feedback expressions per session."""
ARG = re.compile(r'(\w+):\s*("[^"]*"|\S+)')


def _parse(rest: str) -> tuple[list[str], dict[str, str]]:
    """(command words, {argument: value}) of ``Dial Number: "x" Protocol: Sip``."""
    head = rest.split(":", 1)[0].split()
    words = head[:-1] if ":" in rest and head else head
    args = {m.group(1).lower(): m.group(2).strip('"') for m in ARG.finditer(rest)}
    return words, args


def _ok(session: CiscoSession, name: str, fields: tuple[tuple[str, str], ...] = (),
        reboot: bool = False) -> Reply:
    if session.json:
        body: dict[str, object] = {"status": "OK", **{k: {"Value": v} for k, v in fields}}
        return Reply(json.dumps({"CommandResponse": {name: body}}, indent=2)
                     + "\n** end\n\nOK\n", reboot=reboot)
    lines = [f"*r {name} (status=OK):", *(f"*r {name} {k}: {v}" for k, v in fields)]
    return Reply("\n".join(lines) + "\n** end\n\nOK\n", reboot=reboot)


def _failed(session: CiscoSession, name: str, reason: str) -> Reply:
    if session.json:
        body = {"CommandResponse": {name: {"status": "Error", "Reason": {"Value": reason}}}}
        return Reply(json.dumps(body, indent=2) + "\n** end\n\nERROR\n", ok=False)
    return Reply(f'*r {name} (status=Error):\n*r {name} Reason: "{reason}"\n** end\n\nERROR\n',
                 ok=False)


def command(session: CiscoSession, rest: str) -> Reply:
    """Run one ``xCommand``."""
    words, args = _parse(rest)
    key = " ".join(w.lower() for w in words)
    state = session.device.state
    if key == "systemunit boot":
        return _ok(session, "SystemUnitBootResult", reboot=True)
    if key == "dial":
        number = args.get("number", "")
        if not number:
            return _failed(session, "DialResult", "Missing or invalid parameter(s): Number")
        call = state.dial(number.removeprefix("sip:"))
        return _ok(session, "DialResult", (("CallId", str(call.id)),
                                           ("ConferenceId", str(call.id))))
    if key == "call disconnect":
        call_id = args.get("callid")
        if call_id is not None and not call_id.isdigit():
            return _failed(session, "CallDisconnectResult", "Invalid CallId")
        if not state.disconnect(int(call_id) if call_id else None):
            return _failed(session, "CallDisconnectResult", "No active call(s) found.")
        return _ok(session, "CallDisconnectResult")
    simple: dict[str, tuple[str, Callable[[], None]]] = {
        "standby activate": ("StandbyActivateResult", state.sleep),
        "standby deactivate": ("StandbyDeactivateResult", state.wake),
        "standby halfwake": ("StandbyHalfWakeResult", state.wake),
        "conference donotdisturb activate": ("ConferenceDoNotDisturbActivateResult",
                                             lambda: state.set_dnd(True)),
        "conference donotdisturb deactivate": ("ConferenceDoNotDisturbDeactivateResult",
                                               lambda: state.set_dnd(False)),
        "audio microphones mute": ("AudioMicrophonesMuteResult", lambda: state.set_mute(True)),
        "audio microphones unmute": ("AudioMicrophonesUnmuteResult",
                                     lambda: state.set_mute(False)),
    }
    if key in simple:
        name, action = simple[key]
        action()
        return _ok(session, name)
    return _unknown(session, words)


def _unknown(session: CiscoSession, words: list[str]) -> Reply:
    xpath = "/" + "/".join(words)
    if session.json:
        body = {"CommandResponse": {"Result": {"status": "Error",
                                               "Reason": {"Value": "Unknown command"},
                                               "XPath": {"Value": xpath}}}}
        return Reply(json.dumps(body, indent=2) + "\n** end\n\nERROR\n", ok=False)
    return Reply('*r Result (status=Error):\n*r Result Reason: "Unknown command"\n'
                 f'*r Result XPath: "{xpath}"\n** end\n\nERROR\n', ok=False)


class Feedback:
    """One session's ``xFeedback`` expressions and where its unsolicited output goes."""

    def __init__(self, session: CiscoSession) -> None:
        self.session = session
        self.expressions: list[str] = []
        self.write: Callable[[str], None] | None = None

    def attach(self, write: Callable[[str], None]) -> None:
        """Start hearing the device's changes."""
        self.write = write
        self.session.device.state.listeners.add(self.changed)

    def detach(self) -> None:
        """Stop hearing them (the session closed)."""
        self.session.device.state.listeners.discard(self.changed)
        self.write = None

    def handle(self, rest: str) -> Reply:
        """``register PATH``, ``deregister PATH``, ``deregisterall``, ``list``."""
        words = rest.split()
        verb = words[0].lower() if words else ""
        if verb == "register" and len(words) == 2 and _valid(words[1]):
            if words[1] not in self.expressions:
                if len(self.expressions) >= MAX_EXPRESSIONS:
                    return Reply("** end\n\nERROR\n", ok=False)
                self.expressions.append(words[1])
            return Reply("** end\n\nOK\n")
        if verb == "deregister" and len(words) == 2:
            if words[1] in self.expressions:
                self.expressions.remove(words[1])
            return Reply("** end\n\nOK\n")
        if verb == "deregisterall" and len(words) == 1:
            self.expressions.clear()
            return Reply("** end\n\nOK\n")
        if verb == "list" and len(words) == 1:
            return Reply("".join(f"{e}\n" for e in sorted(self.expressions)) + "** end\n\nOK\n")
        return Reply("** end\n\nERROR\n", ok=False)

    def changed(self, change: Change) -> None:
        """Print what of a change the registered expressions cover."""
        if self.write is None or not self.expressions:
            return
        status = [_words(e) for e in self.expressions if _words(e)[:1] == ["status"]]
        events = [_words(e) for e in self.expressions if _words(e)[:1] == ["event"]]
        lines: list[str] = []
        if status:
            for tokens, value, quoted in self.session.status_leaves():
                path = [t.lower() for t in tokens]
                if (any(path[:len(p.split())] == p.lower().split() for p in change.paths)
                        and any(path[:len(e) - 1] == e[1:] for e in status)):
                    shown = f'"{value}"' if quoted else value
                    lines.append(f"*s {' '.join(tokens)}: {shown}")
            for ghost in change.ghosts:
                g = ghost.lower().split()
                if any(g[:len(e) - 1] == e[1:len(g) + 1] for e in status):
                    lines.append(f"*s {ghost} (ghost=True):")
        blocks = [lines] if lines else []
        for name, fields in change.events:  # each event is a block of its own
            if any(e[1:] in ([], [name.lower()]) for e in events):
                blocks.append([f"*e {name} {leaf}: " + (f'"{v}"' if q else v)
                               for leaf, v, q in fields])
        for block in blocks:
            self.write("\n".join(block) + "\n** end\n")


def _words(expression: str) -> list[str]:
    return [w.lower() for w in expression.strip("/").split("/") if w]


def _valid(expression: str) -> bool:
    words = _words(expression)
    return bool(words) and words[0] in ("status", "event", "configuration")
