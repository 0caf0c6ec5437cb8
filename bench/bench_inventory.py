"""Benchmark: load and validate a generated 10,000-endpoint inventory.

    python bench/bench_inventory.py [COUNT]

Writes ``inventory.demofleet.synthetic_yaml(COUNT)`` to a temporary file, then
times ``load_inventory`` (read, YAML, groups/defaults inheritance, validation,
cross-checks) once cold and then best of 3.  Target: under 2 s for 10,000.
Prints figures only; never part of the test pass/fail.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from inventory import load_inventory
from inventory.demofleet import synthetic_yaml

TARGET_S = 2.0


def timed_load(path: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one load, and the endpoint count."""
    wall, cpu = time.perf_counter(), time.process_time()
    inv = load_inventory(path)
    return time.perf_counter() - wall, time.process_time() - cpu, len(inv)


def main(argv: list[str]) -> int:
    """Run the benchmark and print its figures."""
    count = int(argv[0]) if argv else 10_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"synthetic-{count}.yaml"
        path.write_text(synthetic_yaml(count), encoding="utf-8")
        size_mb = path.stat().st_size / 1e6
        first = timed_load(path)
        runs = [timed_load(path) for _ in range(3)]
    best = min(runs)
    print(f"inventory: {first[2]} endpoints, {size_mb:.1f} MB of YAML")
    print(f"load+validate first run:  {first[0]:.3f} s wall, {first[1]:.3f} s CPU")
    print(f"load+validate best of 3:  {best[0]:.3f} s wall, {best[1]:.3f} s CPU")
    print(f"all runs (wall, s):       {', '.join(f'{r[0]:.3f}' for r in [first, *runs])}")
    print(f"per endpoint (best):      {best[0] / first[2] * 1e6:.0f} µs")
    verdict = "under" if best[0] < TARGET_S else "OVER"
    print(f"target {TARGET_S:.1f} s: {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
