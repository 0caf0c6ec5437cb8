"""The content of the readiness report a meeting's organiser reads, shared by its two
formats (``vcfleet.render.markdown`` and ``vcfleet.render.html``).

Both are pure functions of a ``SweepReport`` and the inventory (and, optionally,
the history store for each room's recent failures): the time of the sweep, a
summary by tier and by district, the rooms that are not ready with their
reasons and the person to phone, the notes of rooms (whatever their verdict),
and the rooms that failed most often over the last 7 days.  This module builds
the sections' headers and cells; the format modules only escape and lay them out.
"""

from __future__ import annotations

from datetime import tzinfo
from typing import TYPE_CHECKING

from inventory import Endpoint, Inventory
from vcfleet import i18n
from vcfleet.i18n import N_, _, number
from vcfleet.reasons import reasons_text
from vcfleet.render.verdicts import COUNT_ORDER, label, symbol, word, worst_first
from vcfleet.report import EndpointReport, SweepReport, Verdict

if TYPE_CHECKING:
    from vcfleet.history import FlakyEndpoint, History

FAILURE_WINDOW_S = 7 * 86400.0
"""How far back the report counts each room's failures in the history store."""
FLAKY_ROWS = 15
"""At most this many rooms in the report's "Rooms that failed often" section."""
FLAKY_TITLE = f"Rooms that failed often (last {FAILURE_WINDOW_S / 86400:g} days)"
"""The English title of that section (``flaky_title()`` in the current language)."""

COUNT_COLUMNS = ("total", *(v.value for v in COUNT_ORDER))

Table = tuple[list[str], list[list[object]]]
"""Headers and rows of one section's table."""


def flaky_title() -> str:
    """The title of the "failed often" section in the current language."""
    return _("Rooms that failed often (last {days} days)").format(
        days=f"{FAILURE_WINDOW_S / 86400:g}")


def format_time(ts: float, tz: tzinfo | None = None) -> str:
    """Epoch seconds as ``2026-11-27 08:30:00 +0700`` (local time unless ``tz`` is given);
    in Vietnamese ``27/11/2026 08:30`` in the province's zone (``vcfleet.i18n``)."""
    return i18n.format_time(ts, tz)


TIER_WORDS = {"province": N_("Province"), "department": N_("Department"),
              "district": N_("District"), "commune": N_("Commune")}
"""The words for the usual tiers; another tier (an inventory's own slug) is shown as its
slug, capitalised."""


def tier_name(tier: str) -> str:
    """A tier in the operator's language ("Department", "Sở, ngành")."""
    return _(TIER_WORDS[tier]) if tier in TIER_WORDS else tier.title()


def unit_name(inventory: Inventory, slug: str | None) -> str:
    """Readable name of a district slug (the name of its room if it has one)."""
    if not slug:
        return _("Province and departments")
    if slug in inventory:
        return inventory.get(slug).name
    return slug


def recent_failures(report: SweepReport, history: History | None) -> dict[str, int] | None:
    """Each room's failures (down or degraded) over ``FAILURE_WINDOW_S`` from the history."""
    if history is None:
        return None
    since = report.finished_at - FAILURE_WINDOW_S
    return history.failure_counts(since=since)


def often_failing(report: SweepReport, history: History | None) -> list[FlakyEndpoint]:
    """The report's rooms that failed (down or degraded) most often over
    ``FAILURE_WINDOW_S`` in the history, worst first, at most ``FLAKY_ROWS``."""
    if history is None:
        return []
    in_report = {r.endpoint.id for r in report.endpoints}
    ranked = history.flaky(limit=None, since=report.finished_at - FAILURE_WINDOW_S)
    return [f for f in ranked if f.endpoint_id in in_report][:FLAKY_ROWS]


def failed_of(flaky: FlakyEndpoint) -> str:
    """A room's failures out of the sweeps that checked it: "5 of 12"."""
    return _("{failures} of {sweeps}").format(failures=flaky.failures, sweeps=flaky.sweeps)


def title(inventory: Inventory) -> str:
    """The report's title, with the province's name when the inventory has one."""
    if inventory.province:
        return _("Readiness report — {province}").format(province=inventory.province)
    return _("Readiness report")


def meta(report: SweepReport, tz: tzinfo | None) -> list[tuple[str, str]]:
    """The report's facts under its title: start, duration, checks, rooms (and a warning)."""
    facts = [(_("Sweep started"), format_time(report.started_at, tz)),
             (_("Duration"), _("{seconds} s").format(seconds=number(report.duration_s, ".1f"))),
             (_("Checks"), ", ".join(report.checks) or _("each room's profile")),
             (_("Rooms"), report.selector or _("all"))]
    if report.cancelled:
        facts.append((warning_key(),
                      _("the sweep did not finish: rooms not checked are listed")))
    return facts


def warning_key() -> str:
    """The key of the warning fact in ``meta`` (a format may show it in red)."""
    return _("Warning")


