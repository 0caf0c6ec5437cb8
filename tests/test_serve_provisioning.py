"""``vcfleet serve``'s provisioning server follows inventory reloads: a Yealink room added
to the inventory fetches its file after ``POST /-/reload`` (no restart), a removed one
is refused.  Against the real command; the devices' side is an HTTPS client that logs in
as a device does (HTTP Basic, the per-device password, the pinned certificate)."""

from __future__ import annotations

import ssl
import sys
from pathlib import Path

import aiohttp

from inventory.provisioning import device_password
from tests.simulated import DEMO_DIR, free_port, provisioning_head
from tests.test_serve_prometheus import line_in, spawned
from vcfleet.provisioning import cfgfile
from vcfleet.provisioning.server import basic
from vcfleet.provisioning.store import ProvisioningStore

SECRET = "Provisioning-reload-Secret-3"
MAC = "805ec0aabbcc"


def write_inventory(folder: Path, prefix: str, port: int, rooms: list[str]) -> Path:
    """Yealink rooms ``rooms`` at PREFIX.1.. with a provisioning section on ``port``."""
    lines = provisioning_head(folder, port, "Device-Login-1", SECRET)
    for i, room in enumerate(rooms, start=1):
        lines.append(f"  - {{id: {room}, name: 'Điểm cầu {i}', tier: commune, "
                     f"address: {prefix}.{i}, vendor: yealink, "
                     "services: {sip: {port: 5060}, https: {port: 8443}}}")
    path = folder / "inventory.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


async def fetch(http: aiohttp.ClientSession, port: int, room: str) -> tuple[int, str]:
    """What the provisioning server answers ``room`` for its MAC file."""
    tls = ssl.create_default_context(cafile=str(DEMO_DIR / "prov-cert.pem"))
    tls.check_hostname = False
    auth = {"Authorization": basic(room, device_password(SECRET, room))}
    async with http.get(f"https://127.0.0.1:{port}/yealink/{MAC}.cfg", headers=auth,
                        ssl=tls) as resp:
        return resp.status, await resp.text()


async def test_a_reload_updates_the_rooms_the_provisioning_server_knows(
        tmp_path: Path, loopback_prefix: str) -> None:
    port, serve_port = free_port(), free_port()
    inventory = write_inventory(tmp_path / "fleet", loopback_prefix, port, ["yl-1"])
    store = ProvisioningStore(tmp_path / "store")
    files = {room: cfgfile.render({"local_time.ntp_server1": f"ntp.{room}.example"})
             for room in ("yl-1", "yl-2")}
    for room, text in files.items():
        store.write(room, text)
    known = tmp_path / "known_hosts"
    known.write_text("", encoding="utf-8")
    log = tmp_path / "serve.log"
    with spawned([sys.executable, "-m", "vcfleet", "-v", "serve", "--inventory", str(inventory),
                  "--listen", f"127.0.0.1:{serve_port}", "--interval", "0", "--no-history",
                  "--known-hosts", str(known), "--provisioning-store", str(store.root),
                  "--provisioning-audit-log", str(tmp_path / "prov-audit.jsonl")],
                 log) as serve:
        await line_in(log, r"^provisioning: serving", serve)
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            assert await fetch(http, port, "yl-1") == (200, files["yl-1"])
            assert (await fetch(http, port, "yl-2"))[0] == 401  # not in the inventory yet

            write_inventory(tmp_path / "fleet", loopback_prefix, port, ["yl-2"])
            async with http.post(f"http://127.0.0.1:{serve_port}/-/reload") as resp:
                assert resp.status == 200, await resp.text()
            assert await fetch(http, port, "yl-2") == (200, files["yl-2"])
            assert (await fetch(http, port, "yl-1"))[0] == 401  # removed: refused
        await line_in(log, r"provisioning: 1 rooms after the reload \(1 added, 1 removed\)",
                      serve)
