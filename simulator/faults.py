"""The faults file (DESIGN.md): which endpoints misbehave, and how.

A YAML list; each item has ``select`` (an inventory selector) and any of the
fault fields below.  Items apply in order, so a later item overrides an earlier
one field by field for the endpoints both select (``services`` merges service
by service).  An empty file, or ``[]``, means no faults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_serializer,
    model_validator,
)

from inventory import Endpoint, InputError, Inventory, Problem, Selector
from inventory.errors import N_, Message, labelled
from inventory.vendors import SETTINGS
from inventory.yamlerrors import shown, validation_problems
from inventory.yamlpos import Mark, PosDict, PosList, decode, load, read_input
from simulator.device_faults import DeviceFault, DeviceFaults, merge_device
from simulator.devices import specs

ServiceMode = Literal["down", "hang"]
SERVICES = ("sip", "ssh", "https", "webrtc")
REASON_PHRASES = {
    100: "Trying", 180: "Ringing", 181: "Call Is Being Forwarded", 182: "Queued",
    183: "Session Progress", 200: "OK", 202: "Accepted", 300: "Multiple Choices",
    301: "Moved Permanently", 302: "Moved Temporarily", 305: "Use Proxy",
    380: "Alternative Service", 400: "Bad Request", 401: "Unauthorized",
    402: "Payment Required", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 407: "Proxy Authentication Required", 408: "Request Timeout",
    410: "Gone", 413: "Request Entity Too Large", 414: "Request-URI Too Long",
    415: "Unsupported Media Type", 416: "Unsupported URI Scheme", 420: "Bad Extension",
    421: "Extension Required", 423: "Interval Too Brief", 480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist", 482: "Loop Detected", 483: "Too Many Hops",
    484: "Address Incomplete", 485: "Ambiguous", 486: "Busy Here", 487: "Request Terminated",
    488: "Not Acceptable Here", 491: "Request Pending", 493: "Undecipherable",
    500: "Server Internal Error", 501: "Not Implemented", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Server Time-out", 505: "Version Not Supported",
    513: "Message Too Large", 600: "Busy Everywhere", 603: "Decline",
    604: "Does Not Exist Anywhere", 606: "Not Acceptable",
}
"""RFC 3261 section 21's reason phrases, for a status fault that names none."""


