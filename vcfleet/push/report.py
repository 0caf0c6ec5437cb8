"""Push and backup results as the operator reads them: diffs, a problem table, a summary."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TextIO

from vcfleet.i18n import N_, _
from vcfleet.push.backup import BackupResult
from vcfleet.push.engine import EndpointResult, Outcome, PushReport
from vcfleet.render.table import render_table
from vcfleet.safe_text import safe_block, safe_json

SUMMARY_ORDER = (
    (Outcome.CHANGED, N_("changed")),
    (Outcome.WOULD_CHANGE, N_("would change (dry run)")),
    (Outcome.UNCHANGED, N_("unchanged")),
    (Outcome.ROLLED_BACK, N_("failed, rolled back")),
    (Outcome.ROLLBACK_FAILED, N_("failed, ROLLBACK FAILED")),
    (Outcome.FAILED, N_("failed, nothing changed")),
    (Outcome.UNREACHABLE, N_("unreachable")),
    (Outcome.SKIPPED, N_("skipped")),
    (Outcome.NOT_ATTEMPTED, N_("not attempted (canary failed)")),
)
"""The summary's outcomes in order, with their words (message ids)."""


def format_diff(result: EndpointResult) -> str:
    """One endpoint's diff: a header line, then ``  key: 'before' -> 'after'`` per setting."""
    lines = [f"{result.endpoint.id} ({result.endpoint.vendor}):"]
    for c in result.changes:
        shown = c.shown()
        before = _("(not set)") if shown["before"] is None else repr(shown["before"])
        lines.append(f"  {shown['setting']}: {before} -> {shown['after']!r}")
    return safe_block("\n".join(lines)) + "\n"


def print_push_report(report: PushReport, out: TextIO, *, dry_run: bool) -> None:
    """Diffs (dry run), every endpoint that did not end unchanged, and the summary."""
    if dry_run:
        for r in report.results:
            if r.changes:
                out.write(format_diff(r))
        out.write("\n")
    rows = [[r.endpoint.id, str(r.outcome) + (" (canary)" if r.canary else ""),
             ", ".join(c.label for c in r.changes), r.error or ""]
            for r in report.results if r.outcome not in (Outcome.UNCHANGED, Outcome.WOULD_CHANGE)]
    if rows:
        out.write(render_table((_("endpoint"), _("outcome"), _("settings"), _("detail")), rows))
        out.write("\n")
    summary = [[_(label), report.count(outcome)] for outcome, label in SUMMARY_ORDER
               if report.count(outcome) or outcome in _ALWAYS]
    out.write(render_table((_("outcome"), _("endpoints")), summary))
    if report.canary_failed:
        out.write(_("canary stage failed: the rollout was stopped") + "\n")


_ALWAYS = {Outcome.CHANGED, Outcome.UNCHANGED, Outcome.ROLLED_BACK, Outcome.UNREACHABLE,
           Outcome.SKIPPED}


def print_backup_report(results: Sequence[BackupResult], out: TextIO) -> None:
    """Endpoints that were not saved, then counts per status."""
    rows = [[r.endpoint.id, r.status, r.error or ""] for r in results if r.status != "saved"]
    if rows:
        out.write(render_table((_("endpoint"), _("status"), _("detail")), rows))
        out.write("\n")
    counts = {s: sum(r.status == s for r in results)
              for s in ("saved", "unreachable", "failed", "skipped")}
    changed = sum(r.changed for r in results)
    out.write(render_table((_("status"), _("endpoints")), [[k, v] for k, v in counts.items()]))
    out.write(_("{n} backup(s) differ from what the folder held before").format(n=changed)
              + "\n")


def push_json(report: PushReport, *, dry_run: bool) -> str:
    """The report as one JSON document (``--format json``), secrets redacted."""
    doc: dict[str, Any] = {
        "dry_run": dry_run,
        "duration_s": round(report.duration_s, 3),
        "canary_failed": report.canary_failed,
        "summary": {str(o): report.count(o) for o in Outcome},
        "endpoints": [{"id": r.endpoint.id, "vendor": r.endpoint.vendor,
                       "outcome": str(r.outcome), "canary": r.canary,
                       "diff": [c.shown() for c in r.changes], "error": r.error,
                       "duration_s": round(r.duration_s, 3)} for r in report.results],
    }
    return safe_json(json.dumps(doc, ensure_ascii=False, indent=2)) + "\n"
