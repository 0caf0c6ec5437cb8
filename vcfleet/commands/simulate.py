"""``vcfleet simulate``: serve the inventory's endpoints on loopback, with faults on demand."""

from __future__ import annotations

import argparse
import os
import sys

from inventory import InputError
from vcfleet.commands.common import positive_seconds
from vcfleet.i18n import N_, _

MOST_WORKERS = 64
"""More worker processes than this is a typo, not a plan (each is a Python process)."""

HELP = N_("serve the fleet on loopback (SSH, SIP, HTTPS, WebRTC), with faults on demand")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``vcfleet simulate`` (docs/simulator.md)."""
    parser.add_argument("--faults", metavar="FILE",
                        help=_("faults file (YAML list; re-read on SIGHUP and POST /reload)"))
    parser.add_argument("--state-dir", metavar="DIR",
                        help=_("host keys, TLS certificate, authorized_keys "
                               "(default: the per-user state dir)"))
    parser.add_argument("--workers", default="auto", metavar="N|auto",
                        help=_("worker processes (0: serve in this process; auto: one per core "
                               "for fleets of more than 50 endpoints)"))
    parser.add_argument("--control", metavar="HOST:PORT",
                        help=_("control port: POST /reload (optional body: faults YAML), "
                               "GET /status"))
    parser.add_argument("--select", metavar="EXPR", default="",
                        help=_("serve only these endpoints"))
    parser.add_argument("--reboot-s", type=positive_seconds, default=1.0, metavar="S",
                        help=_("how long a rebooting device stays away (default 1)"))
    parser.add_argument("--seed", type=_seed, default=None, metavar="N",
                        help=_("seed of the random losses and delays of the faults, to repeat "
                               "a run (default: random, printed in the ready line)"))


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a whole number, got {text}").format(text=repr(text))) from None
    if value < 0:
        raise argparse.ArgumentTypeError(_("expected 0 or more, got {value}").format(value=value))
    return value


def _workers(text: str, endpoints: int) -> int:
    if text == "auto":
        return min(os.cpu_count() or 1, 4) if endpoints > 50 else 0
    try:
        value = int(text)
    except ValueError:
        raise InputError(_("--workers: expected a number or 'auto', got {text}").format(
            text=repr(text))) from None
    if not 0 <= value <= MOST_WORKERS:
        raise InputError(_("--workers: expected 0 to {most}, got {value}").format(
            most=MOST_WORKERS, value=value))
    return value


def _control_address(text: str) -> tuple[str, int]:
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise InputError(_("--control: expected HOST:PORT, got {text}").format(text=repr(text)))
    return host.strip("[]") or "127.0.0.1", int(port)


def run(args: argparse.Namespace) -> int:
    """Load the inventory and faults, serve until SIGINT/SIGTERM."""
    import asyncio
    from pathlib import Path

    from inventory import Inventory, Selector
    from simulator import Faults, Simulator, load_faults
    from simulator.control import serve_until_stopped
    from vcfleet.commands.common import inventory_of

    inv = inventory_of(args)
    faults = load_faults(args.faults) if args.faults else Faults()
    faults.check_matches(inv)
    if args.select:
        picked = inv.select(Selector.parse(args.select))
        if not picked:
            raise InputError(_("selector {selector} matches no endpoint of {path}").format(
                selector=repr(args.select), path=inv.path))
        inv = Inventory(endpoints=tuple(picked), tiers=inv.tiers, profiles=inv.profiles,
                        province=inv.province, path=inv.path, lines=inv.lines)
    control = _control_address(args.control) if args.control else None
    sim = Simulator(inv, faults, Path(args.state_dir) if args.state_dir else None,
                    workers=_workers(args.workers, len(inv)), reboot_s=args.reboot_s,
                    seed=args.seed)
    return asyncio.run(serve_until_stopped(sim, args.faults, control, sys.stdout))
