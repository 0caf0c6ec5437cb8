"""The tree of units (province, departments, districts with their communes) that
scopes the table and the ``s`` sweep."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from rich.text import Text
from textual import on
from textual.message import Message
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from inventory import Endpoint, Inventory
from vcfleet.i18n import N_, _
from vcfleet.render.readiness import tier_name
from vcfleet.safe_text import safe_line

TIER_GROUPS = {"department": N_("Departments"), "district": N_("Districts"),
               "commune": N_("Communes")}


@dataclass(frozen=True)
class Scope:
    """A part of the fleet: a label and the endpoint ids in it (None: every endpoint)."""

    label: str
    ids: frozenset[str] | None = None

    def contains(self, endpoint_id: str) -> bool:
        """True when the endpoint is in this scope."""
        return self.ids is None or endpoint_id in self.ids


class UnitTree(Tree[Scope]):
    """Units as the inventory's parent links draw them; a unit's children of one tier
    are grouped ("Departments (41)", "Districts (27)") to keep the tree short."""

    @dataclass
    class ScopeChosen(Message):
        """The operator chose a part of the fleet."""

        scope: Scope

    def __init__(self, inventory: Inventory, *, id: str | None = None) -> None:
        name = safe_line(inventory.province or _("Fleet"))
        super().__init__(Text(_("{fleet} — all rooms ({n})").format(fleet=name, n=len(inventory))),
                         Scope(_("all rooms")), id=id)
        self.inventory = inventory
        self._children: dict[str | None, list[Endpoint]] = defaultdict(list)
        for e in inventory.endpoints:
            parent = e.parent if e.parent in inventory else None
            self._children[parent].append(e)
        self._subtree: dict[str, frozenset[str]] = {}
        self.show_root = True
        self.guide_depth = 3

    def on_mount(self) -> None:
        self._add_units(self.root, None)
        self.root.expand()
        for child in self.root.children:
            child.expand()

    def subtree(self, endpoint_id: str) -> frozenset[str]:
        """The endpoint and every endpoint below it."""
        if endpoint_id not in self._subtree:
            ids = {endpoint_id}
            for child in self._children.get(endpoint_id, []):
                ids |= self.subtree(child.id)
            self._subtree[endpoint_id] = frozenset(ids)
        return self._subtree[endpoint_id]

    def _add_units(self, node: TreeNode[Scope], parent: str | None) -> None:
        children = self._children.get(parent, [])
        by_tier: dict[str, list[Endpoint]] = defaultdict(list)
        for e in children:
            by_tier[e.tier].append(e)
        for tier, members in by_tier.items():
            target = node
            if parent is not None and len(members) > 1 and len(by_tier) > 1:
                ids = frozenset().union(*(self.subtree(e.id) for e in members))
                label = _(TIER_GROUPS[tier]) if tier in TIER_GROUPS else tier_name(tier)
                target = node.add(f"{label} ({len(members)})", Scope(label, ids))
            for e in members:
                self._add_unit(target, e)

    def _add_unit(self, node: TreeNode[Scope], e: Endpoint) -> None:
        ids = self.subtree(e.id)
        if len(ids) == 1:
            node.add_leaf(Text(safe_line(e.name)), Scope(e.name, ids))
            return
        # Text, not str: a str label is markup, and a name could carry escapes
        child = node.add(Text(f"{safe_line(e.name)} ({len(ids)})"), Scope(e.name, ids))
        self._add_units(child, e.id)

    @on(Tree.NodeSelected)
    def _chosen(self, event: Tree.NodeSelected[Scope]) -> None:
        event.stop()
        if event.node.data is not None:
            self.post_message(self.ScopeChosen(event.node.data))
