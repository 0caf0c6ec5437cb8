"""``vcfleet serve``'s HTTP endpoints over real sockets, against real TCP listeners on loopback.

The exporter runs in-process on port 0; the fleet is two rooms whose profile runs
the ``tcp`` check: one with a listener (ready), one without (down).
"""

from __future__ import annotations

import asyncio
import gzip
import io
import subprocess
import zlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from probes import ProbeResult, Target, load_probe
from tests.conftest import require_tool
from vcfleet.exporter import Exporter, ExporterConfig
from vcfleet.sweep import SweepOptions

SSH_PORT = 2222
TIMEOUT = aiohttp.ClientTimeout(total=20)


def write_inventory(path: Path, prefix: str, count: int = 2, broken: bool = False) -> None:
    lines = [
        "version: 1",
        "province: Test",
        "tiers: [province, commune]",
        "profiles:",
        "  tcp-only: {checks: [tcp]}",
        "defaults:",
        f"  services: {{ssh: {{port: {SSH_PORT}}}}}",
        "  profile: tcp-only",
        "endpoints:",
    ]
    for i in range(1, count + 1):
        lines += [
            f"  - id: room-{i}",
            f'    name: "Điểm cầu {i}"',
            f"    tier: {'province' if i == 1 else 'commune'}",
            *([] if i == 1 else ["    parent: room-1", "    district: ha-trung"]),
            f"    address: {prefix}.{i}",
            "    vendor: cisco_ce",
        ]
    if broken:
        lines.append("    colour: blue")  # unknown key: a load error
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class Gate:
    """A tcp runner that waits until opened: lets a test see the exporter before its
    first sweep completes.  The check itself is the real tcp probe."""

    def __init__(self) -> None:
        self.open = asyncio.Event()
        self.spec = load_probe("tcp")

    async def __call__(self, target: Target, settings: object) -> ProbeResult:
        await self.open.wait()
        return await self.spec.probe(target, settings)


@pytest.fixture
async def listener(loopback_prefix: str) -> AsyncIterator[None]:
    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    server = await asyncio.start_server(accept, f"{loopback_prefix}.1", SSH_PORT)
    try:
        yield
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
async def exporter(tmp_path: Path, loopback_prefix: str,
                   listener: None) -> AsyncIterator[tuple[Exporter, Gate, Path]]:
    path = tmp_path / "fleet.yaml"
    write_inventory(path, loopback_prefix)
    gate = Gate()
    options = SweepOptions(source="serve", runners={"tcp": gate})
    ex = Exporter(ExporterConfig(inventory_path=path, port=0, interval_s=3600.0,
                                 options=options))
    await ex.start()
    try:
        yield ex, gate, path
    finally:
        gate.open.set()
        await ex.stop()


async def get(ex: Exporter, path: str, **kwargs: object) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, \
            session.get(f"http://127.0.0.1:{ex.port}{path}", **kwargs) as resp:
        return resp.status, await resp.text()


async def post(ex: Exporter, path: str) -> tuple[int, str]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, \
            session.post(f"http://127.0.0.1:{ex.port}{path}") as resp:
        return resp.status, await resp.text()


def samples(text: str, name: str) -> dict[str, float]:
    """Values of a metric's samples keyed by their endpoint label."""
    return {s.labels.get("endpoint", ""): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples
            if s.name == name}


async def until_ready(ex: Exporter) -> None:
    async with asyncio.timeout(15):
        while (await get(ex, "/-/ready"))[0] != 200:
            await asyncio.sleep(0.05)


async def test_ready_only_after_first_sweep(exporter: tuple[Exporter, Gate, Path]) -> None:
    ex, gate, _ = exporter
    assert (await get(ex, "/-/healthy"))[0] == 200
    assert (await get(ex, "/-/ready"))[0] == 503
    status, text = await get(ex, "/metrics")
    assert status == 200
    assert samples(text, "vcfleet_endpoint_ready") == {}
    assert set(samples(text, "vcfleet_endpoint_info")) == {"room-1", "room-2"}
    gate.open.set()
    await until_ready(ex)


async def test_metrics_after_sweep(exporter: tuple[Exporter, Gate, Path]) -> None:
    ex, gate, _ = exporter
    gate.open.set()
    await until_ready(ex)
    status, text = await get(ex, "/metrics")
    assert status == 200
    assert samples(text, "vcfleet_endpoint_ready") == {"room-1": 1.0, "room-2": 0.0}
    assert samples(text, "vcfleet_probe_success") == {"room-1": 1.0, "room-2": 0.0}
    assert samples(text, "vcfleet_tcp_connect_seconds").keys() == {"room-1"}
    assert samples(text, "vcfleet_sweeps_total") == {"": 1.0}
    assert "process_resident_memory_bytes" in text
    # what Prometheus asks for: one gzip stream, the fleet's part compressed once
    async with aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False) as session, \
            session.get(f"http://127.0.0.1:{ex.port}/metrics",
                        headers={"Accept-Encoding": "gzip"}) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        raw = await resp.read()
    with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
        unzipped = stream.read().decode()
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(raw).decode() == unzipped
    assert samples(unzipped, "vcfleet_endpoint_ready") == {"room-1": 1.0, "room-2": 0.0}
    assert "vcfleet_build_info" in unzipped


