"""Live device sessions: one SSH session per codec kept open, its state kept current.

``vcfleet serve`` keeps a ``LiveFleet`` of them (docs/exporter.md, "Live device
sessions"), so that a room that drops its registration or starts a call shows within
seconds, and a sweep's device check reads the live view instead of logging in.

- **Cisco** (xAPI): after the login banner the session sends ``echo off``, registers
  ``xFeedback`` for every status path the device check reads (``FEEDBACK``), then
  reads the whole state once (``probes.device_cisco.COMMANDS``).  From then on every
  ``*s`` line the codec pushes updates the view, in the order it arrives (a
  ``(ghost=True)`` line removes a list item: a call ended, a diagnostics message
  cleared).  Registering before the full read means no change can fall between the
  two.  Every ``heartbeat_s`` it asks ``xStatus SystemUnit Uptime``: a codec that does
  not answer within ``command_s`` has lost its session, even if TCP did not notice.
- **Poly** (SSH API): Poly documents push registrations (``callstate register``,
  ``notify callstatus``...) but none for the SIP registration or the peripherals the
  check needs, so the session reads the state again every ``poll_s`` in the same
  session, each command within ``command_s`` (no new login): ``POLY_QUICK`` each
  time, the check's other commands when ``status`` changed and every
  ``poly_full_every`` polls.

A session that fails is reported: ``LiveView.state`` becomes ``lost`` with the time
and the reason, and its last state is dropped, never shown as current.  It is opened
again after an exponential backoff with jitter (``LiveSettings``).  Sessions are
bounded (``max_sessions``) and opened gradually: at most ``start_rate`` logins a
second and ``max_connecting`` in progress at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

import asyncssh

from probes import device
from probes.base import ProbeResult, cancel_and_wait
from probes.device import MAX_REPLY, READ_SIZE, DeviceTarget, SessionError, Settings

log = logging.getLogger(__name__)

FEEDBACK = (
    "/Status/SIP/Registration",
    "/Status/SIP/Proxy",
    "/Status/Call",
    "/Status/Standby",
    "/Status/Conference/DoNotDisturb",
    "/Status/Audio/Microphones",
    "/Status/Audio/Input/Connectors/Microphone",
    "/Status/Video/Input/Connector",
    "/Status/Video/Output/Connector",
    "/Status/Peripherals/ConnectedDevice",
    "/Status/Diagnostics",
    "/Status/SystemUnit/Software",
)
"""Cisco status paths the session subscribes to: everything ``device_cisco.parse`` reads
but the uptime (which changes every second; the heartbeat reads it)."""
POLY_QUICK = ("status", "autoanswer get", "mute near get")
"""What a Poly poll asks every time: registration, call, camera and microphones
(``status``), do-not-disturb, mute.  The registrar, the far end of a call and the
software are asked when ``status`` changed, and every ``poly_full_every`` polls."""
HEARTBEAT = "xStatus SystemUnit Uptime"
UPTIME = "SystemUnit Uptime"
REPLY_ENDS = ("OK", "ERROR", "Command not recognized.")

State = Literal["connecting", "up", "lost"]


@dataclass(frozen=True)
class LiveSettings:
    """How the live sessions run; defaults are an operator's sensible choice."""

    max_sessions: int = 1024
    """Sessions kept open at once; rooms beyond it are checked by logging in each sweep."""
    start_rate: float = 50.0
    """At most this many logins start per second (a province's 348 rooms in 7 s)."""
    max_connecting: int = 16
    """At most this many logins (and first reads) in progress at once."""
    poll_s: float = 5.0
    """Poly: time between two reads of the state within the session (each costs both
    ends about 2 ms of CPU: docs/exporter.md)."""
    poly_full_every: int = 10
    """Poly: every this many polls, ask every command, not only ``POLY_QUICK``."""
    heartbeat_s: float = 30.0
    """Cisco: time between two liveness questions when the codec pushes nothing."""
    keepalive_s: float = 15.0
    """SSH keepalives (three unanswered close the connection)."""
    backoff_s: float = 1.0
    """Wait before the first reconnection; doubled each failure in a row."""
    backoff_max_s: float = 60.0
    """Longest wait between reconnections."""
    ready_wait_s: float = 30.0
    """How long a check waits for a session that is still opening its first time."""


