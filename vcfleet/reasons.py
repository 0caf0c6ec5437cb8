"""A verdict's reasons: English for machines, the operator's language for people.

A reason is a ``Reason``: a ``str`` holding the English sentence (what the sweep JSON,
the CSV, the history store and the logs keep) that also remembers its gettext message
id and the arguments it was built from, so that a report for people can say it again
in the current language (``reason_text``).  ``vcfleet.report.judge`` builds them where
it decides; the probes, which know nothing of languages, return English sentences,
which ``probe_reason`` recognises for the common ones (``PROBE_PHRASES``).  A reason
read back from JSON or the history store is a plain ``str``: ``reason_text`` recognises
it the same way, and shows an unknown sentence as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from inventory.errors import Message
from vcfleet.i18n import N_, _, decimal


class Reason(Message):
    """An English reason that can be said again in another language: an
    ``inventory.errors.Message`` (its text, message id and arguments), said by
    ``reason_text`` with the verdict's conventions (decimal comma, check words)."""


CHECK_REASON = N_("{check}: {problem}")
"""A reason about one check: ``sip: SIP port 5060/udp closed (ICMP port unreachable)``."""

CHECK_WORDS = {"device": N_("device")}
"""Check names that are words (said in the operator's language in a reason); the others
are protocol names (sip, icmp, webrtc), the same in every language."""

PROBE_PHRASES: tuple[str, ...] = (
    N_("failed"),
    N_("cannot check"),
    N_("cannot check: {why}"),
    N_("SIP port {where} closed ({what})"),
    N_("ICMP port unreachable"),
    N_("connection refused"),
    N_("no answer to OPTIONS on {where} in {timeout} s ({sent})"),
    N_("could not connect to SIP port {where} in {timeout} s"),
    N_("{n} transmission"),
    N_("{n} transmissions"),
    N_("connection refused on port {port}"),
    N_("no media path within {timeout} s ({stage})"),
    N_("listening"),
    N_("DTLS handshake unfinished"),
    N_("ICE failed: no candidate pair works (UDP blocked?)"),
    N_("DTLS handshake failed"),
    N_("no echo reply to {n} request"),
    N_("no echo reply to {n} requests"),
    N_("prober overloaded: figures not trusted"),
    N_("prober overloaded: its timeout not trusted"),
    N_("lossy media path: {why}"),
    N_("answered after {n} unanswered transmission (signalling loss)"),
    N_("answered after {n} unanswered transmissions (signalling loss)"),
    N_("{answer}: alive, demands authentication"),
    N_("insufficient sample ({packets} < {needed} packets)"),
)
"""The English sentences of the probes (and of judge) that people see most, as
templates: ``probe_reason`` matches a probe's sentence against them."""


FIGURE_PHRASES: tuple[str, ...] = (
    N_("round-trip time {value} ms >= {limit} ms"),
    N_("round-trip time up {value} ms >= {limit} ms"),
    N_("round-trip time down {value} ms >= {limit} ms"),
    N_("jitter {value} ms >= {limit} ms"),
    N_("jitter up {value} ms >= {limit} ms"),
    N_("jitter down {value} ms >= {limit} ms"),
    N_("packet loss {value} >= {limit}"),
    N_("packet loss up {value} >= {limit}"),
    N_("packet loss down {value} >= {limit}"),
    N_("estimated MOS {value} < {limit}"),
    N_("estimated MOS up {value} < {limit}"),
    N_("estimated MOS down {value} < {limit}"),
)
"""The figure problems ``vcfleet.report.judge`` gives, per figure and direction."""

LOSS_UNMEASURED: dict[str, str] = {
    "up": N_("packet loss up not measured: {why}"),
    "down": N_("packet loss down not measured: {why}"),
}
"""Why ``vcfleet.report.judge`` calls a room unknown whose media check has no loss
figure in a direction (``why``: the probe's ``info.up_loss`` / ``down_loss``)."""

