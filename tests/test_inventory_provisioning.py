"""The inventory's ``provisioning:`` section, the per-device password rule and the demo
fleet's provisioning files (broken sections are in tests/data/invalid-provisioning*)."""

from __future__ import annotations

import hashlib
import hmac
import ssl
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from inventory import load_inventory, parse_inventory
from inventory.provisioning import device_password, file_path, listen_address
from inventory.secrets import resolve_secret
from inventory.vendors import SETTINGS, native_value, neutral_value, settable

SECTION = """\
provisioning:
  listen: "[::1]:8446"
  url: https://prov.example:8446/yealink/
  certificate: /etc/vcfleet/prov-cert.pem
  key: prov-key.pem
  secret: "env:VCFLEET_PROV_SECRET"
endpoints:
  - {id: hub, name: UBND tỉnh, tier: province, address: 10.0.0.1, vendor: yealink}
"""


def test_device_password_is_the_first_32_hex_of_the_hmac() -> None:
    expected = hmac.new(b"s3cret", b"ha-son", hashlib.sha256).hexdigest()[:32]
    assert device_password("s3cret", "ha-son") == expected
    assert len(expected) == 32
    assert device_password("s3cret", "nga-an") != expected
    assert device_password("other", "ha-son") != expected


def test_section_loads_and_paths_resolve_from_the_inventory_folder(tmp_path: Path) -> None:
    inv = parse_inventory(SECTION, "inv.yaml", path=tmp_path / "inv.yaml")
    prov = inv.provisioning
    assert prov is not None
    assert listen_address(prov) == ("::1", 8446)
    assert file_path(prov, "key", inv.base_dir()) == tmp_path / "prov-key.pem"
    assert file_path(prov, "certificate", inv.base_dir()) == Path("/etc/vcfleet/prov-cert.pem")


def test_section_is_optional() -> None:
    inv = parse_inventory("endpoints:" + SECTION.split("endpoints:")[1], "inv.yaml")
    assert inv.provisioning is None


def test_demo_fleet_has_the_section_and_its_files(demo_inventory_path: Path) -> None:
    inv = load_inventory(demo_inventory_path)
    prov = inv.provisioning
    assert prov is not None
    assert prov.url == "https://127.0.0.1:8446/yealink/"
    secret = resolve_secret(prov.secret, inv.base_dir())
    assert secret
    cert_file = file_path(prov, "certificate", inv.base_dir())
    key_file = file_path(prov, "key", inv.base_dir())
    cert = x509.load_pem_x509_certificate(cert_file.read_bytes())
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()  # type: ignore[union-attr]
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    assert [str(a) for a in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert_file, key_file)
    client = ssl.create_default_context(cafile=str(cert_file))
    assert client.verify_mode == ssl.CERT_REQUIRED


def test_yealink_natives_and_booleans() -> None:
    assert {"sip.proxy", "sip.display_name", "ntp.server", "conference.auto_answer"} <= set(
        settable("yealink"))
    proxy = SETTINGS["sip.proxy"]
    assert proxy.native["yealink"] == "account.1.sip_server.1.address"
    auto = SETTINGS["conference.auto_answer"]
    assert native_value("yealink", auto, True) == "1"
    assert native_value("yealink", auto, "false") == "0"
    assert neutral_value("yealink", auto, "1") is True
    assert neutral_value("yealink", auto, "0") is False
