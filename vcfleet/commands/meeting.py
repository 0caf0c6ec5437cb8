"""``vcfleet meeting``: the meeting as the unit of work (docs/meetings.md).

``list`` shows the upcoming meetings with a countdown and their room counts; ``check
ID`` sweeps exactly that meeting's rooms, records the check in the history with the
meeting's id and says what changed since the previous check; ``report ID`` writes
the organiser's page (HTML or XLSX) from the latest check.  Meetings come from
``--meetings PATH`` (default ``$VCFLEET_MEETINGS``).  A meeting that has ended is
kept for the history and never swept.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inventory import InputError
from vcfleet.commands.common import add_force, inventory_of, positive_int
from vcfleet.i18n import N_, _
from vcfleet.meetings.times import countdown, countdown_text, local_time
from vcfleet.outfile import check_output, write_output
from vcfleet.reasons import reason_text
from vcfleet.safe_text import safe_json, safe_line

if TYPE_CHECKING:
    from vcfleet.history import History
    from vcfleet.meetings import Meeting, Meetings
    from vcfleet.meetings.changes import Changes
    from vcfleet.meetings.check import MeetingResult

HELP = N_("meetings: list the upcoming ones, check one meeting's rooms, write its report")
CHECK_FORMATS = ("table", "json", "csv")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Sub-commands of ``vcfleet meeting``."""
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True,
                                parser_class=type(parser))
    p = sub.add_parser("list", help=_("upcoming meetings with countdown and room counts"))
    _common(p)
    p.add_argument("--all", action="store_true", help=_("also meetings that have ended"))
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(action_run=_list)
    p = sub.add_parser("check", help=_("sweep exactly one meeting's rooms now"))
    _common(p)
    p.add_argument("id", metavar="ID", help=_("the meeting's id"))
    p.add_argument("--format", choices=CHECK_FORMATS, default="table",
                   help=_("output format (default: table)"))
    p.add_argument("-o", "--output", metavar="FILE", help=_("write the result to FILE"))
    add_force(p)
    p.add_argument("--concurrency", type=positive_int, default=1024, metavar="N",
                   help=_("rooms checked at once (default: 1024)"))
    p.set_defaults(action_run=_check)
    p = sub.add_parser("report", help=_("the organiser's page (HTML or XLSX) from the latest "
                                        "check"))
    _common(p)
    p.add_argument("id", metavar="ID", help=_("the meeting's id"))
    p.add_argument("-o", "--output", metavar="FILE.html|FILE.xlsx",
                   help=_("write the page to FILE; the suffix picks the format "
                          "(default: HTML on standard output)"))
    add_force(p)
    p.add_argument("--check", action="store_true", help=_("check the meeting's rooms first"))
    p.set_defaults(action_run=_report)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--meetings", metavar="PATH",
                   help=_("meetings file (default: $VCFLEET_MEETINGS)"))
    p.add_argument("--inventory", metavar="PATH", default=argparse.SUPPRESS,
                   help=_("inventory file (default: $VCFLEET_INVENTORY, else the demo fleet)"))
    p.add_argument("--history", type=Path, metavar="FILE",
                   help=_("the history store (default: $VCFLEET_HISTORY, else the user's)"))


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return int(args.action_run(args))


def _meetings(args: argparse.Namespace) -> Meetings:
    from vcfleet.meetings import load_meetings, meetings_path

    return load_meetings(meetings_path(args.meetings))


def _history(args: argparse.Namespace) -> History | None:
    from vcfleet.history import History

    try:
        return History(args.history)
    except (OSError, sqlite3.Error) as exc:
        print(_("vcfleet meeting: warning: no history ({problem}): changes are not "
                "known").format(problem=exc),
              file=sys.stderr)
        return None


# -- list -------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from vcfleet.meetings.check import meeting_json
    from vcfleet.render.table import render_table

    meetings = _meetings(args)
    inv = inventory_of(args)
    now = datetime.now(UTC)
    chosen = sorted(meetings, key=lambda m: m.start) if args.all else meetings.upcoming(now)
    rows = [(m, len(meetings.rooms(m, inv))) for m in chosen]
    if args.format == "json":
        out = [{**meeting_json(m), "rooms": n, "countdown": countdown(m, now),
                "past": m.is_past(now)} for m, n in rows]
        sys.stdout.write(safe_json(json.dumps({"meetings": out}, ensure_ascii=False,
                                              indent=2)) + "\n")
        return 0
    if not rows:
        print(_("No upcoming meeting in {path}.").format(path=meetings.path))
        return 0
    table = [[m.id, local_time(m), countdown_text(m, now), n, safe_line(m.title)]
             for m, n in rows]
    sys.stdout.write(render_table((_("id"), _("start"), _("countdown"), _("rooms"), _("title")),
                                  table))
    return 0


