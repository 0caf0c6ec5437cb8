"""The one report type every consumer reads, and the one verdict function.

A sweep produces a ``SweepReport``: per endpoint, the result of every check that
ran and a verdict (ready / degraded / down) with reasons.  The CLI, the exporter,
the console and the history store only read it; none of them judges an endpoint
on its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from inventory import Endpoint, Thresholds
from probes.base import ProbeResult
from vcfleet.device_verdict import device_problems
from vcfleet.reasons import (
    FIGURE_PHRASES,
    LOSS_UNMEASURED,
    Reason,
    check_reason,
    probe_reason,
)


class Verdict(StrEnum):
    """How ready a room is for the meeting."""

    READY = "ready"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"
    """Not checked yet, could not be checked (``ProbeResult.unchecked``), or the sweep
    was cancelled before it finished."""


UNRELIABLE_REASON = "prober overloaded: figures not trusted"
"""The reason of a check whose figures were taken while the prober or responder stalled."""
STARVED_REASON = "prober overloaded: its timeout not trusted"
"""The reason of a check that ran out of time while the prober's event loop stalled, and
did again when measured once more (``vcfleet.sweep.STALL_S``)."""


@dataclass(frozen=True)
class CheckReport:
    """One check's result for one endpoint, as the sweep engine recorded it."""

    name: str
    result: ProbeResult
    required: bool
    duration_s: float
    timed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        """The check's entry in the sweep JSON."""
        out = self.result.to_json()
        out["duration_s"] = round(self.duration_s, 4)
        if not self.required:
            out["advisory"] = True
        if self.timed_out:
            out["timed_out"] = True
        return out


@dataclass(frozen=True)
class EndpointReport:
    """An endpoint's verdict, reasons and checks from one sweep."""

    endpoint: Endpoint
    verdict: Verdict
    reasons: tuple[str, ...] = ()
    checks: Mapping[str, CheckReport] = field(default_factory=dict)
    finished_at: float = 0.0
    """Wall-clock time (epoch seconds) when the endpoint's last check finished."""
    notes: tuple[str, ...] = ()
    """What the operator should see that does not change the verdict ("sip: SIP 401
    Unauthorized: alive, demands authentication"), from the checks' ``notes``."""

    def figure(self, check: str, name: str, direction: str | None = None) -> float | None:
        """A figure of one check (optionally of one direction), or None if absent."""
        report = self.checks.get(check)
        if report is None:
            return None
        figs = report.result.directions.get(direction, {}) if direction else report.result.figures
        return figs.get(name)

    def to_json(self) -> dict[str, Any]:
        """The endpoint's entry in the sweep JSON contract."""
        e = self.endpoint
        return {
            "id": e.id,
            "name": e.name,
            "tier": e.tier,
            "district": e.district,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            **({"notes": list(self.notes)} if self.notes else {}),
            "checks": {name: c.to_json() for name, c in self.checks.items()},
        }


