"""The base of the console's screens: the application, typed, the key bindings as the
footer shows them, in the operator's language, and the footer."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textual.binding import ActiveBinding
from textual.screen import Screen
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
    would be cut, or hidden under the command palette's key on the right) is not shown:
    Vietnamese descriptions are longer, and at 80 columns the last keys do not fit."""

    async def recompose(self) -> None:
        """Recompose (the bindings changed), then hide the keys that do not fit."""
        await super().recompose()
        self.call_after_refresh(self.fit_keys)

    def on_mount(self) -> None:
        self.call_after_refresh(self.fit_keys)

    def on_resize(self) -> None:
        # A hidden key has no region: show them all, lay out, then hide what overflows.
        for key in self.children:
            key.styles.visibility = "visible"
        self.call_after_refresh(self.fit_keys)

    def fit_keys(self) -> None:
        """Hide each key that does not fit whole (they keep their place, to the right)."""
        palette = [w for w in self.children if w.has_class("-command-palette")]
        right = min([self.region.right, *(w.region.x for w in palette)])
        for key in self.children:
            if not key.has_class("-command-palette") and key.region.right > right:
                key.styles.visibility = "hidden"
