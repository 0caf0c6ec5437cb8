"""ruff and mypy, as configured in pyproject.toml, are clean (CI enforces the style)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT, require_source_tree


@pytest.mark.timeout(300)
@pytest.mark.parametrize("command", [
    [sys.executable, "-m", "ruff", "check", "."],
    [sys.executable, "-m", "mypy"],
], ids=["ruff", "mypy"])
def test_linter_is_clean(command: list[str]) -> None:
    require_source_tree()
    proc = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stdout + proc.stderr
