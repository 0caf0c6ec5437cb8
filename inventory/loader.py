"""Load an inventory file, resolving groups and defaults, and report every problem at once.

Inheritance works as in nornir: an endpoint's own value wins, then each of its
groups in the order listed (a group's own parents right after it), then
``defaults``.  Mappings (``services``, ``credentials``, ``contact``) merge key
by key; lists and scalars replace.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from inventory.consistency import fleet_problems
from inventory.errors import N_, InputError, Message, Problem, endpoint_label, labelled
from inventory.model import (
    DEFAULT_PROFILES,
    DEFAULT_TIERS,
    INHERITABLE_FIELDS,
    SLUG,
    CheckKinds,
    Contact,
    Credentials,
    Endpoint,
    Profile,
    Provisioning,
    Services,
    Thresholds,
)
from inventory.selectors import Selector
from inventory.yamlerrors import shown, top_level_problems, validation_problems
from inventory.yamlpos import Mark, PosDict, PosList, decode, load, read_input

TOP_LEVEL_KEYS = ("version", "province", "tiers", "thresholds", "profiles", "defaults", "groups",
                  "endpoints", "provisioning")
DEMO_INVENTORY = Path(__file__).parent / "demo" / "thanh-hoa.yaml"


@dataclass(frozen=True)
class Inventory:
    """A validated fleet: endpoints in file order, with their tree of units."""

    endpoints: tuple[Endpoint, ...]
    tiers: tuple[str, ...] = tuple(DEFAULT_TIERS)
    profiles: Mapping[str, Profile] = field(default_factory=lambda: dict(DEFAULT_PROFILES))
    province: str = ""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The fleet-wide thresholds (each profile may override some keys)."""
    provisioning: Provisioning | None = None
    """vcfleet's auto-provisioning server, if the inventory has one (Yealink rooms)."""
    path: Path | None = None
    lines: Mapping[str, int] = field(default_factory=dict)
    """Line of each endpoint in its file, for messages that point back at it."""
    _by_id: dict[str, Endpoint] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._by_id.update((e.id, e) for e in self.endpoints)

    def __len__(self) -> int:
        return len(self.endpoints)

    def __iter__(self) -> Iterator[Endpoint]:
        return iter(self.endpoints)

    def __contains__(self, endpoint_id: object) -> bool:
        return endpoint_id in self._by_id

    def get(self, endpoint_id: str) -> Endpoint:
        """The endpoint with this id; KeyError if there is none."""
        return self._by_id[endpoint_id]

    def select(self, selector: Selector | str | None) -> list[Endpoint]:
        """Endpoints matching a selector (a parsed one or its text), in inventory order."""
        if selector is None or selector == "":
            return list(self.endpoints)
        sel = selector if isinstance(selector, Selector) else Selector.parse(selector)
        return [e for e in self.endpoints if sel.matches(e, self)]

    def ancestors(self, endpoint: Endpoint) -> list[Endpoint]:
        """The units above an endpoint, nearest first."""
        out: list[Endpoint] = []
        parent = endpoint.parent
        while parent is not None and parent in self._by_id and len(out) < len(self.endpoints):
            out.append(self._by_id[parent])
            parent = out[-1].parent
        return out

    def children(self, endpoint_id: str | None) -> list[Endpoint]:
        """Endpoints whose parent is ``endpoint_id`` (None: the roots)."""
        return [e for e in self.endpoints if e.parent == endpoint_id]

    def profile(self, endpoint: Endpoint) -> Profile:
        """The check profile an endpoint uses."""
        return self.profiles[endpoint.profile]

    def thresholds_for(self, endpoint: Endpoint,
                       overrides: Mapping[str, float] | None = None) -> Thresholds:
        """The thresholds an endpoint is judged by: the fleet's, then its profile's keys,
        then ``overrides`` (``vcfleet sweep --threshold``), each winning key by key."""
        own = self.profile(endpoint).thresholds.values()
        return self.thresholds.overridden({**own, **(overrides or {})})

    def base_dir(self) -> Path:
        """Folder that relative ``file:`` references are resolved against."""
        return self.path.parent if self.path else Path.cwd()


