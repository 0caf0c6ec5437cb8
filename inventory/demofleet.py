"""The shipped demo fleet: Thanh Hóa province's conference rooms, as its 2021 plan lays out.

``python -m inventory.demofleet`` rewrites ``inventory/demo/thanh-hoa.yaml``;
``tests/test_inventory_demo.py`` checks that the shipped file is what this module
generates.  Composition (docs/demo-fleet.md): 1 provincial hub, 30 departments
and agencies, 27 district-level units, 290 commune-level units = 348 rooms.

Unit names are real; contacts and phone numbers are invented.  Addresses lie in
127.0.0.0/8 so that ``vcfleet simulate`` can serve every room on one machine.

The demo's provisioning server (for its Yealink rooms) uses ``prov-cert.pem``,
``prov-key.pem`` and ``prov-secret.txt`` beside the inventory: demo-only, published with
the code like ``demo-secret.txt``; ``main`` makes the certificate once, when it is missing.
"""

from __future__ import annotations

import datetime
import ipaddress
import sys
from pathlib import Path

from inventory.selectors import fold

DEPARTMENTS = [
    "Văn phòng UBND tỉnh", "Văn phòng Tỉnh ủy", "Văn phòng Đoàn ĐBQH và HĐND tỉnh",
    "Sở Nội vụ", "Sở Tư pháp", "Sở Kế hoạch và Đầu tư", "Sở Tài chính", "Sở Công Thương",
    "Sở Nông nghiệp và Phát triển nông thôn", "Sở Giao thông vận tải", "Sở Xây dựng",
    "Sở Tài nguyên và Môi trường", "Sở Thông tin và Truyền thông",
    "Sở Lao động - Thương binh và Xã hội", "Sở Văn hóa, Thể thao và Du lịch",
    "Sở Khoa học và Công nghệ", "Sở Giáo dục và Đào tạo", "Sở Y tế", "Sở Ngoại vụ",
    "Thanh tra tỉnh", "Ban Dân tộc tỉnh", "Ban Quản lý Khu kinh tế Nghi Sơn và các KCN",
    "Công an tỉnh", "Bộ Chỉ huy Quân sự tỉnh", "Bộ Chỉ huy Bộ đội Biên phòng tỉnh",
    "Đài Phát thanh và Truyền hình tỉnh", "Trung tâm Phục vụ hành chính công tỉnh",
    "Ủy ban MTTQ Việt Nam tỉnh", "Bảo hiểm xã hội tỉnh", "Cục Thuế tỉnh",
]

