"""The exporter process: scheduled sweeps, an aiohttp server, reloads.

    exporter = Exporter(ExporterConfig(inventory_path=path, port=0))
    await exporter.start()      # loads the inventory (InputError if bad), starts serving
    ...                         # GET /metrics, /probe, /-/healthy, /-/ready; POST /-/reload
    await exporter.stop()       # stops the sweeps, live device sessions, lag monitor, server

Endpoints: ``/metrics`` (the fleet, from the latest sweep), ``/probe?target=ID&module=M``
(one endpoint now), ``/-/healthy`` (200 while serving), ``/-/ready`` (200 once the first
sweep completed, else 503), ``POST /-/reload`` (re-read the inventory file; SIGHUP does
the same).  A bad file keeps the previous inventory and sets
``vcfleet_inventory_reload_success`` to 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, GCCollector, PlatformCollector, ProcessCollector

from inventory import Endpoint, InputError, Inventory
from probes.httpserver import GuardedSite, HttpLimits, body_deadline
from vcfleet.checks import load_fleet
from vcfleet.exporter.collectors import DeviceCollector, ExporterCollector, FleetCollector
from vcfleet.exporter.exposition import CONTENT_TYPE, CachedText, render_text
from vcfleet.exporter.probe import (
    DEFAULT_MODULE,
    MODULES,
    ProbeCollector,
    ProbeRequestError,
    parse_request,
    run_probe,
)
from vcfleet.exporter.scheduler import LoopLagMonitor, ReportHook, SweepScheduler
from vcfleet.exporter.state import ExporterState, Scope
from vcfleet.report import SweepReport
from vcfleet.sweep import SweepOptions

if TYPE_CHECKING:
    from probes.device_live import LiveSettings
    from vcfleet.exporter.live import LiveDevices
    from vcfleet.history import History
    from vcfleet.media import MediaPool
    from vcfleet.meetings.schedule import Clock, MeetingScheduler

log = logging.getLogger(__name__)

DEFAULT_PORT = 9348
LANDING = """<html><head><title>vcfleet exporter</title></head><body>
<h1>vcfleet exporter</h1>
<p><a href="/metrics">Metrics</a> of the fleet (latest sweep) ·
<a href="/-/ready">ready</a> · <a href="/-/healthy">healthy</a></p>
<p>One endpoint now: <code>/probe?target=ENDPOINT_ID&amp;module=net|sip|webrtc|full</code></p>
</body></html>
"""


@dataclass
class ExporterConfig:
    """How ``vcfleet serve`` runs; defaults are an operator's sensible choice."""

    inventory_path: Path | None = None
    """Inventory file (None: $VCFLEET_INVENTORY, else the demo fleet); re-read on reload."""
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    """0 picks a free port (tests); ``Exporter.port`` tells which."""
    interval_s: float = 60.0
    """Time between the starts of two scheduled sweeps; 0: none (a /probe-only exporter,
    ready at once)."""
    options: SweepOptions = field(default_factory=lambda: SweepOptions(source="serve"))
    scope: Scope = field(default_factory=Scope)
    handle_signals: bool = False
    """Reload on SIGHUP (the command turns it on; in-process tests leave it off)."""
    process_metrics: bool = True
    """Also expose process_*, python_gc_* and python_info (client_python's collectors)."""
    limits: HttpLimits = field(default_factory=HttpLimits)
    """Header, body and idle timeouts of the HTTP server."""
    meetings_path: Path | None = None
    """Meetings file whose scheduled checks run (vcfleet/meetings/schedule.py); re-read on
    reload with the inventory.  None: no meetings."""
    live: LiveSettings | None = None
    """Keep a live session to each codec whose profile runs the device check
    (vcfleet/exporter/live.py); the device check then reads it.  None: no live sessions,
    each sweep's device check logs in."""


