"""The base of the console's screens: the application, typed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.screen import Screen

if TYPE_CHECKING:
    from tui.app import ConsoleApp


class ConsoleScreen(Screen[None]):
    """A screen of the operator console."""

    @property
    def console(self) -> ConsoleApp:
        """The application (typed)."""
        from tui.app import ConsoleApp

        assert isinstance(self.app, ConsoleApp)
        return self.app
