"""Push templates: vendor-neutral settings with Jinja2 values, plus raw per-vendor lines.

A template is checked completely before any device is touched: unknown keys,
keys a selected endpoint's vendor cannot set, vendor lines a driver cannot
parse and Jinja2 errors (syntax or undefined names, rendered for every selected
endpoint) are all reported together as ``TEMPLATE:LINE:COL: message``.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jinja2
import jinja2.compiler
import jinja2.nodes
import jinja2.runtime
import jinja2.sandbox
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError

from inventory import Endpoint, InputError, Problem, vendors
from inventory.errors import N_, Message
from inventory.yamlerrors import complete, validation_problems
from inventory.yamlpos import Mark, PosDict, PosList, decode, load, read_input
from vcfleet.push.dialects import DIALECTS

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


def _known_setting(key: str) -> str:
    if key not in vendors.SETTINGS:
        raise complete(Message.of(N_("unknown setting '{key}' (known: {known})"), key=key,
                                  known=", ".join(sorted(vendors.SETTINGS))))
    return key


def _known_vendor(vendor: str) -> str:
    if vendor not in DIALECTS:
        raise complete(Message.of(N_("no push driver for vendor '{vendor}' (vendors with "
                                     "drivers: {vendors})"), vendor=vendor,
                                  vendors=", ".join(sorted(DIALECTS))))
    return vendor


def _single_value(value: Any) -> Any:
    if value is None or isinstance(value, list | dict):
        raise complete(Message.of(N_("setting '{key}' needs a single value (text or boolean)"),
                                  key="{key}"), keyed=True)
    return value


SettingKey = Annotated[str, AfterValidator(_known_setting)]
VendorName = Annotated[str, AfterValidator(_known_vendor)]
SettingValue = Annotated[Any, AfterValidator(_single_value)]


class TemplateFile(BaseModel):
    """A template file as written (docs/push.md): checked like the inventory, unknown
    keys rejected; vendor lines are then checked by their vendor's dialect."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    description: Any = ""
    """Free text for people; a value that is not text is ignored, as it always was."""
    settings: dict[SettingKey, SettingValue] | None = None
    """Neutral key -> value: text (may hold Jinja2), boolean or number."""
    vendor_lines: dict[VendorName, list[str]] | None = None
    """Vendor -> raw lines in its native syntax."""


def load_template(path: str | Path) -> Template:
    """Read and structurally check a template; InputError lists every problem."""
    p = Path(path)
    name = str(p)
    data = read_input(p, "template")
    doc = load(decode(data, name), name)
    if not isinstance(doc, PosDict):
        raise InputError([Problem(name, 1, 1, Message.of(N_(
            "a template is a mapping with 'settings' and/or 'vendor_lines' (see docs/push.md)"
        )))])
    problems = _line_problems(doc, name)
    try:
        parsed = TemplateFile.model_validate(doc)
    except ValidationError as exc:
        raise InputError(problems + validation_problems(exc, doc, doc.mark, TemplateFile,
                                                        name)) from None
    if problems:
        raise InputError(problems)
    settings = dict(parsed.settings or {})
    lines = {v: list(ls) for v, ls in (parsed.vendor_lines or {}).items()}
    if not settings and not any(lines.values()):
        raise InputError([Problem(name, *doc.mark, Message.of(N_(
            "template sets nothing: add 'settings' or 'vendor_lines'")))])
    description = parsed.description if isinstance(parsed.description, str) else ""
    return Template(p, hashlib.sha256(data).hexdigest(), description, settings, lines,
                    _marks(doc))


def _line_problems(doc: PosDict, name: str) -> list[Problem]:
    """Vendor lines their vendor's dialect cannot parse (the model checks only that
    they are text)."""
    raw = doc.get("vendor_lines")
    problems: list[Problem] = []
    for vendor, lines in raw.items() if isinstance(raw, PosDict) else ():
        if vendor not in DIALECTS or not isinstance(lines, PosList):
            continue
        for line, mark in zip(lines, lines.marks, strict=True):
            error = DIALECTS[vendor].check_line(line) if isinstance(line, str) else None
            if error:
                problems.append(Problem(name, *mark, error))
    return problems


