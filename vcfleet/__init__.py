"""vcfleet: the application (CLI, sweep engine, verdicts, exporter, push, simulator, history)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vcfleet")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+source"
