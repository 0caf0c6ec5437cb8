"""What a vendor dialect is: a session that turns one command line into a reply.

The dialects (``cisco.py``, ``poly.py``) import this module; ``sessions.py``
picks one for a device, so the interface imports none of its implementations.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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

