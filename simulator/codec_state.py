"""A simulated codec's live state beyond its configuration: registration, calls,
standby, do-not-disturb, peripherals, diagnostics, software.

Both dialects (simulator/cisco.py, simulator/poly.py) read it and change it, and
``device:`` faults force parts of it.  A fault is applied on its edges: when
``in_call`` becomes true the codec gets a call, when it becomes false that call
ends; a ``Call Disconnect`` in between ends it too, as on a real codec.  Every
change is announced to the listeners (a Cisco session's ``xFeedback``) as a
``Change``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from simulator.device_faults import DeviceFaults

FAULT_CALL_REMOTE = "mcu@thanhhoa.gov.vn"
"""Whom a codec with the ``in_call`` fault is in a call with."""
FAULT_CALL_NAME = "MCU Thanh Hóa"
STEP_S = 0.1
"""How long a dialled call stays in each of Dialling and Connecting."""


@dataclass
class Call:
    """One call (Cisco's ``xStatus Call N`` leaves, in operator words)."""

    id: int
    remote: str
    display_name: str
    direction: str = "Outgoing"
    status: str = "Connected"
    rate: int = 1920
    started: float = field(default_factory=time.monotonic)

    @property
    def duration_s(self) -> int:
        """Whole seconds since the call started."""
        return int(time.monotonic() - self.started)


@dataclass(frozen=True)
class Change:
    """What changed: status paths (Cisco words) to re-send, list items gone, events."""

    paths: tuple[str, ...] = ()
    ghosts: tuple[str, ...] = ()
    """List items that disappeared (``Call 3``)."""
    events: tuple[tuple[str, tuple[tuple[str, str, bool], ...]], ...] = ()
    """(event name, ((leaf, value, quoted), ...)), e.g. ``CallDisconnect``."""


Listener = Callable[[Change], None]


@dataclass
class Registration:
    """The codec's SIP registration as it reports it."""

    status: str = "Inactive"
    """``Registered``, ``Registering``, ``Failed`` or ``Inactive`` (Cisco's words)."""
    reason: str = ""
    """The registrar's answer (``403 Forbidden``) or why there was none."""
    registrar: str = ""
    """The proxy the codec registers to, as configured."""
    proxy_status: str = "Off"
    """Cisco's ``SIP Proxy 1 Status``: Active, DNSFailed, Timeout, Off."""


class CodecState:
    """The live state of one codec; ``listeners`` hear every change."""

    def __init__(self) -> None:
        self.registration = Registration()
        self.calls: dict[int, Call] = {}
        self.standby = "Off"
        """Cisco's ``Standby State``: Off (awake), Standby."""
        self.dnd = False
        self.mic_mute = False
        self.camera_connected = True
        self.mics_connected = True
        self.display_connected = True
        self.touch_connected = True
        self.diagnostics: list[tuple[str, str]] = []
        self.software = ""
        """Set by a fault; "" means the dialect's default version."""
        self.faults = DeviceFaults()
        self.listeners: set[Listener] = set()
        self._next_call = 1
        self._fault_call: int | None = None
        self._timers: set[asyncio.TimerHandle] = set()

    @property
    def calls_made(self) -> int:
        """How many calls the codec has had since the simulator started."""
        return self._next_call - 1

    # -- announcing --------------------------------------------------------------

    def announce(self, change: Change) -> None:
        """Tell every listener (a listener's error must not stop the others)."""
        for listener in list(self.listeners):
            with contextlib.suppress(Exception):
                listener(change)

    def set_registration(self, status: str, reason: str, registrar: str,
                         proxy_status: str) -> None:
        """Record a registration outcome; announced only when something changed."""
        new = Registration(status, reason, registrar, proxy_status)
        if new != self.registration:
            self.registration = new
            self.announce(Change(paths=("SIP",)))

    # -- calls -----------------------------------------------------------------

    def dial(self, remote: str, *, step_s: float = STEP_S) -> Call:
        """Place an outgoing call: Dialling, Connecting, then Connected (waking the codec)."""
        self.wake()
        call = Call(self._next_call, remote, remote.split("@")[0], status="Dialling")
        self._next_call += 1
        self.calls[call.id] = call
        self.announce(Change(paths=(f"Call {call.id}",)))
        self._later(step_s, self._progress, call.id, "Connecting")
        self._later(2 * step_s, self._progress, call.id, "Connected")
        return call

    def _progress(self, call_id: int, status: str) -> None:
        call = self.calls.get(call_id)
        if call is not None and call.status != status:
            call.status = status
            self.announce(Change(paths=(f"Call {call_id} Status",)))

    def _later(self, delay: float, fn: Callable[..., None], *args: object) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            fn(*args)
            return
        handle: asyncio.TimerHandle | None = None

        def run() -> None:
            if handle is not None:
                self._timers.discard(handle)
            fn(*args)

        handle = loop.call_later(delay, run)
        self._timers.add(handle)

    def disconnect(self, call_id: int | None = None, cause: str = "LocalDisconnect"
                   ) -> list[int]:
        """End one call (None: every call); the ids ended."""
        ids = list(self.calls) if call_id is None else [call_id] if call_id in self.calls else []
        for cid in ids:
            call = self.calls.pop(cid)
            if cid == self._fault_call:
                self._fault_call = None
            fields = (("CauseValue", "1", False), ("CauseType", cause, True),
                      ("CauseString", "", True),
                      ("OrigCallDirection", call.direction.lower(), True),
                      ("RemoteURI", f"sip:{call.remote}", True), ("CallId", str(cid), False),
                      ("CauseCode", "0", False), ("CauseOrigin", "SIP", False))
            self.announce(Change(ghosts=(f"Call {cid}",), events=(("CallDisconnect", fields),)))
        return ids

    # -- standby, DND, microphones ----------------------------------------------

    def wake(self) -> None:
        """Leave standby."""
        self._set_standby("Off")

    def sleep(self) -> None:
        """Go to standby (ends no call: a codec in a call does not go to standby)."""
        if not self.calls:
            self._set_standby("Standby")

    def _set_standby(self, state: str) -> None:
        if self.standby != state:
            self.standby = state
            self.announce(Change(paths=("Standby",)))

    def set_dnd(self, on: bool) -> None:
        """Turn do-not-disturb on or off."""
        if self.dnd != on:
            self.dnd = on
            self.announce(Change(paths=("Conference DoNotDisturb",)))

    def set_mute(self, on: bool) -> None:
        """Mute or unmute the microphones."""
        if self.mic_mute != on:
            self.mic_mute = on
            self.announce(Change(paths=("Audio Microphones",)))

    # -- faults ----------------------------------------------------------------

    def apply_faults(self, new: DeviceFaults) -> None:
        """Force what the faults say, acting only on the fields that changed."""
        old, self.faults = self.faults, new
        paths: list[str] = []
        if new.in_call != old.in_call:
            if new.in_call:
                call = Call(self._next_call, FAULT_CALL_REMOTE, FAULT_CALL_NAME,
                            direction="Incoming")
                self._next_call += 1
                self.calls[call.id] = call
                self._fault_call = call.id
                self.standby = "Off"
                paths += [f"Call {call.id}", "Standby"]
            elif self._fault_call is not None:
                self.disconnect(self._fault_call, "RemoteDisconnect")
        if new.standby != old.standby:
            self.standby = "Standby" if new.standby else "Off"
            paths.append("Standby")
        if new.dnd != old.dnd:
            self.dnd = new.dnd
            paths.append("Conference DoNotDisturb")
        if new.microphones != old.microphones:
            self.mics_connected = new.microphones != "disconnected"
            self.mic_mute = new.microphones == "muted"
            paths += ["Audio", "Audio Microphones"]
        if new.camera_disconnected != old.camera_disconnected:
            self.camera_connected = not new.camera_disconnected
            paths.append("Video Input")
        if new.display_disconnected != old.display_disconnected:
            self.display_connected = not new.display_disconnected
            paths.append("Video Output")
        if new.diagnostics != old.diagnostics:
            gone = len(self.diagnostics) - len(new.diagnostics)
            self.diagnostics = list(new.diagnostics)
            ghosts = tuple(f"Diagnostics Message {i}" for i in
                           range(len(new.diagnostics) + 1, len(new.diagnostics) + 1 + gone))
            self.announce(Change(paths=("Diagnostics",), ghosts=ghosts))
        if new.software != old.software:
            self.software = new.software
            paths.append("SystemUnit Software")
        if paths:
            self.announce(Change(paths=tuple(paths)))

    def close(self) -> None:
        """Cancel pending call progress (the simulator is stopping)."""
        for handle in self._timers:
            handle.cancel()
        self._timers.clear()
        self.listeners.clear()
