"""The lossy room's sequential stopping rule (probes/loss_sample.py): the interval, the
rule against seeded binomial draws, the window it makes through the real responder's
shaping, the threshold the sweep hands the probe, and a direction without a loss figure
never passing a room as ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory import parse_inventory
from probes.base import ProbeResult, Target
from probes.webrtc import Settings
from vcfleet.sweep import SweepOptions, run_sweep

# -- the threshold the sweep hands the probe ------------------------------------------

FLEET = """\
thresholds: {loss_ratio: 0.05}
profiles:
  strict: {checks: [webrtc], thresholds: {loss_ratio: 0.02}}
  loose: {checks: [webrtc]}
  fixed: {checks: [webrtc], settings: {webrtc: {loss_threshold: 0.2}}}
defaults:
  services:
    webrtc: {port: 8089, path: /whip}
endpoints:
  - {id: hub, name: Hub, tier: province, address: 127.0.0.1, vendor: poly, profile: loose}
  - {id: room, name: Room, tier: commune, parent: hub, address: 127.0.0.2, vendor: poly,
     profile: strict}
  - {id: own, name: Own, tier: commune, parent: hub, address: 127.0.0.3, vendor: poly,
     profile: fixed}
"""


@pytest.mark.parametrize(("overrides", "expected"), [
    ({}, {"hub": 0.05, "room": 0.02, "own": 0.2}),
    ({"loss_ratio": 0.1}, {"hub": 0.1, "room": 0.1, "own": 0.2}),
])
async def test_the_sweep_hands_the_probe_the_loss_threshold_of_each_room(
        tmp_path: Path, overrides: dict[str, float], expected: dict[str, float]) -> None:
    inv = parse_inventory(FLEET, str(tmp_path / "fleet.yaml"))
    seen: dict[str, float | None] = {}

    async def runner(t: Target, settings: Settings) -> ProbeResult:
        seen[t.name] = settings.loss_threshold
        return ProbeResult(ok=True)

    options = SweepOptions(runners={"webrtc": runner}, thresholds=overrides)
    await run_sweep(inv, options=options)
    assert seen == expected