class Exporter:
    """The exporter: owns its scheduler, lag monitor and HTTP server (start/stop)."""

    def __init__(self, config: ExporterConfig, *, on_report: ReportHook | None = None,
                 history: History | None = None, clock: Clock | None = None) -> None:
        self.config = config
        inventory = load_fleet(config.inventory_path)
        self.state = ExporterState(inventory=inventory,
                                   endpoints=config.scope.endpoints(inventory),
                                   interval_s=config.interval_s)
        self.fleet = FleetCollector(self.state)
        self.devices = DeviceCollector(self.state)
        self.live: LiveDevices | None = None
        if config.live is not None:
            from vcfleet.exporter.live import LiveDevices

            self.live = LiveDevices(config.options, config.live)
            self.state.live = self.live.fleet
        self.health = CollectorRegistry(auto_describe=False)
        """The exporter's own series (rendered afresh on every scrape)."""
        self.health.register(ExporterCollector(self.state))
        if config.process_metrics:
            ProcessCollector(registry=self.health)
            PlatformCollector(registry=self.health)
            GCCollector(registry=self.health)
        self.registry = CollectorRegistry(auto_describe=False)
        """Everything /metrics serves, for ``get_sample_value`` and other readers."""
        self.registry.register(self.fleet)
        self.registry.register(self.devices)
        self.registry.register(self.health)
        self._fleet_text: tuple[object, object, CachedText] | None = None
        self._on_report = on_report
        self.scheduler = SweepScheduler(self.state, config.options, self._report_done,
                                        prepare=self._sweep_options)
        self._media_pool: MediaPool | None = None
        self._media_failed = False
        self._media_lock = asyncio.Lock()
        self.lag = LoopLagMonitor(self.state)
        self._runner: web.AppRunner | None = None
        self._site: GuardedSite | None = None
        self._reload_lock = asyncio.Lock()
        self.reload_hooks: list[Callable[[Inventory], None]] = []
        """Called with each inventory a reload puts in force (``vcfleet serve``'s
        provisioning server learns its rooms so)."""
        self._background: set[asyncio.Task[object]] = set()
        self.port = config.port
        self.meetings = self._meetings(history, clock)

    def _meetings(self, history: History | None, clock: Clock | None
                  ) -> MeetingScheduler | None:
        """The meetings' scheduler and collector (InputError for a bad meetings file)."""
        if self.config.meetings_path is None:
            return None
        import time as clock_module

        from vcfleet.meetings.schedule import MeetingCollector, MeetingScheduler

        meetings = MeetingScheduler(self.config.meetings_path, self.state, self.config.options,
                                    history, clock or clock_module.time,
                                    prepare=self._room_options)
        self.health.register(MeetingCollector(meetings))
        return meetings

    # -- lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Bind the server, then start the sweeps and the lag monitor."""
        limits = self.config.limits
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False,
                                     **limits.handler_args())
        await self._runner.setup()
        self._site = GuardedSite(self._runner, self.config.host, self.config.port, limits)
        try:
            await self._site.start()
        except OSError as exc:
            await self._runner.cleanup()
            raise InputError(f"cannot listen on {self.config.host}:{self.config.port}: "
                             f"{exc.strerror or exc}") from None
        self.port = self._site.port
        if self.config.handle_signals:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, self._on_sighup)
        self.lag.start()
        if self.live is not None:
            await self.live.update(self.state.inventory, self.state.endpoints)
        if self.config.interval_s > 0:
            self.scheduler.start()
        if self.meetings is not None:
            self.meetings.start()

    async def stop(self) -> None:
        """Stop sweeping, measuring and serving; wait for every task to end."""
        if self.config.handle_signals:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
        await self.scheduler.stop()
        if self.meetings is not None:
            await self.meetings.stop()
        await self.lag.stop()
        if self.live is not None:
            await self.live.stop()
        if self._media_pool is not None:
            await self._media_pool.stop()
            self._media_pool = None
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _on_sighup(self) -> None:
        task: asyncio.Task[object] = asyncio.create_task(self.reload())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # -- media workers -------------------------------------------------------------

    async def _sweep_options(self, options: SweepOptions) -> SweepOptions:
        return await self._with_media(self._with_live(options), self.state.inventory,
                                      self.state.endpoints)

    async def _room_options(self, options: SweepOptions, rooms: Sequence[Endpoint]
                            ) -> SweepOptions:
        """A meeting check's options: its device check reads the live sessions and its
        WebRTC checks use the exporter's worker pool, as in the scheduled sweeps."""
        return await self._with_media(self._with_live(options), self.state.inventory, rooms)

    def _with_live(self, options: SweepOptions) -> SweepOptions:
        """The options with the device check reading the live sessions, if any."""
        return self.live.with_runner(options) if self.live is not None else options

    async def _with_media(self, options: SweepOptions, inventory: Inventory,
                          endpoints: Sequence[Endpoint]) -> SweepOptions:
        """The options with the exporter's WebRTC worker pool as the webrtc runner.

        One pool lives as long as the exporter, started when a sweep or /probe first
        needs it: starting worker processes (each imports aiortc) for every sweep or
        every /probe request would cost more than the probes.
        """
        if "webrtc" in options.runners or options.media_workers == 0 or (
                options.checks is not None and "webrtc" not in options.checks):
            return options
        if not any(e.services.webrtc and "webrtc" in inventory.profile(e).checks
                   for e in endpoints):
            return options
        async with self._media_lock:
            if self._media_pool is None and not self._media_failed:
                from vcfleet.media import start_pool

                self._media_pool = await start_pool(options.media_workers,
                                                    "the exporter's process")
                if self._media_pool is None:
                    self._media_failed = True
                    return replace(options, media_workers=0)
        if self._media_pool is None:
            return replace(options, media_workers=0)
        return replace(options, runners={**options.runners, "webrtc": self._media_pool})

    # -- reload --------------------------------------------------------------------

    async def reload(self) -> list[str]:
        """Re-read the inventory file and the meetings file; the problems found (empty:
        reloaded).  Each file that fails keeps its previous contents in force."""
        problems = await self._reload_inventory()
        if self.meetings is not None:
            problems += self.meetings.reload()
        return problems

    async def _reload_inventory(self) -> list[str]:
        async with self._reload_lock:
            s = self.state
            try:
                inventory = await asyncio.to_thread(load_fleet, self.config.inventory_path)
                endpoints = self.config.scope.endpoints(inventory)
            except InputError as exc:
                s.reload_success = False
                s.reloads["failure"] += 1
                log.error("inventory reload failed, keeping the previous inventory:\n%s", exc)
                return exc.lines() or [str(exc)]
            s.inventory, s.endpoints = inventory, endpoints
            if self.live is not None:
                await self.live.update(inventory, endpoints)
            for hook in self.reload_hooks:
                try:
                    hook(inventory)
                except Exception:  # one follower's bug must not undo the reload
                    log.exception("after the inventory reload")
            s.reload_success = True
            s.reload_last_success_s = time.time()
            s.reloads["success"] += 1
            log.info("inventory reloaded: %d endpoints in scope", len(endpoints))
            return []

    # -- HTTP ----------------------------------------------------------------------

    def app(self) -> web.Application:
        """The aiohttp application (routes of the module docstring)."""
        app = web.Application(middlewares=[body_deadline(self.config.limits)],
                              client_max_size=1 << 20)
        app.router.add_get("/", self._landing)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/probe", self._probe)
        app.router.add_get("/-/healthy", self._healthy)
        app.router.add_get("/-/ready", self._ready)
        app.router.add_post("/-/reload", self._reload)
        app.router.add_put("/-/reload", self._reload)
        return app

    async def _landing(self, request: web.Request) -> web.Response:
        return web.Response(text=LANDING, content_type="text/html")

    async def _metrics(self, request: web.Request) -> web.Response:
        # Rendered off the loop, so that a large fleet's scrape does not delay probes.
        if "gzip" in request.headers.get("Accept-Encoding", ""):
            body = await asyncio.to_thread(self.render_gzip)
            response = _exposition(body, compress=False)
            response.headers["Content-Encoding"] = "gzip"
            return response
        return _exposition(await asyncio.to_thread(self.render), compress=False)

    def render(self) -> bytes:
        """The body of ``/metrics``: the fleet's families, then the exporter's own."""
        return self._fleet().text + self.devices.render() + render_text(self.health.collect())

    def render_gzip(self) -> bytes:
        """The body of ``/metrics``, gzipped (the fleet's part compressed once per report)."""
        return self._fleet().gzip_with(self.devices.render() + render_text(self.health.collect()))

    def _fleet(self) -> CachedText:
        """The fleet's families as text.

        They are a pure function of the latest report and the endpoints in scope, both
        immutable and swapped whole, so the text is kept until either changes; the
        exporter's own series are collected afresh on every scrape.
        """
        report, endpoints = self.state.report, self.state.endpoints
        cached = self._fleet_text
        if cached is None or cached[0] is not report or cached[1] is not endpoints:
            cached = (report, endpoints, CachedText(self.fleet.render()))
            self._fleet_text = cached
        return cached[2]

    def _report_done(self, report: SweepReport) -> None:
        task: asyncio.Task[object] = asyncio.create_task(self._after_sweep(report))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _after_sweep(self, report: SweepReport) -> None:
        """Record the sweep (history) and render its text now, rather than in the next
        scrape; both in a worker thread, off the event loop."""
        if self._on_report is not None:
            try:
                await asyncio.to_thread(self._on_report, report)
            except Exception:  # the history store's trouble must not stop the exporter
                log.exception("recording the sweep failed")
        await asyncio.to_thread(self.render_gzip)

    async def _probe(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        module = request.query.get("module", DEFAULT_MODULE)
        inventory = self.state.inventory
        try:
            probe = parse_request(request.query, [k for k, _ in request.query.items()],
                                  request.headers, inventory)
            options = await self._with_media(
                self._with_live(replace(self.config.options, checks=probe.checks)),
                inventory, [probe.endpoint])
            report = await run_probe(probe, inventory, options)
            registry = CollectorRegistry(auto_describe=False)
            kept = self.state.record_probe(report)
            registry.register(ProbeCollector(probe, report, started, kept))
            body = render_text(registry.collect())
        except ProbeRequestError as exc:
            self._count_probe(module, exc.status)
            return web.Response(status=exc.status, text=f"{exc}\n")
        except Exception as exc:  # never a 500 page for a probe: say what failed, as 503
            log.exception("probe of %s failed", request.query.get("target"))
            self._count_probe(module, 503)
            return web.Response(status=503, text=f"probe failed: {type(exc).__name__}: {exc}\n")
        self._count_probe(probe.module, 200)
        return _exposition(body)

    def _count_probe(self, module: str, status: int) -> None:
        # only known module names become label values: a request cannot add series
        self.state.probe_requests[(module if module in MODULES else "invalid",
                                   str(status))] += 1

    async def _healthy(self, request: web.Request) -> web.Response:
        return web.Response(text="vcfleet exporter is healthy.\n")

    async def _ready(self, request: web.Request) -> web.Response:
        if self.state.ready:
            return web.Response(text="vcfleet exporter is ready.\n")
        return web.Response(status=503, text="vcfleet exporter is waiting for its first "
                                             "sweep to complete.\n")

    async def _reload(self, request: web.Request) -> web.Response:
        problems = await self.reload()
        if problems:
            text = "reload failed, the file named below keeps its previous contents in force:\n"
            return web.Response(status=400, text=text + "\n".join(problems) + "\n")
        return web.Response(text=f"inventory reloaded: {len(self.state.endpoints)} "
                                 "endpoints in scope.\n")


def _exposition(body: bytes, *, compress: bool = True) -> web.Response:
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE
    if compress:
        response.enable_compression()
    return response
