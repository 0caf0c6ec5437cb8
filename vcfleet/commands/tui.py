"""``vcfleet tui``: the operator console over the inventory (docs/console.md)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

from inventory import InputError

HELP = "the operator console: live readiness sweeps, details, history, report"

TEXTUAL_SIGNALS = (signal.SIGTSTP, signal.SIGCONT, signal.SIGWINCH, signal.SIGTTOU,
                   signal.SIGTTIN)
"""Signals whose handlers Textual's Linux driver installs and never puts back."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet tui`` (and ``vcfleet demo``)."""
    parser.add_argument("--checks", metavar="LIST", default=None,
                        help="check kinds to run, e.g. net,webrtc (default: each room's profile)")
    parser.add_argument("--history", metavar="PATH", default=None,
                        help="history file (default: $VCFLEET_HISTORY, else the user data dir; "
                             "the demo: its own folder)")
    parser.add_argument("--no-history", action="store_true", help="do not record sweeps")
    parser.add_argument("--report-dir", metavar="DIR", default=None,
                        help="where r writes the readiness report (default: current folder)")
    parser.add_argument("--meetings", metavar="PATH", default=None,
                        help="meetings file for the meetings view m (default: "
                             "$VCFLEET_MEETINGS if set)")


def run(args: argparse.Namespace) -> int:
    """Open the console; returns when the operator quits."""
    from vcfleet.commands.common import inventory_of

    require_terminal("tui", "run it in a terminal, or use vcfleet sweep")
    inventory = inventory_of(args)
    return run_console(inventory, args)


def require_terminal(command: str, hint: str) -> None:
    """Refuse (one line, exit code 2) unless stdin, stdout and stderr are a terminal.

    The console reads keys from stdin and draws on stderr (Textual's choice); with any
    of them redirected it would draw escape codes into a file and wait for keys that
    never come.
    """
    for name, stream in (("stdin", sys.__stdin__), ("stdout", sys.__stdout__),
                         ("stderr", sys.__stderr__)):
        try:
            tty = stream is not None and stream.isatty()
        except ValueError:  # closed
            tty = False
        if not tty:
            raise InputError(f"vcfleet {command}: no terminal ({name} is not one): {hint}")


def run_console(inventory: object, args: argparse.Namespace, subtitle: str = "",
                history_path: Path | None = None, report_dir: Path | None = None,
                known_hosts: Path | None = None) -> int:
    """Build the console from the command's options and run it (used by ``demo`` too).

    ``history_path`` and ``report_dir`` are the defaults when the options name none;
    ``known_hosts`` the device check's trusted keys (default: as ``vcfleet sweep``).
    """
    from inventory import Inventory
    from tui.app import ConsoleApp
    from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit

    assert isinstance(inventory, Inventory)
    from vcfleet.meetings import default_meetings_path, load_meetings

    meetings_file = getattr(args, "meetings", None) or default_meetings_path()
    meetings = load_meetings(meetings_file) if meetings_file else None
    raise_open_file_limit(4096)
    from vcfleet.commands.sweep import device_trust

    trust = device_trust(inventory, inventory.endpoints, parse_checks(args.checks),
                         known_hosts, "tui")
    if trust.note:
        print(trust.note, file=sys.stderr)
    options = SweepOptions(checks=trust.checks, settings=trust.settings, source="tui")
    app = ConsoleApp(inventory, sweep_options=options, notice=trust.note,
                     history_path=args.history or history_path,
                     use_history=not args.no_history,
                     report_dir=Path(args.report_dir) if args.report_dir else report_dir,
                     subtitle=subtitle, meetings=meetings)
    with signal_handlers_restored(TEXTUAL_SIGNALS):
        result = app.run()
    return int(result or 0)


@contextlib.contextmanager
def signal_handlers_restored(signals: tuple[signal.Signals, ...]) -> Iterator[None]:
    """Put back the handlers of ``signals`` when the block ends.

    Textual's driver leaves its SIGCONT handler behind when the app ends; a SIGCONT
    after that (the shell resuming the job, ``kill -CONT``) restarted the driver outside
    any event loop: ``RuntimeError: no running event loop`` while the demo stopped its
    simulator, and escape codes on the terminal again.
    """
    saved = {sig: signal.getsignal(sig) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in saved.items():
            if handler is not None:
                signal.signal(sig, handler)
