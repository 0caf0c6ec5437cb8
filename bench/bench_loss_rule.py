"""Benchmark: how often a room reads the wrong side of the loss threshold, by stopping rule.

    python bench/bench_loss_rule.py [--rooms N] [--seed S] [--cap PACKETS ...]
                                    [--confidence C ...] [--loss P ...] [--threshold T]
                                    [--no-fixed]

A seeded simulation of the WebRTC probe's window (probes/webrtc.py,
``_measure_until_enough``) on 50 packets a second each way, each packet of a
direction lost independently with the room's loss, the counters looked at every
0.1 s (5 packets) as the probe does:

- nothing lost in either direction by ``clean_sample_packets`` (75): the window
  ends, the room reads 0 %;
- else it measures on to ``loss_sample_packets`` (300) each way, then
  "fixed": stops there; "sequential": stops once ``probes.loss_sample.loss_is_clear``
  (some direction's Wilson interval at or above the threshold, or every one below),
  else at the cap (the check's budget: about 11 s of window, 550 packets, with the
  default 15 s deadline).

A room reads "ready" (not degraded by loss) when every direction's loss at the stop
is below the threshold.  Prints, in Markdown for docs/webrtc.md, per rule and true
loss: P(ready), the window's mean, p90 and max in seconds, and the share of rooms
that counted on to the cap.  The up direction's
counts really arrive with the responder's receiver reports (4 a second); that lag
is not simulated.  Figures only, never pass/fail.
"""

from __future__ import annotations

import argparse
import bisect
import math
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from probes.loss_sample import loss_is_clear

PPS = 50
POLL = 5
CLEAN = 75
SAMPLE = 300


def loss_positions(rng: random.Random, p: float, cap: int) -> list[int]:
    """1-based indexes of the lost packets among the first ``cap`` (geometric gaps)."""
    if p <= 0:
        return []
    out: list[int] = []
    at = 0
    log_q = math.log1p(-p)
    while True:
        at += int(math.log(1.0 - rng.random()) / log_q) + 1
        if at > cap:
            return out
        out.append(at)


def one_room(rng: random.Random, p: float, cap: int, confidence: float | None,
             threshold: float) -> tuple[bool, int]:
    """(reads ready, packets a direction at the stop) of one simulated room;
    ``confidence`` None: the fixed 300-packet rule."""
    up, down = loss_positions(rng, p, cap), loss_positions(rng, p, cap)
    first = min(up[:1] + down[:1], default=cap + 1)
    if first > CLEAN:
        return True, CLEAN
    n = SAMPLE
    while True:
        counts = [(n, bisect.bisect_right(up, n)), (n, bisect.bisect_right(down, n))]
        if (confidence is None or n + POLL > cap
                or loss_is_clear(counts, threshold, confidence)):
            return all(lost / n < threshold for n, lost in counts), n
        n += POLL


def row(rooms: int, seed: int, p: float, cap: int, confidence: float | None,
        threshold: float) -> tuple[float, float, float, float, float]:
    """(P(ready), mean, p90, max window in s, share of rooms stopped by the cap) over
    ``rooms`` simulated rooms."""
    rng = random.Random(f"{seed}:{p}:{cap}:{confidence}")
    ready = 0
    windows = []
    for _ in range(rooms):
        ok, n = one_room(rng, p, cap, confidence, threshold)
        ready += ok
        windows.append(n / PPS)
    windows.sort()
    capped = sum(1 for w in windows if w * PPS + POLL > cap) / rooms
    return (ready / rooms, sum(windows) / rooms, windows[int(0.9 * rooms)], windows[-1],
            capped)


def main() -> None:
    """Print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rooms", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--cap", type=int, nargs="+", default=[550])
    ap.add_argument("--confidence", type=float, nargs="+", default=[0.9, 0.95, 0.99, 0.999])
    ap.add_argument("--loss", type=float, nargs="+", default=[0.01, 0.02, 0.04, 0.05, 0.2])
    ap.add_argument("--threshold", type=float, default=0.03)
    ap.add_argument("--no-fixed", action="store_true", help="only the sequential rows")
    args = ap.parse_args()
    print(f"{args.rooms} rooms a row, seed {args.seed}, threshold {args.threshold:g}\n")
    print("| rule | cap (packets) | true loss | P(ready) | window mean / p90 / max (s) "
          "| to the cap |")
    print("| --- | --- | --- | --- | --- | --- |")
    rules: list[float | None] = [*([] if args.no_fixed else [None]), *args.confidence]
    for cap in args.cap:
        for confidence in rules:
            name = "fixed 300" if confidence is None else f"sequential, {confidence:.1%}"
            for p in args.loss:
                ready, mean, p90, worst, capped = row(args.rooms, args.seed, p, cap,
                                                      confidence, args.threshold)
                print(f"| {name} | {cap if confidence is not None else SAMPLE} | {p:.0%} "
                      f"| {ready:.3%} | {mean:.1f} / {p90:.1f} / {worst:.1f} "
                      f"| {capped:.1%} |", flush=True)


if __name__ == "__main__":
    main()