DEVICE_PHRASES: tuple[str, ...] = (
    N_("not registered to {registrar}: {answer}"),
    N_("not registered (no SIP proxy configured): {answer}"),
    N_("inactive"),
    N_("failed"),
    N_("busy: in a call with {remote}"),
    N_("busy: in a call"),
    N_("busy: in {n} calls with {remote}"),
    N_("busy: in {n} calls"),
    N_("will not auto-answer: standby"),
    N_("will not auto-answer: do not disturb"),
    N_("camera disconnected: {names}"),
    N_("every camera disconnected: {names}"),
    N_("no camera found"),
    N_("microphone disconnected: {names}"),
    N_("every microphone disconnected: {names}"),
    N_("no microphone found"),
    N_("display disconnected: {names}"),
    N_("every display disconnected: {names}"),
    N_("no display found"),
    N_("touch panel disconnected: {names}"),
    N_("every touch panel disconnected: {names}"),
    N_("no touch panel found"),
    N_("microphones muted: {names}"),
    N_("diagnostics critical: {text}"),
    N_("diagnostics error: {text}"),
    N_("software {version} older than the fleet minimum {minimum}"),
)
"""What a device check read, in an operator's words (``vcfleet.device_verdict`` builds
them; a reason read back from JSON or the history is recognised against them)."""


@cache
def _pattern(msgid: str) -> re.Pattern[str]:
    parts = re.split(r"\{(\w+)\}", msgid)
    regex = "".join(re.escape(p) if i % 2 == 0 else f"(?P<{p}>.+?)"
                    for i, p in enumerate(parts))
    return re.compile(regex + r"\Z")


def probe_reason(text: str, phrases: Iterable[str] = PROBE_PHRASES) -> str:
    """``text`` as a ``Reason`` if it is one of ``phrases`` (its arguments recognised
    the same way), else ``text`` unchanged."""
    if isinstance(text, Reason):
        return text
    # The most specific template first: "packet loss up {value}" before "packet loss {value}".
    for msgid in sorted(phrases, key=lambda p: -len(re.sub(r"\{\w+\}", "", p))):
        m = _pattern(msgid).match(text)
        if m:
            args = {k: probe_reason(v, phrases) for k, v in m.groupdict().items()}
            return Reason(text, msgid, args)
    return text


def check_reason(check: str, problem: str) -> Reason:
    """``CHECK: PROBLEM``, the problem recognised if it is a known sentence."""
    return Reason.of(CHECK_REASON, check=check, problem=probe_reason(problem))


def reason_text(reason: str) -> str:
    """A reason in the current language: a ``Reason`` translated with its arguments, a
    plain string (from JSON or the history) recognised first; unknown text as it is."""
    r = reason if isinstance(reason, Reason) else _recognise(reason)
    if not isinstance(r, Reason):
        return r
    args = {k: reason_text(v) if isinstance(v, Reason)
            else _(CHECK_WORDS[v]) if k == "check" and v in CHECK_WORDS
            else v if k in VERBATIM_ARGS else decimal_arg(v) for k, v in r.args.items()}
    try:
        return _(r.msgid).format(**args)
    except (KeyError, IndexError, ValueError):  # a broken translation: say it in English
        return str(r)


VERBATIM_ARGS = frozenset({"version", "minimum", "registrar", "remote", "names", "text"})
"""Arguments said as the codec said them: a software version ``6.2`` is no decimal."""

RECOGNISED = (*FIGURE_PHRASES, *LOSS_UNMEASURED.values(), *DEVICE_PHRASES, *PROBE_PHRASES)
"""Every phrase a plain reason (from JSON or the history) is recognised against."""


def _recognise(text: str) -> str:
    m = _pattern(CHECK_REASON).match(text)
    if m and " " not in m["check"]:
        return Reason(text, CHECK_REASON,
                      {"check": m["check"],
                       "problem": probe_reason(m["problem"], RECOGNISED)})
    return probe_reason(text)


def decimal_arg(value: str) -> str:
    """A number argument with the language's decimal mark (``35.2`` -> ``35,2``)."""
    return decimal(value) if re.fullmatch(r"-?\d+\.\d+%?", value) else value


def reasons_text(reasons: Iterable[str], sep: str = "; ") -> str:
    """Several reasons in the current language, joined."""
    return sep.join(reason_text(r) for r in reasons)
