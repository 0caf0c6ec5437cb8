"""Helpers every command shares: loading the inventory and applying ``--select``."""

from __future__ import annotations

import argparse
import math

from inventory import Endpoint, InputError, Inventory, Selector
from vcfleet.checks import load_fleet
from vcfleet.i18n import _

MOST_SECONDS = 86400.0
"""The longest deadline or timeout any option accepts: one day."""
MOST_COUNT = 100_000
"""The largest count (concurrency, canary size) any option accepts."""


def positive_int(text: str) -> int:
    """argparse type: a whole number from 1 to MOST_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("expected a whole number, got {text}").format(text=repr(text))) from None
    if value < 1:
        raise argparse.ArgumentTypeError(_("expected at least 1, got {value}").format(value=value))
    if value > MOST_COUNT:
        raise argparse.ArgumentTypeError(_("expected at most {most}, got {value}").format(
            most=MOST_COUNT, value=value))
    return value


def seconds_problem(text: str) -> str | None:
    """Why ``text`` is not a number of seconds above 0 and at most a day (None: it is)."""
    try:
        value = float(text)
    except ValueError:
        return _("expected seconds, got {text}").format(text=repr(text))
    if not math.isfinite(value):
        return _("expected a finite number of seconds, got {text}").format(text=text)
    if value <= 0:
        return _("expected more than 0 seconds, got {text}").format(text=text)
    if value > MOST_SECONDS:
        return _("expected at most {most} seconds (one day), got {text}").format(
            most=f"{MOST_SECONDS:g}", text=text)
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
                        help=_("replace the output file even if vcfleet did not write it"))


def add_select(parser: argparse.ArgumentParser) -> None:
    """Add ``--select EXPR`` (docs/selectors.md)."""
    parser.add_argument("--select", metavar="EXPR", default="",
                        help=_("which endpoints, e.g. 'tier=commune district=ha-trung !tag=pilot'"))


def inventory_of(args: argparse.Namespace) -> Inventory:
    """The inventory named by ``--inventory`` (or $VCFLEET_INVENTORY, or the demo fleet)."""
    return load_fleet(getattr(args, "inventory", None))


def selected(args: argparse.Namespace, inv: Inventory, *, allow_empty: bool = False
             ) -> list[Endpoint]:
    """Endpoints matching ``--select``; an InputError when nothing matches."""
    text = getattr(args, "select", "") or ""
    endpoints = inv.select(Selector.parse(text))
    if not endpoints and not allow_empty:
        raise InputError(_("selector {selector} matches no endpoint of {path}").format(
            selector=repr(text), path=inv.path))
    return endpoints
