"""The organiser's page of a meeting: HTML (one self-contained, printable page) and XLSX.

What the organiser needs to hear before the meeting: its title and time, how many
rooms are ready, per room that is not the reason and whom to phone, and what changed
since the previous check.  Every text that comes from the inventory, the meetings file
or a device passes ``safe_line`` and HTML escaping (or the spreadsheet guard).
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from inventory import Endpoint
from inventory.spreadsheet import guard_cell
from vcfleet.history import HistoryEntry, MeetingCheck
from vcfleet.i18n import N_, _, language
from vcfleet.meetings.changes import KINDS, Changes
from vcfleet.meetings.model import Meeting
from vcfleet.reasons import Reason, reasons_text
from vcfleet.render.verdicts import RANK, symbol, word
from vcfleet.report import Verdict
from vcfleet.safe_text import safe_line

CHANGE_WORDS = {"newly_down": N_("went down"), "newly_degraded": N_("became degraded"),
                "recovered": N_("recovered")}
"""How a change reads (English message ids: translate with ``_()`` when writing)."""
XLSX_COLUMNS = (N_("id"), N_("name"), N_("tier"), N_("district"), N_("verdict"),
                N_("reasons"), N_("contact"), N_("phone"), N_("checked at"))
"""The headings of the workbook's room sheet (English message ids)."""

CSS = """
body { font-family: system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; margin: 2em;
       color: #1b1b1b; }
h1 { margin-bottom: 0.1em; } .when { font-size: 1.2em; margin-top: 0; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; width: 100%; }
th, td { border: 1px solid #c8c8c8; padding: 0.3em 0.6em; text-align: left;
         vertical-align: top; }
th { background: #f0f0f0; }
.counts span { display: inline-block; margin-right: 1.5em; font-size: 1.4em;
               font-weight: bold; }
.ready { color: #1a7f37; } .degraded { color: #9a6700; } .down { color: #cf222e; }
.unknown { color: #57606a; }
.phone { white-space: nowrap; font-weight: bold; }
@media print { body { margin: 0; } h2 { break-after: avoid; } tr { break-inside: avoid; } }
"""


@dataclass(frozen=True)
class RoomLine:
    """One room on the page: who it is, its verdict in the latest check, whom to phone."""

    endpoint: Endpoint
    verdict: Verdict
    reasons: tuple[str, ...]
    at: float | None


def room_lines(rooms: Sequence[Endpoint], current: MeetingCheck) -> list[RoomLine]:
    """The meeting's rooms, those not ready first (down, not checked, degraded)."""
    lines = []
    for e in rooms:
        entry: HistoryEntry | None = current.results.get(e.id)
        lines.append(RoomLine(e, entry.verdict, entry.reasons, entry.at) if entry else
                     RoomLine(e, Verdict.UNKNOWN, (Reason.of(N_("not checked")),), None))
    return sorted(lines, key=lambda r: RANK[r.verdict])


def _h(text: object) -> str:
    return html.escape(safe_line(text))


def _time(meeting: Meeting, epoch: float | None, fmt: str = "%H:%M") -> str:
    if epoch is None:
        return ""
    return meeting.local(datetime.fromtimestamp(epoch, UTC)).strftime(fmt)


def _offset(meeting: Meeting) -> str:
    return meeting.start.isoformat()[-6:]


def page_html(meeting: Meeting, rooms: Sequence[Endpoint], current: MeetingCheck,
              changes: Changes) -> str:
    """The organiser's page as one HTML document (inline CSS, no script, printable)."""
    lines = room_lines(rooms, current)
    counts = {v: sum(1 for r in lines if r.verdict is v) for v in Verdict}
    not_ready = [r for r in lines if r.verdict is not Verdict.READY]
    start, end = meeting.local(meeting.start), meeting.local(meeting.end)
    when = f"{start:%d/%m/%Y %H:%M}–{end:%H:%M} (UTC{_offset(meeting)})"
    checked = _time(meeting, current.started_at, "%d/%m/%Y %H:%M")
    out = ["<!DOCTYPE html>", f'<html lang="{language()}">', "<head>", '<meta charset="utf-8">',
           f"<title>{_h(meeting.title)}</title>", f"<style>{CSS}</style>", "</head>",
           "<body>", f"<h1>{_h(meeting.title)}</h1>", f'<p class="when">{_h(when)}</p>']
    if meeting.organiser.name or meeting.organiser.phone:
        out.append("<p>" + _h(_("Organiser:")) + f" {_h(meeting.organiser.name)} "
                   f'<span class="phone">{_h(meeting.organiser.phone)}</span></p>')
    out.append("<p>" + _h(_("Rooms checked at {time}: {n} rooms.").format(
        time=checked, n=len(lines))) + "</p>")
    out.append('<p class="counts">'
               f'<span class="ready">{symbol(Verdict.READY)} {counts[Verdict.READY]} '
               f"{_h(word(Verdict.READY))}</span>"
               f'<span class="down">{symbol(Verdict.DOWN)} {len(not_ready)} '
               + _h(_("not ready")) + "</span>"
               f'<span class="down">{counts[Verdict.DOWN]} {_h(word(Verdict.DOWN))}</span>'
               f'<span class="degraded">{counts[Verdict.DEGRADED]} '
               f"{_h(word(Verdict.DEGRADED))}</span>"
               + (f'<span class="unknown">{counts[Verdict.UNKNOWN]} '
                  f"{_h(word(Verdict.UNKNOWN))}</span>"
                  if counts[Verdict.UNKNOWN] else "") + "</p>")
    out += _changes_html(meeting, changes, {e.id: e.name for e in rooms})
    out.append("<h2>" + _h(_("Rooms not ready ({n})").format(n=len(not_ready))) + "</h2>")
    if not_ready:
        out += _table((N_("Room"), N_("Status"), N_("Reason"), N_("Contact"), N_("Phone")),
                      [(r, [f"{r.endpoint.name} ({r.endpoint.id})",
                            f"{symbol(r.verdict)} {word(r.verdict)}",
                            reasons_text(r.reasons), r.endpoint.contact.name,
                            r.endpoint.contact.phone]) for r in not_ready])
    else:
        out.append('<p class="ready">' + _h(_("Every room is ready.")) + "</p>")
    ready = [r for r in lines if r.verdict is Verdict.READY]
    out.append("<h2>" + _h(_("Rooms ready ({n})").format(n=len(ready))) + "</h2>")
    out += _table((N_("Room"), N_("District"), N_("Contact"), N_("Phone")),
                  [(r, [f"{r.endpoint.name} ({r.endpoint.id})", r.endpoint.district or "",
                        r.endpoint.contact.name, r.endpoint.contact.phone]) for r in ready])
    out += ["</body>", "</html>"]
    return "\n".join(out) + "\n"


