"""Resolve credential references (``env:``, ``file:``, ``keyring:``, ``agent``) at use time.

The inventory only ever holds references.  Resolved secrets are handed to the
code that needs them and never logged, exported or stored.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from inventory.errors import N_, InputError, Message, Problem, endpoint_label, labelled
from inventory.yamlpos import Mark, PosDict, PosList


class SecretUnavailable(InputError):
    """A reference that cannot be resolved here (unset variable, missing file, ...)."""

    def __init__(self, ref: str, reason: str) -> None:
        super().__init__(Message.of(N_("secret {ref}: {reason}"), ref=ref, reason=reason))
        self.ref = ref
        self.reason = reason
        """Why, without the reference: "environment variable VCFLEET_X is not set"."""


def unresolvable(ref: str, base_dir: Path | None = None) -> str | None:
    """Why a reference cannot be resolved here, or None if it can (the secret is dropped)."""
    try:
        resolve_secret(ref, base_dir)
    except SecretUnavailable as exc:
        return exc.reason
    return None


def resolve_secret(ref: str, base_dir: Path | None = None) -> str | None:
    """The secret a reference names; None for ``agent`` (the SSH agent holds the key)."""
    scheme, _, rest = ref.partition(":")
    if ref == "agent":
        return None
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise SecretUnavailable(ref, Message.of(
                N_("environment variable {name} is not set"), name=rest))
        return value
    if scheme == "file":
        path = Path(rest).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretUnavailable(ref, Message.of(
                N_("cannot read {path}: {error}"), path=path,
                error=exc.strerror or exc)) from None
    if scheme == "keyring":
        return _from_keyring(ref, rest)
    raise SecretUnavailable(ref, "unknown reference scheme")


def _from_keyring(ref: str, rest: str) -> str:
    """A keyring entry; keyring is the optional ``keyring`` extra, needed only for these."""
    service, _, user = rest.partition("/")
    try:
        import keyring
    except ImportError:
        raise SecretUnavailable(ref, "the keyring package is not installed "
                                     "(pip install 'vcfleet[keyring]')") from None
    try:
        value = keyring.get_password(service, user)
    except Exception as exc:
        # NoKeyringError on a server without a desktop keyring, a locked keyring, D-Bus
        # down: all "not here", one line, never a traceback
        raise SecretUnavailable(ref, Message.of(N_("keyring error: {error}"),
                                                error=exc)) from None
    if value is None:
        raise SecretUnavailable(ref, "no such entry in the keyring")
    return str(value)


REFERENCE_FIELDS = (("credentials", "secret"), ("services", "webrtc", "token"))
"""Where an inventory writes credential references (under defaults, groups, endpoints)."""


def unresolved_references(doc: Any, name: str, base_dir: Path | None) -> list[Problem]:
    """Every reference written in an inventory document that cannot be resolved here.

    ``doc`` is the file as ``yamlpos.load`` parsed it (already validated), so that
    each problem points at the reference itself, wherever it is inherited from.
    """
    if not isinstance(doc, PosDict):
        return []
    places: list[tuple[str, Any]] = []
    places.append(("defaults", doc.get("defaults")))
    groups = doc.get("groups")
    if isinstance(groups, PosDict):
        places += [(Message.of(N_("group '{name}'"), name=g), body) for g, body in groups.items()]
    endpoints = doc.get("endpoints")
    if isinstance(endpoints, PosList):
        places += [(endpoint_label(e.get("id", "?")), e) for e in endpoints
                   if isinstance(e, PosDict)]
    problems: list[Problem] = []
    provisioning = _written(doc, ("provisioning", "secret"))
    if provisioning is not None:
        reason = unresolvable(provisioning[0], base_dir)
        if reason is not None:
            problems.append(Problem(name, *provisioning[1], Message.of(
                N_("{key} {ref}: cannot be resolved here: {reason}"), key="provisioning.secret",
                ref=provisioning[0], reason=reason)))
    for label, body in places:
        for fields in REFERENCE_FIELDS:
            found = _written(body, fields)
            if found is None:
                continue
            ref, mark = found
            reason = unresolvable(ref, base_dir)
            if reason is not None:
                problems.append(Problem(name, *mark, labelled(label, Message.of(
                    N_("{key} {ref}: cannot be resolved here: {reason}"), key=".".join(fields),
                    ref=ref, reason=reason))))
    return problems


def _written(body: Any, fields: tuple[str, ...]) -> tuple[str, Mark] | None:
    for key in fields[:-1]:
        if not isinstance(body, PosDict):
            return None
        body = body.get(key)
    last = fields[-1]
    if not isinstance(body, PosDict) or not isinstance(body.get(last), str):
        return None
    return body[last], body.value_marks.get(last, body.mark)
