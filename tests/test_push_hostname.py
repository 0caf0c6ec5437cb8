"""Push and backup to an endpoint whose inventory address is a host name (``localhost``).

Issue 14, finding 1: asyncssh's known_hosts matching was handed the name as if it
were an address and the whole push ended in ``internal error: ExceptionGroup``
after one room had already been changed.  Host key checking now matches the name
as written (like OpenSSH) and the peer's address, and every per-endpoint failure
stays in that endpoint's result, so the final table is always printed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from inventory import load_inventory
from tests.simulated import free_port
from tests.test_push_sim import PASSWORD, TEMPLATE, Served
from vcfleet.cli import main


def write_fleet(folder: Path, prefix: str, port: int) -> Path:
    """One Cisco endpoint at ``localhost`` and one at PREFIX.1 (both simulated)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "secret.txt").write_text(PASSWORD + "\n", encoding="utf-8")
    text = f"""\
tiers: [province, commune]
defaults:
  credentials: {{username: admin, secret: "file:secret.txt"}}
endpoints:
  - id: cisco-local
    name: Sở Nội vụ
    tier: commune
    district: dong-a
    address: localhost
    vendor: cisco_ce
    services: {{ssh: {{port: {port}}}}}
  - id: cisco-other
    name: UBND xã Yên Thọ
    tier: commune
    district: dong-a
    address: {prefix}.1
    vendor: cisco_ce
    services: {{ssh: {{port: {port}}}}}
"""
    path = folder / "inventory.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def served(tmp_path: Path, loopback_prefix: str) -> Iterator[tuple[Served, Path]]:
    inventory = write_fleet(tmp_path / "fleet", loopback_prefix, free_port())
    with Served(load_inventory(inventory), "", tmp_path / "state") as s:
        yield s, inventory


def common(served: Served, inventory: Path) -> list[str]:
    return ["--inventory", str(inventory), "--known-hosts", str(served.sim.known_hosts),
            "--connect-timeout", "3", "--command-timeout", "3"]


def test_push_to_a_host_name_verifies_its_key_and_changes_it(
        served: tuple[Served, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim, inventory = served
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    code = main(["push", str(template), *common(sim, inventory),
                 "--audit-log", str(tmp_path / "audit.jsonl")])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert code == 0, out + err
    assert re.search(r"^cisco-local\s+changed\s", out, re.M), out
    assert sim.config("cisco-local")["NetworkServices NTP Server 1 Address"] == \
        "ntp2.thanhhoa.gov.vn"


def test_backup_of_a_host_name(served: tuple[Served, Path], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    sim, inventory = served
    code = main(["backup", "-o", str(tmp_path / "out"), *common(sim, inventory)])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert code == 0, out + err
    assert (tmp_path / "out" / "cisco-local.cfg").exists()


def test_an_unknown_key_for_a_host_name_is_refused_in_its_row(
        served: tuple[Served, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sim, inventory = served
    known = tmp_path / "known_hosts"
    lines = sim.sim.known_hosts.read_text(encoding="utf-8").splitlines()
    known.write_text("".join(ln + "\n" for ln in lines if "localhost" not in ln), "utf-8")
    template = tmp_path / "template.yaml"
    template.write_text(TEMPLATE, encoding="utf-8")
    code = main(["push", str(template), "--inventory", str(inventory), "--known-hosts",
                 str(known), "--connect-timeout", "3", "--audit-log",
                 str(tmp_path / "audit.jsonl")])
    out, err = capsys.readouterr()
    assert "internal error" not in err
    assert code == 1
    port = load_inventory(inventory).get("cisco-local").services.ssh.port  # type: ignore[union-attr]
    assert f"unknown host key for [localhost]:{port}" in out
    # The other endpoint was still pushed, and the table reports both.
    assert re.search(r"^cisco-other\s+changed\s", out, re.M), out
    assert re.search(r"^cisco-local\s+unreachable\s", out, re.M), out


def hashed(host: str) -> str:
    """A host pattern hashed as OpenSSH's ``HashKnownHosts yes`` writes it."""
    import base64
    import hashlib
    import hmac

    salt = bytes(range(20))
    digest = hmac.new(salt, host.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@pytest.mark.parametrize("pattern", ["[localhost]:2222", "hashed"])
def test_a_name_matches_plain_and_hashed_entries(tmp_path: Path, pattern: str) -> None:
    import asyncssh

    from vcfleet.push.hostkeys import KnownHosts

    key = asyncssh.generate_private_key("ssh-ed25519")
    line = hashed("[localhost]:2222") if pattern == "hashed" else pattern
    path = tmp_path / "known_hosts"
    path.write_text(f"{line} {key.export_public_key().decode().strip()}\n", encoding="utf-8")
    known = KnownHosts(path)
    assert [k.public_data for k in known.trusted("localhost", 2222)] == [key.public_data]
    assert known.trusted("otherhost", 2222) == []


def test_an_address_entry_matches_the_peer_address_of_a_name(tmp_path: Path) -> None:
    import asyncssh

    from vcfleet.push.hostkeys import KnownHosts

    key = asyncssh.generate_private_key("ssh-ed25519")
    path = tmp_path / "known_hosts"
    path.write_text(f"[127.0.0.1]:2222 {key.export_public_key().decode().strip()}\n",
                    encoding="utf-8")
    known = KnownHosts(path)
    assert known.trusted("localhost", 2222) == []  # the name alone: not listed
    assert [k.public_data for k in known.trusted("localhost", 2222, "127.0.0.1")] == \
        [key.public_data]
