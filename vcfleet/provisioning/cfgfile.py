"""The Yealink configuration file format: ``#!version:1.0.0.1``, then ``key = value`` lines.

Lines starting with ``#`` are comments (the version line is not one: it must be
the first line).  Pure functions, no I/O: the provisioning server serves such
text, the driver writes it and parses what the device exports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

HEADER = "#!version:1.0.0.1"
KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")
"""A configuration key: letters, digits, ``_``, ``.``, ``-``."""
MANAGED = {"sip.notify_reboot_enable": "0"}
"""Keys every file vcfleet renders carries: re-provision on NOTIFY, never reboot."""


def parse(text: str) -> dict[str, str]:
    """Key -> value of every ``key = value`` line (comments, blank and malformed lines ignored)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, eq, value = stripped.partition("=")
        key = key.strip()
        if eq and KEY.match(key):
            out[key] = value.strip()
    return out


def render(settings: Mapping[str, str]) -> str:
    """A file holding ``settings`` and the managed keys, in sorted key order."""
    merged = {**settings, **MANAGED}
    lines = [HEADER, "# written by vcfleet (docs/push.md); edits here are overwritten"]
    lines += [f"{k} = {merged[k]}" for k in sorted(merged)]
    return "\n".join(lines) + "\n"


def common_file() -> str:
    """The common file every device fetches first (``y000000000000.cfg``): no setting."""
    return HEADER + "\n"


def check_line(line: str) -> str | None:
    """Why a raw yealink vendor line is not a ``key = value`` setting vcfleet may push."""
    key, eq, value = line.partition("=")
    key = key.strip()
    if not eq or not KEY.match(key):
        return f"a yealink vendor line must read '<key> = <value>', got {line!r}"
    if key in MANAGED or key.startswith("static.auto_provision."):
        return (f"yealink vendor line sets {key!r}, which vcfleet's provisioning manages "
                "(it would cut the device off from its provisioning server)")
    if "\n" in value or "\r" in value:
        return "a yealink vendor line must be a single line"
    return None