def _marks(doc: PosDict) -> dict[str, Mark]:
    """Where each setting's value (``settings.KEY``) and vendor line (``VENDOR.N``) sits."""
    marks: dict[str, Mark] = {}
    settings = doc.get("settings")
    if isinstance(settings, PosDict):
        marks.update((f"settings.{k}", settings.value_marks[k]) for k in settings)
    vendor_lines = doc.get("vendor_lines")
    for vendor, lines in vendor_lines.items() if isinstance(vendor_lines, PosDict) else ():
        marks.update((f"{vendor}.{n}", m) for n, m in enumerate(lines.marks))
    return marks


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
                                    Message.of(N_("setting '{key}' cannot be set on {vendor} "
                                                  "endpoints (selected: {selected}); {vendor} "
                                                  "supports {supported}"), key=key,
                                               vendor=vendor, selected=_few(ids),
                                               supported=", ".join(vendors.settable(vendor)))))
    for e in endpoints:
        if e.vendor not in DIALECTS:
            continue
        try:
            render(template, e)
        except TemplateLimitError:
            raise  # one line is enough: the same expression would blow up everywhere
        except InputError as exc:
            problems.extend(exc.problems)
            if len(problems) > 50:
                break
    if problems:
        raise InputError(problems)


def _few(ids: list[str]) -> str:
    if len(ids) <= 3:
        return ", ".join(ids)
    return Message.of(N_("{ids} and {n} more"), ids=", ".join(ids[:3]), n=len(ids) - 3)


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
        except TemplateLimit as exc:
            raise TemplateLimitError([Problem(str(template.path), *mark,
                                              Message.of(LIMIT, key=f"settings.{key}",
                                                         problem=_said(exc), id=endpoint.id))]
                                     ) from None
        except ValueError as exc:
            problems.append(Problem(str(template.path), *mark,
                                    Message.of(N_("setting '{key}' for endpoint {id}: "
                                                  "{problem}"), key=key, id=endpoint.id,
                                               problem=_said(exc))))
            continue
        out.append(NativeChange(setting.native[endpoint.vendor],
                                vendors.native_value(endpoint.vendor, setting, value), key))
    for line in template.vendor_lines.get(endpoint.vendor, []):
        native, value = dialect.parse_line(line)
        out.append(NativeChange(native, value))
    if problems:
        raise InputError(problems)
    return out


def _said(exc: Exception) -> str:
    """An error's message: the ``Message`` it was raised with, else its text."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], Message) else str(exc)


def _render_value(setting: vendors.Setting, raw: Any, endpoint: Endpoint) -> Value:
    if isinstance(raw, bool):
        if setting.kind != "bool":
            raise ValueError(Message.of(N_("expected text, got a boolean (quote it)")))
        return raw
    text = str(raw)
    if "{{" in text or "{%" in text:
        try:
            text = _ENV.render_value(text, endpoint=endpoint)
        except jinja2.TemplateSyntaxError as exc:
            raise ValueError(Message.of(N_("Jinja2 syntax error: {error}"),
                                        error=exc.message)) from None
        except TemplateLimit:
            raise
        except Exception as exc:  # any error a template expression raises is the template's
            raise ValueError(Message.of(N_("Jinja2 error: {error}"), error=exc)) from None
    if setting.kind == "bool":
        word = text.strip().lower()
        if word not in BOOL_TEXT:
            raise ValueError(Message.of(N_("expected a boolean (true/false, on/off, yes/no), "
                                           "got {value}"), value=repr(text)))
        return BOOL_TEXT[word]
    if "\n" in text or "\r" in text:
        raise ValueError(Message.of(N_("a value must be a single line")))
    return text


# -- bounded rendering ----------------------------------------------------------------

MAX_VALUE_CHARS = 4096
"""Longest rendered value (a display name or a proxy address is far shorter)."""
MAX_ITEMS = 4096
"""Longest string or sequence a ``*``, ``+`` or ``%`` may build, or a call may work on."""
MAX_INT_ARG = 65536
"""Largest integer a method or filter may receive (``ljust``, ``center``, ``indent``...)."""
MAX_RANGE = 1000
"""Most items ``range()`` may produce."""
MAX_POWER_BITS = 4096
"""Largest integer (in bits) ``**`` may produce."""
RENDER_S = 1.0
"""Wall-clock limit of one value's rendering (main thread only: it uses SIGALRM)."""