@dataclass(frozen=True, repr=False)
class SweepReport:
    """Everything one sweep found; the single source of truth for every consumer."""

    def __repr__(self) -> str:
        # Short on purpose: asyncio.run() returning a report has the stdlib build the
        # repr of its main task, result included (signal's handler-to-enum conversion
        # when SIGINT is restored), and the whole report's repr cost the demo sweep
        # about 0.1 s of CPU, 8 % of its 1.3 s.
        return (f"SweepReport({len(self.endpoints)} endpoints, {self.summary()}, "
                f"checks={self.checks!r}, duration_s={self.duration_s:.3f})")

    endpoints: tuple[EndpointReport, ...]
    started_at: float
    """Wall-clock time (epoch seconds) when the sweep started."""
    duration_s: float
    checks: tuple[str, ...] = ()
    """The check kinds that ran on at least one room, in the check table's order (not
    what ``--checks`` asked for: ``net`` asks for dns and ssh, which few rooms have)."""
    selector: str = ""
    cancelled: bool = False
    source: str = "sweep"
    """Who ran it: "sweep", "tui", "serve", "probe"."""

    @property
    def finished_at(self) -> float:
        """Wall-clock time when the sweep ended."""
        return self.started_at + self.duration_s

    def summary(self) -> dict[str, int]:
        """Counts by verdict: total, ready, degraded, down (and unknown if any)."""
        counts = Counter(r.verdict for r in self.endpoints)
        out = {"total": len(self.endpoints)}
        for v in (Verdict.READY, Verdict.DEGRADED, Verdict.DOWN):
            out[v.value] = counts.get(v, 0)
        if counts.get(Verdict.UNKNOWN):
            out[Verdict.UNKNOWN.value] = counts[Verdict.UNKNOWN]
        return out

    def summary_by(self, key: str) -> dict[str, dict[str, int]]:
        """Counts by verdict for each value of an endpoint field ("tier" or "district")."""
        out: dict[str, dict[str, int]] = {}
        for r in self.endpoints:
            group = str(getattr(r.endpoint, key) or "-")
            row = out.setdefault(group, {"total": 0, "ready": 0, "degraded": 0, "down": 0,
                                         "unknown": 0})
            row["total"] += 1
            row[r.verdict.value] += 1
        return out

    def all_ready(self) -> bool:
        """True when every endpoint is ready (exit code 0 of ``vcfleet sweep``)."""
        return not self.cancelled and all(r.verdict is Verdict.READY for r in self.endpoints)

    def get(self, endpoint_id: str) -> EndpointReport | None:
        """The report of one endpoint, if it was swept."""
        for r in self.endpoints:
            if r.endpoint.id == endpoint_id:
                return r
        return None

    def to_json(self) -> dict[str, Any]:
        """The sweep JSON contract (docs/sweep.md)."""
        return {
            "summary": self.summary(),
            "duration_s": round(self.duration_s, 3),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.started_at)),
            "checks": list(self.checks),
            "selector": self.selector,
            "cancelled": self.cancelled,
            "endpoints": [r.to_json() for r in self.endpoints],
        }


# -- the verdict ----------------------------------------------------------------------


def judge(
    endpoint: Endpoint,
    checks: Mapping[str, CheckReport],
    thresholds: Thresholds | None = None,
    settings: Mapping[str, Any] | None = None,
) -> EndpointReport:
    """The endpoint's verdict from its checks: the one place that decides readiness.

    Whether a check is required comes from the endpoint's profile, applied when the
    checks ran (``CheckReport.required``).  A failed required check makes the room
    down; a failed advisory check, or a figure past its threshold, makes it degraded.
    Figures marked unreliable (the prober or the responder stalled) are reported but
    not judged: the room is unknown, never degraded, unless their packet loss is past
    its threshold (a stall delays packets but loses none); a failed check marked
    unreliable (it ran out of time while the prober stalled, twice) makes it unknown,
    never down.  A check that could not be
    run (a configuration problem on the prober's side) makes the room unknown, never
    down or degraded, unless another check already shows it down.  A check that
    reached its service but was answered in a way that degrades the room
    (``ProbeResult.degraded``: a SIP 403, a lossy media path) makes it degraded with
    that reason.  A media check with a direction that has no loss figure (too few
    packets counted) and nothing else wrong makes the room unknown with the
    probe's why, never ready on the other direction's figure.  What a device check
    read is judged by ``vcfleet.device_verdict`` under the profile's device policy
    (``settings["device"]``, the settings the check ran with); an advisory device
    check only degrades.
    """
    t = thresholds or Thresholds()
    down: list[str] = []
    unknown: list[str] = []
    degraded: list[str] = []
    for name, check in checks.items():
        result = check.result
        if result.unchecked:
            unknown.append(check_reason(name, result.reason or "cannot check"))
            continue
        if not result.ok and result.unreliable:
            unknown.append(check_reason(name, STARVED_REASON))  # the prober's trouble
            continue
        if not result.ok:
            reason = check_reason(name, result.reason or "failed")
            (down if check.required else degraded).append(reason)
            continue
        if result.degraded:
            degraded.append(check_reason(name, result.degraded))
        if name == "device":
            bad, poor = device_problems(result.details, result.info, endpoint.vendor,
                                        (settings or {}).get(name))
            (down if check.required else degraded).extend(check_reason(name, m) for m in bad)
            degraded.extend(check_reason(name, m) for m in poor)
        if result.unreliable:
            # A stall delays packets but loses none: loss is still judged.
            lossy = [check_reason(name, msg)
                     for msg in _figure_problems(result, t, loss_only=True)]
            degraded.extend(lossy)
            if not lossy:
                unknown.append(check_reason(name, UNRELIABLE_REASON))
            continue
        problems = [check_reason(name, msg) for msg in _figure_problems(result, t)]
        degraded.extend(problems)
        if not problems and not result.degraded:
            unknown.extend(check_reason(name, msg) for msg in _unmeasured_loss(result))
    if down:
        verdict = Verdict.DOWN
    elif unknown:
        verdict = Verdict.UNKNOWN
    elif degraded:
        verdict = Verdict.DEGRADED
    elif not checks:
        verdict = Verdict.UNKNOWN
    else:
        verdict = Verdict.READY
    reasons = tuple(down + unknown + degraded)
    notes = tuple(check_reason(name, note) for name, check in checks.items()
                  for note in check.result.notes)
    return EndpointReport(endpoint, verdict, reasons, dict(checks), time.time(), notes)


