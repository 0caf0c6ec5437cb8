"""Which vendor dialect a simulated device speaks over SSH."""

from __future__ import annotations

from simulator.cisco import CiscoSession
from simulator.devices import Device
from simulator.dialect import Session
from simulator.poly import PolySession


def new_session(device: Device) -> Session:
    """A session in the dialect of the device's vendor."""
    if device.endpoint.vendor == "cisco_ce":
        return CiscoSession(device)
    if device.endpoint.vendor == "poly":
        return PolySession(device)
    raise ValueError(f"vendor {device.endpoint.vendor!r} has no SSH API")