# (slug, name of the district-level unit, [(kind, commune-level unit), ...])
P, X, T = "phường", "xã", "thị trấn"
DISTRICTS: list[tuple[str, str, list[tuple[str, str]]]] = [
    ("tp-thanh-hoa", "Thành phố Thanh Hóa", [
        (P, "Ba Đình"), (P, "Điện Biên"), (P, "Lam Sơn"), (P, "Hàm Rồng"), (P, "Đông Thọ"),
        (P, "Trường Thi"), (P, "Đông Vệ"), (P, "Quảng Thắng"), (P, "Tào Xuyên"),
        (X, "Thiệu Khánh"), (X, "Hoằng Quang")]),
    ("tp-sam-son", "Thành phố Sầm Sơn", [
        (P, "Bắc Sơn"), (P, "Trung Sơn"), (P, "Trường Sơn"), (P, "Quảng Tiến"),
        (P, "Quảng Cư"), (P, "Quảng Châu"), (P, "Quảng Thọ"), (P, "Quảng Vinh"),
        (X, "Quảng Minh"), (X, "Quảng Hùng"), (X, "Quảng Đại")]),
    ("tx-bim-son", "Thị xã Bỉm Sơn", [
        (P, "Ba Đình"), (P, "Lam Sơn"), (P, "Ngọc Trạo"), (P, "Đông Sơn"), (P, "Bắc Sơn"),
        (P, "Phú Sơn"), (X, "Quang Trung"), (X, "Hà Lan")]),
    ("tx-nghi-son", "Thị xã Nghi Sơn", [
        (P, "Hải Hòa"), (P, "Hải Bình"), (P, "Hải Thanh"), (P, "Tĩnh Hải"), (P, "Nguyên Bình"),
        (P, "Xuân Lâm"), (P, "Trúc Lâm"), (P, "Mai Lâm"), (X, "Anh Sơn"), (X, "Các Sơn"),
        (X, "Phú Lâm")]),
    ("ha-trung", "Huyện Hà Trung", [
        (T, "Hà Trung"), (X, "Hà Sơn"), (X, "Hà Lĩnh"), (X, "Hà Đông"), (X, "Hà Ngọc"),
        (X, "Hà Bắc"), (X, "Hà Giang"), (X, "Hà Tiến"), (X, "Hà Tân"), (X, "Hà Long"),
        (X, "Yến Sơn")]),
    ("nga-son", "Huyện Nga Sơn", [
        (T, "Nga Sơn"), (X, "Nga An"), (X, "Nga Bạch"), (X, "Nga Thanh"), (X, "Nga Thạch"),
        (X, "Nga Thủy"), (X, "Nga Tân"), (X, "Nga Phú"), (X, "Nga Điền"), (X, "Nga Liên"),
        (X, "Nga Thái"), (X, "Nga Hải")]),
    ("hau-loc", "Huyện Hậu Lộc", [
        (T, "Hậu Lộc"), (X, "Hòa Lộc"), (X, "Đa Lộc"), (X, "Ngư Lộc"), (X, "Hưng Lộc"),
        (X, "Minh Lộc"), (X, "Hải Lộc"), (X, "Liên Lộc"), (X, "Quang Lộc"), (X, "Phú Lộc"),
        (X, "Triệu Lộc")]),
    ("hoang-hoa", "Huyện Hoằng Hóa", [
        (T, "Bút Sơn"), (X, "Hoằng Xuân"), (X, "Hoằng Lưu"), (X, "Hoằng Trường"),
        (X, "Hoằng Hải"), (X, "Hoằng Tiến"), (X, "Hoằng Thanh"), (X, "Hoằng Phụ"),
        (X, "Hoằng Yến"), (X, "Hoằng Ngọc"), (X, "Hoằng Đông")]),
    ("quang-xuong", "Huyện Quảng Xương", [
        (T, "Tân Phong"), (X, "Quảng Nhân"), (X, "Quảng Ninh"), (X, "Quảng Bình"),
        (X, "Quảng Hợp"), (X, "Quảng Văn"), (X, "Quảng Long"), (X, "Quảng Yên"),
        (X, "Quảng Hòa"), (X, "Quảng Định"), (X, "Quảng Đức")]),
    ("dong-son", "Huyện Đông Sơn", [
        (T, "Rừng Thông"), (X, "Đông Hòa"), (X, "Đông Minh"), (X, "Đông Hoàng"),
        (X, "Đông Khê"), (X, "Đông Ninh"), (X, "Đông Phú"), (X, "Đông Nam"),
        (X, "Đông Quang"), (X, "Đông Thanh")]),
    ("thieu-hoa", "Huyện Thiệu Hóa", [
        (T, "Thiệu Hóa"), (X, "Thiệu Giao"), (X, "Thiệu Ngọc"), (X, "Thiệu Vũ"),
        (X, "Thiệu Thành"), (X, "Thiệu Công"), (X, "Thiệu Long"), (X, "Thiệu Duy"),
        (X, "Thiệu Nguyên"), (X, "Thiệu Hợp"), (X, "Thiệu Thịnh")]),
    ("yen-dinh", "Huyện Yên Định", [
        (T, "Quán Lào"), (X, "Định Hưng"), (X, "Định Hải"), (X, "Định Tân"), (X, "Định Tiến"),
        (X, "Định Long"), (X, "Định Liên"), (X, "Yên Trường"), (X, "Yên Phú"), (X, "Yên Lâm"),
        (X, "Yên Tâm")]),
    ("vinh-loc", "Huyện Vĩnh Lộc", [
        (T, "Vĩnh Lộc"), (X, "Vĩnh Hùng"), (X, "Vĩnh Tiến"), (X, "Vĩnh Thịnh"),
        (X, "Vĩnh An"), (X, "Vĩnh Hưng"), (X, "Vĩnh Long"), (X, "Vĩnh Phúc"),
        (X, "Vĩnh Quang"), (X, "Minh Tân"), (X, "Ninh Khang")]),
    ("thach-thanh", "Huyện Thạch Thành", [
        (T, "Kim Tân"), (X, "Thạch Bình"), (X, "Thạch Cẩm"), (X, "Thạch Định"),
        (X, "Thạch Đồng"), (X, "Thạch Lâm"), (X, "Thạch Long"), (X, "Thành An"),
        (X, "Thành Công"), (X, "Thành Hưng"), (X, "Ngọc Trạo")]),
    ("cam-thuy", "Huyện Cẩm Thủy", [
        (T, "Phong Sơn"), (X, "Cẩm Bình"), (X, "Cẩm Châu"), (X, "Cẩm Giang"),
        (X, "Cẩm Liên"), (X, "Cẩm Long"), (X, "Cẩm Lương"), (X, "Cẩm Ngọc"), (X, "Cẩm Phú"),
        (X, "Cẩm Quý"), (X, "Cẩm Tâm")]),
    ("tho-xuan", "Huyện Thọ Xuân", [
        (T, "Thọ Xuân"), (T, "Lam Sơn"), (T, "Sao Vàng"), (X, "Xuân Hòa"), (X, "Xuân Lai"),
        (X, "Xuân Lập"), (X, "Xuân Minh"), (X, "Xuân Phú"), (X, "Xuân Sinh"), (X, "Thọ Lập"),
        (X, "Thọ Hải"), (X, "Nam Giang")]),
    ("trieu-son", "Huyện Triệu Sơn", [
        (T, "Triệu Sơn"), (T, "Nưa"), (X, "Dân Lực"), (X, "Dân Lý"), (X, "Dân Quyền"),
        (X, "Đồng Lợi"), (X, "Đồng Thắng"), (X, "Hợp Lý"), (X, "Hợp Thành"),
        (X, "Khuyến Nông"), (X, "Minh Sơn"), (X, "Thọ Bình")]),
    ("nong-cong", "Huyện Nông Cống", [
        (T, "Nông Cống"), (X, "Tế Lợi"), (X, "Tế Nông"), (X, "Tế Thắng"), (X, "Trung Chính"),
        (X, "Tượng Lĩnh"), (X, "Tượng Sơn"), (X, "Vạn Hòa"), (X, "Vạn Thắng"),
        (X, "Thăng Bình"), (X, "Công Liêm")]),
    ("nhu-thanh", "Huyện Như Thanh", [
        (T, "Bến Sung"), (X, "Yên Thọ"), (X, "Hải Long"), (X, "Xuân Khang"),
        (X, "Phượng Nghi"), (X, "Cán Khê"), (X, "Xuân Du"), (X, "Phú Nhuận"), (X, "Mậu Lâm"),
        (X, "Thanh Tân"), (X, "Thanh Kỳ")]),
    ("nhu-xuan", "Huyện Như Xuân", [
        (T, "Yên Cát"), (X, "Bãi Trành"), (X, "Bình Lương"), (X, "Cát Tân"), (X, "Cát Vân"),
        (X, "Hóa Quỳ"), (X, "Tân Bình"), (X, "Thanh Hòa"), (X, "Thanh Lâm"),
        (X, "Thượng Ninh"), (X, "Xuân Bình")]),
    ("thuong-xuan", "Huyện Thường Xuân", [
        (T, "Thường Xuân"), (X, "Bát Mọt"), (X, "Luận Khê"), (X, "Luận Thành"),
        (X, "Lương Sơn"), (X, "Ngọc Phụng"), (X, "Tân Thành"), (X, "Thọ Thanh"),
        (X, "Vạn Xuân"), (X, "Xuân Cao"), (X, "Yên Nhân")]),
    ("lang-chanh", "Huyện Lang Chánh", [
        (T, "Lang Chánh"), (X, "Đồng Lương"), (X, "Giao An"), (X, "Giao Thiện"),
        (X, "Lâm Phú"), (X, "Tam Văn"), (X, "Tân Phúc"), (X, "Trí Nang"), (X, "Yên Khương"),
        (X, "Yên Thắng")]),
    ("ngoc-lac", "Huyện Ngọc Lặc", [
        (T, "Ngọc Lặc"), (X, "Cao Ngọc"), (X, "Cao Thịnh"), (X, "Đồng Thịnh"),
        (X, "Kiên Thọ"), (X, "Lam Sơn"), (X, "Lộc Thịnh"), (X, "Minh Tiến"), (X, "Mỹ Tân"),
        (X, "Ngọc Liên"), (X, "Phùng Giáo")]),
    ("ba-thuoc", "Huyện Bá Thước", [
        (T, "Cành Nàng"), (X, "Ái Thượng"), (X, "Ban Công"), (X, "Cổ Lũng"), (X, "Điền Hạ"),
        (X, "Điền Lư"), (X, "Điền Quang"), (X, "Hạ Trung"), (X, "Lũng Cao"), (X, "Lũng Niêm"),
        (X, "Thành Lâm")]),
    ("quan-hoa", "Huyện Quan Hóa", [
        (T, "Hồi Xuân"), (X, "Hiền Chung"), (X, "Hiền Kiệt"), (X, "Nam Động"),
        (X, "Nam Tiến"), (X, "Nam Xuân"), (X, "Phú Lệ"), (X, "Phú Nghiêm"), (X, "Phú Sơn"),
        (X, "Trung Sơn")]),
    ("quan-son", "Huyện Quan Sơn", [
        (T, "Sơn Lư"), (X, "Mường Mìn"), (X, "Na Mèo"), (X, "Sơn Điện"), (X, "Sơn Hà"),
        (X, "Sơn Thủy"), (X, "Tam Lư"), (X, "Tam Thanh"), (X, "Trung Hạ"),
        (X, "Trung Thượng")]),
    ("muong-lat", "Huyện Mường Lát", [
        (T, "Mường Lát"), (X, "Mường Chanh"), (X, "Mường Lý"), (X, "Nhi Sơn"), (X, "Pù Nhi"),
        (X, "Quang Chiểu"), (X, "Tam Chung"), (X, "Trung Lý")]),
]

