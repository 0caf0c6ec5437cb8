"""JSON: the sweep JSON contract (``vcfleet sweep --format json``, docs/sweep.md) and any
other listing (``vcfleet inventory list --format json``).

The value is built by its owner (``SweepReport.to_json``, the inventory's models);
this module only writes it: UTF-8 kept readable, indented, and made safe to print on a
terminal (``vcfleet.safe_text.safe_json``).
"""

from __future__ import annotations

import json
from typing import Any

from vcfleet.render.verdicts import worst_first
from vcfleet.report import SweepReport
from vcfleet.safe_text import safe_json


def render_json(value: Any) -> str:
    """``value`` as indented JSON text ending in a newline, safe on a terminal."""
    return safe_json(json.dumps(value, ensure_ascii=False, indent=2)) + "\n"


def report_json(report: SweepReport) -> str:
    """The sweep JSON contract of one report, rooms worst first (``verdicts.WORST_FIRST``;
    the sweep's order within a verdict), as every other format lists them."""
    doc = report.to_json()
    doc["endpoints"] = [r.to_json() for r in worst_first(report.endpoints)]
    return render_json(doc)
