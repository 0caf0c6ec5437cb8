"""How the console draws a verdict and a figure: a colour AND a symbol, so that a
room's state reads on a monochrome terminal too."""

from __future__ import annotations

from rich.text import Text

from vcfleet.render import VERDICT_WORDS, KeyFigure, format_figure
from vcfleet.report import SYMBOLS, Verdict

STYLES = {Verdict.READY: "bold green", Verdict.DEGRADED: "bold yellow",
          Verdict.DOWN: "bold red", Verdict.UNKNOWN: "dim"}
RANK = {Verdict.DOWN: 0, Verdict.DEGRADED: 1, Verdict.UNKNOWN: 2, Verdict.READY: 3}
"""Sort order: worst first."""


def verdict_text(verdict: Verdict) -> Text:
    """``✖ down`` in red, ``▲ degraded`` in yellow, ``✔ ready`` in green, ``… not checked``."""
    return Text(f"{SYMBOLS[verdict]} {VERDICT_WORDS[verdict]}", style=STYLES[verdict])


def figure_text(kf: KeyFigure, value: float | None) -> Text:
    """A key figure, right-aligned ("" when absent)."""
    return Text(format_figure(kf, value), justify="right")
