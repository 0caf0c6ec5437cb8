"""Helpers every command shares: loading the inventory and applying ``--select``."""

from __future__ import annotations

import argparse
import math

from inventory import Endpoint, InputError, Inventory, Selector
from vcfleet.checks import load_fleet

MOST_SECONDS = 86400.0
"""The longest deadline or timeout any option accepts: one day."""
MOST_COUNT = 100_000
"""The largest count (concurrency, canary size) any option accepts."""


def positive_int(text: str) -> int:
    """argparse type: a whole number from 1 to MOST_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    if value > MOST_COUNT:
        raise argparse.ArgumentTypeError(f"expected at most {MOST_COUNT}, got {value}")
    return value


def seconds_problem(text: str) -> str | None:
    """Why ``text`` is not a number of seconds above 0 and at most a day (None: it is)."""
    try:
        value = float(text)
    except ValueError:
        return f"expected seconds, got {text!r}"
    if not math.isfinite(value):
        return f"expected a finite number of seconds, got {text}"
    if value <= 0:
        return f"expected more than 0 seconds, got {text}"
    if value > MOST_SECONDS:
        return f"expected at most {MOST_SECONDS:g} seconds (one day), got {text}"
    return None


def positive_seconds(text: str) -> float:
    """argparse type: a number of seconds above 0 and at most one day."""
    problem = seconds_problem(text.strip())
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return float(text)


def url_host(host: str) -> str:
    """A host as it goes into a URL: an IPv6 address in brackets (``[::1]``)."""
    return f"[{host}]" if ":" in host else host


def add_force(parser: argparse.ArgumentParser) -> None:
    """Add ``--force``: let ``-o`` replace a file vcfleet did not write (vcfleet/outfile.py)."""
    parser.add_argument("--force", action="store_true",
                        help="replace the output file even if vcfleet did not write it")


def add_select(parser: argparse.ArgumentParser) -> None:
    """Add ``--select EXPR`` (docs/selectors.md)."""
    parser.add_argument("--select", metavar="EXPR", default="",
                        help="which endpoints, e.g. 'tier=commune district=ha-trung !tag=pilot'")


def inventory_of(args: argparse.Namespace) -> Inventory:
    """The inventory named by ``--inventory`` (or $VCFLEET_INVENTORY, or the demo fleet)."""
    return load_fleet(getattr(args, "inventory", None))


def selected(args: argparse.Namespace, inv: Inventory, *, allow_empty: bool = False
             ) -> list[Endpoint]:
    """Endpoints matching ``--select``; an InputError when nothing matches."""
    text = getattr(args, "select", "") or ""
    endpoints = inv.select(Selector.parse(text))
    if not endpoints and not allow_empty:
        raise InputError(f"selector {text!r} matches no endpoint of {inv.path}")
    return endpoints
