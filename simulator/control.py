"""Running the simulator as a command: ready line, signals, control port, faults reload."""

from __future__ import annotations

import asyncio
import signal
import sys
from typing import Any, TextIO

from aiohttp import web

from inventory import InputError
from probes.base import cancel_and_wait
from probes.httpserver import GuardedSite, HttpLimits, body_deadline
from simulator.core import Simulator
from simulator.faults import Faults, load_faults, parse_faults

LIMITS = HttpLimits()
"""Header, body and idle timeouts of the control port (probes/httpserver.py)."""


class Controller:
    """Reloads faults for SIGHUP and the control port, one reload at a time."""

    def __init__(self, sim: Simulator, faults_path: str | None, out: TextIO) -> None:
        self.sim, self.faults_path, self.out = sim, faults_path, out
        self.reloads = 0
        self._lock = asyncio.Lock()

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    async def reload(self, text: str | None = None) -> Faults:
        """Re-read the faults file (or parse ``text``) and apply it; InputError if invalid."""
        async with self._lock:
            if text is not None and text.strip():
                faults = parse_faults(text, "<control>")
            elif self.faults_path:
                faults = load_faults(self.faults_path)
            else:
                faults = Faults()
            await self.sim.reload_faults(faults)
            self.reloads += 1
            self.say(f"reloaded {len(faults.rules)} fault item(s) from "
                     f"{faults.source or 'nowhere'}")
            return faults

    async def on_sighup(self) -> None:
        try:
            await self.reload()
        except InputError as exc:
            for line in exc.lines():
                print(line, file=sys.stderr, flush=True)
            print("faults not reloaded: the faults in force stay", file=sys.stderr, flush=True)

    def app(self) -> web.Application:
        app = web.Application(client_max_size=1 << 20, middlewares=[body_deadline(LIMITS)])
        app.router.add_post("/reload", self._post_reload)
        app.router.add_get("/status", self._get_status)
        return app

    async def _post_reload(self, request: web.Request) -> web.Response:
        text = await request.text()
        try:
            faults = await self.reload(text)
        except InputError as exc:
            return web.json_response({"ok": False, "problems": exc.lines()}, status=400)
        return web.json_response({"ok": True, "items": len(faults.rules)})

    async def _get_status(self, request: web.Request) -> web.Response:
        data: dict[str, Any] = {"endpoints": len(self.sim.inventory),
                                "workers": len(self.sim.pids()),
                                "faults": self.sim.faults.to_json(),
                                "reloads": self.reloads,
                                "startup_s": round(self.sim.startup_s, 3)}
        return web.json_response(data)


async def serve_until_stopped(sim: Simulator, faults_path: str | None,
                              control: tuple[str, int] | None, out: TextIO) -> int:
    """Start, print ``ready ...``, serve until SIGINT/SIGTERM, stop everything.

    Returns the exit status: 0 after a signal, 1 when a worker process died.
    """
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    ctl = Controller(sim, faults_path, out)
    hups: set[asyncio.Task[None]] = set()

    def hup() -> None:
        task = asyncio.create_task(ctl.on_sighup())
        hups.add(task)
        task.add_done_callback(hups.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    loop.add_signal_handler(signal.SIGHUP, hup)
    runner: web.AppRunner | None = None
    try:
        starting = asyncio.create_task(sim.start())
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not starting.done():
            await cancel_and_wait(starting)
            return 0
        starting.result()
        if control is not None:
            runner = web.AppRunner(ctl.app(), access_log=None, handle_signals=False,
                                   **LIMITS.handler_args())
            await runner.setup()
            try:
                await GuardedSite(runner, control[0], control[1], LIMITS).start()
            except OSError as exc:
                raise InputError(f"--control: cannot listen on {control[0]}:{control[1]}: "
                                 f"{exc.strerror or exc}") from None
        workers = len(sim.pids())
        how = f" ({workers} workers)" if workers else ""
        ctl.say(f"ready {len(sim.inventory)} endpoints in {sim.startup_s:.1f} s, "
                f"seed {sim.seed}{how}")
        stopping = asyncio.create_task(stop.wait())
        failing = asyncio.create_task(sim.wait_worker_exit())
        await asyncio.wait({stopping, failing}, return_when=asyncio.FIRST_COMPLETED)
        for task in (stopping, failing):
            await cancel_and_wait(task)
        if not failing.cancelled() and failing.done() and failing.exception() is None:
            print(f"vcfleet simulate: {failing.result()}", file=sys.stderr, flush=True)
            return 1
        return 0
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        if hups:
            await asyncio.wait(list(hups), timeout=30)
        if runner is not None:
            await runner.cleanup()
        await sim.stop()
