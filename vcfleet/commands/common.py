"""Helpers every command shares: loading the inventory and applying ``--select``."""

from __future__ import annotations

import argparse

from inventory import Endpoint, InputError, Inventory, Selector, load_inventory


def positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {value}")
    return value


def positive_seconds(text: str) -> float:
    """argparse type: a number of seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected more than 0 seconds, got {text}")
    return value


def add_select(parser: argparse.ArgumentParser) -> None:
    """Add ``--select EXPR`` (docs/selectors.md)."""
    parser.add_argument("--select", metavar="EXPR", default="",
                        help="which endpoints, e.g. 'tier=commune district=ha-trung !tag=pilot'")


def inventory_of(args: argparse.Namespace) -> Inventory:
    """The inventory named by ``--inventory`` (or $VCFLEET_INVENTORY, or the demo fleet)."""
    return load_inventory(getattr(args, "inventory", None))


def selected(args: argparse.Namespace, inv: Inventory, *, allow_empty: bool = False
             ) -> list[Endpoint]:
    """Endpoints matching ``--select``; an InputError when nothing matches."""
    text = getattr(args, "select", "") or ""
    endpoints = inv.select(Selector.parse(text))
    if not endpoints and not allow_empty:
        raise InputError(f"selector {text!r} matches no endpoint of {inv.path}")
    return endpoints
