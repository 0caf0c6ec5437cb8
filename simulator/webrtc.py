"""The site-side WebRTC echo responder (``probes.webrtc_responder``) for simulated endpoints.

The simulator does not implement WebRTC itself: it starts the project's
``Responder`` for each endpoint on the endpoint's webrtc port and path, with the
endpoint's ``Shaper`` on its media (ICE) sockets and the endpoint's resolved
bearer token.  Should that module be missing (a stripped-down install),
``available()`` is False and the webrtc service does not listen.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

from probes.shaping import Shaper

log = logging.getLogger(__name__)


class Listener(Protocol):
    """What the simulator needs of a started service."""

    async def start(self) -> None:
        """Listen."""

    async def stop(self) -> None:
        """Stop and release everything."""


def _module() -> Any | None:
    try:
        return importlib.import_module("probes.webrtc_responder")
    except ModuleNotFoundError as exc:
        if exc.name != "probes.webrtc_responder":
            raise
        return None


def available() -> bool:
    """True when the project's responder can be started."""
    return _module() is not None


class ResponderService:
    """The responder for one endpoint, started and stopped like the other services."""

    def __init__(self, host: str, port: int, path: str, token: str | None,
                 shaper: Shaper) -> None:
        self.host, self.port, self.path = host, port, path
        self.token, self.shaper = token, shaper
        self._server: Any = None

    async def start(self) -> None:
        """Start the responder (OSError when the address cannot be bound)."""
        module = _module()
        if module is None:
            return
        responder = module.Responder(self.token, path=self.path, shaper=self.shaper)
        await responder.start(self.host, self.port)
        self._server = responder

    async def stop(self) -> None:
        """Stop the responder and every peer connection it holds."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
