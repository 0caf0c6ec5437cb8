"""Selectors as docs/selectors.md defines them, on the shipped demo fleet."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory import InputError, Inventory, Selector, fold, load_inventory

KEYS = "id, tier, district, vendor, tag, name, parent, under, profile, maintenance"


@pytest.fixture(scope="module")
def inv() -> Inventory:
    return load_inventory(Path(__file__).resolve().parent.parent / "inventory" / "demo"
                          / "thanh-hoa.yaml")


def ids(inv: Inventory, text: str) -> list[str]:
    return [e.id for e in inv.select(text)]


def test_empty_selector_matches_everything(inv: Inventory) -> None:
    assert len(inv.select("")) == 348
    assert len(inv.select(None)) == 348
    assert len(inv.select("   ")) == 348
    assert Selector.parse("").terms == ()


def test_terms_are_anded(inv: Inventory) -> None:
    picked = inv.select("tier=commune district=ha-trung")
    assert len(picked) == 11
    assert all(e.tier == "commune" and e.district == "ha-trung" for e in picked)


def test_values_are_ored(inv: Inventory) -> None:
    picked = inv.select("tier=province,department")
    assert len(picked) == 31
    assert {e.tier for e in picked} == {"province", "department"}


def test_leading_bang_negates(inv: Inventory) -> None:
    assert len(inv.select("!tier=commune")) == 58
    both = inv.select("tier=commune district=ha-trung,nga-son !tag=pilot")
    assert len(both) == 11 + 12 - 2
    assert all("pilot" not in e.tags for e in both)


def test_design_example(inv: Inventory) -> None:
    picked = inv.select("tier=commune district=ha-trung,nga-son !tag=maintenance")
    assert len(picked) == 23


def test_globs(inv: Inventory) -> None:
    assert ids(inv, "id=so-t*") == ["so-tu-phap", "so-tai-chinh", "so-tai-nguyen-va-moi-truong",
                                    "so-thong-tin-va-truyen-thong"]
    assert len(inv.select("district=tp-*,tx-* tier=district")) == 4
    assert ids(inv, "id=ha-s?n") == ["ha-son"]
    assert ids(inv, "id=nga-[a]n") == ["nga-an"]


def test_name_is_accent_and_case_insensitive(inv: Inventory) -> None:
    for text in ("name='UBND xã Hà Sơn'", "name='ubnd xa ha son'", "name='*HA SON'",
                 'name="*hà sơn"'):
        assert ids(inv, text) == ["ha-son"], text
    assert ids(inv, "name=*Đông*Sơn* tier=district") == ["dong-son"]
    assert fold("Đường Hồ Chí Minh") == "duong ho chi minh"


def test_quoting_keeps_spaces_inside_one_term(inv: Inventory) -> None:
    sel = Selector.parse("tier=commune 'name=*nga an'")
    assert [t.key for t in sel.terms] == ["tier", "name"]
    assert ids(inv, "tier=commune 'name=*nga an'") == ["nga-an"]
    assert ids(inv, 'name="ubnd xa nga an",ubnd\\ xa\\ ha\\ son') == ["ha-son", "nga-an"]


def test_tags_vendor_parent_under_profile_maintenance(inv: Inventory) -> None:
    assert ids(inv, "tag=pilot") == ["ha-son", "nga-an", "yen-tho"]
    assert ids(inv, "tag=hub") == ["ubnd-tinh"]
    vendors = {e.vendor for e in inv.select("vendor=cisco_ce,poly")}
    assert vendors == {"cisco_ce", "poly"}
    assert len(inv.select("vendor=yealink")) + len(inv.select("!vendor=yealink")) == 348
    assert len(inv.select("parent=ubnd-tinh")) == 30 + 27
    under = inv.select("under=nga-son")
    assert len(under) == 1 + 12
    assert len(inv.select("profile=standard")) == 348
    assert len(inv.select("maintenance=false")) == 348
    assert inv.select("maintenance=true") == []


def test_matches_without_inventory() -> None:
    inv = load_inventory(Path(__file__).resolve().parent.parent / "inventory" / "examples"
                         / "two-level.yaml")
    e = inv.get("ha-son")
    assert Selector.parse("tier=commune tag=pilot").matches(e)
    assert not Selector.parse("!district=ha-trung").matches(e)


def test_str_gives_back_the_text() -> None:
    assert str(Selector.parse("tier=commune !tag=pilot")) == "tier=commune !tag=pilot"


INVALID = [
    ("tier", f"invalid selector 'tier': term 'tier' is not KEY=VALUE (keys: {KEYS})"),
    ("tier=commune district", "invalid selector 'tier=commune district': term 'district' is "
                              f"not KEY=VALUE (keys: {KEYS})"),
    ("colour=red", f"invalid selector 'colour=red': unknown key 'colour' (keys: {KEYS})"),
    ("Tier=commune", f"invalid selector 'Tier=commune': unknown key 'Tier' (keys: {KEYS})"),
    ("tier=", "invalid selector 'tier=': term 'tier=' has an empty value"),
    ("tier=a,,b", "invalid selector 'tier=a,,b': term 'tier=a,,b' has an empty value"),
    ("tier=commune,", "invalid selector 'tier=commune,': term 'tier=commune,' has an empty "
                      "value"),
    ("!", f"invalid selector '!': term '!' is not KEY=VALUE (keys: {KEYS})"),
    ("=x", f"invalid selector '=x': term '=x' has no key before '=' (keys: {KEYS})"),
    ("!!tier=commune", f"invalid selector '!!tier=commune': unknown key '!tier' (keys: {KEYS})"),
    ("name='ha son", "invalid selector \"name='ha son\": a quote is not closed"),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=[t for t, _ in INVALID])
def test_invalid_selectors_are_one_clear_line(text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        Selector.parse(text)
    assert caught.value.lines() == [message]
