"""``vcfleet sweep``: one readiness sweep of the selected rooms (docs/sweep.md).

Prints a summary by tier and by district and the rooms that are not ready with
their reasons (``--format table``), or the sweep JSON contract, or one CSV row per
room.  A live progress bar goes to stderr when stderr is a terminal.  Exit codes:
0 every room ready, 1 something is not ready, 2 bad input, 130 interrupted
(Ctrl-C cancels the sweep cleanly and prints what had finished).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from pydantic import ValidationError

from inventory import InputError, Thresholds
from vcfleet.checks import GROUPS
from vcfleet.commands.common import (
    add_force,
    add_select,
    inventory_of,
    positive_int,
    positive_seconds,
    seconds_problem,
    selected,
)
from vcfleet.outfile import check_output, write_output
from vcfleet.safe_text import safe_json

if TYPE_CHECKING:
    from inventory import Endpoint, Inventory
    from vcfleet.history import History
    from vcfleet.report import EndpointReport, SweepReport
    from vcfleet.sweep import SweepEvent, SweepOptions

log = logging.getLogger(__name__)

HELP = "run one readiness sweep: which rooms will work, and why not"
FORMATS = ("table", "json", "csv", "html", "md")
FILES_PER_ENDPOINT = 6
"""Sockets one endpoint in flight may hold at once (its checks, plus slack)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet sweep``."""
    add_select(parser)
    parser.add_argument("--checks", metavar="LIST", default="",
                        help=f"checks to run, comma separated: net ({','.join(GROUPS['net'])}), "
                             f"media ({','.join(GROUPS['media'])}), all, or kinds "
                             "(default: each room's profile)")
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default: table)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write the report to FILE instead of standard output")
    add_force(parser)
    parser.add_argument("--concurrency", type=positive_int, default=1024, metavar="N",
                        help="rooms checked at once (default: 1024)")
    parser.add_argument("--timeout", action="append", default=[], metavar="KIND=SECONDS",
                        help="deadline of one check kind, e.g. sip=3 (repeatable)")
    parser.add_argument("--threshold", action="append", default=[], metavar="KEY=VALUE",
                        help="judge by this threshold instead of the inventory's, e.g. "
                             f"rtt_ms=150 (repeatable; keys: {', '.join(Thresholds.model_fields)})")
    parser.add_argument("--deadline", type=positive_seconds, metavar="SECONDS",
                        help="deadline of the whole sweep; rooms not done by then are unknown")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar even on a terminal")
    parser.add_argument("--no-history", action="store_true",
                        help="do not record the sweep in the history store ($VCFLEET_HISTORY)")


def parse_timeouts(items: Sequence[str]) -> dict[str, float]:
    """``--timeout sip=3 --timeout https=5`` as {kind: seconds}; InputError when malformed."""
    from vcfleet.checks import CHECKS

    out: dict[str, float] = {}
    for item in items:
        kind, eq, seconds = item.partition("=")
        kind = kind.strip()
        if not eq or kind not in CHECKS:
            raise InputError(f"--timeout {item!r}: expected KIND=SECONDS with KIND one of "
                             f"{', '.join(CHECKS)}")
        try:
            float(seconds)
        except ValueError:
            raise InputError(f"--timeout {item!r}: {seconds!r} is not a number of seconds"
                             ) from None
        problem = seconds_problem(seconds.strip())
        if problem is not None:
            raise InputError(f"--timeout {item!r}: {problem}")
        out[kind] = float(seconds)
    return out


def parse_thresholds(items: Sequence[str]) -> dict[str, float]:
    """``--threshold rtt_ms=150 --threshold mos=3.8`` as {key: value}; InputError (one line)
    for an unknown key or a value the key cannot take."""
    keys = tuple(Thresholds.model_fields)
    out: dict[str, float] = {}
    for item in items:
        key, eq, text = (part.strip() for part in item.partition("="))
        if not eq or key not in keys:
            raise InputError(f"--threshold {item!r}: expected KEY=VALUE with KEY one of "
                             f"{', '.join(keys)}")
        try:
            out[key] = float(text)
        except ValueError:
            raise InputError(f"--threshold {item!r}: {text!r} is not a number") from None
        try:
            Thresholds().overridden({key: out[key]})
        except ValidationError as exc:
            msg = str(exc.errors()[0]["msg"])
            raise InputError(f"--threshold {item!r}: {msg[0].lower()}{msg[1:]}") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Run the sweep, write the report, return the exit code."""
    from vcfleet.checks import DEFAULT_TIMEOUTS
    from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit

    inv = inventory_of(args)
    endpoints = selected(args, inv)
    checks = parse_checks(args.checks)
    timeouts = {**DEFAULT_TIMEOUTS, **parse_timeouts(args.timeout)}
    thresholds = parse_thresholds(args.threshold)
    if args.output:
        check_output(Path(args.output), force=args.force)  # before the sweep, not after
    concurrency = min(args.concurrency, len(endpoints))
    limit = raise_open_file_limit(concurrency * FILES_PER_ENDPOINT + 256)
    concurrency = max(1, min(concurrency, (limit - 128) // FILES_PER_ENDPOINT))
    options = SweepOptions(checks=checks, concurrency=concurrency, timeouts=timeouts,
                           thresholds=thresholds, deadline_s=args.deadline,
                           selector=args.select or "")
    show = sys.stderr.isatty() and not args.no_progress
    progress = Progress(len(endpoints), sys.stderr if show else None)
    report, interrupted = asyncio.run(_sweep(inv, endpoints, options, progress))
    progress.clear()
    history = None if args.no_history else _record(report)
    try:
        _write(render(report, args.format, inv, history), report, args)
    finally:
        if history is not None:
            history.close()
    if interrupted:
        print(f"vcfleet sweep: interrupted; {_done(report)} of {len(report.endpoints)} rooms "
              "were checked", file=sys.stderr)
        return 130
    return 0 if report.all_ready() else 1


async def _sweep(inv: Inventory, endpoints: list[Endpoint], options: SweepOptions,
                 progress: Progress) -> tuple[SweepReport, bool]:
    """Run the sweep with Ctrl-C (SIGINT) and SIGTERM wired to ``Sweep.cancel()``."""
    from vcfleet.sweep import Sweep

    sweep = Sweep(inv, endpoints, options, on_event=progress.event)
    loop = asyncio.get_running_loop()
    interrupted = False

    def interrupt() -> None:
        nonlocal interrupted
        interrupted = True
        sweep.cancel()

    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(sig, interrupt)
            installed.append(sig)
    log.info("sweep of %d rooms started (concurrency %d)", len(endpoints), options.concurrency)
    try:
        return await sweep.run(), interrupted
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _done(report: SweepReport) -> int:
    return sum(1 for r in report.endpoints if r.verdict.value != "unknown")


class Progress:
    """A one-line progress bar on a terminal, redrawn at most ten times a second."""

    WIDTH = 30

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.stream = total, stream
        self.done = 0
        self.counts = {"ready": 0, "degraded": 0, "down": 0}
        self.t0 = time.monotonic()
        self.drawn_at = 0.0

    def event(self, event: SweepEvent) -> None:
        """Sweep event handler: count finished rooms and redraw."""
        from vcfleet.sweep import EndpointFinished

        if not isinstance(event, EndpointFinished):
            return
        self.done += 1
        verdict = event.report.verdict.value
        if verdict in self.counts:
            self.counts[verdict] += 1
        now = time.monotonic()
        if self.stream is not None and (now - self.drawn_at >= 0.1 or self.done == self.total):
            self.drawn_at = now
            self.draw(now)

    def draw(self, now: float) -> None:
        """Write the bar (carriage return, no newline)."""
        assert self.stream is not None
        filled = self.WIDTH * self.done // max(1, self.total)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        c = self.counts
        self.stream.write(f"\r\033[Ksweeping {bar} {self.done}/{self.total}  ✔ {c['ready']}  "
                          f"▲ {c['degraded']}  ✖ {c['down']}  {now - self.t0:.1f} s")
        self.stream.flush()

    def clear(self) -> None:
        """Erase the bar before the report is printed."""
        if self.stream is not None and self.drawn_at:
            self.stream.write("\r\033[K")
            self.stream.flush()


# -- output ---------------------------------------------------------------------------


def _record(report: SweepReport) -> History | None:
    """Record the sweep in the history store; a store that fails is a warning, not an error."""
    from vcfleet.history import History

    try:
        history = History()
        history.record(report)
    except (OSError, sqlite3.Error) as exc:
        print(f"vcfleet sweep: warning: sweep not recorded in the history: {exc}",
              file=sys.stderr)
        return None
    return history


def _write(text: str, report: SweepReport, args: argparse.Namespace) -> None:
    if not args.output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(args.output)
    write_output(path, text.encode("utf-8"), force=args.force)
    s = report.summary()
    print(f"{path}: {s['total']} rooms, {s['ready']} ready, {s['degraded']} degraded, "
          f"{s['down']} down", file=sys.stderr)


def render(report: SweepReport, fmt: str, inv: Inventory | None = None,
           history: History | None = None) -> str:
    """The report in one of FORMATS (html and md need the inventory; docs/sweep.md)."""
    if fmt in ("html", "md"):
        from vcfleet.render import render_html, render_markdown

        assert inv is not None
        return (render_html if fmt == "html" else render_markdown)(report, inv, history)
    if fmt == "json":
        return safe_json(json.dumps(report.to_json(), ensure_ascii=False, indent=2)) + "\n"
    if fmt == "csv":
        return render_csv(report)
    return render_text(report)


def render_text(report: SweepReport) -> str:
    """Summary line, summaries by tier and by district, then the rooms not ready."""
    from vcfleet.report import SYMBOLS, Verdict
    from vcfleet.tables import render_table

    s = report.summary()
    checks = ", ".join(report.checks) or "each room's profile"
    head = (f"Sweep of {s['total']} rooms ({checks}) in {report.duration_s:.2f} s: "
            f"{s['ready']} ready, {s['degraded']} degraded, {s['down']} down")
    if s.get("unknown"):
        head += f", {s['unknown']} not checked"
    if report.cancelled:
        head += " (sweep cancelled or past its deadline)"
    parts = [head + "\n"]
    for key in ("tier", "district"):
        parts.append(f"\nBy {key}\n")
        parts.append(_summary_table(report, key))
    order = {Verdict.DOWN: 0, Verdict.UNKNOWN: 1, Verdict.DEGRADED: 2}
    not_ready = sorted((r for r in report.endpoints if r.verdict is not Verdict.READY),
                       key=lambda r: order.get(r.verdict, 3))
    if not not_ready:
        parts.append("\nEvery room is ready.\n")
        return "".join(parts)
    parts.append(f"\nNot ready ({len(not_ready)})\n")
    rows = [[f"{SYMBOLS[r.verdict]} {r.verdict.value}", r.endpoint.id, r.endpoint.name,
             r.endpoint.district or "", "; ".join(r.reasons)] for r in not_ready]
    parts.append(render_table(("verdict", "id", "name", "district", "reasons"), rows))
    return "".join(parts)


def _summary_table(report: SweepReport, key: str) -> str:
    from vcfleet.tables import render_table

    groups = report.summary_by(key)
    with_unknown = any(g["unknown"] for g in groups.values())
    cols = ["total", "ready", "degraded", "down"] + (["unknown"] if with_unknown else [])
    rows = [[name, *(g[c] for c in cols)] for name, g in groups.items()]
    return render_table((key, *cols), rows)


def render_csv(report: SweepReport) -> str:
    """One row per room: identity, verdict, reasons, then ``CHECK_ok`` and every figure."""
    from vcfleet.tables import render_csv as csv_table

    columns: dict[tuple[str, str | None, str], None] = {}
    for r in report.endpoints:
        for name, check in r.checks.items():
            columns.setdefault((name, None, "ok"), None)
            for fig in check.result.figures:
                columns.setdefault((name, None, fig), None)
            for direction, figs in check.result.directions.items():
                for fig in figs:
                    columns.setdefault((name, direction, fig), None)
    cols = list(columns)
    headers = ["id", "name", "tier", "district", "address", "verdict", "reasons",
               *("_".join(p for p in c if p) for c in cols)]
    rows = [[r.endpoint.id, r.endpoint.name, r.endpoint.tier, r.endpoint.district or "",
             r.endpoint.address, r.verdict.value, "; ".join(r.reasons),
             *(_cell(r, c) for c in cols)] for r in report.endpoints]
    return csv_table(headers, rows)


def _cell(r: EndpointReport, column: tuple[str, str | None, str]) -> object:
    check, direction, fig = column
    if check not in r.checks:
        return ""
    if fig == "ok" and direction is None:
        return "true" if r.checks[check].result.ok else "false"
    value = r.figure(check, fig, direction)
    return "" if value is None else value
