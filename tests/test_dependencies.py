"""Declared dependencies match the imports (deptry), and keyring stays optional.

deptry fails on a distribution the shipped packages import without declaring it
(DEP001), one declared but never imported (DEP002) and one imported but only
installed because something else needs it (DEP003).  Its configuration is
``[tool.deptry]`` in pyproject.toml.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from inventory.secrets import SecretUnavailable, resolve_secret
from tests.conftest import ROOT, require_source_tree, require_tool


@pytest.mark.timeout(120)
def test_every_import_is_declared_and_every_dependency_used() -> None:
    require_source_tree()
    deptry = require_tool("deptry")
    proc = subprocess.run([deptry, "--no-ansi", "."], cwd=ROOT, capture_output=True, text=True,
                          timeout=100, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "No dependency issues found" in proc.stdout + proc.stderr


def test_keyring_reference_without_keyring_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)  # as if the extra were not installed
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret("keyring:vcfleet/hub")
    assert caught.value.lines() == [
        "secret keyring:vcfleet/hub: the keyring package is not installed "
        "(pip install 'vcfleet[keyring]')"]


@pytest.fixture
def memory_keyring() -> Iterator[dict[tuple[str, str], str]]:
    """keyring (the optional extra) with an in-memory backend, restored afterwards."""
    keyring = pytest.importorskip("keyring")
    from keyring.backend import KeyringBackend

    entries: dict[tuple[str, str], str] = {}

    class MemoryKeyring(KeyringBackend):
        priority = 1  # type: ignore[assignment]

        def get_password(self, service: str, username: str) -> str | None:
            return entries.get((service, username))

        def set_password(self, service: str, username: str, password: str) -> None:
            entries[(service, username)] = password

        def delete_password(self, service: str, username: str) -> None:
            entries.pop((service, username), None)

    before = keyring.get_keyring()
    keyring.set_keyring(MemoryKeyring())
    yield entries
    keyring.set_keyring(before)


def test_keyring_reference_reads_the_keyring(memory_keyring: dict[tuple[str, str], str]) -> None:
    memory_keyring[("vcfleet", "hub")] = "s3cret"
    assert resolve_secret("keyring:vcfleet/hub") == "s3cret"
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret("keyring:vcfleet/other")
    assert caught.value.lines() == ["secret keyring:vcfleet/other: no such entry in the keyring"]


def test_no_usable_keyring_is_one_line(memory_keyring: dict[tuple[str, str], str]) -> None:
    """A server without a desktop keyring gets keyring's fail backend: one line, no traceback."""
    import keyring
    from keyring.backends import fail

    keyring.set_keyring(fail.Keyring())
    with pytest.raises(SecretUnavailable) as caught:
        resolve_secret("keyring:vcfleet/hub")
    [line] = caught.value.lines()
    assert line.startswith("secret keyring:vcfleet/hub: keyring error: No recommended backend")
