"""Push templates: vendor-neutral settings with Jinja2 values, plus raw per-vendor lines.

A template is checked completely before any device is touched: unknown keys,
keys a selected endpoint's vendor cannot set, vendor lines a driver cannot
parse and Jinja2 errors (syntax or undefined names, rendered for every selected
endpoint) are all reported together as ``TEMPLATE:LINE:COL: message``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.sandbox

from inventory import Endpoint, InputError, Problem
from inventory.yamlpos import Mark, PosDict, PosList, decode, load
from vcfleet import vendors
from vcfleet.push.dialects import DIALECTS

TOP_LEVEL_KEYS = ("description", "settings", "vendor_lines")
BOOL_TEXT = {"true": True, "on": True, "yes": True, "1": True,
             "false": False, "off": False, "no": False, "0": False}

Value = str | bool


@dataclass(frozen=True)
class NativeChange:
    """One setting as a device will receive it: native name and native value."""

    name: str
    value: str
    key: str | None = None
    """The neutral key it came from; None for a raw vendor line."""


@dataclass(frozen=True)
class Template:
    """A parsed, not yet rendered push template."""

    path: Path
    sha256: str
    description: str
    settings: dict[str, Any]
    """Neutral key -> raw YAML value (str with Jinja2, bool or number)."""
    vendor_lines: dict[str, list[str]]
    marks: dict[str, Mark] = field(default_factory=dict)
    """Where each setting's value (``settings.KEY``) and vendor line (``VENDOR.N``) sits."""

    def keys_for(self, vendor: str) -> list[str]:
        """Neutral keys of this template the vendor cannot set."""
        return [k for k in self.settings if vendor not in vendors.SETTINGS[k].native]


_ENV = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined,
                                           autoescape=False, keep_trailing_newline=False)