def default_inventory_path() -> Path:
    """``$VCFLEET_INVENTORY`` if set, else the shipped demo fleet."""
    env = os.environ.get("VCFLEET_INVENTORY")
    return Path(env) if env else DEMO_INVENTORY


def load_inventory(path: str | os.PathLike[str] | None = None,
                   kinds: CheckKinds | None = None) -> Inventory:
    """Read, parse and validate an inventory file; InputError lists every problem.
    ``kinds`` are the check kinds profiles may name (see ``CheckKinds``)."""
    p = Path(path) if path is not None else default_inventory_path()
    return parse_inventory(read_input(p, "inventory"), str(p), path=p, kinds=kinds)


def parse_inventory(data: bytes | str, name: str, path: Path | None = None,
                    kinds: CheckKinds | None = None) -> Inventory:
    """Validate inventory text; ``name`` is what messages call the file."""
    text = decode(data, name) if isinstance(data, bytes) else data
    if not text.strip() or all(
        not ln.strip() or ln.lstrip().startswith("#") for ln in text.splitlines()
    ):
        raise InputError([Problem(name, 1, 1, Message.of(N_(
            "file is empty: expected a mapping with 'endpoints' (see docs/inventory.md)")))])
    # Building ~200,000 small objects triggers the cyclic GC again and again for
    # nothing (they form no cycles); pausing it makes large inventories load ~30% faster.
    with _gc_paused():
        doc = load(text, name)
        return _Builder(name, path, kinds).build(doc)


def build_inventory(doc: Any, name: str, path: Path | None = None,
                    kinds: CheckKinds | None = None) -> Inventory:
    """Validate an already parsed document (PosDict from ``yamlpos.load``)."""
    return _Builder(name, path, kinds).build(doc)


