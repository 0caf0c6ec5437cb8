"""The loaders' error lines in Vietnamese: the hostile corpus's located errors (inventory,
spreadsheet, meetings, faults, push templates) run again through the real CLI with
``VCFLEET_LANG=vi`` say no English sentence beyond names, paths, keys and values, and
keep their ``PATH:LINE:COL: `` prefix; in English they stay byte-identical (the corpus
itself checks that).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from inventory.errors import InputError, Message, Problem, labelled
from tests.test_hostile_corpus import CORPUS, expected_lines, load_case, run_case, write_files

AREAS = ("inventory", "spreadsheet", "meetings", "faults", "template")
LOCATED = re.compile(r"\A(?P<where>[^\s:]+:\d+:\d+: )(?P<rest>.*)\Z")
OS_WORDS = ("No such file or directory", "No recommended backend was available")
"""Words the operating system or a library says (passed through, in English)."""


def _sample() -> list[Path]:
    """Cases whose expected lines are all located loader errors (not the OS's words)."""
    out = []
    for area in AREAS:
        for path in sorted((CORPUS / area).glob("*.yaml")):
            case = load_case(path)
            lines = expected_lines(case.get("stderr", ""), path.parent)
            if case.get("exit", 2) == 2 and lines and all(
                    LOCATED.match(line) and not any(w in line for w in OS_WORDS)
                    for line in lines):
                out.append(path)
    return out


SAMPLE = _sample()

ENGLISH = frozenset({
    "a", "above", "again", "allowed", "an", "and", "are", "as", "at", "be", "between",
    "cannot", "cell", "character", "column", "columns", "could", "date", "defined", "does",
    "duplicate", "duration", "each", "empty", "endpoint", "endpoints", "exist", "expected",
    "extra", "field", "file", "format", "formula", "from", "got", "group", "has", "here",
    "integer", "invalid", "inventory", "is", "it", "its", "key", "leading", "line", "list",
    "loses", "mapping", "matches", "meeting", "missing", "more", "must", "needs", "no", "not",
    "number", "of", "offset", "on", "one", "only", "or", "parent", "phone", "position",
    "remove", "required", "resolved", "room", "row", "saved", "set", "should", "such",
    "terminal", "text", "than", "that", "the", "this", "tier", "to", "type", "unknown",
    "value", "variable", "version", "was", "when", "which", "with", "would"
})
"""English words of the loaders' sentences; none may remain in a Vietnamese line."""


def english_words(line: str, case: dict[str, Any]) -> list[str]:
    """English sentence words left in ``line`` once names, paths, keys and values (what
    the case's own files hold, quoted text, ``scheme:REF`` references) are taken out."""
    rest = LOCATED.match(line)
    text = rest.group("rest") if rest else line
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", text)  # quoted names and values
    text = re.sub(r"\S+[:/.\-]\S*", " ", text)  # keys, paths, env:VAR, U+001B, sip-only
    own = set(re.findall(r"[A-Za-z_]+", " ".join((case.get("files") or {}).values())))
    return [w for w in re.findall(r"\w+", text)
            if w.lower() in ENGLISH and w not in own and w not in VALUES]


VALUES = frozenset({"true", "false", "True", "False", "Text"})
"""YAML's literals and Excel's cell format, said as they are written."""


def test_the_sample_is_large_enough() -> None:
    """At least 30 corpus cases are checked in Vietnamese."""
    assert len(SAMPLE) >= 30, [p.name for p in SAMPLE]


@pytest.mark.parametrize("path", SAMPLE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_a_loader_error_in_vietnamese(path: Path, tmp_path: Path) -> None:
    """The corpus case with ``VCFLEET_LANG=vi``: the same locations, exit 2, Vietnamese
    words around the names."""
    case = load_case(path)
    case["env"] = {**(case.get("env") or {}), "VCFLEET_LANG": "vi"}
    folder, home = tmp_path / "case", tmp_path / "home"
    folder.mkdir()
    home.mkdir()
    write_files(case, folder)
    result = run_case(case, folder, home)
    assert result.returncode == 2, result.stderr
    english = expected_lines(case["stderr"], folder)
    lines = result.stderr.splitlines()
    assert "Traceback" not in result.stderr
    assert len(lines) == len(english), result.stderr
    for vi, en in zip(lines, english, strict=True):
        where = LOCATED.match(en)
        assert where, en
        assert vi.startswith(where.group("where")), (vi, en)
        assert vi != en, f"still English: {vi}"
        assert not english_words(vi, case), f"English words {english_words(vi, case)} in: {vi}"


def test_a_message_keeps_its_english_and_says_it_again() -> None:
    """A Message is its English text, pickles with its template, and is translated with its
    arguments (a nested Message too; names and values as they are)."""
    import pickle

    inner = Message.of("unknown group '{group}'", group="Hà Nội")
    message = labelled(Message.of("endpoint '{id}'", id="hub"), inner)
    assert message == "endpoint 'hub': unknown group 'Hà Nội'"
    words = {"{label}: {problem}": "{label} — {problem}", "endpoint '{id}'": "điểm cầu '{id}'",
             "unknown group '{group}'": "nhóm '{group}' không xác định"}
    again = pickle.loads(pickle.dumps(message))
    err = InputError([Problem("f.yaml", 3, 5, again)])
    assert err.lines() == ["f.yaml:3:5: endpoint 'hub': unknown group 'Hà Nội'"]
    assert err.lines(lambda m: words.get(m, m)) == [
        "f.yaml:3:5: điểm cầu 'hub' — nhóm 'Hà Nội' không xác định"]
    broken = Message.of("unknown group '{group}'", group="x")
    assert broken.translated(lambda m: "nhóm {other}") == "unknown group 'x'"
    assert InputError("plain text").lines(lambda m: "never") == ["plain text"]
