"""Build step of the wheel: compile the gettext catalogs (``vcfleet/locale/*/LC_MESSAGES/
vcfleet.po``) into ``vcfleet.mo`` beside them in the build tree, so that the wheel ships
compiled catalogs and the repository holds only the ``.po`` sources.  Everything else
about the package is in pyproject.toml."""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildPyWithCatalogs(build_py):
    """``build_py`` that also writes each ``.po`` catalog as ``.mo`` into the build."""

    def run(self) -> None:
        """Copy the packages, then compile the catalogs into ``build_lib``."""
        super().run()
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        for po in sorted(Path("vcfleet/locale").glob("*/LC_MESSAGES/*.po")):
            target = Path(self.build_lib) / po.with_suffix(".mo")
            target.parent.mkdir(parents=True, exist_ok=True)
            with po.open("rb") as src:
                catalog = read_po(src, locale=po.parts[-3], domain=po.stem)
            with target.open("wb") as out:
                write_mo(out, catalog, use_fuzzy=False)


setup(cmdclass={"build_py": BuildPyWithCatalogs})
