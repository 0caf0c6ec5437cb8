"""``vcfleet backup``: raw and normalised configurations laid out for git."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_push_sim import Fleet, serve


@pytest.fixture
def fleet(tmp_path: Path, loopback_prefix: str) -> Iterator[Fleet]:
    yield from serve(tmp_path, loopback_prefix, "- {select: id=poly-b2, down: true}\n")


def test_layout_is_stable_and_diffs_one_line_per_change(
        fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    assert fleet.backup("bk") == 1  # poly-b2 is down
    out = capsys.readouterr().out
    assert "poly-b2     unreachable" in out
    assert "yealink-a3  skipped" in out
    folder = fleet.tmp / "bk"
    assert sorted(p.name for p in folder.iterdir()) == [
        "cisco-a1.cfg", "cisco-a1.json", "cisco-b1.cfg", "cisco-b1.json",
        "poly-a2.cfg", "poly-a2.json"]
    cfg = (folder / "cisco-a1.cfg").read_text(encoding="utf-8")
    assert ('*c xConfiguration NetworkServices NTP Server 1 Address: "ntp.thanhhoa.gov.vn"\n'
            in cfg)
    assert cfg.startswith("*c xConfiguration ")
    assert "OK" not in cfg.splitlines()
    assert "\r" not in cfg
    text = (folder / "poly-a2.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    assert doc["endpoint"] == "poly-a2"
    assert doc["vendor"] == "poly"
    assert doc["settings"]["video.selfview"] is True
    assert text == json.dumps(doc, ensure_ascii=False, indent=2, sort_keys=True) + "\n"
    assert "UBND xã Hà Sơn" in text  # diacritics kept, not \u-escaped

    # A second backup of an unchanged fleet rewrites nothing.
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    capsys.readouterr()
    assert fleet.backup("bk") == 1
    assert "0 backup(s) differ" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes

    # One setting pushed: one line differs in each of that endpoint's two files.
    before = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    fleet.template.write_text("settings: {ntp.server: ntp9.thanhhoa.gov.vn}\n", encoding="utf-8")
    assert fleet.push("--select", "id=cisco-b1") == 0
    assert fleet.backup("bk") == 1
    after = {p.name: p.read_text(encoding="utf-8") for p in folder.iterdir()}
    changed = {name for name in after if after[name] != before[name]}
    assert changed == {"cisco-b1.cfg", "cisco-b1.json"}
    for name in changed:
        delta = [ln for ln in difflib.unified_diff(before[name].splitlines(),
                                                   after[name].splitlines(), n=0)
                 if ln[:1] in "+-" and not ln.startswith(("+++", "---"))]
        assert len(delta) == 2, delta
        assert "ntp9.thanhhoa.gov.vn" in delta[1]


def test_output_must_be_a_folder(fleet: Fleet, capsys: pytest.CaptureFixture[str]) -> None:
    (fleet.tmp / "file").write_text("x", encoding="utf-8")
    assert fleet.backup("file") == 2
    assert capsys.readouterr().err.strip().endswith("file: not a directory")


def test_backup_files_are_written_atomically(fleet: Fleet) -> None:
    assert fleet.backup("bk", "--select", "id=cisco-a1") == 0
    assert not [p for p in os.listdir(fleet.tmp / "bk") if p.startswith(".")]
