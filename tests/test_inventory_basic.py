"""The shipped demo fleet loads and selectors pick the right endpoints."""

from __future__ import annotations

from pathlib import Path

from inventory import Selector, fold, load_inventory


def test_demo_fleet_has_348_endpoints_in_27_districts(demo_inventory_path: Path) -> None:
    inv = load_inventory(demo_inventory_path)
    assert len(inv) == 348
    assert len({e.district for e in inv if e.tier == "district"}) == 27
    tiers = [e.tier for e in inv]
    assert tiers.count("province") == 1
    assert tiers.count("department") == 30
    assert tiers.count("commune") == 290


def test_fold_removes_vietnamese_accents() -> None:
    assert fold("UBND xã Hà Sơn") == "ubnd xa ha son"
    assert fold("Đông Sơn") == "dong son"


def test_selector_terms_and_or_not(demo_inventory_path: Path) -> None:
    inv = load_inventory(demo_inventory_path)
    picked = inv.select("tier=commune district=ha-trung,nga-son !tag=pilot")
    assert picked
    assert all(e.district in ("ha-trung", "nga-son") and "pilot" not in e.tags for e in picked)
    assert [e.id for e in inv.select(Selector.parse("name='*xa ha son'"))] == ["ha-son"]