async def test_metrics_pass_promtool_check(exporter: tuple[Exporter, Gate, Path]) -> None:
    promtool = require_tool("promtool")
    ex, gate, _ = exporter
    gate.open.set()
    await until_ready(ex)
    status, text = await get(ex, "/metrics")
    assert status == 200
    proc = await asyncio.to_thread(subprocess.run, [promtool, "check", "metrics"],
                                   input=text, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "", proc.stdout
    assert proc.stderr.strip() == "", proc.stderr


async def test_probe_one_endpoint(exporter: tuple[Exporter, Gate, Path]) -> None:
    ex, gate, _ = exporter
    gate.open.set()
    headers = {"X-Prometheus-Scrape-Timeout-Seconds": "5"}
    status, text = await get(ex, "/probe?target=room-1&module=net", headers=headers)
    assert status == 200, text
    assert samples(text, "vcfleet_probe_module_success") == {"": 1.0}
    assert samples(text, "vcfleet_endpoint_ready") == {"room-1": 1.0}
    assert "room-2" not in text
    status, text = await get(ex, "/probe?target=room-2&module=tcp")
    assert status == 200, text
    assert samples(text, "vcfleet_probe_module_success") == {"": 0.0}
    assert samples(text, "vcfleet_probe_success") == {"room-2": 0.0}


@pytest.mark.parametrize(("query", "headers", "status"), [
    ("target=nowhere&module=net", {}, 404),
    ("target=http://169.254.169.254/&module=net", {}, 404),
    ("target=10.0.0.1&module=net", {}, 404),
    ("target=room-1&module=bogus", {}, 400),
    ("module=net", {}, 400),
    ("target=room-1&target=room-2", {}, 400),
    ("target=room-1&module=net&debug=true", {}, 400),
    ("target=room-1&module=sip", {}, 400),  # not in the room's profile
    ("target=room-1&module=net", {"X-Prometheus-Scrape-Timeout-Seconds": "soon"}, 400),
    ("target=room-1&module=net", {"X-Prometheus-Scrape-Timeout-Seconds": "-1"}, 400),
    ("target=room-1&module=net", {"X-Prometheus-Scrape-Timeout-Seconds": "nan"}, 400),
])
async def test_probe_rejects(exporter: tuple[Exporter, Gate, Path], query: str,
                             headers: dict[str, str], status: int) -> None:
    ex, gate, _ = exporter
    gate.open.set()
    got, text = await get(ex, f"/probe?{query}", headers=headers)
    assert got == status, text
    _, metrics = await get(ex, "/metrics")
    assert f'code="{status}"' in metrics


async def test_reload_good_and_bad_file(exporter: tuple[Exporter, Gate, Path],
                                        loopback_prefix: str) -> None:
    ex, gate, path = exporter
    gate.open.set()
    await until_ready(ex)
    write_inventory(path, loopback_prefix, count=1)
    status, text = await post(ex, "/-/reload")
    assert status == 200, text
    _, metrics = await get(ex, "/metrics")
    assert samples(metrics, "vcfleet_endpoint_ready") == {"room-1": 1.0}  # room-2 is gone
    assert samples(metrics, "vcfleet_inventory_reload_success") == {"": 1.0}
    assert (await get(ex, "/probe?target=room-2&module=tcp"))[0] == 404

    write_inventory(path, loopback_prefix, count=3, broken=True)
    status, text = await post(ex, "/-/reload")
    assert status == 400
    assert "fleet.yaml:" in text  # PATH:LINE:COL of the problem
    _, metrics = await get(ex, "/metrics")
    assert samples(metrics, "vcfleet_inventory_reload_success") == {"": 0.0}
    assert set(samples(metrics, "vcfleet_endpoint_info")) == {"room-1"}  # old one kept
    assert 'vcfleet_inventory_reloads_total{result="failure"} 1.0' in metrics
    assert 'vcfleet_inventory_reloads_total{result="success"} 1.0' in metrics


async def test_sweeps_are_recorded_in_the_history(tmp_path: Path, loopback_prefix: str,
                                                  listener: None) -> None:
    from vcfleet.history import History

    path = tmp_path / "fleet.yaml"
    write_inventory(path, loopback_prefix)
    with History(tmp_path / "history.sqlite3") as history:
        ex = Exporter(ExporterConfig(inventory_path=path, port=0, interval_s=3600.0,
                                     options=SweepOptions(source="serve")),
                      on_report=history.record)
        await ex.start()
        try:
            await until_ready(ex)
            async with asyncio.timeout(10):
                while not history.sweeps():
                    await asyncio.sleep(0.05)
        finally:
            await ex.stop()
        [sweep] = history.sweeps()
    assert (sweep.source, sweep.total, sweep.ready, sweep.down) == ("serve", 2, 1, 1)
