"""The base of the console's screens: the application, typed, the key bindings as the
footer shows them, in the operator's language, and the footer."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from rich.cells import cell_len
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer

from vcfleet.i18n import N_, _

if TYPE_CHECKING:
    from tui.app import ConsoleApp

TEXTUAL_WORDS = (N_("palette"),)
"""Descriptions of Textual's own bindings that the footer shows (the command palette)."""


class ConsoleScreen(Screen[None]):
    """A screen of the operator console."""

    @property
    def console(self) -> ConsoleApp:
        """The application (typed)."""
        from tui.app import ConsoleApp

        assert isinstance(self.app, ConsoleApp)
        return self.app

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """The screen's bindings with their descriptions translated: ``BINDINGS`` are
        built at import, so their descriptions are message ids (``N_``), translated
        here, when the footer (or the keys panel) shows them."""
        return {key: active._replace(binding=dataclasses.replace(
                    active.binding, description=_said(active.binding.description)))
                for key, active in super().active_bindings.items()}


def _said(text: str) -> str:
    """``text`` translated; "" stays "" (gettext's "" is the catalog's header)."""
    return _(text) if text else text


class ConsoleFooter(Footer):
    """Textual's footer, except that a key that does not fit whole (its description
    would be cut, or hidden under the command palette's key on the right) is left out,
    with every key after it: Vietnamese descriptions are longer, and at 80 columns the
    last keys do not fit.  (The console has no grouped bindings, which Textual's footer
    draws in containers: every key is one widget here.)"""

    def __init__(self) -> None:
        super().__init__()
        self._fitted_width = 0

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        width = self.size.width or self.app.size.width
        self._fitted_width = width
        room = width - sum(_key_width(k) for k in keys if k.has_class("-command-palette"))
        for key in keys:
            if not key.has_class("-command-palette"):
                room -= _key_width(key)
                if room < 0:  # this key and every one after it
                    room = -1_000_000
                    continue
            yield key

    def on_resize(self) -> None:
        if self.size.width != self._fitted_width:
            self.call_after_refresh(self.recompose)


def _key_width(key: Widget) -> int:
    """The cells a footer key takes: its key and description, a space between, and the
    two cells of its padding (or of the palette key's border and padding)."""
    text = f"{getattr(key, 'key_display', '')} {getattr(key, 'description', '')}".strip()
    return cell_len(text) + 2
