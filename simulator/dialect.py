"""What a vendor dialect is: a session that turns one command line into a reply."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from simulator.devices import Device


@dataclass(frozen=True)
class Reply:
    """The text a command produces ("\\n" line ends) and what happens after it."""

    text: str
    ok: bool = True
    """False for an error reply (exec sessions exit with status 1)."""
    close: bool = False
    """Close the session after the reply (``bye``, ``exit``)."""
    reboot: bool = False
    """Close the session and reboot the device after the reply."""


class Session(Protocol):
    """One SSH session speaking a vendor's API."""

    def banner(self) -> str:
        """What an interactive session shows after login (ends with the prompt)."""

    def prompt(self) -> str:
        """What an interactive session shows after each reply."""

    def handle(self, line: str) -> Reply:
        """Run one command line."""


def new_session(device: Device) -> Session:
    """A session in the dialect of the device's vendor."""
    from simulator.cisco import CiscoSession
    from simulator.poly import PolySession

    if device.endpoint.vendor == "cisco_ce":
        return CiscoSession(device)
    if device.endpoint.vendor == "poly":
        return PolySession(device)
    raise ValueError(f"vendor {device.endpoint.vendor!r} has no SSH API")