PILOTS = {("ha-trung", "Hà Sơn"), ("nga-son", "Nga An"), ("nhu-thanh", "Yên Thọ")}
SURNAMES = ["Nguyễn", "Lê", "Trần", "Lê", "Phạm", "Hoàng", "Đỗ", "Trịnh", "Mai", "Vũ"]
GIVEN = ["Văn Hùng", "Thị Hoa", "Văn Nam", "Thị Lan", "Đức Minh", "Thị Hằng", "Văn Tuấn",
         "Quang Huy", "Thị Thu", "Văn Dũng", "Ngọc Anh", "Văn Thắng"]

HEADER = """\
# Demo fleet: Thanh Hóa province's video-conferencing rooms (348 endpoints).
# Generated by `python -m inventory.demofleet`; see docs/demo-fleet.md.
# Unit names are real; contacts and phone numbers are invented.
# Addresses are loopback (127.0.0.0/8) so that `vcfleet simulate` serves every room.
# The SSH password lives in demo-secret.txt beside this file, never in here.
version: 1
province: Thanh Hóa
tiers: [province, department, district, commune]
profiles:
  # The built-in standard profile and what each codec itself says (registration, calls,
  # peripherals: the device check); sweeps trust the simulator's host keys.
  standard:
    checks: [icmp, sip, https, webrtc, device]
    advisory: [icmp, https]
# vcfleet's provisioning server, from which the Yealink rooms fetch their files.  Its key
# and secret beside this file are demo-only (published with the code): a site makes its own.
provisioning:
  listen: 127.0.0.1:8446
  url: https://127.0.0.1:8446/yealink/
  certificate: prov-cert.pem
  key: prov-key.pem
  secret: "file:prov-secret.txt"
defaults:
  credentials: {username: admin, secret: "file:demo-secret.txt"}
  services:
    sip: {port: 5060, transport: udp}
    https: {port: 8443}
    webrtc: {port: 8089, path: /whip, token: "file:demo-webrtc-token.txt"}
  profile: standard
groups:
  cisco-ce:
    vendor: cisco_ce
    services: {ssh: {port: 2222}}
  poly:
    vendor: poly
    services: {ssh: {port: 2222}}
  yealink:
    vendor: yealink
  department: {tier: department, parent: ubnd-tinh}
  district: {tier: district, parent: ubnd-tinh}
  commune: {tier: commune}
endpoints:
"""


