"""``-o FILE`` (vcfleet/outfile.py): never replaces a file vcfleet did not write, never
leaves half a file, and every OSError is one ``PATH: cannot write: <reason>`` line."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from inventory import InputError
from vcfleet.outfile import output_file, write_output


@pytest.fixture(autouse=True)
def own_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


def test_a_file_vcfleet_wrote_is_replaced_and_an_edited_one_is_not(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    write_output(out, b"one\n")
    write_output(out, b"two\n")  # ours, unchanged since: replaced without --force
    assert out.read_bytes() == b"two\n"
    out.write_bytes(b"edited by hand\n")
    with pytest.raises(InputError, match="already exists and was not written by vcfleet"):
        write_output(out, b"three\n")
    assert out.read_bytes() == b"edited by hand\n"
    write_output(out, b"three\n", force=True)
    assert out.read_bytes() == b"three\n"


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(tmp_path: Path) -> None:
    out = tmp_path / "fleet.yaml"
    out.write_bytes(b"old\n")

    def half_written() -> None:
        with output_file(out, force=True) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError):
        half_written()
    assert out.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fleet.yaml"]


def test_an_existing_files_permissions_are_kept(tmp_path: Path) -> None:
    out = tmp_path / "rooms.csv"
    out.write_bytes(b"x\n")
    out.chmod(0o640)
    write_output(out, b"y\n", force=True)
    assert out.stat().st_mode & 0o777 == 0o640


def test_an_unwritable_folder_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root writes anywhere: use a folder root cannot
            folder = Path("/sys")
        with pytest.raises(InputError) as info:
            write_output(folder / "out.csv", b"x\n")
    finally:
        (tmp_path / "ro").chmod(0o700)
    assert info.value.lines() in (
        [f"{folder}/out.csv: cannot write: Permission denied"],
        [f"{folder}/out.csv: cannot write: Operation not permitted"])


def test_a_device_is_written_in_place(tmp_path: Path) -> None:
    write_output(Path("/dev/null"), b"nothing\n")
    assert Path("/dev/null").exists()
    assert not Path("/dev/null").is_file()


def test_an_unwritable_backup_folder_is_one_line(tmp_path: Path) -> None:
    """Finding 6: ``backup -o`` into a folder it cannot write was a PermissionError, exit 1."""
    from vcfleet.commands.backup import prepare_folder

    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        target = folder / "backups"
        if os.access(folder, os.W_OK):  # root writes anywhere: use a folder root cannot
            target = Path("/sys/vcfleet-backups")
        with pytest.raises(InputError) as info:
            prepare_folder(target)
    finally:
        (tmp_path / "ro").chmod(0o700)
    assert info.value.lines() in (
        [f"{target}: cannot write: Permission denied"],
        [f"{target}: cannot write: Operation not permitted"])
