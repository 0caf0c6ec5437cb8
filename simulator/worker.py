"""A simulator worker process: serves endpoints ``i % N == INDEX`` of an inventory.

Started by ``Simulator(workers=N)`` as ``python -m simulator.worker INDEX N``.
Reads JSON commands, one per line, on stdin and answers each with one JSON line
on stdout: ``start`` (inventory, state_dir, faults, reboot_s) -> ``{"ready": n}``,
``reload`` (faults) -> ``{"reloaded": n}``; errors as ``{"error": "..."}``.  Stops
when stdin closes or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from inventory import InputError, Inventory, load_inventory


def _shard(inv: Inventory, ids: list[str], index: int, count: int) -> Inventory:
    wanted = set(ids)
    mine = [e for e in inv.endpoints if e.id in wanted]
    picked = tuple(e for i, e in enumerate(mine) if i % count == index)
    return Inventory(endpoints=picked, tiers=inv.tiers, profiles=inv.profiles,
                     province=inv.province, path=inv.path, lines=inv.lines)


async def _serve(index: int, count: int) -> None:
    from simulator import webrtc
    from simulator.core import Simulator
    from simulator.faults import Faults

    webrtc.available()  # import the responder (and aiortc) before the parent asks to start

    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    sim: Simulator | None = None

    def answer(data: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(data) + "\n")
        sys.stdout.flush()

    try:
        while not stop.is_set():
            next_line = asyncio.ensure_future(reader.readline())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({next_line, stopping}, return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            if not next_line.done():
                next_line.cancel()
                break
            line = next_line.result()
            if not line:
                break
            msg = json.loads(line)
            try:
                if msg["cmd"] == "start":
                    inv = _shard(load_inventory(msg["inventory"]), msg["ids"], index, count)
                    sim = Simulator(inv, Faults.from_json(msg["faults"]),
                                    Path(msg["state_dir"]), reboot_s=msg["reboot_s"],
                                    seed=msg["seed"], registrar=msg.get("registrar"),
                                    serve_registrar=False)
                    await sim.start(prepare=False)
                    answer({"ready": len(inv)})
                elif msg["cmd"] == "reload" and sim is not None:
                    await sim.reload_faults(Faults.from_json(msg["faults"]))
                    answer({"reloaded": len(sim.endpoints)})
                else:
                    answer({"error": f"unknown command {msg.get('cmd')!r}"})
            except InputError as exc:
                answer({"error": str(exc)})
    finally:
        if sim is not None:
            await sim.stop()


def main() -> int:
    """Entry point: ``python -m simulator.worker INDEX COUNT``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    index, count = int(sys.argv[1]), int(sys.argv[2])
    asyncio.run(_serve(index, count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
