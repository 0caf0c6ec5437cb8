"""When a lossy room's loss sample suffices: a sequential stopping rule.

After ``Settings.loss_sample_packets`` a direction's loss is clear when its Wilson
score interval (``Settings.loss_confidence``, 99 % by default) lies wholly at or
above the threshold the room is judged by, or wholly below it.  A room stops
measuring once some direction is clearly at or above (it is degraded whatever more
packets say) or every direction is clearly below (it is not degraded by loss); a
room in between measures on, within ``max_window_s`` and the check's budget.  The
figures of the rule (how often a 5 % room reads below 3 % at each stop, how long
its window lasts) are in docs/webrtc.md, "The window and the sample", computed by
``bench/bench_loss_rule.py``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import cache
from statistics import NormalDist

DEFAULT_THRESHOLD = 0.03
"""The loss ratio a room is judged by when the sweep did not say (the inventory's
default ``thresholds.loss_ratio``)."""


@cache
def z_score(confidence: float) -> float:
    """The two-sided standard normal quantile of ``confidence`` (0.99: 2.576)."""
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(lost: int, counted: int, confidence: float) -> tuple[float, float]:
    """The Wilson score interval of a loss ratio, ``lost`` of ``counted`` packets.

    Unlike the normal approximation it stays inside [0, 1] and keeps its coverage at
    the few losses a 3 % threshold is about; (0, 1) when nothing was counted.
    """
    if counted <= 0:
        return 0.0, 1.0
    z = z_score(confidence)
    p = min(max(lost, 0), counted) / counted
    z2n = z * z / counted
    centre = (p + z2n / 2.0) / (1.0 + z2n)
    half = z * math.sqrt(p * (1.0 - p) / counted + z2n / (4.0 * counted)) / (1.0 + z2n)
    return max(0.0, centre - half), min(1.0, centre + half)


@cache
def clear_limits(counted: int, threshold: float, confidence: float) -> tuple[int, int]:
    """(most packets lost, of ``counted``, whose interval lies wholly below
    ``threshold``; fewest whose interval lies wholly at or above it): -1 and
    ``counted + 1`` when there are none.  Both bounds of the interval grow with the
    losses, so each limit is found by bisection (and remembered)."""
    lo, hi = -1, counted  # the last k with high < threshold, in [-1, counted]
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if wilson_interval(mid, counted, confidence)[1] < threshold:
            lo = mid
        else:
            hi = mid - 1
    below = lo
    lo, hi = 0, counted + 1  # the first k with low >= threshold, in [0, counted + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if wilson_interval(mid, counted, confidence)[0] >= threshold:
            hi = mid
        else:
            lo = mid + 1
    return below, lo


def loss_is_clear(counts: Iterable[tuple[int, int]], threshold: float,
                  confidence: float) -> bool:
    """Whether a room's loss sample suffices: some direction clearly at or above
    ``threshold``, or every direction clearly below it.

    ``counts`` holds each direction's (packets counted, packets lost).  A direction
    is clear when its Wilson interval at ``confidence`` does not contain the
    threshold; an empty sample is never clear.
    """
    below = True
    for counted, lost in counts:
        if counted <= 0:
            below = False
            continue
        most_below, least_above = clear_limits(counted, threshold, confidence)
        if lost >= least_above:
            return True
        below = below and lost <= most_below
    return below
