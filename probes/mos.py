"""Mean opinion score by the simplified E-model (ITU-T G.107 as commonly simplified).

effective latency EL = RTT + 2 x jitter + 10 ms;
R = 93.2 - EL/40 when EL < 160, else 93.2 - (EL - 120)/10;
R -= 2.5 x loss percent;  MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R), clamped to 1..4.5.
"""

from __future__ import annotations


def estimate_mos(rtt_ms: float, jitter_ms: float, loss_ratio: float) -> float:
    """MOS estimate (1.0 to 4.5) from round-trip time, jitter and loss ratio (0..1)."""
    effective = rtt_ms + 2.0 * jitter_ms + 10.0
    r = 93.2 - effective / 40.0 if effective < 160.0 else 93.2 - (effective - 120.0) / 10.0
    r -= 2.5 * (loss_ratio * 100.0)
    if r <= 0:
        return 1.0
    if r >= 100:
        return 4.5
    return max(1.0, min(4.5, 1.0 + 0.035 * r + 7e-6 * r * (r - 60.0) * (100.0 - r)))