@dataclass(frozen=True)
class LiveView:
    """What one codec's session knows; a new one replaces it at every change."""

    state: State
    since: float
    """Wall-clock time (epoch seconds) the session entered this state."""
    reason: str = ""
    """Why the session is lost."""
    result: ProbeResult | None = None
    """The device check's result from the codec's current state (``up`` only)."""
    updated_at: float = 0.0
    """Wall-clock time the state was last read or pushed (``up`` only)."""
    logins: int = 0
    """Successful logins this session has made since it was started."""
    unchecked: bool = False
    """Lost because the host key was never recorded: says nothing of the room."""
    uptime_at: float = 0.0
    """Wall-clock time the codec's uptime was read (it has grown since)."""

    def probe_result(self) -> ProbeResult:
        """The device check's result now: the codec's state while up, else why not."""
        if self.state == "up" and self.result is not None:
            return _aged(self.result, self.uptime_at)
        if self.state == "lost":
            why = f"session lost since {_clock(self.since)}: {self.reason}"
            return ProbeResult.cannot_check(self.reason) if self.unchecked else \
                ProbeResult.failure(why)
        return ProbeResult.failure(f"live session still connecting since {_clock(self.since)}")


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).astimezone().isoformat(timespec="seconds")


class Gate:
    """Admits logins: at most ``max_connecting`` at once, starts ``1/start_rate`` apart."""

    def __init__(self, live: LiveSettings) -> None:
        self.free = asyncio.Semaphore(max(1, live.max_connecting))
        self.interval = 1.0 / live.start_rate if live.start_rate > 0 else 0.0
        self.next_at = 0.0

    @contextlib.asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        """Hold a login place for the block."""
        async with self.free:
            loop = asyncio.get_running_loop()
            at = max(loop.time(), self.next_at)
            self.next_at = at + self.interval
            await asyncio.sleep(at - loop.time())
            yield


def backoff(attempt: int, live: LiveSettings, rng: random.Random) -> float:
    """The wait before reconnection number ``attempt`` (0-based): doubling from
    ``backoff_s`` up to ``backoff_max_s``, times a random factor in [0.5, 1) so that
    rooms that failed together do not come back together."""
    base = min(live.backoff_max_s, live.backoff_s * 2.0 ** min(attempt, 30))
    return base * (0.5 + rng.random() / 2)


