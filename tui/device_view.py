"""The device's own view in the console: what the room's codec said in the device check
(registration, calls, standby and do-not-disturb, peripherals, diagnostics, software,
uptime), as three short cells of the endpoint table and a block of the details screen.

What is shown here is the codec's state, not a verdict: the verdict and its reasons
come from ``vcfleet.report.judge`` like every other check's.  A symbol goes with each
colour, as in the verdict column, so that the state reads on a monochrome terminal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rich.text import Text

from vcfleet.i18n import N_, _
from vcfleet.report import EndpointReport
from vcfleet.safe_text import safe_line

COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("registration", N_("Reg"), 6),
    ("call", N_("Call"), 6),
    ("peripherals", N_("Periph"), 7),
)
"""The endpoint table's device columns: key, label, width (short: three of them take
24 of a terminal's 80 columns with their padding)."""

SHORT_KINDS = {"camera": N_("cam"), "microphone": N_("mic"), "display": N_("disp"),
               "touch_panel": N_("pan")}
"""A peripheral kind in the Periph column."""
KIND_WORDS = {"camera": N_("camera"), "microphone": N_("microphone"),
              "display": N_("display"), "touch_panel": N_("touch panel")}
"""A peripheral kind on the details screen."""

GOOD, POOR, BAD, DIM = "green", "yellow", "red", "dim"


Read = tuple[Mapping[str, Any], Mapping[str, Any]]
"""A device check's ``details`` (its sweep JSON entries) and ``info``."""


def device_read(report: EndpointReport | None) -> Read | None:
    """The device check's (details, info) when it read the codec; None when it did not run
    or could not read it."""
    check = report.checks.get("device") if report else None
    if check is None or not check.result.ok or check.result.unchecked:
        return None
    return check.result.details, check.result.info


def table_cells(report: EndpointReport | None) -> tuple[Text, Text, Text]:
    """The Reg, Call and Periph cells of a room (empty without a device check; ``?``
    when the check ran but did not read the codec)."""
    check = report.checks.get("device") if report else None
    if check is None:
        return Text(), Text(), Text()
    read = device_read(report)
    if read is None:
        return Text("?", DIM), Text(), Text()
    details, _info = read
    return _registration_cell(details), _call_cell(details), _peripherals_cell(details)


def _registration_cell(details: Mapping[str, Any]) -> Text:
    state = (details.get("registration") or {}).get("state", "inactive")
    if state == "registered":
        return Text("✔ " + _("ok"), GOOD)
    if state == "failed":
        return Text("✖ " + _("fail"), BAD)
    return Text("✖ " + _("off"), BAD)


def _call_cell(details: Mapping[str, Any]) -> Text:
    calls = int(details.get("calls") or 0)
    if calls:
        return Text(f"▲ {calls}", POOR)
    if details.get("dnd"):
        return Text("▲ " + _("dnd"), POOR)
    if details.get("standby"):
        return Text("▲ " + _("stby"), POOR)
    return Text(_("idle"), DIM)


def _peripherals_cell(details: Mapping[str, Any]) -> Text:
    peripherals: Sequence[Mapping[str, Any]] = details.get("peripherals") or []
    lost = [p for p in peripherals if not p.get("connected")]
    if lost:
        kind = str(lost[0].get("kind"))
        return Text("✖ " + _(SHORT_KINDS.get(kind, kind)), BAD)
    if any(p.get("kind") == "microphone" and p.get("muted") for p in peripherals):
        return Text("▲ " + _("mute"), POOR)
    return Text(f"✔ {len(peripherals)}", GOOD)


