"""The exporter's live device sessions: which rooms get one, and the sweep's device runner.

Every endpoint in scope with an SSH management API (Cisco, Poly; a Yealink room's
HTTPS API is read per sweep) whose profile runs the device check (and whose sweeps run it:
``--checks`` without ``device`` keeps none) gets one session (probes/device_live.py),
with the settings its sweep's check would use: the trusted host keys of
``--known-hosts`` (else push's default file) and its profile's ``settings: {device:
...}``.  The scheduled sweeps' and ``/probe``'s device check then read the live view
(``LiveFleet.check``): no login per sweep.  A reload re-plans the sessions; those whose
room, address or login did not change stay open.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from inventory import Endpoint, Inventory
from probes.base import ProbeResult, Target
from probes.device import VENDORS as SSH_VENDORS
from probes.device import DeviceTarget
from probes.device_live import LiveFleet, LiveSettings
from vcfleet.checks import KINDS, target_for
from vcfleet.sweep import SweepOptions


class LiveDevices:
    """The live sessions of the endpoints in scope (``start``/``update``/``stop``)."""

    def __init__(self, options: SweepOptions, live: LiveSettings | None = None,
                 fleet: LiveFleet | None = None) -> None:
        self.options = options
        self.fleet = fleet or LiveFleet(live or LiveSettings())
        self._base: Any = None
        """The device check's settings before a profile's changes, made once: the same
        trusted-keys object for every plan, so that a reload reopens no session."""

    def wanted(self, inventory: Inventory, endpoints: Sequence[Endpoint]
               ) -> dict[str, tuple[DeviceTarget, Any]]:
        """Endpoint id -> (target, settings) of every room that gets a session."""
        checks = self.options.checks
        if checks is not None and "device" not in checks:
            return {}
        out: dict[str, tuple[DeviceTarget, Any]] = {}
        for e in endpoints:
            profile = inventory.profile(e)
            if "device" not in profile.checks:
                continue
            target = target_for(inventory, e, "device")
            if not isinstance(target, DeviceTarget):  # no SSH, no API, or a secret missing
                continue
            if target.vendor not in SSH_VENDORS:  # Yealink: its HTTPS API, read per sweep
                continue
            settings = self._settings()
            if settings.known_hosts is None:
                continue
            changes = profile.settings.get("device")
            out[e.id] = (target, dataclasses.replace(settings, **changes) if changes
                         else settings)
        return out

    def _settings(self) -> Any:
        if self._base is None:
            self._base = self.options.settings.get("device") or KINDS["device"].settings()
        return self._base

    async def update(self, inventory: Inventory, endpoints: Sequence[Endpoint]) -> None:
        """Open, keep or close sessions for the endpoints in scope now."""
        await self.fleet.update(self.wanted(inventory, endpoints))

    async def stop(self) -> None:
        """Close every session."""
        await self.fleet.stop()

    def with_runner(self, options: SweepOptions) -> SweepOptions:
        """The options with the device check reading the live views."""
        if "device" in options.runners:
            return options
        return dataclasses.replace(options, runners={**options.runners, "device": self.check})

    async def check(self, target: Target, settings: Any) -> ProbeResult:
        """The device check of one room from its live view (``LiveFleet.check``)."""
        if not isinstance(target, DeviceTarget):
            return ProbeResult.failure("not a device target")
        return await self.fleet.check(target, settings)
