"""``-o FILE``: write an output file without ever destroying one the operator wrote.

An existing file is replaced only if vcfleet wrote it and nobody changed it since
(its SHA-256 is in a small record in the user's state directory), or with
``--force``.  The new content goes to a temporary file in the same folder that is
renamed into place, so a failed write never leaves half a file.  Every
``OSError`` becomes one ``InputError`` line ``PATH: cannot write: <reason>``.
A device or pipe (``-o /dev/stdout``) is written in place.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

from inventory import InputError, Problem

RECORD_NAME = "written-files.json"


def record_path() -> Path:
    """The record of files vcfleet wrote: ``written-files.json`` in the user's state dir."""
    import platformdirs

    return platformdirs.user_state_path("vcfleet") / RECORD_NAME


def cannot_write(path: Path, exc: OSError) -> InputError:
    """An OSError while writing ``path`` as the one line a command prints."""
    return InputError(f"{path}: cannot write: {exc.strerror or exc}")


def check_output(path: Path, *, force: bool = False) -> None:
    """InputError unless ``path`` may be written: call it before any long work."""
    try:
        st = path.stat()
    except FileNotFoundError:
        _check_folder(path)
        return
    except OSError as exc:
        raise cannot_write(path, exc) from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{path}: cannot write: Is a directory")
    if not stat.S_ISREG(st.st_mode) or force:
        return
    if _digest(path.read_bytes()) != _recorded().get(_key(path)):
        raise InputError(f"{path}: already exists and was not written by vcfleet; "
                         "give --force to replace it")


def _check_folder(path: Path) -> None:
    folder = path.parent
    if not folder.exists():
        raise InputError(f"{path}: cannot write: folder {folder} does not exist")
    if not folder.is_dir():
        raise InputError(f"{path}: cannot write: {folder} is not a folder")


def _renamed(exc: InputError, old: str, new: str) -> InputError:
    """``exc`` with the path ``old`` said as ``new``; its problems keep their templates
    (to be said in the operator's language) unless a message names ``old`` itself."""
    if not exc.problems:
        return InputError(exc.text.replace(old, new) if old in exc.text else exc.text)
    return InputError([Problem(p.path.replace(old, new), p.line, p.col,
                               p.message.replace(old, new) if old in p.message else p.message)
                       for p in exc.problems])


@contextlib.contextmanager
def output_file(path: Path, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary path (same folder and suffix) to write; rename it onto ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    check_output(path, force=force)
    if _is_special(path):  # a device or a pipe (/dev/stdout): write in place
        yield path
        return
    target = Path(os.path.realpath(path))
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.",
                                    suffix=target.suffix)
        os.close(fd)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    tmp = Path(name)
    try:
        try:
            yield tmp
        except InputError as exc:  # name the operator's file, not our temporary one
            raise _renamed(exc, str(tmp), str(path)) from None
        data = tmp.read_bytes()
        os.chmod(tmp, _mode(target))
        os.replace(tmp, target)
    except OSError as exc:
        raise cannot_write(path, exc) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    _remember(target, data)


def write_output(path: Path, data: bytes, *, force: bool = False) -> None:
    """Write ``data`` to ``path`` under the rules of this module."""
    with output_file(path, force=force) as tmp:
        tmp.write_bytes(data)


def _is_special(path: Path) -> bool:
    try:
        return not stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _mode(target: Path) -> int:
    """The replaced file's permissions, or the umask's default for a new file."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _key(path: Path) -> str:
    return os.path.realpath(path)


def _recorded() -> dict[str, str]:
    try:
        data = json.loads(record_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _remember(path: Path, data: bytes) -> None:
    """Record what was written; a record that cannot be saved only costs a later --force."""
    record = _recorded()
    record[_key(path)] = _digest(data)
    where = record_path()
    with contextlib.suppress(OSError):
        where.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=where.parent, prefix=".written-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, indent=1, sort_keys=True)
        os.replace(name, where)


def write_if_changed(path: Path, text: str) -> bool:
    """Write atomically unless the file already holds exactly ``text``; whether it wrote."""
    data = text.encode("utf-8")
    try:
        if path.read_bytes() == data:
            return False
    except OSError:  # missing or unreadable: written anew
        pass
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
