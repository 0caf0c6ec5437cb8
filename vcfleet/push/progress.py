"""What the operator sees while a push or backup runs: a progress bar on stderr (only on a
terminal) and, at the end, a summary table."""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

from vcfleet.safe_text import safe_line

BAR_WIDTH = 30


class Progress:
    """A one-line progress bar redrawn in place; silent when the stream is not a terminal."""

    def __init__(self, total: int, what: str, stream: TextIO | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.total, self.what = total, what
        self.counts: Counter[str] = Counter()
        self.start = time.monotonic()
        self._drawn = 0.0

    def add(self, outcome: str) -> None:
        """One more endpoint finished with this outcome."""
        self.counts[outcome] += 1
        now = time.monotonic()
        if self.enabled and (now - self._drawn > 0.1 or self.done == self.total):
            self._drawn = now
            self._draw()

    @property
    def done(self) -> int:
        """Endpoints finished so far."""
        return sum(self.counts.values())

    def _draw(self) -> None:
        filled = BAR_WIDTH * self.done // max(1, self.total)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        counts = " ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
        line = (f"\r{safe_line(self.what)} {bar} {self.done}/{self.total} "
                f"{time.monotonic() - self.start:5.1f}s  {counts}")
        self.stream.write(line + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        if self.enabled and self.done:
            self.stream.write("\n")
            self.stream.flush()
