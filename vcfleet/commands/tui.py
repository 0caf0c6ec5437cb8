"""``vcfleet tui``: the operator console over the inventory (docs/console.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "the operator console: live readiness sweeps, details, history, report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet tui`` (and ``vcfleet demo``)."""
    parser.add_argument("--checks", metavar="LIST", default=None,
                        help="check kinds to run, e.g. net,webrtc (default: each room's profile)")
    parser.add_argument("--history", metavar="PATH", default=None,
                        help="history file (default: $VCFLEET_HISTORY, else the user data dir)")
    parser.add_argument("--no-history", action="store_true", help="do not record sweeps")
    parser.add_argument("--report-dir", metavar="DIR", default=None,
                        help="where r writes the readiness report (default: current folder)")


def run(args: argparse.Namespace) -> int:
    """Open the console; returns when the operator quits."""
    from vcfleet.commands.common import inventory_of

    inventory = inventory_of(args)
    return run_console(inventory, args)


def run_console(inventory: object, args: argparse.Namespace, subtitle: str = "") -> int:
    """Build the console from the command's options and run it (used by ``demo`` too)."""
    from inventory import Inventory
    from tui.app import ConsoleApp
    from vcfleet.sweep import SweepOptions, parse_checks, raise_open_file_limit

    assert isinstance(inventory, Inventory)
    raise_open_file_limit(4096)
    options = SweepOptions(checks=parse_checks(args.checks), source="tui")
    app = ConsoleApp(inventory, sweep_options=options, history_path=args.history,
                     use_history=not args.no_history,
                     report_dir=Path(args.report_dir) if args.report_dir else None,
                     subtitle=subtitle)
    result = app.run()
    return int(result or 0)