_PERCENT_SPEC = re.compile(r"%[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_BRACE_SPEC = re.compile(r"\{[^{}]*:[^{}]*?(\d+)")


LIMIT = N_("{key}: {problem} (endpoint {id}; see docs/push.md, Limits)")
"""A value past a rendering cap: which cap, and for which endpoint."""


class TemplateLimit(Exception):
    """A template expression went past one of the rendering caps (the message says which)."""


class TemplateLimitError(InputError):
    """A value went past a rendering cap: the check stops at the first such value."""


def _size(value: Any) -> int | None:
    return len(value) if isinstance(value, str | bytes | list | tuple) else None


def _too_wide(fmt: str) -> bool:
    numbers = [n for m in _PERCENT_SPEC.finditer(fmt) for n in m.groups() if n]
    numbers += _BRACE_SPEC.findall(fmt)
    return any(n == "*" or int(n) > MAX_INT_ARG for n in numbers)


def _check_args(args: Sequence[Any]) -> None:
    for a in args:
        if isinstance(a, int) and not isinstance(a, bool) and abs(a) > MAX_INT_ARG:
            raise TemplateLimit(Message.of(N_("argument {value} larger than {limit}"),
                                           value=a, limit=MAX_INT_ARG))
        size = _size(a)
        if size is not None and size > MAX_ITEMS:
            raise TemplateLimit(Message.of(N_("argument longer than {limit} items"),
                                           limit=MAX_ITEMS))
        if isinstance(a, str) and _too_wide(a):
            raise TemplateLimit(Message.of(N_("format width larger than {limit}"),
                                           limit=MAX_INT_ARG))


def _check_binop(operator: str, left: Any, right: Any) -> None:
    sizes = (_size(left), _size(right))
    if operator == "*":
        for size, other in zip(sizes, (right, left), strict=True):
            if size is not None and isinstance(other, int) and size * other > MAX_ITEMS:
                raise TemplateLimit(Message.of(N_("'*' would build more than {limit} items"),
                                               limit=MAX_ITEMS))
    elif operator == "+" and None not in sizes and sum(s or 0 for s in sizes) > MAX_ITEMS:
        raise TemplateLimit(Message.of(N_("'+' would build more than {limit} items"),
                                       limit=MAX_ITEMS))
    elif operator == "%" and isinstance(left, str):
        _check_args([left, *(right if isinstance(right, tuple) else (right,))])
    elif (operator == "**" and isinstance(left, int) and isinstance(right, int)
          and abs(left) > 1 and right * abs(left).bit_length() > MAX_POWER_BITS):
        raise TemplateLimit(Message.of(N_("'**' would build an integer over {limit} bits"),
                                       limit=MAX_POWER_BITS))


def _bounded_range(*args: int) -> range:
    rng = range(*args)
    if len(rng) > MAX_RANGE:
        raise TemplateLimit(Message.of(N_("range() of more than {limit} items"), limit=MAX_RANGE))
    return rng


def _guarded(f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)  # keeps jinja_pass_arg (pass_context, pass_environment, ...)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _check_args([*args, *kwargs.values()])
        result = f(*args, **kwargs)
        size = _size(result)
        if size is not None and size > MAX_VALUE_CHARS * 16:
            raise TemplateLimit(Message.of(N_("a filter built more than {limit} items"),
                                           limit=MAX_VALUE_CHARS * 16))
        return result

    return guarded


def _bounded_join(parts: Iterable[Any]) -> str:
    """``a ~ b``: Jinja2 compiles it to a join that no sandbox hook sees."""
    texts = [str(p) for p in parts]
    if sum(len(t) for t in texts) > MAX_ITEMS:
        raise TemplateLimit(Message.of(N_("'~' would build more than {limit} characters"),
                                       limit=MAX_ITEMS))
    return "".join(texts)


class _CodeGenerator(jinja2.compiler.CodeGenerator):
    """Compiles ``~`` to ``environment.bounded_join`` instead of Jinja2's own join."""

    def visit_Concat(self, node: jinja2.nodes.Concat, frame: jinja2.compiler.Frame) -> None:
        """``a ~ b ~ c`` as ``environment.bounded_join((a, b, c))``."""
        self.write("environment.bounded_join((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class BoundedEnvironment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The sandbox with caps on what one expression may build (docs/push.md, "Limits").

    Jinja2's sandbox stops a template from reaching Python internals, not from
    building a gigabyte string: ``*``, ``+``, ``%``, ``**`` and ``~`` are checked
    before they run, methods and filters refuse huge arguments, lists and dicts
    cannot be changed in place, ``range`` is short, and ``render_value`` streams the
    output, stops at ``MAX_VALUE_CHARS`` and at ``RENDER_S`` seconds.
    """

    intercepted_binops = frozenset({"*", "+", "%", "**"})
    code_generator_class = _CodeGenerator
    bounded_join = staticmethod(_bounded_join)

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.globals["range"] = _bounded_range
        self.filters = {name: _guarded(f) for name, f in self.filters.items()}

    def call_binop(self, context: jinja2.runtime.Context, operator: str, left: Any,
                   right: Any) -> Any:
        """Run a ``*``, ``+``, ``%`` or ``**`` after checking what it would build."""
        _check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: jinja2.runtime.Context, __obj: Any,
             *args: Any, **kwargs: Any) -> Any:
        """Call a method or function after checking its arguments and its object."""
        bound = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        _check_args([bound, *args, *kwargs.values()])
        result = super().call(__context, __obj, *args, **kwargs)
        size = _size(result)
        if size is not None and size > MAX_VALUE_CHARS * 16:
            raise TemplateLimit(Message.of(N_("a call built more than {limit} items"),
                                           limit=MAX_VALUE_CHARS * 16))
        return result

    def render_value(self, source: str, **context: Any) -> str:
        """Render one value, streamed: at most MAX_VALUE_CHARS, at most RENDER_S seconds."""
        template = self.from_string(source)
        with _time_limit(RENDER_S):
            out: list[str] = []
            length = 0
            for chunk in template.generate(**context):
                length += len(chunk)
                if length > MAX_VALUE_CHARS:
                    raise TemplateLimit(Message.of(N_("rendered value longer than {limit} "
                                                      "characters"), limit=MAX_VALUE_CHARS))
                out.append(chunk)
        return "".join(out)


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    """Raise TemplateLimit in this block after ``seconds`` (main thread; elsewhere no-op).

    An alarm already set by someone else (pytest-timeout, say) is kept: if it is due
    first, no limit is set; otherwise it is put back, less the time spent, afterwards.
    """
    outer = signal.getitimer(signal.ITIMER_REAL)
    if (threading.current_thread() is not threading.main_thread()
            or 0 < outer[0] <= seconds):
        yield
        return

    def expired(signum: int, frame: Any) -> None:
        raise TemplateLimit(Message.of(N_("rendering took longer than {seconds} s"),
                                       seconds=f"{seconds:g}"))

    previous = signal.signal(signal.SIGALRM, expired)
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer[0] > 0:
            left = max(outer[0] - (time.monotonic() - start), 1e-3)
            signal.setitimer(signal.ITIMER_REAL, left, outer[1])


_ENV = BoundedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False,
                          keep_trailing_newline=False)
