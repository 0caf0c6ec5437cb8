"""Shared test fixtures.

Tests use real components on loopback.  ``require_tool`` skips a test whose
external tool (promtool, prometheus, tmux) is missing, except under
``VCFLEET_REQUIRE_EXTERNAL=1`` (CI), where a missing tool is a failure;
``require_external`` does the same for other needs (ICMP sockets).

A randomised test takes the ``seed`` fixture: its seed is ``$VCFLEET_TEST_SEED``
when set, else a fresh random one; ``random`` is seeded with it, and a failing
test's report shows it (``VCFLEET_TEST_SEED=N`` repeats the run).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
from collections.abc import Generator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SEED_ENV = "VCFLEET_TEST_SEED"


def require_tool(name: str) -> str:
    """Path of an external tool; skip (or fail under VCFLEET_REQUIRE_EXTERNAL=1) if missing."""
    path = shutil.which(name)
    if path:
        return path
    require_external(False, f"external tool {name!r} is not installed")
    raise AssertionError("unreachable")  # require_external skipped or failed


def require_external(available: bool, message: str) -> None:
    """Go on if ``available``; else skip the test with ``message``, or fail it under
    ``VCFLEET_REQUIRE_EXTERNAL=1`` (CI, where every tool and privilege is there)."""
    if available:
        return
    if os.environ.get("VCFLEET_REQUIRE_EXTERNAL") == "1":
        pytest.fail(message + " and VCFLEET_REQUIRE_EXTERNAL=1")
    pytest.skip(message)


def seed_for_test() -> int:
    """``$VCFLEET_TEST_SEED`` if set (a whole number), else a fresh random seed."""
    text = os.environ.get(SEED_ENV, "").strip()
    if not text:
        return secrets.randbelow(1 << 32)
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"{SEED_ENV}: expected a whole number, got {text!r}") from None


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> Generator[int, None, None]:
    """This test's seed (see the module docstring); ``random`` is seeded with it for the
    test and put back afterwards; a failure report names it."""
    value = seed_for_test()
    request.node.user_properties.append(("seed", value))
    state = random.getstate()
    random.seed(value)
    try:
        yield value
    finally:
        random.setstate(state)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, None, None]:
    """Add the seed of a failed randomised test to its report."""
    outcome = yield
    report = outcome.get_result()
    seeds = [value for key, value in item.user_properties if key == "seed"]
    if seeds and report.failed:
        report.sections.append(("seed", f"{SEED_ENV}={seeds[0]} repeats this test's "
                                        "random choices"))


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
    Drawn from the OS (``secrets``), never from ``random``: a test seeded with
    ``VCFLEET_TEST_SEED`` must not make every run on the machine pick the same block.
    """
    return f"127.{100 + secrets.randbelow(151)}.{secrets.randbelow(251)}"
