"""The ``device:`` fault: what the codec itself reports wrong (docs/simulator.md).

``device: {registration: fail, in_call: true, standby: true, dnd: true,
camera: disconnected, microphones: disconnected|muted, display: disconnected,
diagnostics: [{level, text}], software: "ce9.8.1"}``.  Items of the faults file
merge field by field, later items winning, like the other faults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Level = Literal["info", "warning", "error", "critical"]


class Diagnostic(BaseModel):
    """One diagnostics message the codec shows."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    level: Level
    text: str = Field(min_length=1, max_length=200)


class DeviceFault(BaseModel):
    """The ``device:`` item of a fault: each field set is forced on the codec."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    registration: Literal["fail"] | None = None
    """The registrar refuses the codec's REGISTER (403 Forbidden)."""
    in_call: bool | None = None
    """The codec is in a call (with ``FAULT_CALL_REMOTE``)."""
    standby: bool | None = None
    dnd: bool | None = None
    camera: Literal["disconnected"] | None = None
    microphones: Literal["disconnected", "muted"] | None = None
    display: Literal["disconnected"] | None = None
    diagnostics: list[Diagnostic] | None = Field(default=None, max_length=20)
    software: str | None = Field(default=None, min_length=1, max_length=64,
                                 pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class DeviceFaults:
    """The device faults in force for one endpoint, all items merged."""

    registration_fail: bool = False
    in_call: bool = False
    standby: bool = False
    dnd: bool = False
    camera_disconnected: bool = False
    microphones: str = ""
    """``""``, ``disconnected`` or ``muted``."""
    display_disconnected: bool = False
    diagnostics: tuple[tuple[str, str], ...] = ()
    """(level, text) pairs."""
    software: str = ""
    """A software version that replaces the vendor's default ("" = the default)."""


def merge_device(rules: list[DeviceFault]) -> DeviceFaults:
    """Merge the ``device:`` items of the rules that select one endpoint, in order."""
    merged: dict[str, Any] = {}
    for rule in rules:
        for name in rule.model_fields_set:
            merged[name] = getattr(rule, name)
    return DeviceFaults(
        registration_fail=merged.get("registration") == "fail",
        in_call=bool(merged.get("in_call")), standby=bool(merged.get("standby")),
        dnd=bool(merged.get("dnd")), camera_disconnected=merged.get("camera") == "disconnected",
        microphones=merged.get("microphones") or "",
        display_disconnected=merged.get("display") == "disconnected",
        diagnostics=tuple((d.level, d.text) for d in merged.get("diagnostics") or ()),
        software=merged.get("software") or "")
