"""Exporter benchmark: ``/metrics`` render time and exporter RSS for 348 and 10,000 rooms.

    python bench/bench_exporter.py [--sizes 348,10000] [--repeat 20]

Each size runs in a fresh child process (so RSS is the exporter's alone): it builds
an inventory of N rooms (the demo fleet for 348), a realistic sweep report (icmp, sip,
https and webrtc checks with every figure the probes report, a mix of verdicts),
starts the real ``Exporter`` on a loopback port and times the render of a new
report (what the first scrape after a sweep costs; the exporter does it right after
the sweep) and ``GET /metrics`` over HTTP (later scrapes: the fleet's text is kept
until the next report, the exporter's own series are collected afresh).
Targets for 348 rooms: under 50 ms, under 150 MB.
Prints figures; never fails a test run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from inventory import DEMO_INVENTORY, Endpoint, Inventory, load_inventory  # noqa: E402
from probes.base import ProbeResult  # noqa: E402
from vcfleet.report import CheckReport, EndpointReport, SweepReport, judge  # noqa: E402


def fleet(size: int) -> Inventory:
    """The demo fleet for 348, else N synthetic communes spread over 27 districts."""
    demo = load_inventory(DEMO_INVENTORY)
    if size == len(demo):
        return demo
    rooms = [Endpoint.model_validate({
        "id": f"xa-{i:05d}", "name": f"UBND xã số {i}", "tier": "commune",
        "district": f"huyen-{i % 27:02d}", "parent": "ubnd-tinh",
        "address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
        "vendor": ("cisco_ce", "poly", "yealink")[i % 3], "model": "Room Kit",
        "tags": ["commune"]}) for i in range(size)]
    return Inventory(endpoints=tuple(rooms))


def checks_of(rng: random.Random) -> dict[str, CheckReport]:
    """Every check with every figure the probes report; 3 % of rooms down, some degraded."""
    def ms(lo: float, hi: float) -> float:
        return round(rng.uniform(lo, hi), 3)

    down = rng.random() < 0.03
    icmp = ProbeResult(ok=True, figures={"rtt_ms": ms(1, 40), "rtt_min_ms": ms(1, 5),
                                         "rtt_max_ms": ms(40, 90), "jitter_ms": ms(0, 5),
                                         "loss_ratio": 0.0})
    sip = (ProbeResult.failure("SIP port 5060/udp closed") if down
           else ProbeResult(ok=True, figures={"rtt_ms": ms(2, 300)}))
    https = ProbeResult(ok=True, figures={"connect_ms": ms(1, 9), "tls_ms": ms(5, 30),
                                          "http_ms": ms(5, 60), "cert_expiry_days": 300.5})
    webrtc = ProbeResult(ok=True, figures={
        "setup_ms": ms(100, 900), "signalling_ms": ms(10, 90), "ice_ms": ms(10, 200),
        "dtls_ms": ms(20, 90), "rtt_ms": ms(5, 300), "mos": round(rng.uniform(3.0, 4.4), 3)},
        directions={d: {"jitter_ms": ms(0, 40), "loss_ratio": round(rng.uniform(0, 0.05), 4),
                        "bitrate_bps": 32000.0} for d in ("up", "down")})
    results = {"icmp": icmp, "sip": sip, "https": https}
    if not down:
        results["webrtc"] = webrtc
    return {name: CheckReport(name, r, name in ("sip", "webrtc"), ms(0, 3000) / 1000)
            for name, r in results.items()}


def report_of(inv: Inventory) -> SweepReport:
    rng = random.Random(348)
    reports: list[EndpointReport] = [judge(e, checks_of(rng)) for e in inv.endpoints]
    return SweepReport(endpoints=tuple(reports), started_at=time.time() - 30, duration_s=28.0,
                       source="serve")


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure(size: int, repeat: int) -> dict[str, float]:
    import aiohttp

    from vcfleet.exporter import Exporter, ExporterConfig

    inv = fleet(size)
    ex = Exporter(ExporterConfig(inventory_path=inv.path or DEMO_INVENTORY, port=0,
                                 interval_s=0))
    ex.state.inventory, ex.state.endpoints = inv, inv.endpoints
    ex.state.report = report_of(inv)
    await ex.start()
    try:
        render, render_cpu, render_gz, http = [], [], [], []
        body = b""
        for _ in range(repeat):
            ex._fleet_text = None  # a new report: the fleet's text is rendered afresh
            t0, c0 = time.perf_counter(), time.process_time()
            body = ex.render()
            render.append(time.perf_counter() - t0)
            render_cpu.append(time.process_time() - c0)
            ex._fleet_text = None
            t0 = time.perf_counter()
            ex.render_gzip()  # what the exporter does right after each sweep
            render_gz.append(time.perf_counter() - t0)
        gzipped: list[float] = []
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout, auto_decompress=False) as session:
            for times, encoding in ((http, "identity"), (gzipped, "gzip")):
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{ex.port}/metrics",
                                           headers={"Accept-Encoding": encoding}) as resp:
                        await resp.read()
                    times.append(time.perf_counter() - t0)
        return {"endpoints": size, "samples": body.count(b"\n") - body.count(b"\n#"),
                "bytes": len(body), "render_ms": statistics.median(render) * 1000,
                "render_gz_ms": statistics.median(render_gz) * 1000,
                "render_cpu_ms": min(render_cpu) * 1000,
                "http_ms": statistics.median(http) * 1000,
                "gzip_ms": statistics.median(gzipped) * 1000, "rss_mb": rss_mb()}
    finally:
        await ex.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="348,10000")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(measure(args.child, args.repeat))))
        return
    print(f"{'rooms':>7} {'samples':>8} {'size':>9} {'new report':>10} {'(CPU)':>9} "
          f"{'(+gzip)':>10} {'GET /metrics':>13} {'(gzip)':>9} {'RSS':>7}")
    for size in (int(s) for s in args.sizes.split(",")):
        out = subprocess.run([sys.executable, __file__, "--child", str(size), "--repeat",
                              str(args.repeat)], capture_output=True, text=True, timeout=900,
                             check=True)
        r = json.loads(out.stdout)
        print(f"{r['endpoints']:>7} {r['samples']:>8} {r['bytes'] / 1e6:>7.2f}MB "
              f"{r['render_ms']:>8.1f}ms {r['render_cpu_ms']:>7.1f}ms {r['render_gz_ms']:>8.1f}ms "
              f"{r['http_ms']:>11.1f}ms {r['gzip_ms']:>7.1f}ms "
              f"{r['rss_mb']:>5.0f}MB")
    print("new report: wall-clock median (CPU: least CPU time, steadier on a shared machine)")
    print("targets for 348 rooms: render < 50 ms, RSS < 150 MB (2 shared cores: noisy)")


if __name__ == "__main__":
    main()
