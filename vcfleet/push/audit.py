"""The push audit log: one JSON line per endpoint per push, appended, never a secret.

Each line says who pushed (OS user and host), when, which template (path and
SHA-256 of its bytes), to which endpoint, what changed (before and after per
setting, secret-looking settings redacted), how it ended and why.
"""

from __future__ import annotations

import datetime
import getpass
import json
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import platformdirs

from vcfleet.push.engine import EndpointResult
from vcfleet.push.template import Template


def default_audit_log() -> Path:
    """``push-audit.jsonl`` in the user's data directory."""
    return Path(platformdirs.user_data_dir("vcfleet")) / "push-audit.jsonl"


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return str(os.getuid())


class AuditLog:
    """Appends one line per endpoint result; the file is created with mode 0600."""

    def __init__(self, path: Path, template: Template, *, dry_run: bool) -> None:
        self.path = path
        self.common: dict[str, Any] = {
            "push_id": uuid.uuid4().hex,
            "user": _user(),
            "host": socket.gethostname(),
            "template": str(template.path.resolve()),
            "template_sha256": template.sha256,
            "dry_run": dry_run,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._file = os.fdopen(fd, "a", encoding="utf-8")
        self.error: str | None = None
        """Why a line could not be written (None: every line was)."""
        self.lost = 0
        """Lines that could not be written."""

    def record(self, result: EndpointResult) -> None:
        """Append one endpoint's line and flush it to the file."""
        when = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        line = {
            "time": when.replace("+00:00", "Z"),
            **self.common,
            "endpoint": result.endpoint.id,
            "vendor": result.endpoint.vendor,
            "canary": result.canary,
            "outcome": str(result.outcome),
            "diff": [c.shown() for c in result.changes],
            "error": result.error,
            "duration_s": round(result.duration_s, 3),
        }
        try:
            self._file.write(json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n")
            self._file.flush()
        except OSError as exc:  # a full disk must not abort a push half-way through
            self.error = exc.strerror or str(exc)
            self.lost += 1

    def close(self) -> None:
        """Close the file (a failed final flush is one more lost line, never an exception)."""
        try:
            self._file.close()
        except OSError as exc:
            self.error = self.error or exc.strerror or str(exc)