def load_template(path: str | Path) -> Template:
    """Read and structurally check a template; InputError lists every problem."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise InputError(f"{p}: cannot read template: {exc.strerror or exc}") from None
    name = str(p)
    doc = load(decode(data, name), name)
    problems: list[Problem] = []
    if not isinstance(doc, PosDict):
        raise InputError([Problem(name, 1, 1, "a template is a mapping with 'settings' "
                                              "and/or 'vendor_lines' (see docs/push.md)")])
    for key in doc:
        if key not in TOP_LEVEL_KEYS:
            problems.append(Problem(name, *doc.key_marks[key],
                                    f"unknown key '{key}' (expected one of "
                                    f"{', '.join(TOP_LEVEL_KEYS)})"))
    settings, marks = _settings(doc.get("settings"), doc, name, problems)
    lines = _vendor_lines(doc.get("vendor_lines"), doc, name, problems, marks)
    if not settings and not any(lines.values()) and not problems:
        problems.append(Problem(name, *doc.mark, "template sets nothing: add 'settings' "
                                                 "or 'vendor_lines'"))
    if problems:
        raise InputError(problems)
    description = doc.get("description")
    return Template(p, hashlib.sha256(data).hexdigest(),
                    description if isinstance(description, str) else "",
                    settings, lines, marks)


def _settings(raw: Any, doc: PosDict, name: str, problems: list[Problem]
              ) -> tuple[dict[str, Any], dict[str, Mark]]:
    marks: dict[str, Mark] = {}
    if raw is None:
        return {}, marks
    if not isinstance(raw, PosDict):
        problems.append(Problem(name, *doc.value_marks["settings"],
                                "'settings' must be a mapping of setting keys to values"))
        return {}, marks
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in vendors.SETTINGS:
            problems.append(Problem(name, *raw.key_marks[key],
                                    f"unknown setting '{key}' (known: "
                                    f"{', '.join(sorted(vendors.SETTINGS))})"))
            continue
        if value is None or isinstance(value, PosDict | PosList | list | dict):
            problems.append(Problem(name, *raw.value_marks[key],
                                    f"setting '{key}' needs a single value (text or boolean)"))
            continue
        out[key] = value
        marks[f"settings.{key}"] = raw.value_marks[key]
    return out, marks


def _vendor_lines(raw: Any, doc: PosDict, name: str, problems: list[Problem],
                  marks: dict[str, Mark]) -> dict[str, list[str]]:
    if raw is None:
        return {}
    if not isinstance(raw, PosDict):
        problems.append(Problem(name, *doc.value_marks["vendor_lines"],
                                "'vendor_lines' must map a vendor to a list of lines"))
        return {}
    out: dict[str, list[str]] = {}
    for vendor, lines in raw.items():
        if vendor not in DIALECTS:
            problems.append(Problem(name, *raw.key_marks[vendor],
                                    f"no push driver for vendor '{vendor}' (vendors with "
                                    f"drivers: {', '.join(sorted(DIALECTS))})"))
            continue
        if not isinstance(lines, PosList):
            problems.append(Problem(name, *raw.value_marks[vendor],
                                    f"vendor_lines.{vendor} must be a list of lines"))
            continue
        out[vendor] = []
        for n, (line, mark) in enumerate(zip(lines, lines.marks, strict=True)):
            error = (f"vendor line must be text, not {type(line).__name__}"
                     if not isinstance(line, str) else DIALECTS[vendor].check_line(line))
            if error:
                problems.append(Problem(name, *mark, error))
                continue
            marks[f"{vendor}.{n}"] = mark
            out[vendor].append(line)
    return out


def check_template(template: Template, endpoints: Sequence[Endpoint]) -> None:
    """Check a template against the endpoints it will go to; render every value once.

    Endpoints whose vendor has no driver are left out (the push reports them as
    skipped).  Raises InputError listing every problem.
    """
    problems: list[Problem] = []
    name = str(template.path)
    vendors_seen: dict[str, list[str]] = {}
    for e in endpoints:
        if e.vendor in DIALECTS:
            vendors_seen.setdefault(e.vendor, []).append(e.id)
    for vendor, ids in vendors_seen.items():
        for key in template.keys_for(vendor):
            problems.append(Problem(name, *template.marks[f"settings.{key}"],
                                    f"setting '{key}' cannot be set on {vendor} endpoints "
                                    f"(selected: {_few(ids)}); {vendor} supports "
                                    f"{', '.join(vendors.settable(vendor))}"))
    for e in endpoints:
        if e.vendor not in DIALECTS:
            continue
        try:
            render(template, e)
        except InputError as exc:
            problems.extend(exc.problems)
            if len(problems) > 50:
                break
    if problems:
        raise InputError(problems)


def _few(ids: list[str]) -> str:
    return ", ".join(ids[:3]) + (f" and {len(ids) - 3} more" if len(ids) > 3 else "")


def render(template: Template, endpoint: Endpoint) -> list[NativeChange]:
    """The native settings this template sets on one endpoint, in template order."""
    dialect = DIALECTS[endpoint.vendor]
    problems: list[Problem] = []
    out: list[NativeChange] = []
    for key, raw in template.settings.items():
        setting = vendors.SETTINGS[key]
        if endpoint.vendor not in setting.native:
            continue
        mark = template.marks[f"settings.{key}"]
        try:
            value = _render_value(setting, raw, endpoint)
        except ValueError as exc:
            problems.append(Problem(str(template.path), *mark,
                                    f"setting '{key}' for endpoint {endpoint.id}: {exc}"))
            continue
        out.append(NativeChange(setting.native[endpoint.vendor],
                                vendors.native_value(endpoint.vendor, setting, value), key))
    for line in template.vendor_lines.get(endpoint.vendor, []):
        native, value = dialect.parse_line(line)
        out.append(NativeChange(native, value))
    if problems:
        raise InputError(problems)
    return out


def _render_value(setting: vendors.Setting, raw: Any, endpoint: Endpoint) -> Value:
    if isinstance(raw, bool):
        if setting.kind != "bool":
            raise ValueError("expected text, got a boolean (quote it)")
        return raw
    text = str(raw)
    if "{{" in text or "{%" in text:
        try:
            text = _ENV.from_string(text).render(endpoint=endpoint)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(f"Jinja2 syntax error: {exc.message}") from None
        except Exception as exc:  # any error a template expression raises is the template's
            raise ValueError(f"Jinja2 error: {exc}") from None
    if setting.kind == "bool":
        word = text.strip().lower()
        if word not in BOOL_TEXT:
            raise ValueError(f"expected a boolean (true/false, on/off, yes/no), got {text!r}")
        return BOOL_TEXT[word]
    if "\n" in text or "\r" in text:
        raise ValueError("a value must be a single line")
    return text
