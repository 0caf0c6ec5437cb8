"""``vcfleet push`` on part of the shipped demo fleet, with the shipped example template.

The demo fleet's own 127.10/127.20 addresses are moved to this test's random
block (``loopback_prefix``) so that a simulator someone else runs on the demo
fleet never collides with the test; names, vendors, tiers, districts and the
credentials file are the demo fleet's.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from inventory import Inventory, load_inventory
from inventory.demofleet import DEMO_FILES
from tests.simulated import free_port
from tests.test_push_sim import Served, summary
from vcfleet.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "push-meeting-defaults.yaml"
DISTRICT = "ha-trung"


def demo_copy(folder: Path, prefix: str) -> Path:
    demo = ROOT / "inventory" / "demo"
    folder.mkdir(parents=True, exist_ok=True)
    for name in DEMO_FILES:
        shutil.copy(demo / name, folder / name)
    first = int(prefix.split(".")[1])
    blocks = {"10": str(first), "20": str(first + 1)}
    text = re.sub(r"\b127\.(10|20)\.(\d+)\.(\d+)\b",
                  lambda m: f"127.{blocks[m.group(1)]}.{m.group(2)}.{m.group(3)}",
                  (demo / "thanh-hoa.yaml").read_text(encoding="utf-8"))
    # the provisioning server's port: one of this test's, not the demo's 8446
    text = text.replace("127.0.0.1:8446", f"127.0.0.1:{free_port()}")
    path = folder / "thanh-hoa.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def district(tmp_path: Path, loopback_prefix: str) -> Iterator[tuple[Path, Served]]:
    import random

    from simulator import SimulatorError

    for attempt in range(3):
        path = demo_copy(tmp_path / "fleet", loopback_prefix)
        whole = load_inventory(path)
        part = Inventory(endpoints=tuple(whole.select(f"district={DISTRICT}")),
                         tiers=whole.tiers, profiles=whole.profiles, province=whole.province,
                         provisioning=whole.provisioning, path=path)
        served = Served(part, "", tmp_path / "state")
        try:
            served.__enter__()
        except SimulatorError:  # another test holds an address of this block: move
            served.close_loop()
            if attempt == 2:
                raise
            loopback_prefix = f"127.{random.randint(100, 249)}.0"
            continue
        try:
            yield path, served
        finally:
            served.__exit__(None, None, None)
        return


def test_example_template_on_one_demo_district(district: tuple[Path, Served], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("simulator.yealink", reason="needs the simulated Yealink rooms")
    path, served = district
    endpoints = served.inventory.endpoints
    pushable = list(endpoints)  # Yealink rooms too, through the provisioning server
    assert any(e.vendor == "yealink" for e in endpoints)
    args = ["push", str(EXAMPLE), "--inventory", str(path), "--select", f"district={DISTRICT}",
            "--known-hosts", str(served.sim.known_hosts), "--audit-log",
            str(tmp_path / "audit.jsonl"), "--provisioning-store", str(tmp_path / "store"),
            "--provisioning-audit-log", str(tmp_path / "provisioning-audit.jsonl")]
    assert main([*args, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert summary(out)["would change (dry run)"] == len(pushable)
    assert all(served.config(e.id).get("SIP Proxy 1 Address", "") != "sip2.thanhhoa.gov.vn"
               for e in pushable)
    assert all(served.config(e.id).get("account.1.sip_server.1.address", "")
               != "sip2.thanhhoa.gov.vn" for e in pushable)

    assert main([*args, "--canary", "2"]) == 0
    out = capsys.readouterr().out
    assert summary(out)["changed"] == len(pushable)
    assert summary(out).get("skipped", 0) == 0
    for e in pushable:
        config = served.config(e.id)
        if e.vendor == "yealink":
            assert config["account.1.sip_server.1.address"] == "sip2.thanhhoa.gov.vn"
            assert config["account.1.display_name"] == e.name
            assert config["account.1.auto_answer.mute"] == "1"
        elif e.vendor == "cisco_ce":
            assert config["SIP Proxy 1 Address"] == "sip2.thanhhoa.gov.vn"
            assert config["SIP DisplayName"] == e.name
            assert config["Conference AutoAnswer Delay"] == "2"
        else:
            assert config["sipproxyserver"] == "sip2.thanhhoa.gov.vn"
            assert config["muteautoanswer"] == "yes"
            assert config["maxcallrate"] == "2048"

    assert main(args) == 0
    assert summary(capsys.readouterr().out)["unchanged"] == len(pushable)
