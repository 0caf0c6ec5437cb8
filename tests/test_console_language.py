"""The console and the CLI in Vietnamese (issue 19, docs/language.md): argparse's own
words through our catalog, help and one-line errors in Vietnamese (English unchanged),
footer keys that never show cut, and ``LANG=vi_VN.UTF-8 vcfleet demo`` in a real
terminal (tmux) that sweeps, filters and quits in Vietnamese."""

from __future__ import annotations

import argparse
import inspect
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path

import pytest

from inventory import load_inventory
from tests.conftest import ROOT, require_tool
from tests.test_demo import BROKEN_DOWN, moved_demo_fleet, processes_mentioning, wait_until
from tests.test_render import sample_report
from tui.app import ConsoleApp
from vcfleet import cli
from vcfleet.i18n import set_language

LANGUAGE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG", "VCFLEET_LANG")


@pytest.fixture(autouse=True)
def _english_after() -> Iterator[None]:
    yield
    set_language("en")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in LANGUAGE_VARIABLES}
    return {**env, "VCFLEET_HISTORY": ":memory:", **extra}


def vcfleet(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -m vcfleet ARGS`` with only the language variables given in ``env``."""
    return subprocess.run([sys.executable, "-m", "vcfleet", *args], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
                          env=_env(**env))


# -- argparse ---------------------------------------------------------------------------


def test_argparse_has_the_shape_speak_argparse_relies_on() -> None:
    """argparse looks up its module-level ``_`` and ``ngettext`` each time it writes a
    word (``from gettext import gettext as _, ngettext``), and spells every message id of
    ``ARGPARSE_WORDS`` as we list it (else that word would stay English)."""
    source = inspect.getsource(argparse)
    assert "from gettext import gettext as _, ngettext" in source
    missing = [w for w in cli.ARGPARSE_WORDS if f"_({w!r}" not in source
               and f'_("{w}"' not in source]
    assert not missing, f"argparse of Python {sys.version_info[:2]} spells these otherwise: "\
        f"{missing}"


def test_argparse_speaks_vietnamese_and_english() -> None:
    vi = vcfleet("--lang", "vi", "sweep", "--help")
    assert vi.returncode == 0, vi.stderr
    assert vi.stdout.startswith("cách dùng: vcfleet sweep")
    assert "tùy chọn:" in vi.stdout
    assert "hiện trợ giúp này rồi thoát" in vi.stdout
    assert "chạy một đợt kiểm tra sẵn sàng" in vi.stdout
    for english in ("usage:", "options:", "show this help", "default:", "comma separated"):
        assert english not in vi.stdout, english
    en = vcfleet("sweep", "--help", LANG="C.UTF-8")
    assert en.stdout.startswith("usage: vcfleet sweep")
    assert "show this help message and exit" in en.stdout
    assert "run one readiness sweep: which rooms will work, and why not" in en.stdout


@pytest.mark.parametrize("command", list(cli.COMMANDS))
def test_every_command_helps_in_vietnamese(command: str) -> None:
    done = vcfleet(command, "--help", LANG="vi_VN.UTF-8")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"cách dùng: vcfleet {command}")
    for english in ("usage:", "show this help", "(default", "default:"):
        assert english not in done.stdout, f"{command}: {english!r} in\n{done.stdout}"


@pytest.mark.parametrize(("args", "vietnamese", "english"), [
    (("inventory", "show"),
     "vcfleet inventory show: lỗi: thiếu các tham số bắt buộc: id "
     "(xem 'vcfleet inventory show --help')",
     "vcfleet inventory show: error: the following arguments are required: id "
     "(see 'vcfleet inventory show --help')"),
    (("sweep", "--format", "xx"),
     "vcfleet sweep: lỗi: tham số --format: lựa chọn không hợp lệ: 'xx'",
     "vcfleet sweep: error: argument --format: invalid choice: 'xx'"),
    (("sweep", "--concurrency", "0"),
     "tham số --concurrency: cần ít nhất 1, nhận được 0",
     "argument --concurrency: expected at least 1, got 0"),
    (("sweep", "--timeout", "sip=x"),
     "--timeout 'sip=x': 'x' không phải là số giây",
     "--timeout 'sip=x': 'x' is not a number of seconds"),
    (("inventory", "show", "nowhere"),
     "không có điểm cầu mã 'nowhere' trong",
     "no endpoint with id 'nowhere' in"),
])
def test_one_line_errors_in_both_languages(args: tuple[str, ...], vietnamese: str,
                                           english: str) -> None:
    vi = vcfleet(*args, LANG="vi_VN.UTF-8")
    en = vcfleet("--lang", "en", *args, LANG="vi_VN.UTF-8")
    for done, expected in ((vi, vietnamese), (en, english)):
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.splitlines()) == 1, done.stderr
        assert expected in done.stderr
        assert "Traceback" not in done.stderr


def test_a_file_error_keeps_its_location_prefix(tmp_path: Path) -> None:
    bad = tmp_path / "inv.yaml"
    bad.write_text("endpoints: [\n", encoding="utf-8")
    vi = vcfleet("--lang", "vi", "inventory", "validate", str(bad))
    assert vi.returncode == 2
    assert vi.stderr.startswith(f"{bad}:")


# -- the console ------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("width", [80, 100, 160])
async def test_footer_keys_are_shown_whole_or_not_at_all(lang: str, width: int) -> None:
    """A key whose description would be cut (or hidden under the palette key) is not
    shown at all; Vietnamese descriptions are longer.  Also after a resize."""
    set_language(lang)
    inventory = load_inventory()
    app = ConsoleApp(inventory, use_history=False, initial_report=sample_report(inventory),
                     tz=UTC)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause(0.5)
        await pilot.pause()
        from tui.console_screen import ConsoleFooter

        footer = app.screen.query_one(ConsoleFooter)
        palette = [w for w in footer.children if w.has_class("-command-palette")]
        right = min([footer.region.right, *(w.region.x for w in palette)])
        shown = [w for w in footer.children if not w.has_class("-command-palette")]
        assert shown
        assert all(w.region.right <= right for w in shown), [
            (getattr(w, "description", ""), w.region) for w in shown]
        descriptions = [getattr(w, "description", "") for w in shown]
        assert ("Chi tiết" in descriptions) == (lang == "vi")
        await pilot.resize_terminal(width + 7, 30)
        await pilot.pause(0.3)
        footer = app.screen.query_one(ConsoleFooter)
        palette = [w for w in footer.children if w.has_class("-command-palette")]
        right = min([footer.region.right, *(w.region.x for w in palette)])
        assert all(w.region.right <= right for w in footer.children
                   if not w.has_class("-command-palette"))
        app.exit(0)


@pytest.mark.timeout(420)
def test_vietnamese_demo_in_tmux_sweeps_filters_and_quits(tmp_path: Path) -> None:
    """``LANG=vi_VN.UTF-8 vcfleet demo`` alone (no --lang) in a real terminal: a
    Vietnamese console that sweeps, filters on the rooms down and quits (on a fleet
    moved to a random 127.A block, as tests/test_demo.py does)."""
    tmux = require_tool("tmux")
    fleet = moved_demo_fleet(tmp_path)
    session = f"vcfleet-demo-vi-{uuid.uuid4().hex[:8]}"
    env = " ".join(f"{k}={v}" for k, v in (("XDG_STATE_HOME", tmp_path / "state"),
                                            ("XDG_DATA_HOME", tmp_path / "data"),
                                            ("LANG", "vi_VN.UTF-8")))
    unset = " ".join(f"-u {k}" for k in ("LC_ALL", "LC_MESSAGES", "VCFLEET_LANG"))
    command = (f"cd {ROOT} && env {unset} {env} {sys.executable} -m vcfleet demo --checks net "
               f"--inventory {fleet} --report-dir {tmp_path}; echo DEMO-EXITED $?; sleep 60")

    def screen() -> str:
        return subprocess.run([tmux, "capture-pane", "-p", "-t", session], capture_output=True,
                              text=True, timeout=10).stdout

    def keys(*k: str) -> None:
        subprocess.run([tmux, "send-keys", "-t", session, *k], check=True, timeout=10)

    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "60",
                    command], check=True, timeout=10)
    try:
        wait_until(lambda: "348 chưa kiểm tra" in screen(), 150, "the console")
        assert "Chưa kiểm tra: nhấn a để kiểm tra mọi điểm cầu" in screen()
        assert "Trạng thái" in screen()
        assert "Quét hết" in screen()
        keys("a")
        wait_until(lambda: "điểm cầu, xong trong" in screen(), 120, "the sweep to complete")
        assert "0 chưa kiểm tra" in screen()
        keys("/")
        wait_until(lambda: "Về bảng" in screen(), 20, "the filter box to take focus")
        keys("verdict=down")
        wait_until(lambda: "✔ sẵn sàng" not in screen() and "✖ mất kết nối" in screen(), 20,
                   "the filter")
        keys("Enter")
        inv = load_inventory(fleet)
        shown = {e.id for e in inv.endpoints
                 for line in screen().splitlines()
                 if "✖ mất kết nối" in line and f" {e.name[:30]}" in line}
        assert shown == BROKEN_DOWN, screen()
        for english in ("ready", "degraded", "not checked", "Sweep all", "Filter", "Verdict"):
            assert english not in screen(), (english, screen())
        keys("q")
        wait_until(lambda: "DEMO-EXITED 0" in screen(), 60, "the demo to quit")
        wait_until(lambda: not processes_mentioning(f"simulate --inventory {fleet}"), 20,
                   "the simulator to stop")
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True, timeout=10)
