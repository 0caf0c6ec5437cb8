"""A child for tests/test_childproc.py: ``python -m tests.childproc_peer MODE``.

Modes: ``serve`` (ready, then answers requests), ``silent`` (never says ready),
``deaf`` (says ready, then ignores its channel and sleeps).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from probes.childproc import ParentLink


async def _handle(request: tuple[Any, ...]) -> Any:
    if request[0] == "echo":
        return request[1]
    if request[0] == "sleep":
        await asyncio.sleep(request[1])
        return "slept"
    if request[0] == "stubborn":  # ignores its cancel
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue
    raise ValueError(f"unknown request {request[0]!r}")


async def _main(mode: str) -> None:
    link = await ParentLink.connect()
    if mode == "silent":
        await asyncio.sleep(3600)
    link.ready("peer", mode)
    if mode == "deaf":
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue
    await link.serve(_handle, on_event=lambda body: link.send(("heard", body)))
    await link.close()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
