"""End to end: a real Prometheus scrapes ``vcfleet serve``, which sweeps the simulator.

Three subprocesses, each killed in a ``finally``: ``vcfleet simulate`` (four rooms,
one ``down: true``), ``vcfleet serve`` (net checks every 2 s, on a port it picks) and
``prometheus`` (1 s scrapes, the shipped rules loaded).  Prometheus's HTTP API must
then hold one ``vcfleet_endpoint_ready`` series per room, the down room as 0.  The
exporter then reloads on SIGHUP and the removed room disappears from /metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import ROOT, require_tool
from tests.simulated import free_port, write_inventory

pytestmark = [pytest.mark.slow, pytest.mark.external, pytest.mark.timeout(150)]

ROOMS = ("cisco_ce", "poly", "cisco_ce", "yealink")
DOWN = "poly-2"
DEADLINE = 60.0
HTTP = aiohttp.ClientTimeout(total=10)
DASHBOARD = ROOT / "deploy" / "grafana" / "vcfleet-dashboard.json"


@contextlib.contextmanager
def spawned(args: list[str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess with stdout and stderr in ``log``; killed (and reaped) on exit."""
    with log.open("wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def text_of(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")


async def line_in(log: Path, pattern: str, proc: subprocess.Popen[bytes]) -> re.Match[str]:
    """Wait (with the deadline) for a line of ``log`` matching ``pattern``."""
    async with asyncio.timeout(DEADLINE):
        while True:
            found = re.search(pattern, text_of(log), re.MULTILINE)
            if found:
                return found
            assert proc.poll() is None, text_of(log)
            await asyncio.sleep(0.1)


async def query(session: aiohttp.ClientSession, base: str, promql: str) -> list[dict[str, object]]:
    async with session.get(f"{base}/api/v1/query", params={"query": promql}) as resp:
        body = await resp.json()
    assert body["status"] == "success", body
    result: list[dict[str, object]] = body["data"]["result"]
    return result


async def test_prometheus_scrapes_serve_sweeping_the_simulator(tmp_path: Path,
                                                                loopback_prefix: str) -> None:
    prometheus = require_tool("prometheus")
    inventory = write_inventory(tmp_path / "fleet", loopback_prefix, ROOMS)
    faults = tmp_path / "faults.yaml"
    faults.write_text(f"- select: id={DOWN}\n  down: true\n", encoding="utf-8")
    vcfleet = [sys.executable, "-m", "vcfleet"]
    with spawned([*vcfleet, "simulate", "--inventory", str(inventory), "--faults", str(faults),
                  "--state-dir", str(tmp_path / "state")], tmp_path / "simulate.log") as sim:
        await line_in(tmp_path / "simulate.log", r"^ready", sim)
        with spawned([*vcfleet, "serve", "--inventory", str(inventory), "--listen",
                      "127.0.0.1:0", "--interval", "2", "--checks", "net", "--no-history"],
                     tmp_path / "serve.log") as serve:
            found = await line_in(tmp_path / "serve.log", r"http://127\.0\.0\.1:(\d+)/metrics",
                                  serve)
            exporter = f"127.0.0.1:{found.group(1)}"
            await _prometheus_sees_the_fleet(prometheus, exporter, tmp_path)
            await _sighup_reloads(serve, inventory, exporter, loopback_prefix)


async def _prometheus_sees_the_fleet(prometheus: str, exporter: str, tmp_path: Path) -> None:
    port = free_port()
    rules = ROOT / "deploy" / "prometheus" / "vcfleet-rules.yml"
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s",
                   "evaluation_interval": "1s"},
        "rule_files": [str(rules)],
        "scrape_configs": [{"job_name": "vcfleet",
                            "static_configs": [{"targets": [exporter]}]}],
    }), encoding="utf-8")
    args = [prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}"]
    with spawned(args, tmp_path / "prometheus.log") as prom:
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(timeout=HTTP) as session, \
                asyncio.timeout(DEADLINE):
            while True:
                assert prom.poll() is None, text_of(tmp_path / "prometheus.log")
                with contextlib.suppress(aiohttp.ClientError):
                    ready = await query(session, base, "vcfleet_endpoint_ready")
                    if len(ready) == len(ROOMS):
                        break
                await asyncio.sleep(0.5)
            values = {str(r["metric"]["endpoint"]): float(r["value"][1])
                      for r in ready}
            assert values == {"cisco-ce-1": 1.0, DOWN: 0.0, "cisco-ce-3": 1.0,
                              "yealink-4": 1.0}
            # the shipped recording rules evaluate against the real series
            by_tier: list[dict[str, object]] = []
            while not by_tier:
                by_tier = await query(session, base, "vcfleet:endpoint_ready:ratio_by_tier")
                await asyncio.sleep(0.5)
            tiers = {str(r["metric"]["tier"]): float(r["value"][1])
                     for r in by_tier}
            assert tiers == {"province": 1.0, "commune": pytest.approx(2 / 3)}
            await _dashboard_queries_work(session, base)


async def _dashboard_queries_work(session: aiohttp.ClientSession, base: str) -> None:
    """Every query of the Grafana dashboard is valid PromQL, and the fleet panels have data."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    exprs += [re.sub(r"^label_values\((.*), \w+\)$", r"\1", v["query"]["query"])
              for v in dashboard["templating"]["list"] if v["type"] == "query"]
    with_data = 0
    for expr in exprs:
        promql = re.sub(r"\$\w+", ".*", expr)
        result = await query(session, base, promql)
        with_data += bool(result)
    # media figures need the webrtc check, which this test does not run
    assert with_data >= len(exprs) // 2, (with_data, len(exprs))


async def _sighup_reloads(serve: subprocess.Popen[bytes], inventory: Path, exporter: str,
                          prefix: str) -> None:
    write_inventory(inventory.parent, prefix, ROOMS[:3])  # yealink-4 leaves the fleet
    serve.send_signal(signal.SIGHUP)
    async with aiohttp.ClientSession(timeout=HTTP) as session, asyncio.timeout(DEADLINE):
        while True:
            async with session.get(f"http://{exporter}/metrics") as resp:
                text = await resp.text()
            if 'vcfleet_inventory_reloads_total{result="success"} 1.0' in text:
                break
            await asyncio.sleep(0.2)
    assert 'endpoint="yealink-4"' not in text
    assert 'vcfleet_endpoint_ready{endpoint="cisco-ce-1"}' in text
    # a scrape with real figures (icmp, sip, https) passes promtool's naming checks
    assert "vcfleet_sip_rtt_seconds{" in text
    proc = await asyncio.to_thread(subprocess.run, [require_tool("promtool"), "check", "metrics"],
                                   input=text, capture_output=True, text=True, timeout=30)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), proc
