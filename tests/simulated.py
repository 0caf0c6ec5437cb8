"""Small simulated fleets for tests (anyone's): write an inventory, serve it, tear it down.

    async with simulated_fleet(tmp_path, loopback_prefix) as (sim, inv):
        ...

builds ``cisco``, ``poly`` and ``yealink`` endpoints at ``PREFIX.1``, ``.2``, ``.3``
(more with ``vendors=``), SSH password ``PASSWORD`` via ``file:secret.txt``, and
serves them in-process with a state directory under ``tmp_path``.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncssh

from inventory import Inventory, load_inventory
from probes.shaping import Shaper
from probes.webrtc_responder import Responder
from simulator.core import Simulator
from simulator.faults import Faults

PASSWORD = "simulated-Secret-1"
TOKEN = "simulated-token-1"
PORTS = {"sip": 5060, "ssh": 2222, "https": 8443, "webrtc": 8089}


def write_inventory(folder: Path, prefix: str, vendors: Sequence[str] = ("cisco_ce", "poly",
                                                                         "yealink"),
                    ports: dict[str, int] | None = None) -> Path:
    """An inventory file with one endpoint per vendor listed, at ``prefix.1``, ``prefix.2``..."""
    p = {**PORTS, **(ports or {})}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    (folder / "token.txt").write_text(TOKEN + "\n", encoding="utf-8")
    models = {"cisco_ce": "Room Kit Pro", "poly": "G7500", "yealink": "MVC860"}
    lines = [
        "version: 1",
        "province: Test",
        "tiers: [province, commune]",
        "defaults:",
        '  credentials: {username: admin, secret: "file:secret.txt"}',
        "  services:",
        f"    sip: {{port: {p['sip']}}}",
        f"    https: {{port: {p['https']}}}",
        f'    webrtc: {{port: {p["webrtc"]}, token: "file:token.txt"}}',
        "endpoints:",
    ]
    for i, vendor in enumerate(vendors, start=1):
        ident = f"{vendor.replace('_', '-')}-{i}"
        lines += [
            f"  - id: {ident}",
            f'    name: "Điểm cầu {i} ({vendor})"',
            f"    tier: {'province' if i == 1 else 'commune'}",
            *([] if i == 1 else [f"    parent: {vendor_id(vendors, 1)}"]),
            f"    address: {prefix}.{i}",
            f"    vendor: {vendor}",
            f'    model: "{models.get(vendor, "")}"',
            f"    tags: [{vendor.replace('_', '-')}]",
        ]
        if vendor != "yealink":
            lines.append(f"    services: {{ssh: {{port: {p['ssh']}}}}}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def vendor_id(vendors: Sequence[str], i: int) -> str:
    """The id ``write_inventory`` gives endpoint number ``i`` (1-based)."""
    return f"{vendors[i - 1].replace('_', '-')}-{i}"


@asynccontextmanager
async def simulated_fleet(tmp_path: Path, prefix: str, faults: Faults | None = None,
                          vendors: Sequence[str] = ("cisco_ce", "poly", "yealink"),
                          workers: int = 0, reboot_s: float = 0.3, seed: int | None = None,
                          ) -> AsyncIterator[tuple[Simulator, Inventory]]:
    """Serve a small fleet for the duration of the block (``seed``: of the faults' random
    losses and delays; a randomised test passes its ``seed`` fixture)."""
    inv = load_inventory(write_inventory(tmp_path / "fleet", prefix, vendors))
    sim = Simulator(inv, faults, tmp_path / "state", workers=workers, reboot_s=reboot_s,
                    seed=seed)
    async with sim:
        yield sim, inv


def options_request(host: str, port: int, call_id: str, transport: str = "UDP",
                    local: tuple[str, int] = ("127.0.0.1", 5999), method: str = "OPTIONS",
                    ) -> bytes:
    """A minimal RFC 3261 request (``rport`` asked for in the Via)."""
    return (f"{method} sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/{transport} {local[0]}:{local[1]};branch=z9hG4bK{call_id};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:probe@{local[0]}>;tag=t{call_id}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {call_id}\r\n"
            f"CSeq: 1 {method}\r\n"
            "Content-Length: 0\r\n\r\n").encode()


def parse_response(data: bytes) -> tuple[int, dict[str, list[str]]]:
    """(status code, header name (lower case) -> values) of a SIP response."""
    head = data.decode().split("\r\n\r\n", 1)[0].split("\r\n")
    code = int(head[0].split(" ", 2)[1])
    headers: dict[str, list[str]] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return code, headers


async def read_until(process: asyncssh.SSHClientProcess[str], marker: str,
                     deadline_s: float = 10.0) -> str:
    """What an SSH session prints until ``marker`` (within ``deadline_s``); fails if the
    session closes first."""
    out = ""
    async with asyncio.timeout(deadline_s):
        while marker not in out:
            chunk = await process.stdout.read(4096)
            assert chunk, f"session closed; got {out!r}"
            out += chunk
    return out


def free_port() -> int:
    """A TCP port of 127.0.0.1 nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DEMO_DIR = Path(__file__).resolve().parent.parent / "inventory" / "demo"


def provisioning_head(folder: Path, port: int, device_secret: str,
                      provisioning_secret: str) -> list[str]:
    """The first lines of an inventory whose Yealink rooms provision from 127.0.0.1:``port``
    (the demo's certificate and key, both secrets as files in ``folder``), up to and
    including ``endpoints:``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(device_secret + "\n", encoding="utf-8")
    (folder / "prov-secret.txt").write_text(provisioning_secret + "\n", encoding="utf-8")
    for name in ("prov-cert.pem", "prov-key.pem"):
        shutil.copy(DEMO_DIR / name, folder / name)
    return ["tiers: [province, commune]",
            "provisioning:",
            f"  listen: 127.0.0.1:{port}",
            f"  url: https://127.0.0.1:{port}/yealink/",
            "  certificate: prov-cert.pem",
            "  key: prov-key.pem",
            '  secret: "file:prov-secret.txt"',
            "defaults:",
            '  credentials: {username: admin, secret: "file:secret.txt"}',
            "endpoints:"]


class LoopStaller(Shaper):
    """A responder's shaper that blocks its event loop for ``stall_s`` after every
    ``every``-th datagram it reads for which ``matches(data)`` holds.

    The stall is scheduled with ``call_soon``, so it runs before aiortc's DTLS task gets
    the datagram (it is queued first): time the datagram spent inside the responder.
    In a test that runs probe and responder on one loop, both ends stall.
    """

    def __init__(self, matches: Callable[[Any], bool], stall_s: float, *, every: int = 1,
                 seed: int = 7) -> None:
        super().__init__(rng=random.Random(seed))
        self.matches = matches
        self.stall_s = stall_s
        self.every = every
        self.matched = 0
        self.stalls = 0

    def receive(self, deliver: Callable[..., Any], data: Any, addr: Any) -> None:
        if self.matches(data):
            self.matched += 1
            if self.matched % self.every == 0:
                self.stalls += 1
                asyncio.get_running_loop().call_soon(time.sleep, self.stall_s)
        super().receive(deliver, data, addr)


@asynccontextmanager
async def running_responder(host: str, shaper: Shaper, token: str) -> AsyncIterator[Responder]:
    """An echo responder on ``host`` (a free port) whose media sockets ``shaper`` shapes."""
    responder = Responder(token=token, shaper=shaper)
    await responder.start(host, 0)
    try:
        yield responder
    finally:
        await responder.stop()