def slug(text: str) -> str:
    """ASCII slug of a Vietnamese name ("Hà Sơn" -> "ha-son")."""
    out = "".join(c if c.isalnum() else "-" for c in fold(text))
    return "-".join(p for p in out.split("-") if p)


def _contact(i: int) -> str:
    name = f"{SURNAMES[i % len(SURNAMES)]} {GIVEN[(i * 7) % len(GIVEN)]}"
    phone = f"0237 3{(i * 7919) % 1000:03d} {(i * 104729) % 1000:03d}"
    return f'{{name: "{name}", phone: "{phone}"}}'


def _vendor(i: int, tier: str) -> tuple[str, str]:
    if tier in ("province", "department"):
        return ("cisco-ce", "Room Kit Pro") if i % 3 else ("poly", "G7500")
    if tier == "district":
        return ("cisco-ce", "Room Kit Plus") if i % 2 else ("poly", "G7500")
    k = (i * 7) % 20
    if k < 8:
        return "poly", "Studio X30"
    if k < 15:
        return "cisco-ce", "Room Bar"
    return "yealink", "MeetingBar A20"


def _entry(eid: str, name: str, address: str, groups: list[str], model: str, i: int,
           extra: dict[str, str] | None = None) -> str:
    lines = [f"  - id: {eid}", f'    name: "{name}"']
    lines += [f"    {k}: {v}" for k, v in (extra or {}).items()]
    lines += [f"    address: {address}", f"    groups: [{', '.join(groups)}]",
              f'    model: "{model}"', f"    contact: {_contact(i)}"]
    return "\n".join(lines) + "\n"


