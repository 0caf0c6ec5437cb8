"""What an adapter module records about each private name of a library it touches.

Every private name of aiortc, aioice and Textual's DataTable that vcfleet relies
on is touched in one adapter module (``probes.aiortc_internals``,
``probes.aioice_internals``, ``tui.fast_table``), which lists them in its
``UPSTREAM`` table of ``Upstream`` entries.  ``tests/test_library_internals.py``
checks every entry against the installed library, so that an upgrade that
renames or reshapes one fails there, with ``Upstream.changed``'s message,
rather than deep inside a probe or the console.  Standard library only: the
console imports it without aiortc.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from typing import Literal

UPGRADE_DOC = "docs/decisions.md 'Upgrading pinned libraries'"
"""Where the procedure for moving a pinned library to a new version is written."""


@dataclass(frozen=True, slots=True)
class Upstream:
    """One private name of a library, as its source spells it, and how we use it."""

    library: str
    """Distribution name (``aiortc``), for the installed version in messages."""
    owner: str
    """The class (``RTCRtpReceiver``) or module (``aioice.ice``) that holds the name."""
    name: str
    """As the upstream source spells it: ``__rtcp_ssrc``, ``_send_rtcp``."""
    kind: Literal["field", "method", "function"]
    """A field is checked on an instance; a method on the class; a function on the module."""
    why: str
    """What vcfleet needs it for, and through which adapter function."""
    parameters: tuple[str, ...] | None = None
    """A method's or function's parameter names (without ``self``), when we call or replace it."""
    source_has: tuple[str, ...] = ()
    """Text a method's source must contain: how upstream uses a name we replace."""

    @property
    def attribute(self) -> str:
        """The attribute's name on the owner: ``__x`` in a class is name-mangled."""
        if self.name.startswith("__") and not self.name.endswith("__") and self.kind != "function":
            return f"_{self.owner.lstrip('_')}{self.name}"
        return self.name

    @property
    def where(self) -> str:
        """``owner.name``, as a reader of the upstream source would look it up."""
        return f"{self.owner}.{self.name}"

    def changed(self, what: str = "") -> str:
        """One line saying this name changed upstream and where the upgrade procedure is.

        ``what`` says how it changed; empty: the name is gone.
        """
        version = _installed_version(self.library)
        if not what:
            return f"{self.library} {version} no longer has {self.where}: see {UPGRADE_DOC}"
        return f"{self.library} {version}: {self.where} {what}: see {UPGRADE_DOC}"


class UpstreamChanged(RuntimeError):
    """A pinned library no longer has the shape an adapter relies on (see ``Upstream``)."""

    def __init__(self, entry: Upstream, what: str = "") -> None:
        super().__init__(entry.changed(what))
        self.entry = entry


def _installed_version(library: str) -> str:
    try:
        return importlib.metadata.version(library)
    except importlib.metadata.PackageNotFoundError:
        return "(not installed)"
