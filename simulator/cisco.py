"""Cisco RoomOS/CE xAPI over SSH, as the simulator speaks it (docs/simulator.md).

Terminal output mode::

    xConfiguration SIP
    *c xConfiguration SIP DisplayName: "Sở Nội vụ"
    *c xConfiguration SIP Proxy 1 Address: "sip.thanhhoa.gov.vn"
    ** end

    OK

Errors end in ``ERROR``; an unknown command gets the single line
``Command not recognized.`` (which netmiko's ``cisco_tp`` driver treats as a
terminator, like ``OK`` and ``ERROR``).  The status tree is simulator/cisco_status.py;
``xCommand`` and ``xFeedback`` are simulator/cisco_commands.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from simulator import cisco_commands
from simulator.cisco_status import LIST_ROOTS, SOFTWARE, display_name, software, status_rows
from simulator.devices import Device
from simulator.dialect import Reply

__all__ = ["SOFTWARE", "CiscoSession"]
NOT_RECOGNIZED = Reply("Command not recognized.\n", ok=False)
NO_MATCH = "No match on address expression."

Leaf = tuple[list[str], str, bool]
"""(path tokens, value, quoted)."""


def _tokens(path: str) -> list[str]:
    return path.split()


def _match(query: list[str], path: list[str], *, whole: bool) -> bool:
    """Query words match path words case-insensitively; an index the query omits matches 1."""
    if not query:
        return not whole or not path
    if not path:
        return False
    if query[0].lower() == path[0].lower():
        return _match(query[1:], path[1:], whole=whole)
    if path[0] == "1" and not query[0].isdigit():
        return _match(query, path[1:], whole=whole)
    return False


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


class CiscoSession:
    """One xAPI session: output mode and the device it drives."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.json = False
        self.feedback = cisco_commands.Feedback(self)

    def banner(self) -> str:
        """Login banner, as CE prints it, ending with the first ``OK``."""
        name = self.device.config.get("SystemUnit Name", "")
        version = software(self.device.state)
        return (f"Welcome to {name}\nCisco Codec Release {display_name(version)} Final "
                "3a892a1 2023-09-20\n"
                "SW Release Date: 2023-09-20 13:06:59, matchbox\n*r Login successful\n\nOK\n")

    def attach(self, write: Callable[[str], None]) -> None:
        """Give the session a way to print unsolicited output (xFeedback)."""
        self.feedback.attach(write)

    def detach(self) -> None:
        """The session ended: stop its feedback."""
        self.feedback.detach()

    def prompt(self) -> str:
        """xAPI has no prompt: ``OK`` / ``ERROR`` end each reply."""
        return ""

    def handle(self, line: str) -> Reply:
        """Run one xAPI command line."""
        words = line.split(None, 1)
        if not words:
            return Reply("")
        verb, rest = words[0].lower(), (words[1] if len(words) > 1 else "")
        if verb == "xconfiguration":
            return self._configuration(rest)
        if verb == "xstatus":
            return self._status(rest)
        if verb == "xcommand":
            return cisco_commands.command(self, rest)
        if verb == "xfeedback":
            return self.feedback.handle(rest)
        if verb == "xpreferences":
            return self._preferences(rest)
        if verb in ("bye", "exit"):
            return Reply("\nbye.\n", close=True)
        if verb == "echo":
            return Reply("OK\n")
        return NOT_RECOGNIZED

    # -- xConfiguration ---------------------------------------------------------

    def _config_leaves(self) -> list[Leaf]:
        return [(_tokens(name), value, self.device.specs[name].kind == "str")
                for name, value in self.device.config.items()]

    def _configuration(self, rest: str) -> Reply:
        path, colon, value = rest.partition(":")
        if colon:
            return self._set(path.strip(), _unquote(value))
        query = _tokens(rest)
        leaves = [leaf for leaf in self._config_leaves() if _match(query, leaf[0], whole=False)]
        if not leaves:
            return self._error("Configuration", NO_MATCH, query)
        return self._result("Configuration", "*c xConfiguration", leaves)

    def _set(self, path: str, value: str) -> Reply:
        query = _tokens(path)
        names = [n for n in self.device.config if _match(query, _tokens(n), whole=True)]
        if len(names) != 1:
            return self._error("Configuration", NO_MATCH, query)
        try:
            self.device.set(names[0], value)
        except PermissionError:
            return self._error("Configuration", "Permission denied.", query)
        except ValueError:
            return self._error("Configuration", f"Illegal value: {value}", query)
        if self.json:
            return Reply("{}\n** end\n\nOK\n")
        return Reply("** end\n\nOK\n")

    # -- xStatus ----------------------------------------------------------------

    def status_leaves(self) -> list[Leaf]:
        """Every status leaf of the device (simulator/cisco_status.py)."""
        return [(_tokens(p), v, q) for p, v, q in status_rows(self.device)]

    def _status(self, rest: str) -> Reply:
        query = _tokens(rest.strip().lstrip("/").replace("/", " "))
        leaves = [leaf for leaf in self.status_leaves() if _match(query, leaf[0], whole=False)]
        if not leaves:
            if tuple(w.lower() for w in query) in {tuple(w.lower() for w in r)
                                                    for r in LIST_ROOTS}:
                return Reply("{}\n** end\n\nOK\n" if self.json else "** end\n\nOK\n")
            return self._error("Status", NO_MATCH, query)
        return self._result("Status", "*s", leaves)

    # -- xCommand, xPreferences -------------------------------------------------

    def _preferences(self, rest: str) -> Reply:
        words = rest.lower().split()
        if len(words) == 2 and words[0] == "outputmode" and words[1] in ("json", "terminal"):
            self.json = words[1] == "json"
            return Reply("OK\n")
        return Reply("ERROR\n", ok=False)

    # -- output -----------------------------------------------------------------

    def _result(self, root: str, prefix: str, leaves: list[Leaf]) -> Reply:
        if self.json:
            tree: dict[str, Any] = {}
            for tokens, value, quoted in leaves:
                _insert(tree, tokens, value if quoted or not value.isdigit() else int(value))
            return Reply(json.dumps({root: tree}, indent=2, ensure_ascii=False)
                         + "\n** end\n\nOK\n")
        lines = []
        for tokens, value, quoted in leaves:
            shown = f'"{value}"' if quoted else value
            lines.append(f"{prefix} {' '.join(tokens)}: {shown}")
        return Reply("\n".join(lines) + "\n** end\n\nOK\n")

    def _error(self, what: str, reason: str, query: list[str], kind: str = "") -> Reply:
        xpath = _xpath([kind or what, *query])
        if self.json:
            body = {"CommandResponse": {what: {"status": "Error", "Reason": {"Value": reason},
                                               "XPath": {"Value": xpath}}}}
            return Reply(json.dumps(body, indent=2, ensure_ascii=False)
                         + "\n** end\n\nERROR\n", ok=False)
        return Reply(f'*r {what} (status=Error):\n*r {what} Reason: "{reason}"\n'
                     f'*r {what} XPath: "{xpath}"\n** end\n\nERROR\n', ok=False)


def _xpath(words: list[str]) -> str:
    """``Status/Call[5]/Status`` from ``[Status, Call, 5, Status]``, CE's XPath spelling."""
    out: list[str] = []
    for w in words:
        if w.isdigit() and out:
            out[-1] += f"[{w}]"
        else:
            out.append(w)
    return "/".join(out)


def _insert(tree: dict[str, Any], tokens: list[str], value: object) -> None:
    """Put a leaf in CE's JSON shape: indexed nodes are lists of {"id": ...} items."""
    node = tree
    i = 0
    while i < len(tokens):
        name = tokens[i]
        last = i == len(tokens) - 1
        if i + 1 < len(tokens) and tokens[i + 1].isdigit():
            items: list[dict[str, Any]] = node.setdefault(name, [])
            idx = tokens[i + 1]
            item = next((it for it in items if it.get("id") == idx), None)
            if item is None:
                item = {"id": idx}
                items.append(item)
            node = item
            i += 2
            if i == len(tokens):
                node["Value"] = value
            continue
        if last:
            node[name] = {"Value": value}
        else:
            node = node.setdefault(name, {})
        i += 1