def demo_yaml() -> str:
    """The demo inventory's text."""
    parts = [HEADER]
    parts.append(_entry("ubnd-tinh", "UBND tỉnh Thanh Hóa (điểm cầu chính)", "127.10.0.1",
                        ["cisco-ce"], "Room Kit Pro", 0,
                        {"tier": "province", "tags": "[hub]"}))
    for i, dept in enumerate(DEPARTMENTS, start=1):
        vendor, model = _vendor(i, "department")
        parts.append(_entry(slug(dept), dept, f"127.10.1.{i}", ["department", vendor], model, i))
    ids: set[str] = set()
    n = 100
    for d, (dslug, dname, _) in enumerate(DISTRICTS, start=1):
        vendor, model = _vendor(d, "district")
        title = f"UBND {dname[0].lower()}{dname[1:]}"
        parts.append(_entry(dslug, title, f"127.10.2.{d}", ["district", vendor],
                            model, d + 40, {"district": dslug}))
        ids.add(dslug)
    for d, (dslug, _, communes) in enumerate(DISTRICTS, start=1):
        for c, (kind, cname) in enumerate(communes, start=1):
            n += 1
            eid = slug(cname)
            if eid in ids:
                eid = f"{dslug}-{eid}"
            ids.add(eid)
            vendor, model = _vendor(n, "commune")
            extra = {"parent": dslug, "district": dslug}
            if (dslug, cname) in PILOTS:
                extra["tags"] = "[pilot]"
            parts.append(_entry(eid, f"UBND {kind} {cname}", f"127.20.{d}.{c}",
                                ["commune", vendor], model, n, extra))
    return "".join(parts)


