"""The fleet simulator: every endpoint of an inventory, served on its own address.

``Simulator`` runs in one of two modes:

- in-process (``workers=0``): every endpoint is served by the caller's event loop
  (small test fleets, and ``inspect()`` of a device's state);
- worker processes (``workers=N``): endpoint *i* is served by worker ``i % N``,
  a ``python -m simulator.worker`` child that speaks ``probes.childproc`` with the
  parent (``SimulatorWorker``).  This spreads the work of a full sweep
  (TLS handshakes, SSH key exchanges, WebRTC media) over the machine's cores.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import secrets
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from inventory import Inventory
from probes.childproc import Child, ChildError
from simulator import state
from simulator.devices import SIP_DOMAIN, Device
from simulator.endpoint import Shared, SimulatedEndpoint, SimulatorError, start_all
from simulator.faults import Faults
from simulator.registrar import REGISTRAR_PORT, Registrar, default_registrar
from simulator.web import tls_context

log = logging.getLogger(__name__)

SIP_PROXY_NAME = f"sip.{SIP_DOMAIN}"
"""The province's proxy as the codecs are configured with it; resolves to the registrar."""
FILES_PER_ENDPOINT = 24
"""Open files to budget per endpoint: its listeners plus the connections of a sweep."""
WORKER_START_TIMEOUT_S = 60.0
WORKER_REPLY_TIMEOUT_S = 30.0


def raise_file_limit(endpoints: int) -> int:
    """Raise RLIMIT_NOFILE to what ``endpoints`` endpoints need; SimulatorError if impossible."""
    need = endpoints * FILES_PER_ENDPOINT + 256
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= need:
        return int(soft)
    try:
        new_hard = hard if hard == resource.RLIM_INFINITY or hard >= need else need
        resource.setrlimit(resource.RLIMIT_NOFILE, (need, new_hard))
    except (ValueError, OSError):
        raise SimulatorError(
            f"the open-file limit is {soft} (hard {hard}) and cannot be raised to the {need} "
            f"that {endpoints} endpoints need: raise it (ulimit -n {need}) or serve fewer "
            "endpoints") from None
    return need


def prepare_state(state_dir: Path, inventory: Inventory) -> tuple[Path, Path]:
    """Create host keys, known_hosts and the TLS certificate; return the certificate files."""
    state_dir.mkdir(parents=True, exist_ok=True)
    state.host_keys(state_dir, inventory.endpoints)
    return state.tls_files(state_dir)