# -- check ------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    from vcfleet.meetings.check import check_meeting, refuse_past
    from vcfleet.sweep import SweepOptions

    meetings = _meetings(args)
    meeting = meetings.get(args.id)
    refuse_past(meeting)
    inv = inventory_of(args)
    rooms = meetings.rooms(meeting, inv)
    if args.output:
        check_output(Path(args.output), force=args.force)
    options = SweepOptions(concurrency=min(args.concurrency, len(rooms)))
    history = _history(args)
    try:
        result = asyncio.run(check_meeting(inv, meeting, rooms, options, history))
    finally:
        if history is not None:
            history.close()
    text = render_check(result, args.format)
    if args.output:
        write_output(Path(args.output), text.encode("utf-8"), force=args.force)
        s = result.report.summary()
        print(_("{path}: meeting {id}: {total} rooms, {ready} ready, {degraded} degraded, "
                "{down} down").format(path=args.output, id=meeting.id, total=s["total"],
                                      ready=s["ready"], degraded=s["degraded"],
                                      down=s["down"]), file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0 if result.report.all_ready() else 1


def render_check(result: MeetingResult, fmt: str) -> str:
    """A meeting check as table, JSON or CSV."""
    from vcfleet.render.csv import report_csv
    from vcfleet.render.table import report_table

    if fmt == "json":
        return safe_json(json.dumps(result.to_json(), ensure_ascii=False, indent=2)) + "\n"
    if fmt == "csv":
        return report_csv(result.report)
    m = result.meeting
    head = (_("Meeting {id}: {title}").format(id=m.id, title=safe_line(m.title)) + "\n"
            + _("Starts {time} ({countdown})").format(
                time=local_time(m), countdown=countdown_text(m, datetime.now(UTC))) + "\n\n")
    names = {r.endpoint.id: r.endpoint.name for r in result.report.endpoints}
    return head + report_table(result.report) + "\n" + render_changes(m, result.changes, names)


def render_changes(meeting: Meeting, changes: Changes, names: dict[str, str]) -> str:
    """What changed since the previous check, one line a room."""
    from datetime import datetime as dt

    if changes.since is None:
        return _("First check of this meeting: no earlier check to compare with.") + "\n"
    since = local_time(meeting, dt.fromtimestamp(changes.since, UTC))
    if not changes.changes:
        return _("No change since the previous check ({since}).").format(since=since) + "\n"
    words = {"newly_down": N_("went down"), "newly_degraded": N_("became degraded"),
             "recovered": N_("recovered")}
    lines = [_("Changes since the previous check ({since}):").format(since=since)]
    for c in changes.changes:
        at = meeting.local(dt.fromtimestamp(c.at, UTC))
        reasons = "; ".join(reason_text(r) for r in c.reasons)
        why = f": {reasons}" if c.reasons and c.kind != "recovered" else ""
        line = _("{room} ({id}) {change} at {time}").format(
            room=names.get(c.endpoint_id, c.endpoint_id), id=c.endpoint_id,
            change=_(words[c.kind]), time=f"{at:%H:%M}")
        lines.append(safe_line(f"  {line}{why}"))
    return "\n".join(lines) + "\n"


# -- report -----------------------------------------------------------------------


def _report(args: argparse.Namespace) -> int:
    from vcfleet.meetings.check import check_meeting, last_changes, refuse_past
    from vcfleet.render.meeting import page_html, page_xlsx
    from vcfleet.sweep import SweepOptions

    meetings = _meetings(args)
    meeting = meetings.get(args.id)
    inv = inventory_of(args)
    rooms = meetings.rooms(meeting, inv)
    out = Path(args.output) if args.output else None
    suffix = out.suffix.lower() if out else ".html"
    if suffix not in (".html", ".htm", ".xlsx"):
        raise InputError(_("-o {path}: the suffix picks the format: .html or .xlsx").format(
            path=args.output))
    if out is not None:
        check_output(out, force=args.force)
    history = _history(args)
    if history is None:
        raise InputError(_("the organiser's page needs the history of the meeting's checks"))
    try:
        if args.check:
            refuse_past(meeting)
            asyncio.run(check_meeting(inv, meeting, rooms, SweepOptions(), history))
        current, changes = last_changes(history, meeting.id)
    finally:
        history.close()
    if current is None:
        raise InputError(_("meeting '{id}' has not been checked yet: run 'vcfleet meeting "
                           "check {id}' (or add --check)").format(id=meeting.id))
    data: Any
    if suffix == ".xlsx":
        data = page_xlsx(meeting, rooms, current, changes)
    else:
        data = page_html(meeting, rooms, current, changes).encode("utf-8")
    if out is None:
        sys.stdout.write(data.decode("utf-8"))
        return 0
    write_output(out, data, force=args.force)
    print(_("{path}: the organiser's page of meeting {id}").format(path=out, id=meeting.id),
          file=sys.stderr)
    return 0
