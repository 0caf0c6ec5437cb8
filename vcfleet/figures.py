"""The one list of key figures: what the console, the history store and the readiness
report show for every room, and how a figure is written.

A module of its own, below the renderers, so that ``vcfleet.history`` can read it
without importing any renderer.
"""

from __future__ import annotations

from dataclasses import dataclass

from vcfleet.i18n import N_
from vcfleet.report import EndpointReport


@dataclass(frozen=True)
class KeyFigure:
    """One figure the console, the history and the report show for every room."""

    key: str
    """Stable name, also the key stored in the history."""
    label: str
    """The heading people read (a message id: translate with ``_()`` when shown)."""
    check: str
    name: str
    direction: str | None = None
    unit: str = "ms"


KEY_FIGURES: tuple[KeyFigure, ...] = (
    KeyFigure("sip_rtt_ms", N_("SIP RTT"), "sip", "rtt_ms"),
    KeyFigure("media_rtt_ms", N_("Media RTT"), "webrtc", "rtt_ms"),
    KeyFigure("jitter_up_ms", N_("Jitter ↑"), "webrtc", "jitter_ms", "up"),
    KeyFigure("jitter_down_ms", N_("Jitter ↓"), "webrtc", "jitter_ms", "down"),
    KeyFigure("loss_up", N_("Loss ↑"), "webrtc", "loss_ratio", "up", "%"),
    KeyFigure("loss_down", N_("Loss ↓"), "webrtc", "loss_ratio", "down", "%"),
    KeyFigure("mos", "MOS", "webrtc", "mos", None, ""),
)


def key_figures(report: EndpointReport) -> dict[str, float]:
    """The key figures a room's report holds, by ``KeyFigure.key`` (absent ones left out)."""
    out: dict[str, float] = {}
    for kf in KEY_FIGURES:
        value = report.figure(kf.check, kf.name, kf.direction)
        if value is not None:
            out[kf.key] = float(value)
    return out


def format_figure(kf: KeyFigure, value: float | None) -> str:
    """A key figure as the operator reads it: "12.3" ms, "1.5" %, "4.21" MOS; "" if absent."""
    if value is None:
        return ""
    if kf.unit == "%":
        return f"{value * 100:.1f}"
    if kf.unit == "":
        return f"{value:.2f}"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"
