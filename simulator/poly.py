"""Poly's SSH API (Group Series / G7500 style), as the simulator speaks it.

A ``-> `` prompt follows every reply::

    -> systemsetting get sipproxyserver
    systemsetting sipproxyserver sip.thanhhoa.gov.vn
    -> systemsetting autoanswer yes
    systemsetting autoanswer yes
    -> systemsetting autoanswer maybe
    error: command has illegal parameters

Values that are empty or hold white space are shown in double quotes.  The state
commands (``status``, ``getcallstate``, ``callinfo all``, ``whoami``, ``dial``,
``hangup``...) are simulator/poly_commands.py; the login banner is ``whoami``'s block.
"""

from __future__ import annotations

from simulator import poly_commands
from simulator.devices import Device
from simulator.dialect import Reply
from simulator.poly_commands import VERSION

__all__ = ["VERSION", "PolySession"]

ILLEGAL = Reply("error: command has illegal parameters\n", ok=False)
NOT_FOUND = Reply("error: command not found\n", ok=False)
LOCKED = Reply("error: setting is locked by the provisioning server\n", ok=False)


def _show(value: str) -> str:
    return f'"{value}"' if not value or any(c.isspace() for c in value) else value


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


class PolySession:
    """One Poly API session."""

    def __init__(self, device: Device) -> None:
        self.device = device

    def banner(self) -> str:
        """What the API shows after login."""
        return poly_commands.whoami(self.device)

    def prompt(self) -> str:
        """The API prompt."""
        return "-> "

    def handle(self, line: str) -> Reply:
        """Run one API command line."""
        words = line.split()
        if not words:
            return Reply("")
        verb = words[0].lower()
        if verb == "systemsetting":
            return self._systemsetting(line.split(None, 1)[1] if len(words) > 1 else "")
        if verb == "reboot":
            if len(words) == 2 and words[1].lower() == "now":
                return Reply("rebooting\n", reboot=True)
            return ILLEGAL
        if verb == "version" and len(words) == 1:
            return Reply(f'version "{poly_commands.software(self.device.state)}"\n')
        state_reply = poly_commands.command(self.device, words)
        if state_reply is not None:
            return state_reply
        if verb in ("exit", "bye") and len(words) == 1:
            return Reply("", close=True)
        return NOT_FOUND

    def _systemsetting(self, rest: str) -> Reply:
        words = rest.split(None, 1)
        if not words:
            return ILLEGAL
        if words == ["list"]:
            lines = [f"systemsetting {n} {_show(v)}\n" for n, v in self.device.config.items()]
            return Reply("".join(lines))
        if words[0] == "get":
            name = words[1].strip() if len(words) == 2 else ""
            return self._get(name)
        name = words[0]
        if len(words) == 1:
            return self._get(name)
        if name not in self.device.config:
            return ILLEGAL
        try:
            value = self.device.set(name, _unquote(words[1]))
        except PermissionError:
            return LOCKED
        except ValueError:
            return ILLEGAL
        return Reply(f"systemsetting {name} {_show(value)}\n")

    def _get(self, name: str) -> Reply:
        if name not in self.device.config:
            return ILLEGAL
        return Reply(f"systemsetting {name} {_show(self.device.config[name])}\n")
