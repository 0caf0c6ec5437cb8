"""The device check's rules: what the codec said, in an operator's words, as reasons.

``vcfleet.report.judge`` calls ``device_problems`` for a device check that read its codec
and files the reasons with every other check's.  The profile's device policy (which
peripherals the room needs, the oldest software each vendor may run) comes from the
check's settings (``probes.device.Settings``: profile ``settings: {device: {required,
software_min}}``).  Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from typing import Any, Protocol

from vcfleet.reasons import DEVICE_PHRASES, Reason


class DevicePolicy(Protocol):
    """What the rules read of the device check's settings."""

    @property
    def required(self) -> Collection[str]:
        """Peripheral kinds the room cannot meet without."""
        ...

    @property
    def software_min(self) -> Mapping[Any, str]:
        """Oldest software per vendor."""
        ...


KIND_WORDS = {"camera": "camera", "microphone": "microphone", "display": "display",
              "touch_panel": "touch panel"}
"""The peripheral kinds in the order the rules look at them, with their English word."""


def _say(msgid: str, **args: str) -> Reason:
    """A device reason from one of ``vcfleet.reasons.DEVICE_PHRASES``, so that it
    translates; its arguments are the codec's own words (names, registrar, answer)."""
    assert msgid in DEVICE_PHRASES, msgid
    return Reason.of(msgid, **args)


def device_problems(details: Mapping[str, Any], info: Mapping[str, Any], vendor: str,
                    policy: DevicePolicy | None = None) -> tuple[list[Reason], list[Reason]]:
    """(reasons the room is down, reasons it is degraded) from the device check's
    ``details`` (its sweep JSON entries) and ``info``; ``policy`` None: the defaults of
    ``probes.device.Settings``."""
    if policy is None:
        from probes.device import Settings  # loaded already when a device check ran

        return device_problems(details, info, vendor, Settings())
    down: list[Reason] = []
    degraded: list[Reason] = []
    registration = details.get("registration") or {}
    if registration.get("state", "inactive") != "registered":
        down.append(_not_registered(registration))
    degraded.extend(_busy(details, info))
    if details.get("standby"):
        degraded.append(_say("will not auto-answer: standby"))
    if details.get("dnd"):
        degraded.append(_say("will not auto-answer: do not disturb"))
    _peripherals(details.get("peripherals") or [], policy.required, down, degraded)
    for message in details.get("diagnostics") or []:
        level, text = str(message.get("level", "")).lower(), str(message.get("text") or "?")
        if level == "critical":
            down.append(_say("diagnostics critical: {text}", text=text))
        elif level == "error":
            degraded.append(_say("diagnostics error: {text}", text=text))
    software = str(details.get("software") or "")
    minimum = policy.software_min.get(vendor)
    if software and minimum and older(software, minimum):
        degraded.append(_say("software {version} older than the fleet minimum {minimum}",
                             version=software, minimum=minimum))
    return down, degraded


def _not_registered(registration: Mapping[str, Any]) -> Reason:
    registrar = str(registration.get("registrar") or "")
    answer = str(registration.get("reason") or registration.get("state", "inactive"))
    # The codec's answer stays as it said it ("403 Forbidden"); only a bare state word
    # ("inactive", "failed") is one of ours and translates.
    said: str = _say(answer) if answer in DEVICE_PHRASES else answer
    if not registrar:
        return _say("not registered (no SIP proxy configured): {answer}", answer=said)
    return _say("not registered to {registrar}: {answer}", registrar=registrar, answer=said)


def _busy(details: Mapping[str, Any], info: Mapping[str, Any]) -> list[Reason]:
    calls = int(details.get("calls") or 0)
    if calls <= 0:
        return []
    remote = str(info.get("call_with") or "")
    if calls == 1:
        return [_say("busy: in a call with {remote}", remote=remote) if remote
                else _say("busy: in a call")]
    n = str(calls)
    return [_say("busy: in {n} calls with {remote}", n=n, remote=remote) if remote
            else _say("busy: in {n} calls", n=n)]


def _peripherals(peripherals: Sequence[Mapping[str, Any]], required: Collection[str],
                 down: list[Reason], degraded: list[Reason]) -> None:
    """A required kind with none connected: down; any other disconnected: degraded;
    connected microphones muted: degraded."""
    for kind, word in KIND_WORDS.items():
        of_kind = [p for p in peripherals if p.get("kind") == kind]
        lost = [str(p.get("name") or word) for p in of_kind if not p.get("connected")]
        if kind in required and len(lost) == len(of_kind):
            down.append(_none_connected(word, lost))
        elif lost:
            degraded.append(_say(f"{word} disconnected: {{names}}", names=", ".join(lost)))
    muted = [str(p.get("name") or "microphone") for p in peripherals
             if p.get("kind") == "microphone" and p.get("connected") and p.get("muted")]
    if muted:
        degraded.append(_say("microphones muted: {names}", names=", ".join(muted)))


def _none_connected(word: str, lost: list[str]) -> Reason:
    if not lost:
        return _say(f"no {word} found")
    if len(lost) == 1:
        return _say(f"{word} disconnected: {{names}}", names=lost[0])
    return _say(f"every {word} disconnected: {{names}}", names=", ".join(lost))


def older(version: str, minimum: str) -> bool:
    """Whether ``version`` is older than ``minimum``, by their numbers in order
    (``ce9.8.1`` < ``ce9.15`` ; ``6.2.2.5-501003`` >= ``6.2``)."""
    return _numbers(version) < _numbers(minimum)


def _numbers(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version))