def _changes_html(meeting: Meeting, changes: Changes, names: dict[str, str]) -> list[str]:
    out = ["<h2>" + _h(_("Changes since the previous check")) + "</h2>"]
    if changes.since is None:
        return [*out, "<p>" + _h(_("This is the meeting's first check.")) + "</p>"]
    since = _time(meeting, changes.since, "%d/%m/%Y %H:%M")
    if not changes.changes:
        return [*out, "<p>" + _h(_("No change since the previous check ({time}).").format(
            time=since)) + "</p>"]
    out.append("<p>" + _h(_("Previous check: {time}.").format(time=since)) + "</p>")
    out.append("<ul>")
    for kind in KINDS:
        for c in changes.of(kind):
            cls = {"newly_down": "down", "newly_degraded": "degraded"}.get(kind, "ready")
            why = f" — {reasons_text(c.reasons)}" if c.reasons and kind != "recovered" else ""
            text = _("{room} {change} at {time}").format(
                room=names.get(c.endpoint_id, c.endpoint_id), change=_(CHANGE_WORDS[kind]),
                time=_time(meeting, c.at)) + why
            out.append(f'<li class="{cls}">{_h(text)}</li>')
    out.append("</ul>")
    return out


def _table(headers: Sequence[str], rows: Sequence[tuple[RoomLine, list[str]]]) -> list[str]:
    out = ["<table>", "<tr>" + "".join(f"<th>{_h(_(h))}</th>" for h in headers) + "</tr>"]
    for line, cells in rows:
        tds = "".join(f'<td class="phone">{_h(c)}</td>' if h == "Phone" else f"<td>{_h(c)}</td>"
                      for h, c in zip(headers, cells, strict=True))
        out.append(f'<tr class="{line.verdict.value}">{tds}</tr>')
    out.append("</table>")
    return out


def page_xlsx(meeting: Meeting, rooms: Sequence[Endpoint], current: MeetingCheck,
              changes: Changes) -> bytes:
    """The organiser's page as a workbook: one row per room, then a sheet of changes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    vi = language() == "vi"
    stamp = "%d/%m/%Y %H:%M" if vi else "%Y-%m-%d %H:%M"
    ws.title = _("Rooms")
    ws.append([_(h) for h in XLSX_COLUMNS])
    for r in room_lines(rooms, current):
        e = r.endpoint
        _append(ws, [e.id, e.name, e.tier, e.district or "", word(r.verdict),
                     reasons_text(r.reasons), e.contact.name, e.contact.phone,
                     _time(meeting, r.at, stamp)])
    ws.freeze_panes = "A2"
    info = wb.create_sheet(_("Meeting"))
    for key, value in ((N_("id"), meeting.id), (N_("title"), meeting.title),
                       (N_("start"), meeting.start.isoformat(timespec="seconds")),
                       (N_("end"), meeting.end.isoformat(timespec="seconds")),
                       (N_("organiser"), meeting.organiser.name),
                       (N_("phone"), meeting.organiser.phone),
                       (N_("checked at"), _time(meeting, current.started_at, stamp)),
                       (N_("previous check"), _time(meeting, changes.since, stamp))):
        _append(info, [_(key), value])
    ch = wb.create_sheet(_("Changes"))
    ch.append([_(h) for h in (N_("id"), N_("change"), N_("at"), N_("was"), N_("now"),
                              N_("reasons"))])
    # In Vietnamese the verdict columns hold the operator's words; in English the
    # machine values, as they always did.
    for c in changes.changes:
        was, now = (word(c.was), word(c.now)) if vi else (c.was.value, c.now.value)
        _append(ch, [c.endpoint_id, _(CHANGE_WORDS[c.kind]), _time(meeting, c.at, "%H:%M"),
                     was, now, reasons_text(c.reasons)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _append(ws: object, row: list[str]) -> None:
    """A row of text cells that no spreadsheet runs as formulas."""
    ws.append([guard_cell(safe_line(v)) for v in row])  # type: ignore[attr-defined]
    for cell in ws[ws.max_row]:  # type: ignore[attr-defined, index]
        cell.data_type = "s"
