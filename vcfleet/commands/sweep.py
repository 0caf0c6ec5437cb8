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
import logging
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

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
from vcfleet.i18n import N_, _, number
from vcfleet.outfile import check_output, write_output

if TYPE_CHECKING:
    from inventory import Endpoint, Inventory
    from vcfleet.history import History
    from vcfleet.report import SweepReport
    from vcfleet.sweep import SweepEvent, SweepOptions

log = logging.getLogger(__name__)

HELP = N_("run one readiness sweep: which rooms will work, and why not")
FORMATS = ("table", "json", "csv", "html", "md")
FILES_PER_ENDPOINT = 6
"""Sockets one endpoint in flight may hold at once (its checks, plus slack)."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet sweep``."""
    add_select(parser)
    parser.add_argument("--checks", metavar="LIST", default="",
                        help=_("checks to run, comma separated: net ({net}), media ({media}), "
                               "device, all, or kinds (default: each room's profile)").format(
                            net=",".join(GROUPS["net"]), media=",".join(GROUPS["media"])))
    parser.add_argument("--known-hosts", metavar="FILE", type=Path,
                        help=_("trusted SSH host keys for the device check, the file push uses "
                               "(default: known_hosts in the user's data directory, see "
                               "docs/push.md; for the shipped demo fleet the one `vcfleet "
                               "simulate` writes in its state folder); an unknown or changed "
                               "key is refused"))
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help=_("output format (default: table)"))
    parser.add_argument("-o", "--output", metavar="FILE",
                        help=_("write the report to FILE instead of standard output"))
    add_force(parser)
    parser.add_argument("--concurrency", type=positive_int, default=1024, metavar="N",
                        help=_("rooms checked at once (default: 1024)"))
    parser.add_argument("--timeout", action="append", default=[], metavar="KIND=SECONDS",
                        help=_("deadline of one check kind, e.g. sip=3 (repeatable)"))
    parser.add_argument("--threshold", action="append", default=[], metavar="KEY=VALUE",
                        help=_("judge by this threshold instead of the inventory's, e.g. "
                               "rtt_ms=150 (repeatable; keys: {keys})").format(
                            keys=", ".join(Thresholds.model_fields)))
    parser.add_argument("--deadline", type=positive_seconds, metavar="SECONDS",
                        help=_("deadline of the whole sweep; rooms not done by then are unknown"))
    parser.add_argument("--no-progress", action="store_true",
                        help=_("no progress bar even on a terminal"))
    parser.add_argument("--no-history", action="store_true",
                        help=_("do not record the sweep in the history store ($VCFLEET_HISTORY)"))


def parse_timeouts(items: Sequence[str]) -> dict[str, float]:
    """``--timeout sip=3 --timeout https=5`` as {kind: seconds}; InputError when malformed."""
    from vcfleet.checks import CHECKS

    out: dict[str, float] = {}
    for item in items:
        kind, eq, seconds = item.partition("=")
        kind = kind.strip()
        if not eq or kind not in CHECKS:
            raise InputError(_("--timeout {item}: expected KIND=SECONDS with KIND one of "
                               "{kinds}").format(item=repr(item), kinds=", ".join(CHECKS)))
        try:
            float(seconds)
        except ValueError:
            raise InputError(_("--timeout {item}: {text} is not a number of seconds").format(
                item=repr(item), text=repr(seconds))) from None
        problem = seconds_problem(seconds.strip())
        if problem is not None:
            raise InputError(_("--timeout {item}: {problem}").format(item=repr(item),
                                                                      problem=problem))
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
            raise InputError(_("--threshold {item}: expected KEY=VALUE with KEY one of "
                               "{keys}").format(item=repr(item), keys=", ".join(keys)))
        try:
            out[key] = float(text)
        except ValueError:
            raise InputError(_("--threshold {item}: {text} is not a number").format(
                item=repr(item), text=repr(text))) from None
        try:
            Thresholds().overridden({key: out[key]})
        except ValidationError as exc:
            msg = str(exc.errors()[0]["msg"])
            raise InputError(f"--threshold {item!r}: {msg[0].lower()}{msg[1:]}") from None
    return out


def run(args: argparse.Namespace) -> int:
    """Run the sweep, write the report, return the exit code."""
    from vcfleet.checks import DEFAULT_TIMEOUTS
    from vcfleet.render import render_report
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
    trust = device_trust(inv, endpoints, checks, args.known_hosts)
    if trust.note:
        print(trust.note, file=sys.stderr)
    options = SweepOptions(checks=trust.checks, concurrency=concurrency, timeouts=timeouts,
                           thresholds=thresholds, deadline_s=args.deadline,
                           settings=trust.settings, selector=args.select or "")
    show = sys.stderr.isatty() and not args.no_progress
    progress = Progress(len(endpoints), sys.stderr if show else None)
    report, interrupted = asyncio.run(_sweep(inv, endpoints, options, progress))
    progress.clear()
    history = None if args.no_history else _record(report)
    try:
        _write(render_report(report, args.format, inv, history), report, args)
    finally:
        if history is not None:
            history.close()
    if interrupted:
        print(_("vcfleet sweep: interrupted; {done} of {n} rooms were checked").format(
            done=_done(report), n=len(report.endpoints)), file=sys.stderr)
        return 130
    return 0 if report.all_ready() else 1


