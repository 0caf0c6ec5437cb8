"""How the console draws a verdict and a figure: a colour AND a symbol, so that a
room's state reads on a monochrome terminal too.  Words, symbols, styles and the
order come from the one table, ``vcfleet.render.verdicts``."""

from __future__ import annotations

from rich.text import Text

from vcfleet.figures import KeyFigure, format_figure
from vcfleet.i18n import _, decimal
from vcfleet.render.verdicts import label, look
from vcfleet.report import Verdict


def verdict_text(verdict: Verdict) -> Text:
    """``✖ down`` in red, ``▲ degraded`` in yellow, ``✔ ready`` in green, ``… not checked``."""
    v = look(verdict)
    return Text(v.label, style=v.style)


def figure_text(kf: KeyFigure, value: float | None) -> Text:
    """A key figure, right-aligned ("" when absent)."""
    return Text(decimal(format_figure(kf, value)), justify="right")


def verdict_width(least: int | None) -> int:
    """The width of a verdict column: ``least``, or more if a verdict's label (symbol and
    word, in the current language) is longer, so that no verdict is cut."""
    return max(least or 0, *(len(label(v)) for v in Verdict))


def heading(msgid: str, width: int | None) -> tuple[str, int | None]:
    """A column's heading in the current language and its width: at least the heading's
    length (Vietnamese headings are longer; a heading is never cut)."""
    text = _(msgid)
    return text, None if width is None else max(width, len(text))
