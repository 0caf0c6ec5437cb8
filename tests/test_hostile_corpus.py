"""The hostile-input corpus: every ``tests/hostile/<area>/<case>.yaml`` through the real CLI.

Each case gives its arguments, the files it starts from, and the exact one-line
error it must produce (see ``tests/hostile/README.md``).  Whatever a case says, the
command must exit with the expected code, print no traceback and no terminal
control character, echo none of the case's secrets, and leave every file it did
not write byte-identical.
"""

from __future__ import annotations

import base64
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import require_external

CORPUS = Path(__file__).resolve().parent / "hostile"
CASES = sorted(p for p in CORPUS.rglob("*.yaml") if p.parent.name != "http")
# C0 controls except TAB and LF (CR is allowed only as part of a CRLF line end), DEL and C1.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]|\r(?!\n)")


def load_case(path: Path) -> dict[str, Any]:
    """One case file as a mapping (the format is in tests/hostile/README.md)."""
    case = yaml.safe_load(path.read_text(encoding="utf-8"))
    unknown = set(case) - {"argv", "files", "files_b64", "env", "stdin", "exit", "stderr",
                           "stdout", "secrets", "may_change", "timeout", "needs"}
    assert not unknown, f"{path}: unknown keys {sorted(unknown)}"
    return dict(case)


def write_files(case: dict[str, Any], folder: Path) -> None:
    """Write the case's files into its folder."""
    for name, text in (case.get("files") or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for name, data in (case.get("files_b64") or {}).items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder, by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def run_case(case: dict[str, Any], folder: Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run ``vcfleet`` with the case's arguments in its folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VCFLEET_")}
    if "VCFLEET_REQUIRE_EXTERNAL" in os.environ:
        env["VCFLEET_REQUIRE_EXTERNAL"] = os.environ["VCFLEET_REQUIRE_EXTERNAL"]
    env.update({"HOME": str(home), "XDG_STATE_HOME": str(home / "state"),
                "XDG_DATA_HOME": str(home / "data"), "XDG_CONFIG_HOME": str(home / "config"),
                "XDG_CACHE_HOME": str(home / "cache"), "PYTHONIOENCODING": "utf-8",
                "COLUMNS": "120", "LANG": "C.UTF-8"})
    env.pop("LC_ALL", None)
    extra = case.get("env") or {}
    env.update({k: str(v).replace("{dir}", str(folder)) for k, v in extra.items()})
    argv = [str(a).replace("{dir}", str(folder)) for a in case["argv"]]
    return subprocess.run([sys.executable, "-m", "vcfleet", *argv], cwd=folder, env=env,
                          input=case.get("stdin", ""), capture_output=True, text=True,
                          encoding="utf-8", errors="replace",
                          timeout=float(case.get("timeout", 60)), check=False)


def expected_lines(value: str | list[str], folder: Path) -> list[str]:
    """The case's expected lines, ``{dir}`` replaced by its folder."""
    if value == "":
        return []
    lines = [value] if isinstance(value, str) else list(value)
    return [line.replace("{dir}", str(folder)) for line in lines]


@pytest.mark.parametrize("path", CASES, ids=[str(p.relative_to(CORPUS).with_suffix(""))
                                             for p in CASES])
def test_hostile_case(path: Path, tmp_path: Path) -> None:
    case = load_case(path)
    for module in case.get("needs", []):  # an optional extra the case is about
        require_external(importlib.util.find_spec(module) is not None,
                         f"module {module!r} is not installed")
    folder, home = tmp_path / "case", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    write_files(case, folder)
    before = snapshot(folder)
    done = run_case(case, folder, home)
    shown = f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    assert "Traceback" not in done.stdout + done.stderr, shown
    assert done.returncode == case.get("exit", 2), shown
    if "stderr" in case:
        assert done.stderr.splitlines() == expected_lines(case["stderr"], folder), shown
    if "stdout" in case:
        assert done.stdout.splitlines() == expected_lines(case["stdout"], folder), shown
    for stream, text in (("stdout", done.stdout), ("stderr", done.stderr)):
        found = CONTROL.search(text)
        assert found is None, f"{stream} carries a control character {found.group()!r}\n{shown}"
    for secret in case.get("secrets") or []:
        assert secret not in done.stdout + done.stderr, f"secret {secret!r} echoed\n{shown}"
    after = snapshot(folder)
    allowed = set(case.get("may_change") or [])
    changed = sorted(name for name in before if name not in allowed
                     and after.get(name) != before[name])
    assert not changed, f"files changed or removed: {changed}\n{shown}"


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 1