class CiscoStream:
    """The state of a Cisco session's output, line by line: ``*s`` leaves in arrival
    order, ghosts removed, and how many command replies have ended."""

    def __init__(self) -> None:
        self.leaves: dict[str, str] = {}
        self.replies = 0
        self.changed = False
        self._partial = ""

    def feed(self, text: str) -> None:
        """Take more output (any cut, CRLF or LF lines)."""
        lines = (self._partial + text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
        self._partial = lines.pop()
        if len(self._partial) > MAX_REPLY:
            raise SessionError(f"a line longer than {MAX_REPLY} characters")
        for raw in lines:
            self._line(raw.strip())

    def _line(self, line: str) -> None:
        if line in REPLY_ENDS:
            self.replies += 1
            return
        if not line.startswith("*s ") or ":" not in line:
            return
        path, _, value = line[3:].partition(":")
        path = path.strip()
        if path.endswith("(ghost=True)"):
            gone = path.removesuffix("(ghost=True)").strip() + " "
            for key in [k for k in self.leaves if (k + " ").startswith(gone)]:
                del self.leaves[key]
            self.changed = True
            return
        value = value.strip()
        if self.leaves.get(path) != value:
            self.leaves[path] = value
            self.changed = True

    def text(self) -> str:
        """The leaves as ``*s`` lines, for ``device_cisco.parse``."""
        return "\n".join(f"*s {path}: {value}" for path, value in self.leaves.items())


class LiveSession:
    """One codec's session: ``start()`` opens it (and reopens it after a failure),
    ``stop()`` closes it; ``view`` is what it knows now."""

    def __init__(self, target: DeviceTarget, settings: Settings, live: LiveSettings,
                 gate: Gate, rng: random.Random) -> None:
        self.target, self.settings, self.live = target, settings, live
        self.gate, self.rng = gate, rng
        self.view = LiveView("connecting", time.time())
        self.first_outcome = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._came_up = False

    def start(self) -> None:
        """Start keeping the session (once)."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"device-live:{self.target.name}")

    async def stop(self) -> None:
        """Close the session and wait for its task to end."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def wait_ready(self, timeout_s: float) -> LiveView:
        """The view once the first session attempt has an outcome (or ``timeout_s``)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await self.first_outcome.wait()
        return self.view

    def _set(self, view: LiveView) -> None:
        self.view = view
        if view.state != "connecting":
            self.first_outcome.set()

    async def _run(self) -> None:
        attempt = 0
        while True:
            self._came_up = False
            try:
                await self._session()
                reason, unchecked = "the codec closed the session", False
            except SessionError as exc:
                reason, unchecked = str(exc), exc.unchecked
            except Exception as exc:  # a bug here must not leave a stale "up" view behind
                log.exception("live session to %s failed", self.target.name)
                reason, unchecked = f"session error: {type(exc).__name__}: {exc}", False
            self._set(LiveView("lost", time.time(), reason, logins=self.view.logins,
                               unchecked=unchecked))
            attempt = 0 if self._came_up else attempt
            await asyncio.sleep(backoff(attempt, self.live, self.rng))
            attempt += 1

    async def _session(self) -> None:
        """One session, from login until it fails (SessionError) or the codec ends it."""
        async with self.gate.admit():
            conn = await device.connect(self.target, self.settings, self.live.keepalive_s)
        self._set(replace(self.view, logins=self.view.logins + 1))
        try:
            proc, reader = await device.open_shell(conn, self.target.vendor, self.settings)
            if self.target.vendor == "cisco_ce":
                await self._cisco(proc, reader.buffer)
            else:
                await self._poly(proc, reader)
        except asyncssh.Error as exc:
            raise SessionError(f"SSH session failed: {exc.reason}") from None
        except OSError as exc:
            raise SessionError(f"SSH session failed: {exc.strerror or exc}") from None
        finally:
            await device.close(conn)

    async def _poly(self, proc: asyncssh.SSHClientProcess[str], reader: device.Replies) -> None:
        """Read the state every ``poll_s``: the quick commands each time, the others when
        ``status`` changed and every ``poly_full_every`` polls."""
        commands = device.state_commands("poly")
        rest = tuple(c for c in commands if c not in POLY_QUICK)
        last: dict[str, str] = {}
        for polls in itertools.count():
            full = polls % max(1, self.live.poly_full_every) == 0
            ask = commands if full else POLY_QUICK
            replies = dict(zip(ask, await device.read_replies(proc, reader, ask, self.settings),
                               strict=True))
            if not full and replies["status"] != last.get("status"):
                replies.update(zip(rest, await device.read_replies(proc, reader, rest,
                                                                   self.settings), strict=True))
            last.update(replies)
            self._up(device.result_of("poly", "\n".join(last[c] for c in commands)))
            await asyncio.sleep(self.live.poll_s)

    def _up(self, result: ProbeResult, uptime_at: float = 0.0) -> None:
        self._came_up = True
        now = time.time()
        since = self.view.since if self.view.state == "up" else now
        self._set(LiveView("up", since, result=result, updated_at=now, logins=self.view.logins,
                           uptime_at=uptime_at or now))

    async def _cisco(self, proc: asyncssh.SSHClientProcess[str], leftover: str) -> None:
        """Subscribe, read the whole state, then apply what the codec pushes."""
        commands = ("echo off", *(f"xFeedback register {p}" for p in FEEDBACK),
                    *device.state_commands("cisco_ce"))
        proc.stdin.write("".join(f"{c}\r\n" for c in commands))
        stream = CiscoStream()
        stream.feed(leftover)
        loop = asyncio.get_running_loop()
        expected = len(commands)
        due = loop.time() + self.settings.command_s  # the next reply's deadline
        next_beat = loop.time() + self.live.heartbeat_s
        uptime_at = time.time()
        up = False
        while True:
            if stream.replies >= expected and loop.time() >= next_beat:
                proc.stdin.write(f"{HEARTBEAT}\r\n")
                expected += 1
                due = loop.time() + self.settings.command_s
                next_beat = loop.time() + self.live.heartbeat_s
            waiting = stream.replies < expected
            try:
                async with asyncio.timeout_at(due if waiting else next_beat):
                    chunk = await proc.stdout.read(READ_SIZE)
            except TimeoutError:
                if waiting:
                    raise SessionError(
                        f"no answer within {self.settings.command_s:g} s") from None
                continue
            if not chunk:
                raise SessionError("the codec closed the session")
            before, uptime = stream.replies, stream.leaves.get(UPTIME)
            stream.feed(chunk)
            if stream.replies > before:
                due = loop.time() + self.settings.command_s
            if stream.leaves.get(UPTIME) != uptime:
                uptime_at = time.time()
            if stream.replies >= len(commands) and (stream.changed or not up):
                stream.changed = False
                self._up(device.result_of("cisco_ce", stream.text()), uptime_at)
                up = True


def _aged(result: ProbeResult, read_at: float) -> ProbeResult:
    """``uptime_s`` as of now: read at ``read_at``, it has grown since."""
    uptime = result.figures.get("uptime_s")
    if uptime is None:
        return result
    return replace(result, figures={**result.figures,
                                    "uptime_s": uptime + max(0.0, time.time() - read_at)})


@dataclass
class LiveFleet:
    """The live sessions of a fleet, by endpoint id (``Target.name``).

    ``await update(wanted)`` opens sessions for new targets, closes those no longer
    wanted and reopens those whose target or settings changed; ``views()`` is what
    they know; ``check`` is a runner for the sweep engine's device check that reads
    the live view, and logs in as the check does for a room without a session.
    """

    live: LiveSettings = field(default_factory=LiveSettings)
    rng: random.Random = field(default_factory=random.Random)
    """Jitter of the reconnection backoff (seeded in tests)."""
    sessions: dict[str, LiveSession] = field(default_factory=dict)
    _gate: Gate | None = None

    async def update(self, wanted: Mapping[str, tuple[DeviceTarget, Settings]]) -> None:
        """Keep a session for each wanted endpoint (up to ``max_sessions``), in order."""
        if self._gate is None:
            self._gate = Gate(self.live)
        stale = [name for name, s in self.sessions.items()
                 if name not in wanted or (s.target, s.settings) != wanted[name]]
        await asyncio.gather(*(self.sessions.pop(name).stop() for name in stale))
        for name, (target, settings) in wanted.items():
            if name in self.sessions or len(self.sessions) >= self.live.max_sessions:
                continue
            session = LiveSession(target, settings, self.live, self._gate, self.rng)
            self.sessions[name] = session
            session.start()

    async def stop(self) -> None:
        """Close every session and wait for them."""
        sessions, self.sessions = list(self.sessions.values()), {}
        await asyncio.gather(*(s.stop() for s in sessions))

    def views(self) -> dict[str, LiveView]:
        """What each session knows now, by endpoint id."""
        return {name: s.view for name, s in self.sessions.items()}

    @property
    def logins(self) -> int:
        """Logins the sessions have made in all."""
        return sum(s.view.logins for s in self.sessions.values())

    async def check(self, target: DeviceTarget, settings: Settings) -> ProbeResult:
        """The device check from the live view (no login); the ordinary check for a room
        without a live session."""
        session = self.sessions.get(target.name)
        if session is None or session.target != target:
            return await device.probe(target, settings)
        wait = min(self.live.ready_wait_s, settings.timeout_s or self.live.ready_wait_s)
        return (await session.wait_ready(wait)).probe_result()
