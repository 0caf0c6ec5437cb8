"""The fleet as data: schema, loading with line-numbered errors, selectors, spreadsheets,
secret references and the shipped demo fleet.  Never imports ``vcfleet``, ``probes`` or ``tui``.
"""

from inventory.errors import InputError, Problem
from inventory.loader import (
    DEMO_INVENTORY,
    Inventory,
    default_inventory_path,
    load_inventory,
    parse_inventory,
)
from inventory.model import CHECKS, MEDIA_CHECKS, NET_CHECKS, Endpoint, Profile
from inventory.selectors import Selector, fold

__all__ = [
    "CHECKS",
    "DEMO_INVENTORY",
    "MEDIA_CHECKS",
    "NET_CHECKS",
    "Endpoint",
    "InputError",
    "Inventory",
    "Problem",
    "Profile",
    "Selector",
    "default_inventory_path",
    "fold",
    "load_inventory",
    "parse_inventory",
]
