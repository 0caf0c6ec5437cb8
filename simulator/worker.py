"""A simulator worker process: serves endpoints ``i % N == INDEX`` of an inventory.

Started by ``Simulator(workers=N)`` as ``python -m simulator.worker INDEX N``, on the
``probes.childproc`` channel.  Says ready once the simulator is imported, then answers
the requests ``("start", {inventory, state_dir, ids, faults, reboot_s, seed})`` with
the number of endpoints it serves, and ``("reload", faults)`` with the number
reloaded; an input error is an error reply.  Stops when the channel closes or on
SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvloop

from inventory import Inventory, load_inventory
from probes.childproc import ParentLink

if TYPE_CHECKING:
    from simulator.core import Simulator


def _shard(inv: Inventory, ids: list[str], index: int, count: int) -> Inventory:
    wanted = set(ids)
    mine = [e for e in inv.endpoints if e.id in wanted]
    picked = tuple(e for i, e in enumerate(mine) if i % count == index)
    return Inventory(endpoints=picked, tiers=inv.tiers, profiles=inv.profiles,
                     province=inv.province, thresholds=inv.thresholds,
                     provisioning=inv.provisioning, path=inv.path, lines=inv.lines)


async def _serve(index: int, count: int) -> None:
    from simulator import webrtc

    link = await ParentLink.connect()
    webrtc.available()  # import the responder (and aiortc) before the parent asks to start
    shard = _Shard(index, count)
    loop = asyncio.get_running_loop()
    serving = asyncio.create_task(link.serve(shard.handle))
    loop.add_signal_handler(signal.SIGTERM, serving.cancel)
    link.ready()
    try:
        await asyncio.gather(serving, return_exceptions=True)
    finally:
        await shard.stop()
        await link.close()


class _Shard:
    """This worker's simulator, started and reloaded one command at a time."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.sim: Simulator | None = None
        self._lock = asyncio.Lock()

    async def handle(self, request: tuple[Any, ...]) -> int:
        """Run one command of the parent; its reply."""
        from simulator.core import Simulator
        from simulator.faults import Faults

        async with self._lock:
            if request[0] == "start":
                msg = request[1]
                inv = _shard(load_inventory(msg["inventory"]), msg["ids"], self.index,
                             self.count)
                self.sim = Simulator(inv, Faults.from_json(msg["faults"]),
                                     Path(msg["state_dir"]), reboot_s=msg["reboot_s"],
                                     seed=msg["seed"], registrar=msg.get("registrar"),
                                     serve_registrar=False)
                await self.sim.start(prepare=False)
                return len(inv)
            if request[0] == "reload" and self.sim is not None:
                await self.sim.reload_faults(Faults.from_json(request[1]))
                return len(self.sim.endpoints)
            raise ValueError(f"unknown command {request[0]!r}")

    async def stop(self) -> None:
        """Stop the simulator, if started."""
        if self.sim is not None:
            await self.sim.stop()


def main() -> int:
    """Entry point: ``python -m simulator.worker INDEX COUNT``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    index, count = int(sys.argv[1]), int(sys.argv[2])
    uvloop.run(_serve(index, count))  # as vcfleet.media's workers: less CPU per media session
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
