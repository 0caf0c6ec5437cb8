"""What each vendor's management API looks like as text: commands to send, replies to parse.

Pure functions, no I/O: the drivers (``asyncssh_driver``, ``netmiko_driver``,
``yealink_driver``) move the text, a dialect says what it means.  Native setting
names come from ``inventory.vendors``; a dialect works on native names and values
only.  A dialect also says which inventory service its driver talks to, and
whether settings reach the device through vcfleet's provisioning server.
"""

from __future__ import annotations

import re
from typing import ClassVar, Protocol

from inventory import vendors
from vcfleet.provisioning import cfgfile


class Dialect(Protocol):
    """One vendor's SSH management API."""

    vendor: str
    dump_command: str
    """The command whose reply is the whole running configuration."""
    service: str
    """The inventory service (``ssh``, ``https``) the driver reads the device over."""
    provisioned: bool
    """Whether settings reach the device as a file it fetches from the provisioning server."""

    def check_line(self, line: str) -> str | None:
        """Why a raw vendor line is not a setting command this dialect understands (None: ok)."""

    def parse_line(self, line: str) -> tuple[str, str]:
        """Native name and value a (checked) raw vendor line sets."""

    def set_command(self, name: str, value: str) -> str:
        """The command that sets one native setting."""

    def parse_dump(self, text: str) -> dict[str, str]:
        """Native name -> value from the dump command's reply."""

    def error_of(self, reply: str) -> str | None:
        """The device's error message in a command's reply, None when it succeeded."""

    def same(self, name: str, a: str | None, b: str | None) -> bool:
        """Whether two native values of a setting mean the same thing."""


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _setting(vendor: str, name: str) -> vendors.Setting | None:
    for s in vendors.SETTINGS.values():
        if s.native.get(vendor) == name:
            return s
    return None


class _Base:
    vendor: str

    def same(self, name: str, a: str | None, b: str | None) -> bool:
        if a is None or b is None:
            return a is b
        setting = _setting(self.vendor, name)
        if setting is None:
            # A raw vendor line: devices store enumerations in their own spelling
            # ("manual" is kept as "Manual"), so case is not a difference.
            return a.casefold() == b.casefold()
        if setting.kind == "bool":
            return (vendors.neutral_value(self.vendor, setting, a)
                    == vendors.neutral_value(self.vendor, setting, b))
        return a == b


class CiscoCE(_Base):
    """Cisco RoomOS/CE xAPI in terminal output mode.

    ``xConfiguration`` prints ``*c xConfiguration <Path>: <value>`` lines, then
    ``** end`` and ``OK``; a set that fails prints ``*r ... (status=Error)``
    lines and ``ERROR``.
    """

    vendor = "cisco_ce"
    dump_command = "xConfiguration"
    service = "ssh"
    provisioned = False
    _SET: ClassVar[re.Pattern[str]] = re.compile(
        r"^\s*xConfiguration\s+([A-Za-z0-9 ]+?)\s*:\s?(.*)$")
    _DUMP: ClassVar[re.Pattern[str]] = re.compile(r"^\*c xConfiguration (.+?):(?: (.*))?$")

    def check_line(self, line: str) -> str | None:
        if not self._SET.match(line):
            return ("a cisco_ce vendor line must read 'xConfiguration <Path>: <value>', "
                    f"got {line!r}")
        return None

    def parse_line(self, line: str) -> tuple[str, str]:
        m = self._SET.match(line)
        assert m is not None, line
        return " ".join(m.group(1).split()), _unquote(m.group(2))

    def set_command(self, name: str, value: str) -> str:
        return f'xConfiguration {name}: "{value}"'

    def parse_dump(self, text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in text.splitlines():
            m = self._DUMP.match(line.rstrip("\r"))
            if m:
                out[m.group(1)] = _unquote(m.group(2) or "")
        return out

    def error_of(self, reply: str) -> str | None:
        lines = [ln.strip() for ln in reply.splitlines() if ln.strip()]
        if lines and lines[-1] == "OK":
            return None
        reasons = [ln.split("Reason:", 1)[1].strip() for ln in lines if "Reason:" in ln]
        if reasons:
            return "; ".join(_unquote(r) for r in reasons)
        detail = [ln for ln in lines if ln not in ("ERROR", "** end")]
        return " ".join(detail)[:200] or "device answered ERROR"


class Poly(_Base):
    """Poly's SSH API: ``-> `` prompt, ``systemsetting get NAME`` / ``systemsetting NAME VALUE``."""

    vendor = "poly"
    dump_command = "systemsetting list"
    service = "ssh"
    provisioned = False
    _SET: ClassVar[re.Pattern[str]] = re.compile(r"^\s*systemsetting\s+(?!get\s)(\S+)\s+(.*)$")
    _REPLY: ClassVar[re.Pattern[str]] = re.compile(r"^systemsetting (\S+)(?: (.*))?$")

    def check_line(self, line: str) -> str | None:
        m = self._SET.match(line)
        if not m or m.group(1) == "list":
            return f"a poly vendor line must read 'systemsetting <name> <value>', got {line!r}"
        return None

    def parse_line(self, line: str) -> tuple[str, str]:
        m = self._SET.match(line)
        assert m is not None, line
        return m.group(1), _unquote(m.group(2))

    def set_command(self, name: str, value: str) -> str:
        shown = f'"{value}"' if not value or any(c.isspace() for c in value) else value
        return f"systemsetting {name} {shown}"

    def parse_dump(self, text: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in text.splitlines():
            m = self._REPLY.match(line.strip())
            if m:
                out[m.group(1)] = _unquote(m.group(2) or "")
        return out

    def error_of(self, reply: str) -> str | None:
        for line in reply.splitlines():
            if line.strip().lower().startswith("error"):
                return line.strip().partition(":")[2].strip() or line.strip()
        return None


class Yealink(_Base):
    """Yealink auto-provisioning files: ``key = value`` lines after ``#!version:1.0.0.1``.

    A "command" is a line of the device's provisioning file; the running
    configuration is the device's own export (``GET /api/config/export``), in the
    same format.  The device reports no per-line error: what it refused is in its
    auto-provisioning status, which the driver reads.
    """

    vendor = "yealink"
    dump_command = "GET /api/config/export"
    service = "https"
    provisioned = True

    def check_line(self, line: str) -> str | None:
        return cfgfile.check_line(line)

    def parse_line(self, line: str) -> tuple[str, str]:
        key, _, value = line.partition("=")
        return key.strip(), _unquote(value)

    def set_command(self, name: str, value: str) -> str:
        return f"{name} = {value}"

    def parse_dump(self, text: str) -> dict[str, str]:
        return cfgfile.parse(text)

    def error_of(self, reply: str) -> str | None:
        return None


DIALECTS: dict[str, Dialect] = {"cisco_ce": CiscoCE(), "poly": Poly(), "yealink": Yealink()}
"""Vendors vcfleet can push to, by vendor name."""
