"""Shared test fixtures.

Tests use real components on loopback.  ``require_tool`` skips a test whose
external tool (promtool, prometheus, tmux) is missing, except under
``VCFLEET_REQUIRE_EXTERNAL=1`` (CI), where a missing tool is a failure.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def require_tool(name: str) -> str:
    """Path of an external tool; skip (or fail under VCFLEET_REQUIRE_EXTERNAL=1) if missing."""
    path = shutil.which(name)
    if path:
        return path
    message = f"external tool {name!r} is not installed"
    if os.environ.get("VCFLEET_REQUIRE_EXTERNAL") == "1":
        pytest.fail(message + " and VCFLEET_REQUIRE_EXTERNAL=1")
    pytest.skip(message)


def require_source_tree() -> None:
    """Skip a check of the source files when the tests run against an installed wheel.

    .ci/run runs the suite from a copy without the package sources (so that the wheel's
    packages are the ones imported), then runs these checks in the checkout itself.
    """
    if not (ROOT / "vcfleet" / "__init__.py").is_file():
        pytest.skip("no source tree beside the tests (testing an installed wheel); "
                    ".ci/run runs this check in the checkout")


@pytest.fixture
def demo_inventory_path() -> Path:
    """The shipped demo fleet."""
    return ROOT / "inventory" / "demo" / "thanh-hoa.yaml"


@pytest.fixture
def loopback_prefix() -> str:
    """A random ``127.A.B`` prefix for this test's endpoint addresses.

    Tests that bind per-endpoint addresses use it so that test runs on the same
    machine (several developers, CI) never fight over the same address and port.
    """
    import random

    return f"127.{random.randint(100, 250)}.{random.randint(0, 250)}"