def _figure_reason(figure: str, direction: str, value: str, limit: str) -> Reason:
    """``round-trip time up 300 ms >= 250 ms`` as a ``Reason``; a direction other than
    up and down is kept in the English text, untranslated."""
    name = {"rtt_ms": "round-trip time", "jitter_ms": "jitter", "loss_ratio": "packet loss",
            "mos": "estimated MOS"}[figure]
    scope = f"{name} {direction}".rstrip()
    for msgid in FIGURE_PHRASES:
        if msgid.startswith(scope + " {"):
            return Reason.of(msgid, value=value, limit=limit)
    generic = next(p for p in FIGURE_PHRASES if p.startswith(name + " {"))
    return Reason(generic.replace(name, scope, 1).format(value=value, limit=limit))


def _shown(value: float, digits: int, holds: Callable[[float], bool],
           percent: bool = False) -> str:
    """``value`` with ``digits`` decimals, or more if the figure so rounded would
    contradict its comparison (MOS 3.5996 is "3.5996 < 3.6", never "3.60 < 3.6")."""
    scale = 100.0 if percent else 1.0
    for n in range(digits, digits + 5):
        text = f"{value * scale:.{n}f}"
        if holds(float(text) / scale):
            break
    return text + ("%" if percent else "")


def _limit(value: float, percent: bool = False) -> str:
    """A threshold as given (250, 3.6, 3.65; 3 % for 0.03): every digit it has."""
    return f"{value * 100:g}%" if percent else f"{value:g}"


def _figure_problems(result: ProbeResult, t: Thresholds, loss_only: bool = False
                     ) -> Iterable[Reason]:
    scopes: list[tuple[str, Mapping[str, float]]] = [("", result.figures)]
    scopes += list(result.directions.items())
    for d, figs in scopes:
        rtt = figs.get("rtt_ms")
        if rtt is not None and rtt >= t.rtt_ms and not loss_only:
            yield _figure_reason("rtt_ms", d, _shown(rtt, 0, lambda v: v >= t.rtt_ms),
                                 _limit(t.rtt_ms))
        jitter = figs.get("jitter_ms")
        if jitter is not None and jitter >= t.jitter_ms and not loss_only:
            yield _figure_reason("jitter_ms", d,
                                 _shown(jitter, 1, lambda v: v >= t.jitter_ms),
                                 _limit(t.jitter_ms))
        loss = figs.get("loss_ratio")
        if loss is not None and loss >= t.loss_ratio:
            yield _figure_reason("loss_ratio", d,
                                 _shown(loss, 1, lambda v: v >= t.loss_ratio, percent=True),
                                 _limit(t.loss_ratio, percent=True))
        mos = figs.get("mos")
        if mos is not None and mos < t.mos and not loss_only:
            yield _figure_reason("mos", d, _shown(mos, 2, lambda v: v < t.mos), _limit(t.mos))


def _unmeasured_loss(result: ProbeResult) -> Iterable[Reason]:
    """A direction of a media result (``up``, ``down``) without a ``loss_ratio``, with
    the probe's why (``info.up_loss``: "insufficient sample (40 < 50 packets)")."""
    for d, msgid in LOSS_UNMEASURED.items():
        if d in result.directions and "loss_ratio" not in result.directions[d]:
            why = str(result.info.get(f"{d}_loss", "no figure"))
            yield Reason.of(msgid, why=probe_reason(why))
