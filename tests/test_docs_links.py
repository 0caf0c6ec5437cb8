"""Every link of README.md and docs/ points inside the repository, at a file and heading
that exist, so that a clone explains itself.

Links are Markdown inline links and images (``[text](target)``) and reference
definitions (``[ref]: target``) outside code; anchors follow GitHub's heading slugs.
Web links (``https:``, ``mailto:`` ...) are not followed.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = sorted([ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])
PACKAGES = ("inventory", "probes", "tui", "vcfleet")

FENCE = re.compile(r"^\s{0,3}(```+|~~~+)")
CODE_SPAN = re.compile(r"(`+).+?\1")
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text], one level of brackets inside
    r"\(\s*(<[^>]*>|[^\s)]+)(?:\s+\"[^\"]*\")?\s*\)")  # (target "title")
REFERENCE = re.compile(r"(?m)^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
ATX_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
SETEXT_UNDERLINE = re.compile(r"^\s{0,3}(=+|-+)\s*$")
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
# Text that names the shared design page instead of linking docs/design.md.
SHARED_DESIGN = re.compile(r"\.\./shared/|\bDESIGN(?:\.md|'s)")


@dataclass(frozen=True)
class Link:
    """One link target and where it is written."""

    page: Path
    line: int
    target: str

    def where(self) -> str:
        """``PAGE:LINE`` relative to the repository."""
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def prose_lines(page: Path) -> Iterator[tuple[int, str]]:
    """The page's lines outside fenced code blocks, numbered from 1."""
    fence = ""
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
        match = FENCE.match(line)
        if fence:
            if match and match.group(1)[0] == fence[0] and len(match.group(1)) >= len(fence):
                fence = ""
            continue
        if match:
            fence = match.group(1)
            continue
        yield number, line


def links(page: Path) -> Iterator[Link]:
    """Every link target of a page (a link's text may span lines), code left out."""
    lines = dict(prose_lines(page))
    count = len(page.read_text(encoding="utf-8").splitlines())
    text = "\n".join(lines.get(n, "") for n in range(1, count + 1))
    # Blank code spans out, newlines kept, so that offsets still give line numbers.
    text = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), text)
    found = [(m.start(), m.group(1)) for m in INLINE_LINK.finditer(text)]
    found += [(m.start(), m.group(1)) for m in REFERENCE.finditer(text)]
    for offset, target in sorted(found):
        line = text.count("\n", 0, offset) + 1
        yield Link(page, line, target.removeprefix("<").removesuffix(">"))


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: its text, lower case, punctuation dropped, spaces to -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link counts by its text
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors a page defines: its headings' slugs (repeats get -1, -2 ...) and <a name>."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    previous = ""
    for _, line in prose_lines(page):
        heading = ATX_HEADING.match(line)
        setext = SETEXT_UNDERLINE.match(line) and previous.strip() and previous[:4] != "    "
        text = heading.group(2) if heading else previous if setext else None
        if text is not None:
            base = slug(text)
            n = seen.get(base, 0)
            seen[base] = n + 1
            found.add(base if n == 0 else f"{base}-{n}")
        found.update(HTML_ANCHOR.findall(line))
        previous = "" if heading else line
    return found


def repo_file(path: Path) -> Path:
    """A repository path as it exists here: a package file from the installed copy when
    the source package is absent (the tests then run against an installed wheel)."""
    relative = path.relative_to(ROOT)
    top = relative.parts[0]
    if top in PACKAGES and not (ROOT / top).is_dir():
        spec = importlib.util.find_spec(top)
        if spec is not None and spec.submodule_search_locations:
            return Path(next(iter(spec.submodule_search_locations)), *relative.parts[1:])
    return path


def problem(link: Link) -> str | None:
    """Why a link does not point at an existing file and heading of the repository."""
    if SCHEME.match(link.target):
        return None
    path_text, _, anchor = link.target.partition("#")
    if path_text.startswith("/"):
        return "absolute path: link relative to the page instead"
    target = (link.page.parent / path_text).resolve() if path_text else link.page
    if not target.is_relative_to(ROOT):
        return "points outside the repository"
    target = repo_file(target)
    if not target.exists():
        return "no such file"
    if anchor:
        if target.suffix != ".md" or target.is_dir():
            return f"anchor #{anchor} on a file that is not a Markdown page"
        if anchor not in anchors(target):
            return f"no heading with anchor #{anchor} in {target.name}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_points_inside_the_repository(page: Path) -> None:
    broken = [f"{link.where()}: {link.target}: {why}"
              for link in links(page) if (why := problem(link)) is not None]
    assert not broken, "\n".join(broken)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_refers_to_the_design_outside_the_repository(page: Path) -> None:
    found = [f"{page.relative_to(ROOT)}:{n}: {line.strip()}"
             for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1)
             if SHARED_DESIGN.search(line)]
    assert not found, "link docs/design.md instead:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Planned (open issues)", "planned-open-issues"),
        ("Rooms that fail often (`f`)", "rooms-that-fail-often-f"),
        ("The JSON contract (`--format json`, `SweepReport.to_json()`)",
         "the-json-contract---format-json-sweepreportto_json"),
        ("Tiers are data", "tiers-are-data"),
        ("The demo fleet: Thanh Hóa province", "the-demo-fleet-thanh-hóa-province"),
        ("See [selectors](selectors.md) here", "see-selectors-here"),
    ],
)
def test_slugs_follow_github(heading: str, anchor: str) -> None:
    assert slug(heading) == anchor


def test_the_checker_finds_broken_links() -> None:
    page = ROOT / "docs" / "design.md"
    good = [Link(page, 1, t) for t in ("sweep.md", "sweep.md#exit-codes", "#metrics",
                                       "../README.md", "https://example.org/x#y")]
    bad = {"../../shared/DESIGN.md": "points outside the repository",
           "/work/shared/DESIGN.md": "absolute path: link relative to the page instead",
           "DESIGN.md": "no such file",
           "sweep.md#no-such-heading": "no heading with anchor #no-such-heading in sweep.md"}
    assert [problem(link) for link in good] == [None] * len(good)
    assert {t: problem(Link(page, 1, t)) for t in bad} == bad