class Simulator:
    """Serves an inventory's endpoints; ``start``/``stop`` or ``async with``.

    ``faults`` are the initial faults; ``reload_faults`` changes them live.
    ``state_dir`` holds host keys, the TLS certificate and ``authorized_keys``
    (default: ``state.default_state_dir()``).  ``reboot_s`` is how long a
    rebooting device stays away.  ``seed`` seeds the random losses and delays of the
    faults (``loss_pct``, ``jitter_ms``), one generator per endpoint, so that a run can
    be repeated; None picks one at random (``self.seed`` tells which).  ``registrar``
    is the address of the province's SIP registrar (port 5060), where the codecs'
    default proxy ``sip.thanhhoa.gov.vn`` points (default: ``default_registrar``);
    ``serve_registrar=False`` (worker processes) leaves serving it to the parent.
    """

    def __init__(self, inventory: Inventory, faults: Faults | None = None,
                 state_dir: Path | None = None, workers: int = 0,
                 reboot_s: float = 1.0, seed: int | None = None,
                 registrar: str | None = None, serve_registrar: bool = True) -> None:
        self.inventory = inventory
        self.seed = seed if seed is not None else secrets.randbelow(1 << 32)
        self.faults = faults or Faults()
        self.state_dir = Path(state_dir) if state_dir else state.default_state_dir()
        self.workers = max(0, workers)
        self.reboot_s = reboot_s
        self.endpoints: dict[str, SimulatedEndpoint] = {}
        self.registrar_address = registrar or default_registrar(
            [e.address for e in inventory.endpoints])
        self.registrar: Registrar | None = None
        self._serve_registrar = serve_registrar
        self.startup_s = 0.0
        self._shared: Shared | None = None
        self._procs: list[SimulatorWorker] = []
        self._reloads: set[asyncio.Task[None]] = set()
        self._started = False

    @property
    def known_hosts(self) -> Path:
        """``STATE_DIR/known_hosts``: every SSH endpoint's host key."""
        return self.state_dir / "known_hosts"

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    async def start(self, *, prepare: bool = True) -> None:
        """Serve every endpoint; returns once all listen.  SimulatorError if one cannot.

        ``prepare=False`` (worker processes) uses the host keys and certificate the
        parent made and leaves ``known_hosts`` alone.
        """
        t0 = time.monotonic()
        raise_file_limit(len(self.inventory) if not self.workers else 16)
        self._started = True
        try:
            if prepare:
                cert, key = await asyncio.to_thread(prepare_state, self.state_dir,
                                                    self.inventory)
            else:
                cert, key = state.tls_files(self.state_dir)
            log.info("state ready in %.2f s", time.monotonic() - t0)
            if self._serve_registrar:
                await self._start_registrar()
            if self.workers:
                await self._spawn_workers()
                await self._start_workers()
            else:
                await self._start_here(str(cert), str(key))
        except BaseException:
            await self.stop()
            raise
        self.startup_s = time.monotonic() - t0

    async def _start_registrar(self) -> None:
        by_address = {e.address: e for e in self.inventory.endpoints}

        def refuse(source: str) -> tuple[int, str] | None:
            endpoint = by_address.get(source)
            if endpoint is None:
                return None
            faults = self.faults.for_endpoint(endpoint, self.inventory)
            return (403, "Forbidden") if faults.device.registration_fail else None

        registrar = Registrar(self.registrar_address, REGISTRAR_PORT, refuse)
        try:
            await registrar.start()
        except OSError as exc:
            raise SimulatorError(f"cannot listen on {self.registrar_address}:{REGISTRAR_PORT} "
                                 f"(the SIP registrar): {exc.strerror or exc}") from None
        self.registrar = registrar

    async def _start_here(self, cert: str, key: str) -> None:
        keys = {e.id: state.host_key(self.state_dir, e.id)
                for e in self.inventory.endpoints if e.services.ssh}
        self._shared = Shared(self.inventory, self.state_dir, keys, tls_context(cert, key),
                              state.authorized_keys(self.state_dir), self.reboot_s,
                              self.seed, {SIP_PROXY_NAME: self.registrar_address})
        self.endpoints = {e.id: SimulatedEndpoint(e, self._shared)
                          for e in self.inventory.endpoints}
        faults = {e.id: self.faults.for_endpoint(e, self.inventory)
                  for e in self.inventory.endpoints}
        await start_all(list(self.endpoints.values()), faults)

    async def _spawn_workers(self) -> None:
        if self.inventory.path is None:
            raise SimulatorError("worker processes need an inventory loaded from a file")
        count = min(self.workers, len(self.inventory)) or 1
        self._procs = [SimulatorWorker(i, count) for i in range(count)]
        await asyncio.gather(*(w.spawn() for w in self._procs))

    async def _start_workers(self) -> None:
        hello = {"inventory": str(self.inventory.path), "state_dir": str(self.state_dir),
                 "ids": [e.id for e in self.inventory.endpoints],
                 "faults": self.faults.to_json(), "reboot_s": self.reboot_s,
                 "seed": self.seed, "registrar": self.registrar_address}
        await asyncio.gather(*(w.start(hello) for w in self._procs))
        log.info("%d workers ready", len(self._procs))

    def reload_faults(self, faults: Faults) -> asyncio.Task[None]:
        """Put new faults in force live; await the returned task to know they apply."""
        self.faults = faults
        task = asyncio.create_task(self._reload(faults))
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)
        return task

    async def _reload(self, faults: Faults) -> None:
        if self._procs:
            await asyncio.gather(*(w.call(("reload", faults.to_json()))
                                   for w in self._procs))
            return
        if self._shared is not None:
            self._shared.authorized_keys = state.authorized_keys(self.state_dir)
        await asyncio.gather(*(ep.apply(faults.for_endpoint(ep.endpoint, self.inventory))
                               for ep in self.endpoints.values()))

    async def stop(self) -> None:
        """Stop every endpoint, worker and pending reload, and await them all."""
        if self._reloads:
            await asyncio.wait(list(self._reloads), timeout=30.0)
        await asyncio.gather(*(ep.stop() for ep in self.endpoints.values()),
                             return_exceptions=True)
        self.endpoints = {}
        await asyncio.gather(*(w.stop() for w in self._procs), return_exceptions=True)
        self._procs = []
        if self.registrar is not None:
            await self.registrar.stop()
            self.registrar = None
        self._started = False

    def device(self, endpoint_id: str) -> Device:
        """The live state of an in-process endpoint's device (for tests and the demo)."""
        return self.endpoints[endpoint_id].device

    async def wait_worker_exit(self) -> str:
        """Return (with a sentence saying which and how) when a worker process exits.

        Never returns in-process, or while every worker lives; cancel it to stop waiting.
        """
        procs = [(w.index, w.child) for w in self._procs if w.child.process is not None]
        if not procs:
            await asyncio.Event().wait()
        waits = {asyncio.ensure_future(c.wait()): i for i, c in procs}
        try:
            done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
        first = next(iter(done))
        return f"simulator worker {waits[first]} exited unexpectedly (status {first.result()})"

    def pids(self) -> list[int]:
        """Process ids of the worker processes (empty in-process)."""
        return [w.pid for w in self._procs if w.pid]


class SimulatorWorker:
    """One worker process of the simulator, on the ``probes.childproc`` channel."""

    def __init__(self, index: int, count: int) -> None:
        self.index, self.count = index, count
        self.child = Child("simulator.worker", [str(index), str(count)],
                           name=f"simulator worker {index}",
                           start_timeout_s=WORKER_START_TIMEOUT_S)

    @property
    def pid(self) -> int | None:
        """The worker's process id, once spawned."""
        return self.child.pid

    async def spawn(self) -> None:
        """Start the process and wait until it has loaded the simulator."""
        try:
            await self.child.start()
        except ChildError as exc:
            raise SimulatorError(str(exc)) from None

    async def start(self, hello: dict[str, Any]) -> None:
        """Serve this worker's share of the fleet."""
        await self.call(("start", hello), WORKER_START_TIMEOUT_S)

    async def call(self, message: tuple[Any, ...], timeout: float = WORKER_REPLY_TIMEOUT_S
                   ) -> Any:
        """Send one command; return the worker's reply, SimulatorError on its error."""
        try:
            return await self.child.call(message, timeout)
        except ChildError as exc:
            raise SimulatorError(str(exc)) from None

    async def stop(self) -> None:
        """Stop the worker (its endpoints close) and await it."""
        await self.child.stop(grace_s=15.0)