def synthetic_yaml(count: int) -> str:
    """A generated inventory of ``count`` endpoints (for benchmarks), same shape as the demo."""
    parts = [HEADER.replace("348 endpoints", f"{count} endpoints, synthetic")]
    parts.append(_entry("ubnd-tinh", "UBND tỉnh (synthetic)", "127.10.0.1", ["cisco-ce"],
                        "Room Kit Pro", 0, {"tier": "province"}))
    districts = max(1, count // 100)
    made = 1
    for d in range(districts):
        if made >= count:
            break
        address = f"127.11.{d // 250}.{d % 250 + 1}"
        parts.append(_entry(f"district-{d}", f"UBND huyện số {d}", address,
                            ["district", "cisco-ce"], "Room Kit Plus", d,
                            {"district": f"district-{d}"}))
        made += 1
    i = 0
    while made < count:
        d = i % districts
        vendor, model = _vendor(i, "commune")
        parts.append(_entry(f"xa-{i}", f"UBND xã Thử Nghiệm {i}",
                            f"127.{30 + i // 62500}.{(i // 250) % 250}.{i % 250 + 1}",
                            ["commune", vendor], model, i,
                            {"parent": f"district-{d}", "district": f"district-{d}"}))
        made += 1
        i += 1
    return "".join(parts)


DEMO_DIR = Path(__file__).parent / "demo"
DEMO_FILES = ("demo-secret.txt", "demo-webrtc-token.txt", "prov-cert.pem", "prov-key.pem",
              "prov-secret.txt")
"""The files the demo inventory names beside it (a copy of the fleet needs them all)."""
DEMO_PROVISIONING_SECRET = "vcfleet-demo-provisioning\n"


def self_signed_certificate(days: int = 3650, common_name: str = "vcfleet demo provisioning"
                            ) -> tuple[bytes, bytes]:
    """(certificate PEM, PKCS#8 key PEM) of a new self-signed server certificate for
    localhost and 127.0.0.1 (P-256): the demo provisioning server's, and the simulated
    endpoints' HTTPS one."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    san = x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(san, critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def write_provisioning_files(folder: Path) -> list[Path]:
    """The demo provisioning certificate, key and secret, each written only when missing
    (so that regenerating the inventory does not change them); the files written."""
    written: list[Path] = []
    cert, key, secret = (folder / n for n in ("prov-cert.pem", "prov-key.pem",
                                              "prov-secret.txt"))
    if not (cert.exists() and key.exists()):
        cert_pem, key_pem = self_signed_certificate()
        key.write_bytes(key_pem)
        cert.write_bytes(cert_pem)
        written += [cert, key]
    if not secret.exists():
        secret.write_text(DEMO_PROVISIONING_SECRET, encoding="utf-8")
        written.append(secret)
    return written


def main() -> int:
    """Write the demo inventory file (and the provisioning files it names, when missing)."""
    out = DEMO_DIR / "thanh-hoa.yaml"
    out.write_text(demo_yaml(), encoding="utf-8")
    for path in [out, *write_provisioning_files(DEMO_DIR)]:
        print(f"wrote {path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
