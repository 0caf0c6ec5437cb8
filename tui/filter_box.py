"""The filter box: selector terms and free text; tells the screen when it changes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual import on
from textual.binding import BindingType
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input

from inventory import InputError
from tui.filtering import Filter
from vcfleet.i18n import N_, _

PLACEHOLDER = N_("/ filter: tier=commune district=ha-trung verdict=down,degraded  or a name: "
                 "ha son")
"""The box's hint (a message id: translated when the box is made)."""


class FilterBox(Input):
    """An input whose text is parsed as a ``Filter`` a short moment after typing stops."""

    DEBOUNCE_S = 0.15

    BINDINGS: ClassVar[list[BindingType]] = [("escape", "leave", N_("Back to table"))]

    @dataclass
    class FilterChanged(Message):
        """A new, valid filter."""

        filter: Filter

    @dataclass
    class Done(Message):
        """The operator left the box (enter or escape)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(placeholder=_(PLACEHOLDER), id=id)
        self._pending: Timer | None = None

    @on(Input.Changed)
    def _changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._pending is not None:
            self._pending.stop()
        self._pending = self.set_timer(self.DEBOUNCE_S, self.apply)

    def apply(self) -> None:
        """Parse the text now and announce the filter (or show why it is invalid)."""
        self._pending = None
        try:
            parsed = Filter.parse(self.value)
        except InputError as exc:
            self.add_class("-invalid")
            lines = exc.lines(_)  # the selector's error in the operator's language
            self.border_subtitle = lines[0] if lines else str(exc)
            return
        self.remove_class("-invalid")
        self.border_subtitle = ""
        self.post_message(self.FilterChanged(parsed))

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.apply()
        self.post_message(self.Done())

    def action_leave(self) -> None:
        """Back to the table."""
        self.post_message(self.Done())
