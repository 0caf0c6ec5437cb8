"""The fleet-consistency check: what no single endpoint can get wrong on its own.

Duplicate ids and addresses, tiers that are not declared, unknown profiles,
parents that do not exist, and parents that are not above their child's tier.
The inventory loader and the spreadsheet import both run it; only how they
point at an endpoint differs (a YAML line and column, a sheet row and column).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Literal

from inventory.errors import N_, Message, Problem, endpoint_label, labelled
from inventory.model import Endpoint
from inventory.yamlpos import Mark

Field = Literal["id", "address", "tier", "profile", "parent"]


def fleet_problems(name: str, endpoints: Sequence[Endpoint],
                   where: Callable[[int, Field], Mark], tiers: Sequence[str],
                   profiles: Collection[str], *, first: str = N_("first at line"),
                   tier_hint: str = "", rejected: Collection[str] = ()) -> list[Problem]:
    """Every consistency problem of valid endpoints, in endpoint order.

    ``where(i, field)`` is the position of endpoint ``i``'s field in file ``name``
    (its line is what "first at line N" cites; ``first`` words that citation).
    ``tier_hint`` follows the undeclared-tier message.  ``rejected`` holds ids of
    entries rejected for their own error: their children's parent is not reported
    missing, since it is the parent's entry that is wrong.
    """
    problems: list[Problem] = []

    def error(i: int, field: Field, message: str) -> None:
        line, col = where(i, field)
        problems.append(Problem(name, line, col, message))

    by_id: Mapping[str, Endpoint] = {e.id: e for e in endpoints}
    first_id: dict[str, int] = {}
    first_addr: dict[str, int] = {}
    for i, e in enumerate(endpoints):
        if e.id in first_id:
            error(i, "id", Message.of(N_("duplicate endpoint id '{id}' ({first} {line})"),
                                      id=e.id, first=Message(first), line=first_id[e.id]))
        first_id.setdefault(e.id, where(i, "id")[0])
        if e.address in first_addr:
            error(i, "address", labelled(endpoint_label(e.id), Message.of(
                N_("duplicate address {address} ({first} {line})"), address=e.address,
                first=Message(first), line=first_addr[e.address])))
        first_addr.setdefault(e.address, where(i, "address")[0])
        if e.tier not in tiers:
            error(i, "tier", labelled(endpoint_label(e.id), Message.of(
                N_("tier '{tier}' is not one of the tiers ({tiers}){hint}"), tier=e.tier,
                tiers=", ".join(tiers), hint=Message(tier_hint) if tier_hint else "")))
        if e.profile not in profiles:
            error(i, "profile", labelled(endpoint_label(e.id), Message.of(
                N_("unknown profile '{profile}' (defined: {defined})"), profile=e.profile,
                defined=", ".join(sorted(profiles)))))
        message = _parent_problem(e, by_id, tiers, rejected)
        if message:
            error(i, "parent", message)
    return problems


def _parent_problem(e: Endpoint, by_id: Mapping[str, Endpoint], tiers: Sequence[str],
                    rejected: Collection[str]) -> str | None:
    if e.parent is None or (e.parent in rejected and e.parent not in by_id):
        return None
    if e.parent not in by_id:
        return labelled(endpoint_label(e.id), Message.of(
            N_("parent '{parent}' does not exist"), parent=e.parent))
    if e.parent == e.id:
        return labelled(endpoint_label(e.id), Message.of(N_("is its own parent")))
    ptier = by_id[e.parent].tier
    if ptier in tiers and e.tier in tiers and tiers.index(ptier) >= tiers.index(e.tier):
        return labelled(endpoint_label(e.id), Message.of(
            N_("parent '{parent}' is a {parent_tier}, which is not above tier '{tier}'"),
            parent=e.parent, parent_tier=ptier, tier=e.tier))
    return None
