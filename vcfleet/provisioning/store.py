"""The provisioning file store: one ``<endpoint id>.cfg`` per device in a folder.

``vcfleet push`` writes a device's file there before triggering the device, and
the provisioning server (in the push, or in a standing ``vcfleet serve``) reads it
on every fetch, so that a device that reboots later still finds its last file.
Files are written atomically (a temporary file renamed over the old one), so a
fetch never sees half a file, even from another process.
"""

from __future__ import annotations

from pathlib import Path

import platformdirs

from vcfleet.outfile import write_if_changed
from vcfleet.provisioning import cfgfile


def default_store() -> Path:
    """``provisioning`` in the user's state directory (``~/.local/state/vcfleet``)."""
    return Path(platformdirs.user_state_path("vcfleet")) / "provisioning"


class ProvisioningStore:
    """A folder of per-endpoint provisioning files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, endpoint_id: str) -> Path:
        """Where one endpoint's file lives (ids are inventory slugs: no separator)."""
        if "/" in endpoint_id or endpoint_id.startswith("."):
            raise ValueError(f"not an endpoint id: {endpoint_id!r}")
        return self.root / f"{endpoint_id}.cfg"

    def read(self, endpoint_id: str) -> str | None:
        """The endpoint's file, None if it has none (or it cannot be read)."""
        try:
            return self.path(endpoint_id).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def settings(self, endpoint_id: str) -> dict[str, str]:
        """The settings the endpoint's file holds (empty without a file)."""
        text = self.read(endpoint_id)
        return {} if text is None else cfgfile.parse(text)

    def write(self, endpoint_id: str, text: str) -> bool:
        """Replace the endpoint's file atomically unless it holds ``text``; whether it wrote."""
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        return write_if_changed(self.path(endpoint_id), text)

    def update(self, endpoint_id: str, values: dict[str, str]) -> bool:
        """Merge ``values`` into the endpoint's file (other keys kept); whether it changed."""
        merged = {**self.settings(endpoint_id), **values}
        return self.write(endpoint_id, cfgfile.render(merged))