def simulator_known_hosts() -> Path:
    """``known_hosts`` in the state folder ``vcfleet simulate`` uses by default, where it
    writes every simulated codec's host key (``simulator.default_state_dir()``, which this
    module may not import; tests/test_device_defaults.py checks the two agree)."""
    import platformdirs

    return Path(platformdirs.user_state_path("vcfleet")) / "simulator" / "known_hosts"


def default_known_hosts_for(inv: Inventory) -> Path:
    """The host keys a sweep of ``inv`` trusts unless told otherwise: for the shipped demo
    fleet (the file itself, never a copy: its rooms exist only in the simulator) the
    simulator's own ``known_hosts``; for any other fleet push's file."""
    from inventory import DEMO_INVENTORY
    from vcfleet.push.hostkeys import default_known_hosts

    if inv.path is not None and Path(inv.path).resolve() == DEMO_INVENTORY.resolve():
        return simulator_known_hosts()
    return default_known_hosts()


@dataclass(frozen=True)
class DeviceTrust:
    """What a sweep needs for its device check: the settings with the trusted host keys,
    the checks to run (the device check left out when there is nothing to trust), and the
    one line that says why it was left out."""

    settings: dict[str, Any]
    checks: frozenset[str] | None
    note: str = ""


def device_trust(inv: Inventory, endpoints: Sequence[Endpoint], checks: frozenset[str] | None,
                 known_hosts: Path | None = None, command: str = "sweep") -> DeviceTrust:
    """The device check's trust for a sweep of ``endpoints``: ``known_hosts`` (else
    ``default_known_hosts_for``), read once and never added to; nothing when no selected
    room runs the check.

    Without a known_hosts file (missing, or with no key in it) every Cisco and Poly room
    (SSH) would be unknown
    for the same reason: when ``--checks`` asked for the device check that is one line and
    exit 2 (InputError); when only the rooms' profiles name it the sweep runs without it,
    with ``note`` saying so (unless they name nothing else: InputError).  An unreadable
    file: InputError."""
    if checks is not None and "device" not in checks:
        return DeviceTrust({}, checks)
    profiles = {e.profile for e in endpoints}
    if not any("device" in inv.profiles[p].checks for p in profiles):
        return DeviceTrust({}, checks)
    from probes.device import VENDORS as SSH_VENDORS
    from probes.device import Settings
    from vcfleet.push.hostkeys import KnownHosts

    path = known_hosts or default_known_hosts_for(inv)
    try:
        known = KnownHosts(path)
    except OSError as exc:
        raise InputError(str(exc)) from None
    if _has_keys(path) or not any(
            e.vendor in SSH_VENDORS and "device" in inv.profiles[e.profile].checks
            for e in endpoints):  # Yealink rooms only: their HTTPS API needs no host key
        return DeviceTrust({"device": Settings(known_hosts=known)}, checks)
    why = _(
        "{path}: no SSH host key recorded, so the device check cannot trust any codec "
        "(record them with `vcfleet backup --accept-new-host-keys`, or pass --known-hosts "
        "FILE; the simulator writes STATE_DIR/known_hosts)").format(path=path)
    rest = frozenset(c for p in profiles for c in inv.profiles[p].checks) - {"device"}
    if checks is not None or not rest:  # asked for, or nothing else to check
        raise InputError(f"vcfleet {command}: {why}")
    note = _("vcfleet {command}: device check not run: {why}").format(command=command, why=why)
    return DeviceTrust({}, rest, note)


def _has_keys(path: Path) -> bool:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    return any(line.strip() and not line.lstrip().startswith("#") for line in lines)


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
        from vcfleet.render.verdicts import symbol
        from vcfleet.report import Verdict

        assert self.stream is not None
        filled = self.WIDTH * self.done // max(1, self.total)
        bar = "█" * filled + "░" * (self.WIDTH - filled)
        counts = "  ".join(f"{symbol(Verdict(v))} {n}" for v, n in self.counts.items())
        line = _("sweeping {bar} {done}/{total}  {counts}  {seconds} s").format(
            bar=bar, done=self.done, total=self.total, counts=counts,
            seconds=number(now - self.t0, ".1f"))
        self.stream.write(f"\r\033[K{line}")
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
        print(_("vcfleet sweep: warning: sweep not recorded in the history: {problem}").format(
            problem=exc), file=sys.stderr)
        return None
    return history


def _write(text: str, report: SweepReport, args: argparse.Namespace) -> None:
    if not args.output:
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(args.output)
    write_output(path, text.encode("utf-8"), force=args.force)
    from vcfleet.render.verdicts import COUNT_ORDER, word

    s = report.summary()
    counts = ", ".join(f"{s[v.value]} {word(v)}" for v in COUNT_ORDER[:3])
    print(_("{path}: {n} rooms, {counts}").format(path=path, n=s["total"], counts=counts),
          file=sys.stderr)
