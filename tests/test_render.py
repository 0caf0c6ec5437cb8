"""The output formats of a sweep report (table, CSV, JSON, Markdown, HTML) and the
verdict table they read, from fixed report data.

``sample_report`` builds a deterministic report of the demo fleet that the
console's tests and snapshots use as well.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
import subprocess
import sys
from datetime import UTC
from pathlib import Path

import pytest

from inventory import Endpoint, Inventory, load_inventory
from probes.base import ProbeResult
from vcfleet.figures import key_figures
from vcfleet.history import History
from vcfleet.render import REPORT_FORMATS, render_report
from vcfleet.render.html import render_html
from vcfleet.render.markdown import render_markdown
from vcfleet.render.readiness import FLAKY_ROWS, unit_name
from vcfleet.render.verdicts import COUNT_ORDER, LOOKS, RANK, WORST_FIRST, label, not_ready
from vcfleet.report import CheckReport, EndpointReport, SweepReport, Verdict, judge

T0 = 1_800_000_000.0
"""A fixed sweep time: 2027-01-15 08:00:00 UTC."""


def sample_checks(i: int) -> dict[str, CheckReport]:
    """Checks of the i-th endpoint: every 17th down (SIP silent), every 11th lossy."""
    if i % 17 == 3:
        sip = ProbeResult.failure("no answer to OPTIONS within 2 s")
        return {"sip": CheckReport("sip", sip, True, 2.0, True)}
    sip = ProbeResult(True, {"rtt_ms": 1.0 + (i % 7) * 0.5})
    loss_up = 0.05 if i % 11 == 5 else 0.0
    webrtc = ProbeResult(True, {"rtt_ms": 20.0 + i % 13, "mos": 4.3 - loss_up * 10,
                                "setup_ms": 150.0},
                         {"up": {"jitter_ms": 2.0 + i % 5, "loss_ratio": loss_up},
                          "down": {"jitter_ms": 1.5, "loss_ratio": 0.0}})
    return {"sip": CheckReport("sip", sip, True, 0.01),
            "webrtc": CheckReport("webrtc", webrtc, True, 3.2)}


def sample_endpoint_report(inv: Inventory, i: int, at: float = T0) -> EndpointReport:
    """The deterministic result of the i-th endpoint, judged by the one verdict function."""
    r = judge(inv.endpoints[i], sample_checks(i))
    return EndpointReport(r.endpoint, r.verdict, r.reasons, r.checks, at + 5.0)


def sample_report(inv: Inventory, started_at: float = T0, count: int | None = None
                  ) -> SweepReport:
    """A deterministic sweep report of the first ``count`` endpoints (default: all)."""
    n = len(inv.endpoints) if count is None else count
    reports = tuple(sample_endpoint_report(inv, i, started_at) for i in range(n))
    return SweepReport(reports, started_at, 12.5, ("sip", "webrtc"), "", False, "test")


@pytest.fixture(scope="module")
def demo() -> Inventory:
    return load_inventory()


def test_sample_report_has_every_verdict(demo: Inventory) -> None:
    s = sample_report(demo).summary()
    assert s["total"] == 348
    assert (s["ready"], s["degraded"], s["down"]) == (297, 30, 21)


def test_markdown_lists_rooms_not_ready_with_contacts(demo: Inventory) -> None:
    report = sample_report(demo)
    text = render_markdown(report, demo, tz=UTC)
    assert text.startswith("# Readiness report — Thanh Hóa\n")
    assert "2027-01-15 08:00:00 +0000" in text
    bad = not_ready(report.endpoints)
    assert bad[0].verdict is Verdict.DOWN
    assert bad[-1].verdict is Verdict.DEGRADED
    for r in bad:
        line = next(line for line in text.splitlines() if f"({r.endpoint.id})" in line)
        assert r.endpoint.contact.phone in line
        assert r.endpoint.contact.name in line
        assert "✖ down" in line or "▲ degraded" in line
    assert "sip: no answer to OPTIONS within 2 s" in text
    assert "webrtc: packet loss up 5.0% >= 3%" in text


def test_markdown_summary_by_tier_and_district(demo: Inventory) -> None:
    report = sample_report(demo)
    text = render_markdown(report, demo, tz=UTC)
    s = report.summary()
    assert f"348 rooms, ✔ {s['ready']} ready, ▲ {s['degraded']} degraded, ✖ {s['down']} down" \
        in text
    tiers = text.split("## By tier")[1].split("## By district")[0]
    assert re.search(r"\| commune \| \d+ \|", tiers)
    districts = text.split("## By district")[1]
    assert "| UBND huyện Hà Trung |" in districts
    assert "| Province and departments |" in districts
    # every district row adds up to the fleet
    totals = [int(m) for m in re.findall(r"^\| [^|]+ \| (\d+) \|", districts, re.M)]
    assert sum(totals) == 348


def test_every_room_ready_says_so(demo: Inventory) -> None:
    ok = tuple(EndpointReport(e, Verdict.READY, (), {}, T0) for e in demo.endpoints[:3])
    report = SweepReport(ok, T0, 1.0)
    assert "Every room is ready." in render_markdown(report, demo)
    assert "Every room is ready." in render_html(report, demo)


def test_markdown_escapes_table_pipes(demo: Inventory) -> None:
    e = demo.endpoints[0]
    report = SweepReport((EndpointReport(e, Verdict.DOWN, ("sip: a|b",), {}, T0),), T0, 1.0)
    assert "sip: a\\|b" in render_markdown(report, demo)


def test_cancelled_sweep_is_flagged_and_unchecked_rooms_listed(demo: Inventory) -> None:
    rows = (EndpointReport(demo.endpoints[0], Verdict.UNKNOWN, ("not checked: sweep cancelled",)),)
    report = SweepReport(rows, T0, 1.0, cancelled=True)
    text = render_markdown(report, demo)
    assert "did not finish" in text
    assert "… not checked" in text


def test_html_is_self_contained_and_escaped(demo: Inventory) -> None:
    report = sample_report(demo)
    page = render_html(report, demo, tz=UTC)
    assert page.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in page
    assert not re.search(r"""(src|href)\s*=|<script|@import|url\(""", page)
    assert "UBND huyện Hà Trung" in page
    assert '<tr class="down">' in page
    assert '<tr class="degraded">' in page
    e = demo.endpoints[0]
    evil = SweepReport((EndpointReport(e, Verdict.DOWN, ("<b>x</b> & y",), {}, T0),), T0, 1.0)
    assert "&lt;b&gt;x&lt;/b&gt; &amp; y" in render_html(evil, demo)


def test_failure_counts_from_history(demo: Inventory, tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        for k in range(3):
            history.record(sample_report(demo, T0 + k * 600))
        report = sample_report(demo, T0 + 3 * 600)
        text = render_markdown(report, demo, history=history)
    assert "Failures (7 days)" in text
    down = not_ready(report.endpoints)[0]
    line = next(line for line in text.splitlines() if f"({down.endpoint.id})" in line)
    assert line.rstrip().endswith("| 3 |")


def test_key_figures(demo: Inventory) -> None:
    r = sample_endpoint_report(demo, 5)
    figs = key_figures(r)
    assert figs["loss_up"] == pytest.approx(0.05)
    assert set(figs) == {"sip_rtt_ms", "media_rtt_ms", "jitter_up_ms", "jitter_down_ms",
                         "loss_up", "loss_down", "mos"}
    assert key_figures(sample_endpoint_report(demo, 3)) == {}


def record_week(history: History, endpoints: list[Endpoint]) -> SweepReport:
    """Six recorded sweeps an hour apart of four rooms, and the sweep after them (returned).

    Room 0 is always ready; room 1 fails 3 of 6 (down, down, degraded); room 2 is
    down in all six; room 3 is degraded once.
    """
    failing = {1: {1: Verdict.DOWN, 3: Verdict.DOWN, 5: Verdict.DEGRADED},
               2: dict.fromkeys(range(6), Verdict.DOWN), 3: {0: Verdict.DEGRADED}}
    for k in range(6):
        at = T0 + k * 3600
        rows = tuple(EndpointReport(e, failing.get(i, {}).get(k, Verdict.READY), (), {}, at + 5)
                     for i, e in enumerate(endpoints))
        history.record(SweepReport(rows, at, 10.0))
    now = T0 + 6 * 3600
    verdicts = (Verdict.READY, Verdict.READY, Verdict.DOWN, Verdict.READY)
    return SweepReport(tuple(EndpointReport(e, v, (), {}, now) for e, v in
                             zip(endpoints, verdicts, strict=True)), now, 10.0)


def section(text: str, title: str) -> list[str]:
    """The lines of one Markdown section (``## title``), up to the next one."""
    body = text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]
    return [line for line in body.splitlines() if line]


def test_rooms_that_failed_often_worst_first(demo: Inventory, tmp_path: Path) -> None:
    rooms = list(demo.endpoints[:4])
    with History(tmp_path / "h.sqlite3") as history:
        report = record_week(history, rooms)
        text = render_markdown(report, demo, history=history, tz=UTC)
        page = render_html(report, demo, history=history, tz=UTC)
    lines = section(text, "Rooms that failed often (last 7 days)")
    assert lines[0] == ("| Verdict now | Room | District | Failed sweeps | Down | Degraded"
                        " | Last failure | Contact | Phone |")
    rows = lines[2:]
    assert [next(e.id for e in rooms if f"({e.id})" in row) for row in rows] == \
        [rooms[2].id, rooms[1].id, rooms[3].id]
    flaky = rooms[1]
    assert rows[1] == (f"| ✔ ready | {flaky.name} ({flaky.id}) | {unit_name(demo, flaky.district)}"
                       f" | 3 of 6 | 2 | 1 | 2027-01-15 13:00:05 +0000 | {flaky.contact.name}"
                       f" | {flaky.contact.phone} |")
    assert rows[0].startswith(f"| ✖ down | {rooms[2].name} ({rooms[2].id}) |")
    assert "| 6 of 6 | 6 | 0 |" in rows[0]
    assert text.index("## Not ready") < text.index("## Rooms that failed often") \
        < text.index("## By tier")
    assert "<h2>Rooms that failed often (last 7 days)</h2>" in page
    html_rows = page.split("<h2>Rooms that failed often")[1].split("</table>")[0]
    assert html_rows.count("<tr class=") == 3
    assert (f'<tr class="ready"><td>✔ ready</td><td>{flaky.name} ({flaky.id})</td>'
            in html_rows)
    assert '<td>3 of 6</td><td class="n">2</td><td class="n">1</td>' in html_rows


def test_rooms_that_failed_often_at_most_fifteen_of_this_report(demo: Inventory,
                                                                 tmp_path: Path) -> None:
    with History(tmp_path / "h.sqlite3") as history:
        history.record(sample_report(demo))  # 51 rooms fail
        text = render_markdown(sample_report(demo, T0 + 600), demo, history=history)
        partial = sample_report(demo, T0 + 600, count=20)  # 3 is down, 5 and 16 lossy
        partial_text = render_markdown(partial, demo, history=history)
    assert len(section(text, "Rooms that failed often (last 7 days)")) == 2 + FLAKY_ROWS
    rows = section(partial_text, "Rooms that failed often (last 7 days)")[2:]
    assert [row.split(" | ")[0] for row in rows] == ["| ✖ down", "| ▲ degraded", "| ▲ degraded"]
    assert f"({demo.endpoints[3].id})" in rows[0]
    assert {f"({demo.endpoints[i].id})" for i in (5, 16)} == \
        {row.split(" | ")[1].rsplit(" ", 1)[1] for row in rows[1:]}


def test_rooms_that_failed_often_omitted_without_failures(demo: Inventory,
                                                          tmp_path: Path) -> None:
    report = sample_report(demo)
    assert "failed often" not in render_markdown(report, demo)
    assert "failed often" not in render_html(report, demo)
    ok = tuple(EndpointReport(e, Verdict.READY, (), {}, T0) for e in demo.endpoints[:3])
    with History(tmp_path / "h.sqlite3") as history:
        history.record(SweepReport(ok, T0, 1.0))
        old = sample_report(demo, T0 - 8 * 86400)  # failures older than the window
        history.record(old)
        assert history.flaky(since=0)
        ready = SweepReport(ok, T0 + 60, 1.0)
        assert "failed often" not in render_markdown(ready, demo, history=history)
        assert "failed often" not in render_html(ready, demo, history=history)


def test_rooms_that_failed_often_escaped(demo: Inventory, tmp_path: Path) -> None:
    rooms = [e.model_copy(update={"name": f"Room <{i}> | & co"}) for i, e in
             enumerate(demo.endpoints[:4])]
    with History(tmp_path / "h.sqlite3") as history:
        report = record_week(history, rooms)
        text = render_markdown(report, demo, history=history)
        page = render_html(report, demo, history=history)
    assert f"| Room <1> \\| & co ({rooms[1].id}) |" in text
    assert f"<td>Room &lt;1&gt; | &amp; co ({rooms[1].id})</td>" in page


# -- one order, one verdict table ------------------------------------------------------


def mixed_report(inv: Inventory) -> SweepReport:
    """The sample report with a few rooms not checked, among the others in sweep order."""
    rows = list(sample_report(inv).endpoints)
    for i in (2, 40, 41, 100):
        rows[i] = EndpointReport(rows[i].endpoint, Verdict.UNKNOWN,
                                 ("not checked: sweep cancelled",), {}, T0)
    return SweepReport(tuple(rows), T0, 12.5, ("sip", "webrtc"), "", True, "test")


def ids_in_table(text: str) -> list[str]:
    """Room ids of the plain table's "Not ready" section, top to bottom."""
    section = text.split("\nNot ready (")[1].splitlines()[3:]
    return [re.split(r"\s{2,}", line)[1] for line in section if line]


def ids_in_markdown(text: str) -> list[str]:
    """Room ids of the Markdown "Not ready" table: the "(id)" ending the room cell."""
    rows = section(text, "Not ready")[2:]
    return [re.findall(r"\(([^()]+)\)$", row.split(" | ")[1])[0] for row in rows]


def ids_in_html(text: str) -> list[str]:
    """Room ids of the HTML "Not ready" table."""
    table = text.split("<h2>Not ready</h2>")[1].split("</table>")[0]
    cells = re.findall(r"<tr class=\"\w+\"><td>[^<]*</td><td>([^<]*)</td>", table)
    return [re.findall(r"\(([^()]+)\)$", html.unescape(c))[0] for c in cells]


def test_every_format_lists_rooms_in_the_same_order(demo: Inventory) -> None:
    report = mixed_report(demo)
    text = {fmt: render_report(report, fmt, demo) for fmt in REPORT_FORMATS}
    in_json = [e["id"] for e in json.loads(text["json"])["endpoints"]]
    in_csv = [row["id"] for row in csv.DictReader(io.StringIO(text["csv"]))]
    verdicts = {r.endpoint.id: r.verdict for r in report.endpoints}
    worst_first = sorted((r.endpoint.id for r in report.endpoints),
                         key=lambda i: RANK[verdicts[i]])
    assert in_json == in_csv == worst_first
    unready = [i for i in worst_first if verdicts[i] is not Verdict.READY]
    assert {verdicts[i] for i in unready} == set(WORST_FIRST) - {Verdict.READY}
    assert ids_in_table(text["table"]) == unready
    assert ids_in_markdown(text["md"]) == unready
    assert ids_in_html(text["html"]) == unready


def test_the_verdict_table_covers_every_verdict() -> None:
    assert set(LOOKS) == set(WORST_FIRST) == set(COUNT_ORDER) == set(Verdict)
    assert len(WORST_FIRST) == len(COUNT_ORDER) == len(Verdict)
    assert len({v.word for v in LOOKS.values()}) == len({v.symbol for v in LOOKS.values()}) \
        == len(Verdict)


OUTCOMES = {
    Verdict.DOWN: ProbeResult.failure("no answer"),
    Verdict.UNKNOWN: ProbeResult.cannot_check("no media worker"),
    Verdict.DEGRADED: ProbeResult(True, {"rtt_ms": 900.0}),
    Verdict.READY: ProbeResult(True, {"rtt_ms": 1.0}),
}


@pytest.mark.parametrize("first", list(OUTCOMES))
@pytest.mark.parametrize("second", list(OUTCOMES))
def test_the_order_is_the_precedence_of_judge(demo: Inventory, first: Verdict,
                                              second: Verdict) -> None:
    """Two checks that alone give two verdicts give the one listed first: the order rooms
    are listed in and the verdict function rank the same way."""
    checks = {"a": CheckReport("a", OUTCOMES[first], True, 0.1),
              "b": CheckReport("b", OUTCOMES[second], True, 0.1)}
    worse = min(first, second, key=RANK.__getitem__)
    assert judge(demo.endpoints[0], checks).verdict is worse


def test_the_console_reads_the_verdict_table() -> None:
    from tui.verdicts import verdict_text

    for verdict, look in LOOKS.items():
        text = verdict_text(verdict)
        assert text.plain == label(verdict) == f"{look.symbol} {look.word}"
        assert str(text.style) == look.style


def test_the_sweep_command_offers_every_report_format() -> None:
    from vcfleet.commands.sweep import FORMATS

    assert tuple(FORMATS) == REPORT_FORMATS


def test_the_history_imports_no_renderer() -> None:
    code = ("import sys, vcfleet.history; "
            "print(sorted(m for m in sys.modules if m.startswith('vcfleet.render')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"