@contextmanager
def _gc_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class _Builder:
    def __init__(self, name: str, path: Path | None, kinds: CheckKinds | None = None) -> None:
        self.name = name
        self.path = path
        self.kinds = kinds
        self.problems: list[Problem] = []
        self.rejected: set[str] = set()
        """Ids of endpoints rejected for their own errors: their children's parent exists."""

    def error(self, mark: Mark, message: str) -> None:
        self.problems.append(Problem(self.name, mark[0], mark[1], message))

    def build(self, doc: Any) -> Inventory:
        if not top_level_problems(doc, "endpoints", TOP_LEVEL_KEYS, self.error):
            raise InputError(self.problems)
        self.version(doc)
        tiers = self.tiers(doc)
        thresholds = self.thresholds(doc)
        provisioning = self.provisioning(doc)
        profiles = self.profiles(doc)
        defaults = self.partial(doc, "defaults")
        groups = self.groups(doc)
        endpoints, lines, marks, address_marks = self.endpoints(doc, defaults, groups)
        self.cross_check(endpoints, marks, address_marks, tiers, profiles)
        if self.problems:
            raise InputError(self.problems)
        province = doc.get("province", "")
        return Inventory(endpoints=tuple(endpoints), tiers=tuple(tiers), profiles=profiles,
                         province=str(province), thresholds=thresholds,
                         provisioning=provisioning, path=self.path, lines=lines)

    # -- sections -----------------------------------------------------------------

    def version(self, doc: PosDict) -> None:
        value = doc.get("version", 1)
        if type(value) is not int or value != 1:  # bool is an int: `version: true` is wrong too
            self.error(doc.value_marks["version"], Message.of(N_(
                "version: this vcfleet reads inventory format version 1, got {value}"),
                value=shown(value)))

    def tiers(self, doc: PosDict) -> list[str]:
        raw = doc.get("tiers")
        if raw is None:
            return list(DEFAULT_TIERS)
        if not isinstance(raw, PosList) or not raw:
            self.error(doc.value_marks["tiers"], Message.of(N_(
                "tiers: expected a non-empty list of tier names")))
            return list(DEFAULT_TIERS)
        import re

        tiers: list[str] = []
        for item, mark in zip(raw, raw.marks, strict=True):
            if not isinstance(item, str) or not re.match(SLUG, item):
                self.error(mark, Message.of(N_("tiers: invalid tier name {value}"),
                                             value=shown(item)))
            elif item in tiers:
                self.error(mark, Message.of(N_("tiers: duplicate tier '{tier}'"), tier=item))
            else:
                tiers.append(item)
        return tiers

    def thresholds(self, doc: PosDict) -> Thresholds:
        raw = self.mapping(doc, "thresholds")
        try:
            return Thresholds.model_validate(raw)
        except ValidationError as exc:
            self.report(exc, raw, doc.value_marks.get("thresholds", doc.mark), Thresholds,
                        "thresholds")
            return Thresholds()

    def provisioning(self, doc: PosDict) -> Provisioning | None:
        raw = doc.get("provisioning")
        if raw is None:
            return None
        if not isinstance(raw, PosDict):
            self.error(doc.value_marks["provisioning"],
                       Message.of(N_("provisioning: expected a mapping")))
            return None
        try:
            return Provisioning.model_validate(raw)
        except ValidationError as exc:
            self.report(exc, raw, doc.value_marks["provisioning"], Provisioning,
                        "provisioning")
            return None

    def profiles(self, doc: PosDict) -> dict[str, Profile]:
        profiles = dict(DEFAULT_PROFILES)
        raw = self.mapping(doc, "profiles")
        for name, body in raw.items():
            settings = self.check_settings(body, f"profiles.{name}.settings")
            try:
                profile = Profile.model_validate(body, context={"kinds": self.kinds})
            except ValidationError as exc:
                self.report(exc, body, raw.value_marks[name], Profile, f"profiles.{name}")
                continue
            if self.kinds is not None:
                profiles[name] = profile.model_copy(update={"settings": settings})
            else:
                profiles[name] = profile
        return profiles

    def check_settings(self, body: Any, label: str) -> dict[str, dict[str, Any]]:
        """A profile's ``settings:`` validated against each known kind's settings type:
        unknown keys rejected, values as the type holds them.  The rest (not a mapping,
        an unknown kind) is the Profile model's to report."""
        raw = body.get("settings") if isinstance(body, PosDict) else None
        if self.kinds is None or not isinstance(raw, PosDict):
            return {}
        out: dict[str, dict[str, Any]] = {}
        for kind, values in raw.items():
            if kind not in self.kinds or not isinstance(values, PosDict):
                continue
            model = settings_model(self.kinds[kind]())
            try:
                checked = model.model_validate(values)
            except ValidationError as exc:
                self.report(exc, values, raw.value_marks[kind], model, f"{label}.{kind}")
                continue
            out[kind] = {k: getattr(checked, k) for k in values}
        return out

    def mapping(self, doc: PosDict, key: str) -> PosDict:
        raw = doc.get(key)
        if raw is None:
            return PosDict()
        if not isinstance(raw, PosDict):
            self.error(doc.value_marks[key], Message.of(N_("{key}: expected a mapping"), key=key))
            return PosDict()
        return raw

    def partial(self, doc: PosDict, key: str, label: str | None = None) -> PosDict:
        raw = self.mapping(doc, key)
        self.check_partial_keys(raw, label or key)
        return raw

    def check_partial_keys(self, raw: PosDict, label: str) -> None:
        for k in raw:
            if k == "groups" and label != "defaults":
                continue
            if k not in INHERITABLE_FIELDS:
                problem = (Message.of(N_("unknown key '{key}'; 'id' and 'name' belong to "
                                         "each endpoint"), key=k)
                           if k in ("id", "name") else Message.of(N_("unknown key '{key}'"), key=k))
                self.error(raw.key_marks[k], labelled(label, problem))

    def groups(self, doc: PosDict) -> dict[str, PosDict]:
        raw = self.mapping(doc, "groups")
        out: dict[str, PosDict] = {}
        for name, body in raw.items():
            if not isinstance(body, PosDict):
                self.error(raw.value_marks[name], labelled(_group(name),
                                                             Message.of(N_("expected a mapping"))))
                continue
            self.check_partial_keys(body, _group(name))
            out[name] = body
        for name, body in out.items():
            self.group_refs(body, out, _group(name))
        return out

    def group_refs(self, body: PosDict, groups: dict[str, PosDict], label: str) -> list[str]:
        if "groups" not in body:
            return []
        refs = body["groups"]
        if not isinstance(refs, PosList):
            self.error(body.value_marks["groups"], labelled(label, Message.of(
                N_("groups must be a list of names"))))
            return []
        if all(isinstance(ref, str) and ref in groups for ref in refs):
            return list(refs)
        names: list[str] = []
        for ref, mark in zip(refs, refs.marks, strict=True):
            if not isinstance(ref, str):
                self.error(mark, labelled(label, Message.of(
                    N_("group names must be strings, got {value}"), value=shown(ref))))
            elif ref not in groups:
                self.error(mark, labelled(label, Message.of(N_("unknown group '{group}'"),
                                                           group=ref)))
            else:
                names.append(ref)
        return names

    def group_chain(self, names: list[str], groups: dict[str, PosDict]) -> list[PosDict]:
        chain: list[PosDict] = []
        seen: set[str] = set()

        def visit(name: str, depth: int) -> None:
            if name in seen or depth > 32:
                return
            seen.add(name)
            chain.append(groups[name])
            parents = groups[name].get("groups")
            for parent in parents if isinstance(parents, list) else []:
                if isinstance(parent, str) and parent in groups:
                    visit(parent, depth + 1)

        for n in names:
            visit(n, 0)
        return chain

    def endpoints(
        self, doc: PosDict, defaults: PosDict, groups: dict[str, PosDict]
    ) -> tuple[list[Endpoint], dict[str, int], list[Mark], list[Mark]]:
        """The valid endpoints, each id's first line, and each endpoint's mark and the
        mark of its ``address:`` key (its own mark when the address is inherited)."""
        raw = doc.get("endpoints")
        if raw is None:
            self.error(doc.mark, Message.of(N_("missing required key 'endpoints'")))
            return [], {}, [], []
        if not isinstance(raw, PosList):
            self.error(doc.value_marks["endpoints"], Message.of(N_("endpoints: expected a list")))
            return [], {}, [], []
        out: list[Endpoint] = []
        lines: dict[str, int] = {}
        marks: list[Mark] = []
        address_marks: list[Mark] = []
        ends = [m[0] for m in raw.marks[1:]] + [1 << 30] if raw else []
        bases: dict[tuple[str, ...], tuple[dict[str, Any], dict[str, BaseModel]]] = {}
        for item, mark, end in zip(raw, raw.marks, ends, strict=True):
            if not isinstance(item, PosDict):
                self.error(mark, Message.of(N_("endpoints: each item must be a mapping")))
                continue
            label = endpoint_label(item.get("id", "?"))
            names = self.group_refs(item, groups, label) if "groups" in item else []
            key = tuple(names)
            if key not in bases:
                base = inherited(self.group_chain(names, groups), defaults)
                bases[key] = (base, prevalidated(base))
            # Fast path: plain dicts validate quickly; marks are only needed on error.
            base, ready = bases[key]
            merged = merge_plain(item, base)
            merged.pop("groups", None)
            for part, model in ready.items():
                if part not in item:
                    merged[part] = model
            try:
                endpoint = Endpoint.model_validate(merged)
            except ValidationError:
                found = self.report_endpoint(item, names, groups, defaults, mark, end, label)
                if found is None:
                    self.rejected.add(str(item.get("id")))
                    continue
                endpoint = found
            out.append(endpoint)
            marks.append(mark)
            address_marks.append(item.key_marks.get("address", mark))
            lines.setdefault(endpoint.id, mark[0])
        return out, lines, marks, address_marks

    def report_endpoint(self, item: PosDict, names: list[str], groups: dict[str, PosDict],
                        defaults: PosDict, mark: Mark, end: int, label: str) -> Endpoint | None:
        """Validate again with every value's mark kept, and report each error where it is."""
        merged = merge_layers([item, *self.group_chain(names, groups), defaults])
        merged.pop("groups", None)
        try:
            return Endpoint.model_validate(merged)
        except ValidationError as exc:
            self.report(exc, merged, mark, Endpoint, None, label, (mark[0], end))
            return None

    def cross_check(self, endpoints: list[Endpoint], marks: list[Mark],
                    address_marks: list[Mark], tiers: list[str],
                    profiles: dict[str, Profile]) -> None:
        def where(i: int, field: str) -> Mark:
            return address_marks[i] if field == "address" else marks[i]

        self.problems.extend(fleet_problems(self.name, endpoints, where, tiers, profiles,
                                            rejected=self.rejected))

    # -- pydantic errors -> file positions ---------------------------------------------

    def report(self, exc: ValidationError, data: Any, start: Mark, model: type[BaseModel],
               prefix: str | None, label: str | None = None,
               own_lines: tuple[int, int] | None = None) -> None:
        """Turn pydantic errors into problems.  An error in a value inherited from a group
        or the defaults is reported once, at the group, without the endpoint's label."""
        self.problems.extend(validation_problems(exc, data, start, model, self.name, label,
                                                 prefix, own_lines))