def reason_phrase(status: int) -> str:
    """The RFC 3261 reason phrase of a status code, or a generic one by its class."""
    generic = {1: "Provisional", 2: "Success", 3: "Redirection", 4: "Client Error",
               5: "Server Error", 6: "Global Failure"}
    return REASON_PHRASES.get(status, generic.get(status // 100, "Unknown"))


class SipFault(BaseModel):
    """The SIP fault: a mode (``down``, ``hang``) or ``{status: N, reason: TEXT}``, the answer
    OPTIONS gets (any code 100-699; ``reason`` defaults to RFC 3261's phrase for the code)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    mode: ServiceMode | None = None
    status: int | None = None
    reason: str | None = Field(default=None, max_length=100)

    @model_validator(mode="before")
    @classmethod
    def _mode_or_answer(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value not in ("down", "hang"):
                raise ValueError(Message.of(NOT_A_MODE, value=shown(value)))
            return {"mode": value}
        if not isinstance(value, dict) or "mode" in value or "status" not in value:
            raise ValueError(Message.of(NOT_A_MODE, value=shown(value)))
        return value

    @field_validator("status")
    @classmethod
    def _status_range(cls, value: int | None) -> int | None:
        if value is not None and not 100 <= value <= 699:
            raise ValueError(Message.of(N_("a SIP status is 100-699, got {value}"), value=value))
        return value

    @field_validator("reason")
    @classmethod
    def _reason_one_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or any(
                ord(c) < 0x20 or ord(c) == 0x7F for c in value)):
            raise ValueError(Message.of(N_("a reason phrase is one line of text, got {value}"),
                                        value=shown(value)))
        return value

    @model_serializer
    def _as_written(self) -> str | dict[str, Any]:
        if self.mode is not None:
            return self.mode
        return {"status": self.status, **({"reason": self.reason} if self.reason else {})}


class ServiceFaults(BaseModel):
    """Per-service faults: ``down`` (nothing listens) or ``hang`` (accepts, never answers);
    SIP also ``{status: N}`` (OPTIONS answered with that status)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    sip: SipFault | None = None
    ssh: ServiceMode | None = None
    https: ServiceMode | None = None
    webrtc: ServiceMode | None = None


class FaultRule(BaseModel):
    """One item of the faults file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    select: str
    """Inventory selector of the endpoints this item breaks ("" = every endpoint)."""
    down: bool = False
    """Nothing of the endpoint listens."""
    services: ServiceFaults = ServiceFaults()
    delay_ms: float = Field(default=0.0, ge=0, le=60_000)
    """Added to every UDP datagram the endpoint sends."""
    jitter_ms: float = Field(default=0.0, ge=0, le=60_000)
    """The added delay varies uniformly in [delay_ms - jitter_ms, delay_ms + jitter_ms], >= 0."""
    loss_pct: float = Field(default=0.0, ge=0, le=100)
    """Each UDP datagram, in each direction independently, is dropped with this probability."""
    auth: Literal["fail"] | None = None
    """Every SSH login fails (Yealink: every HTTPS API login)."""
    reject_settings: list[str] = []
    """Setting keys the device refuses to change: vendor-neutral keys, or Yealink's own
    configuration-file keys."""
    provisioning: Literal["unreachable"] | None = None
    """A Yealink device cannot reach its provisioning server: every fetch fails."""
    flap_s: float | None = Field(default=None, gt=0)
    """The endpoint alternates up and down, this many seconds each."""
    device: DeviceFault = DeviceFault()
    """What the codec itself reports wrong (simulator/device_faults.py)."""

    @field_validator("select")
    @classmethod
    def _selector_valid(cls, value: str) -> str:
        try:
            Selector.parse(value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("reject_settings")
    @classmethod
    def _keys_known(cls, value: list[str]) -> list[str]:
        natives = specs("yealink")
        unknown = [k for k in value if k not in SETTINGS and k not in natives]
        if unknown:
            raise ValueError(Message.of(N_("unknown setting key(s) {keys} (known: {known}, or "
                                           "a Yealink configuration-file key)"),
                                        keys=", ".join(unknown), known=", ".join(SETTINGS)))
        return value


NOT_A_MODE = N_("{value} is not allowed; expected 'down', 'hang' or {{status: N}} (a SIP status "
                "100-699)")


def _fault(i: int) -> str:
    """``fault N`` (from 1), the label of a fault item's problems."""
    return Message.of(N_("fault {n}"), n=i + 1)


@dataclass(frozen=True)
class EndpointFaults:
    """The faults in force for one endpoint, all items merged."""

    down: bool = False
    services: dict[str, str] = field(default_factory=dict)
    """Service name to mode (``down`` or ``hang``); a service absent here is up."""
    sip_answer: tuple[int, str] | None = None
    """Status code and reason phrase OPTIONS gets instead of ``200 OK`` (None: 200)."""
    delay_ms: float = 0.0
    jitter_ms: float = 0.0
    loss_pct: float = 0.0
    auth_fail: bool = False
    reject_settings: tuple[str, ...] = ()
    flap_s: float | None = None
    device: DeviceFaults = field(default_factory=DeviceFaults)
    provisioning_unreachable: bool = False
    """Yealink: every fetch of the configuration file fails."""


@dataclass(frozen=True)
class Faults:
    """A parsed faults file."""

    rules: tuple[FaultRule, ...] = ()
    source: str = ""
    marks: tuple[Mark, ...] = ()
    """Where each rule's ``select`` value sits in the file (empty when not from a file)."""

    def check_matches(self, inventory: Inventory) -> None:
        """InputError, located at each ``select``, for every rule that selects no endpoint.

        A selector that matches nothing is almost always a typo (``id=hub`` for
        ``id=ubnd-tinh``): the operator would believe a fault is injected that is not.
        """
        problems: list[Problem] = []
        for i, rule in enumerate(self.rules):
            if inventory.select(rule.select):
                continue
            mark = self.marks[i] if i < len(self.marks) else (1, 1)
            where = inventory.path or Message.of(N_("the inventory"))
            problems.append(Problem(self.source, *mark, labelled(_fault(i), Message.of(
                N_("select {selector} matches no endpoint of {inventory}"),
                selector=repr(rule.select), inventory=where))))
        if problems:
            raise InputError(problems)

    def for_endpoint(self, endpoint: Endpoint, inventory: Inventory | None = None
                     ) -> EndpointFaults:
        """Merge every item that selects this endpoint, later items winning."""
        merged: dict[str, Any] = {}
        services: dict[str, str] = {}
        sip_answer: tuple[int, str] | None = None
        device: list[DeviceFault] = []
        for rule in self.rules:
            if not Selector.parse(rule.select).matches(endpoint, inventory):
                continue
            device.append(rule.device)
            for name in rule.model_fields_set - {"select", "services", "device"}:
                merged[name] = getattr(rule, name)
            services.update({k: v for k, v in rule.services.model_dump().items()
                             if isinstance(v, str)})
            sip = rule.services.sip
            if sip is not None and sip.status is not None:
                services.pop("sip", None)  # a later answer brings a down or hung SIP back
                sip_answer = (sip.status, sip.reason or reason_phrase(sip.status))
        return EndpointFaults(
            down=bool(merged.get("down", False)), services=services, sip_answer=sip_answer,
            delay_ms=float(merged.get("delay_ms", 0.0)),
            jitter_ms=float(merged.get("jitter_ms", 0.0)),
            loss_pct=float(merged.get("loss_pct", 0.0)),
            auth_fail=merged.get("auth") == "fail",
            reject_settings=tuple(merged.get("reject_settings", ())),
            flap_s=merged.get("flap_s"), device=merge_device(device),
            provisioning_unreachable=merged.get("provisioning") == "unreachable")

    def to_json(self) -> list[dict[str, Any]]:
        """The rules as plain data (what worker processes receive)."""
        return [r.model_dump(exclude_unset=True) for r in self.rules]

    @classmethod
    def from_json(cls, data: Sequence[dict[str, Any]], source: str = "") -> Faults:
        """Inverse of ``to_json``."""
        return cls(tuple(FaultRule.model_validate(d) for d in data), source)


def parse_faults(text: str, name: str) -> Faults:
    """Validate faults-file text; InputError lists every problem as PATH:LINE:COL."""
    doc = load(text, name) if text.strip() else None
    if doc is None:
        return Faults((), name)
    if not isinstance(doc, PosList):
        mark = getattr(doc, "mark", (1, 1))
        raise InputError([Problem(name, mark[0], mark[1],
                                  Message.of(N_("expected a list of fault items (each with "
                                                "'select')")))])
    rules: list[FaultRule] = []
    marks: list[Mark] = []
    problems: list[Problem] = []
    for i, (item, mark) in enumerate(zip(doc, doc.marks, strict=True)):
        try:
            rules.append(FaultRule.model_validate(item))
            marks.append(item.value_marks.get("select", mark)
                         if isinstance(item, PosDict) else mark)
        except ValidationError as exc:
            problems.extend(validation_problems(exc, item, mark, FaultRule, name,
                                                _fault(i)))
    if problems:
        raise InputError(problems)
    return Faults(tuple(rules), name, tuple(marks))


def load_faults(path: str | Path) -> Faults:
    """Read and validate a faults file."""
    p = Path(path)
    return parse_faults(decode(read_input(p, "faults file"), str(p)), str(p))
