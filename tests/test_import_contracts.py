"""The import rule of docs/design.md, enforced by import-linter.

``tui -> vcfleet -> (probes | inventory)``: the contracts live in
``[tool.importlinter]`` of pyproject.toml.  lint-imports analyses the packages it
finds on its path (the source tree, or the installed copy when the tests run
against a wheel), so the configuration is passed by path.
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

CONFIG = ROOT / "pyproject.toml"
PACKAGES = ("tui", "vcfleet", "probes", "inventory")
# The lint-imports console script, run by this interpreter so that no PATH is needed.
LINT_IMPORTS = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run lint-imports on the repository's contracts; ``cwd`` comes first on its path."""
    if importlib.util.find_spec("importlinter") is None:
        pytest.fail("import-linter is not installed (dev extra: pip install -e '.[dev]')")
    return subprocess.run(
        [sys.executable, "-c", LINT_IMPORTS, str(CONFIG), "--no-cache"],
        cwd=cwd, capture_output=True, text=True, timeout=90, check=False)


def test_the_import_contracts_are_kept() -> None:
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout, result.stdout


def copy_packages(dest: Path) -> None:
    """Copy the four packages, from wherever this interpreter finds them, into ``dest``."""
    for name in PACKAGES:
        spec = importlib.util.find_spec(name)
        assert spec is not None, f"package {name} not found"
        assert spec.submodule_search_locations, f"{name} is not a package"
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, dest / name, ignore=shutil.ignore_patterns("__pycache__"))


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("probes/tcp.py", "import vcfleet", "probes is not allowed to import vcfleet"),
        ("inventory/selectors.py", "import tui", "inventory is not allowed to import tui"),
        ("inventory/model.py", "import probes.base", "inventory is not allowed to import probes"),
        ("vcfleet/report.py", "import tui.verdicts", "vcfleet is not allowed to import tui"),
    ],
)
def test_an_upward_import_breaks_them(tmp_path: Path, module: str, line: str, broken: str) -> None:
    copy_packages(tmp_path)
    with (tmp_path / module).open("a", encoding="utf-8") as file:
        file.write(f"\n{line}  # deliberately against the rule\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert broken in result.stdout, result.stdout