def _group(name: str) -> str:
    return Message.of(N_("group '{name}'"), name=name)


_SETTINGS_MODELS: dict[type[Any], type[BaseModel]] = {}


def settings_model(settings_type: type[Any]) -> type[BaseModel]:
    """A strict pydantic model with the fields of a probe's settings dataclass, unknown
    keys forbidden, to validate what a profile sets (collections also from YAML lists).

    A field's bounds come from its dataclass metadata, ``field(..., metadata={"gt": 0,
    "lt": 1})`` (keys ``gt``, ``ge``, ``lt``, ``le``): the probe states them without
    knowing pydantic, and a value outside them is the profile's error."""
    if settings_type in _SETTINGS_MODELS:
        return _SETTINGS_MODELS[settings_type]
    hints = typing.get_type_hints(settings_type)
    fields: dict[str, Any] = {}
    for f in dataclasses.fields(settings_type):
        hint = hints[f.name]
        if typing.get_origin(hint) in (frozenset, set, tuple):
            hint = Annotated[hint, Field(strict=False)]
        bounds = {k: f.metadata[k] for k in ("gt", "ge", "lt", "le") if k in f.metadata}
        if bounds:
            hint = Annotated[hint, Field(**bounds)]
        fields[f.name] = (hint, None)
    config = ConfigDict(extra="forbid", strict=True)
    model = create_model(settings_type.__name__, __config__=config, **fields)
    _SETTINGS_MODELS[settings_type] = model
    return model


