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
from inventory.model import CheckKinds, Endpoint, Profile, Thresholds
from inventory.selectors import Selector, fold

__all__ = [
    "DEMO_INVENTORY",
    "CheckKinds",
    "Endpoint",
    "InputError",
    "Inventory",
    "Problem",
    "Profile",
    "Selector",
    "Thresholds",
    "default_inventory_path",
    "fold",
    "load_inventory",
    "parse_inventory",
]