def summary_line(report: SweepReport) -> str:
    """``348 rooms, ✔ 297 ready, ▲ 30 degraded, ✖ 21 down`` (and not checked if any)."""
    s = report.summary()
    parts = [_("{n} rooms").format(n=s["total"])]
    parts += [f"{symbol(v)} {s[v.value]} {word(v)}" for v in COUNT_ORDER
              if v is not Verdict.UNKNOWN or s.get(v.value)]
    return ", ".join(parts)


def _contact(e: Endpoint) -> tuple[str, str]:
    return e.contact.name or "—", e.contact.phone or "—"


def not_ready_table(rows: list[EndpointReport], inventory: Inventory,
                    failures: dict[str, int] | None) -> Table:
    """Headers and cells of the "Not ready" section (``rows`` already worst first)."""
    headers = [_("Verdict"), _("Room"), _("District"), _("Reasons"), _("Contact"), _("Phone")]
    if failures is not None:
        headers.append(_("Failures (7 days)"))
    table: list[list[object]] = []
    for r in rows:
        name, phone = _contact(r.endpoint)
        row: list[object] = [label(r.verdict), f"{r.endpoint.name} ({r.endpoint.id})",
                             unit_name(inventory, r.endpoint.district),
                             reasons_text(r.reasons) or "—", name, phone]
        if failures is not None:
            row.append(failures.get(r.endpoint.id, 0))
        table.append(row)
    return headers, table


def notes_title() -> str:
    """The heading of the section of notes."""
    return _("Notes")


def notes_table(report: SweepReport, inventory: Inventory) -> Table | None:
    """Headers and cells of the "Notes" section: every room with a note (what does not
    change its verdict, e.g. a SIP stack that demands authentication), worst first;
    None when no room has one."""
    rows = [r for r in worst_first(report.endpoints) if r.notes]
    if not rows:
        return None
    headers = [_("Verdict"), _("Room"), _("District"), _("Notes")]
    table: list[list[object]] = [
        [label(r.verdict), f"{r.endpoint.name} ({r.endpoint.id})",
         unit_name(inventory, r.endpoint.district), reasons_text(r.notes)] for r in rows]
    return headers, table


def flaky_table(report: SweepReport, inventory: Inventory, rooms: list[FlakyEndpoint],
                tz: tzinfo | None) -> tuple[list[str], list[list[object]], list[Verdict]]:
    """Headers, cells and current verdicts of the "failed often" section."""
    headers = [_("Verdict now"), _("Room"), _("District"), _("Failed sweeps"),
               word(Verdict.DOWN).capitalize(), word(Verdict.DEGRADED).capitalize(),
               _("Last failure"), _("Contact"), _("Phone")]
    latest = {r.endpoint.id: r for r in report.endpoints}
    table: list[list[object]] = []
    verdicts: list[Verdict] = []
    for f in rooms:
        r = latest[f.endpoint_id]
        name, phone = _contact(r.endpoint)
        table.append([label(r.verdict), f"{r.endpoint.name} ({r.endpoint.id})",
                      unit_name(inventory, r.endpoint.district), failed_of(f), f.down,
                      f.degraded, format_time(f.last_failure, tz), name, phone])
        verdicts.append(r.verdict)
    return headers, table, verdicts


def _district_counts(report: SweepReport, inventory: Inventory
                     ) -> list[tuple[str, dict[str, int]]]:
    groups: dict[str | None, dict[str, int]] = {}
    for r in report.endpoints:
        row = groups.setdefault(r.endpoint.district, dict.fromkeys(COUNT_COLUMNS, 0))
        row["total"] += 1
        row[r.verdict.value] += 1
    named = [(slug, unit_name(inventory, slug), counts) for slug, counts in groups.items()]
    if i18n.language() == "vi":  # by the name people read, in Vietnamese order
        named.sort(key=lambda row: (row[0] is not None, i18n.vi_sort_key(row[1])))
    else:
        named.sort(key=lambda row: (row[0] is not None, row[0] or ""))
    return [(name, counts) for _slug, name, counts in named]


def _tier_counts(report: SweepReport, inventory: Inventory) -> list[tuple[str, dict[str, int]]]:
    by_tier = report.summary_by("tier")
    order = {t: i for i, t in enumerate(inventory.tiers)}
    return sorted(((t, c) for t, c in by_tier.items()), key=lambda kv: order.get(kv[0], 99))


def count_table(report: SweepReport, inventory: Inventory, key: str) -> Table:
    """Headers and cells of the "By tier" (``key="tier"``) or "By district" section; the
    "Not checked" column only when some room was not checked."""
    with_unknown = bool(report.summary().get("unknown"))
    verdicts = [v for v in COUNT_ORDER if with_unknown or v is not Verdict.UNKNOWN]
    headings = {"tier": _("Tier"), "district": _("District")}
    headers = [headings.get(key, key.title()), _("Rooms"),
               *(f"{symbol(v)} {word(v).capitalize()}" for v in verdicts)]
    counts = _tier_counts(report, inventory) if key == "tier" else \
        _district_counts(report, inventory)
    cols = ["total", *(v.value for v in verdicts)]
    return headers, [[name, *(c.get(col, 0) for col in cols)] for name, c in counts]