def merge_plain(top: Mapping[str, Any], base: Mapping[str, Any]) -> dict[str, Any]:
    """``top`` over ``base`` as plain dicts: mappings merge key by key, the rest replaces."""
    out = dict(base)
    for key, value in top.items():
        if isinstance(value, dict):
            below = out.get(key)
            out[key] = merge_plain(value, below if isinstance(below, dict) else {})
        else:
            out[key] = value
    return out


def inherited(chain: list[PosDict], defaults: PosDict) -> dict[str, Any]:
    """What an endpoint in these groups inherits: its groups in order, then the defaults."""
    out: dict[str, Any] = {}
    for layer in reversed([*chain, defaults]):
        out = merge_plain(layer, out)
    return out


NESTED_MODELS: dict[str, type[BaseModel]] = {
    "services": Services, "credentials": Credentials, "contact": Contact}


def prevalidated(base: Mapping[str, Any]) -> dict[str, BaseModel]:
    """Nested parts of inherited data, validated once for every endpoint that inherits
    them unchanged (models are frozen, so endpoints may share them).  A part that
    does not validate is left out: each endpoint then reports it the usual way."""
    ready: dict[str, BaseModel] = {}
    for part, model in NESTED_MODELS.items():
        if isinstance(base.get(part), dict):
            with suppress(ValidationError):
                ready[part] = model.model_validate(base[part])
    return ready


def merge_layers(layers: list[PosDict]) -> PosDict:
    """Merge partial endpoint mappings, first layer winning, keeping source marks."""
    out = PosDict()
    out.mark = layers[0].mark
    for layer in reversed(layers):
        for key, value in layer.items():
            if isinstance(value, PosDict) and isinstance(out.get(key), PosDict):
                value = merge_layers([value, out[key]])
            out[key] = value
            out.key_marks[key] = layer.key_marks[key]
            out.value_marks[key] = layer.value_marks[key]
    return out
