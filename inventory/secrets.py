"""Resolve credential references (``env:``, ``file:``, ``keyring:``, ``agent``) at use time.

The inventory only ever holds references.  Resolved secrets are handed to the
code that needs them and never logged, exported or stored.
"""

from __future__ import annotations

import os
from pathlib import Path

from inventory.errors import InputError


class SecretUnavailable(InputError):
    """A reference that cannot be resolved here (unset variable, missing file, ...)."""


def resolve_secret(ref: str, base_dir: Path | None = None) -> str | None:
    """The secret a reference names; None for ``agent`` (the SSH agent holds the key)."""
    scheme, _, rest = ref.partition(":")
    if ref == "agent":
        return None
    if scheme == "env":
        value = os.environ.get(rest)
        if value is None:
            raise SecretUnavailable(f"secret {ref}: environment variable {rest} is not set")
        return value
    if scheme == "file":
        path = Path(rest).expanduser()
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretUnavailable(f"secret {ref}: cannot read {path}: "
                                    f"{exc.strerror or exc}") from None
    if scheme == "keyring":
        return _from_keyring(ref, rest)
    raise SecretUnavailable(f"secret reference {ref!r} has an unknown scheme")


def _from_keyring(ref: str, rest: str) -> str:
    """A keyring entry; keyring is the optional ``keyring`` extra, needed only for these."""
    service, _, user = rest.partition("/")
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise SecretUnavailable(f"secret {ref}: the keyring package is not installed "
                                "(pip install 'vcfleet[keyring]')") from None
    try:
        value = keyring.get_password(service, user)
    except keyring.errors.KeyringError as exc:
        # e.g. NoKeyringError on a server without a desktop keyring: one line, not a traceback
        raise SecretUnavailable(f"secret {ref}: keyring error: {exc}") from None
    if value is None:
        raise SecretUnavailable(f"secret {ref}: no such entry in the keyring")
    return str(value)