def details_text(report: EndpointReport | None) -> Text | None:
    """The device block of the details screen; None when the room has no device check."""
    check = report.checks.get("device") if report else None
    if check is None:
        return None
    read = device_read(report)
    text = Text()
    if read is None:
        _row(text, _("Device"), Text(_("not read: {reason}").format(
            reason=safe_line(check.result.reason or _("no answer"))), BAD))
        return _done(text)
    details, info = read
    _row(text, _("Registration"), _registration_line(details))
    _row(text, _("Calls"), _calls_line(details, info))
    _row(text, _("Standby"), _yes_no(details.get("standby")))
    _row(text, _("DND"), _yes_no(details.get("dnd")))
    peripherals = details.get("peripherals") or []
    if not peripherals:
        _row(text, _("Peripherals"), Text(_("none found"), BAD))
    for i, p in enumerate(peripherals):
        _row(text, _("Peripherals") if i == 0 else "", _peripheral_line(p))
    diagnostics = details.get("diagnostics") or []
    if not diagnostics:
        _row(text, _("Diagnostics"), Text(_("none"), DIM))
    for i, d in enumerate(diagnostics):
        _row(text, _("Diagnostics") if i == 0 else "", _diagnostic_line(d))
    _row(text, _("Software"), Text(safe_line(str(details.get("software") or "?"))))
    _row(text, _("Uptime"), Text(uptime_text(details.get("uptime_s"))))
    return _done(text)


LABEL_WIDTH = 15


def _row(text: Text, label: str, value: Text) -> None:
    text.append(f"{label:>{LABEL_WIDTH}}  ", DIM)
    text.append_text(value)
    text.append("\n")


def _done(text: Text) -> Text:
    text.rstrip()
    return text


def _registration_line(details: Mapping[str, Any]) -> Text:
    reg = details.get("registration") or {}
    registrar = safe_line(str(reg.get("registrar") or ""))
    reason = safe_line(str(reg.get("reason") or ""))
    state = reg.get("state", "inactive")
    if state == "registered":
        return Text("✔ " + _("registered to {registrar}").format(registrar=registrar), GOOD)
    if not registrar:
        return Text("✖ " + _("not registered: no SIP proxy configured"), BAD)
    line = _("not registered to {registrar}").format(registrar=registrar)
    return Text(f"✖ {line}: {reason}" if reason else f"✖ {line}", BAD)


def _calls_line(details: Mapping[str, Any], info: Mapping[str, Any]) -> Text:
    calls = int(details.get("calls") or 0)
    if not calls:
        return Text(_("none"), DIM)
    remote = safe_line(str(info.get("call_with") or ""))
    line = _("{n} active, with {remote}").format(n=calls, remote=remote) if remote \
        else _("{n} active").format(n=calls)
    return Text("▲ " + line, POOR)


def _yes_no(value: object) -> Text:
    if value is None:
        return Text(_("not reported by this codec"), DIM)
    return Text("▲ " + _("yes"), POOR) if value else Text(_("no"), DIM)


def _peripheral_line(p: Mapping[str, Any]) -> Text:
    kind = str(p.get("kind") or "?")
    word = _(KIND_WORDS[kind]) if kind in KIND_WORDS else kind
    name = safe_line(str(p.get("name") or ""))
    if not p.get("connected"):
        return Text(f"✖ {word}  {name}: " + _("disconnected"), BAD)
    if p.get("muted"):
        return Text(f"▲ {word}  {name}: " + _("connected, muted"), POOR)
    return Text(f"✔ {word}  {name}: " + _("connected"), GOOD)


def _diagnostic_line(d: Mapping[str, Any]) -> Text:
    level = str(d.get("level") or "?").lower()
    text = safe_line(str(d.get("text") or ""))
    if level == "critical":
        return Text(f"✖ {level}: {text}", BAD)
    if level == "error":
        return Text(f"▲ {level}: {text}", POOR)
    return Text(f"• {level}: {text}", DIM)


def uptime_text(seconds: object) -> str:
    """``3 d 4 h``, ``2 h 5 min``, ``40 min``; ``not reported by this codec`` for None."""
    if not isinstance(seconds, int | float):
        return _("not reported by this codec")
    minutes = int(seconds) // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    if days:
        return _("{d} d {h} h").format(d=days, h=hours)
    if hours:
        return _("{h} h {m} min").format(h=hours, m=mins)
    return _("{m} min").format(m=mins)
