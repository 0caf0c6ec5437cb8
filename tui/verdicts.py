"""How the console draws a verdict and a figure: a colour AND a symbol, so that a
room's state reads on a monochrome terminal too.  Words, symbols, styles and the
order come from the one table, ``vcfleet.render.verdicts``."""

from __future__ import annotations

from rich.text import Text

from vcfleet.figures import KeyFigure, format_figure
from vcfleet.render.verdicts import look
from vcfleet.report import Verdict


def verdict_text(verdict: Verdict) -> Text:
    """``✖ down`` in red, ``▲ degraded`` in yellow, ``✔ ready`` in green, ``… not checked``."""
    v = look(verdict)
    return Text(v.label, style=v.style)


def figure_text(kf: KeyFigure, value: float | None) -> Text:
    """A key figure, right-aligned ("" when absent)."""
    return Text(format_figure(kf, value), justify="right")
