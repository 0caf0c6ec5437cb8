"""The table of endpoints: one row per room, updated cell by cell as results arrive."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from inventory import Endpoint, Inventory, fold
from tui import device_view
from tui.fast_table import FastDataTable
from tui.verdicts import figure_text, verdict_text
from vcfleet.figures import KEY_FIGURES
from vcfleet.i18n import _
from vcfleet.render.readiness import unit_name
from vcfleet.render.verdicts import RANK, word
from vcfleet.report import EndpointReport, Verdict
from vcfleet.safe_text import safe_line

COLUMNS: tuple[tuple[str, str, int | None], ...] = (
    ("verdict", "Verdict", 13),
    ("name", "Name", 32),
    ("unit", "Unit", 18),
    ("vendor", "Vendor", 7),
    *device_view.COLUMNS,
    *((kf.key, kf.label, max(8, len(kf.label))) for kf in KEY_FIGURES),
)
FIRST_ROWS = 60
"""Rows added at once by ``show`` (more than a tall terminal shows)."""
CHUNK_ROWS = 100
"""Rows added per refresh after the first screenful."""
VENDOR_LABELS = {"cisco_ce": "Cisco", "poly": "Poly", "yealink": "Yealink"}


def short_unit(inventory: Inventory, e: Endpoint) -> str:
    """The room's district without the "UBND " prefix ("huyện Hà Trung"), else its tier."""
    if not e.district:
        return e.tier.title()
    name = unit_name(inventory, e.district)
    return name.removeprefix("UBND ")


def _sort_value(column: str, value: Any) -> Any:
    text = value.plain if isinstance(value, Text) else str(value)
    if column == "verdict":
        return next((RANK[v] for v in Verdict if text.endswith(word(v))), 9)
    if column in {kf.key for kf in KEY_FIGURES}:
        try:
            return float(text)
        except ValueError:
            return math.inf
    return fold(text)


class EndpointTable(FastDataTable):
    """Rooms with their verdict and key figures; ``update_results`` touches only the
    cells that changed, so a sweep's results never rebuild the table (and
    ``FastDataTable`` redraws only those)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "select_cursor", "Details"),
                Binding("o", "sort_column", "Sort")]

    @dataclass
    class EndpointChosen(Message):
        """The operator pressed enter (or clicked) on a room."""

        endpoint_id: str

    class RowsShown(Message):
        """Every row of the last ``show`` is in the table."""

    def __init__(self, inventory: Inventory, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.inventory = inventory
        self._sort: tuple[str, bool] | None = None
        self._shown: dict[str, tuple[Any, ...]] = {}
        self._cell_updates = 0
        self._generation = 0
        self._pending: list[Endpoint] = []
        self._results: Mapping[str, EndpointReport] = {}

    def on_mount(self) -> None:
        for key, label, width in COLUMNS:
            self.add_column(_(label), key=key, width=width)

    def show(self, endpoints: Sequence[Endpoint], results: Mapping[str, EndpointReport]) -> None:
        """Replace the rows (on a new scope or filter; never per result).

        The first screenful is added at once and the rest in chunks after each
        refresh, so that the table paints quickly and input is handled in between.
        """
        self.clear()
        self._shown.clear()
        self._generation += 1
        self._pending = list(endpoints)
        self._results = results
        self._add_pending(self._generation, FIRST_ROWS)

    @property
    def adding_rows(self) -> bool:
        """True while rows of the last ``show`` are still being added."""
        return bool(self._pending)

    def _add_pending(self, generation: int, count: int) -> None:
        if generation != self._generation:
            return  # a newer show() replaced these rows
        batch, self._pending = self._pending[:count], self._pending[count:]
        for e in batch:
            cells = self._cells(e, self._results.get(e.id))  # the latest results
            self._shown[e.id] = cells
            self.add_row(*cells, key=e.id)
        if self._pending:
            self.call_after_refresh(self._add_pending, generation, CHUNK_ROWS)
        else:
            self._resort()
            self.post_message(self.RowsShown())

    def update_results(self, reports: Iterable[EndpointReport]) -> int:
        """Update the cells of the rooms shown that these results change; returns how many."""
        changed = 0
        for report in reports:
            old = self._shown.get(report.endpoint.id)
            if old is None:
                continue
            new = self._cells(report.endpoint, report)
            self._shown[report.endpoint.id] = new
            for (key, _label, _width), before, after in zip(COLUMNS, old, new, strict=True):
                if before != after:
                    try:
                        self.update_cell(report.endpoint.id, key, after)
                    except (CellDoesNotExist, RowDoesNotExist):
                        continue
                    changed += 1
        return changed

    def current_endpoint(self) -> str | None:
        """Id of the room under the cursor, if any."""
        if not self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key
        except CellDoesNotExist:
            return None
        return key.value

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort rows by a column (worst verdict first; again on the same column reverses)."""
        if reverse is None:
            reverse = self._sort is not None and self._sort == (column, False)
        self._sort = (column, reverse)
        self._resort()

    def resort(self) -> None:
        """Apply the current sort again (after a sweep changed values)."""
        self._resort()

    def action_sort_column(self) -> None:
        """Sort by the column under the cursor."""
        self.sort_by(COLUMNS[self.cursor_column][0])

    def _resort(self) -> None:
        if self._sort is None or not self.row_count or self._pending:
            return
        column, reverse = self._sort
        self.sort(column, "name", key=lambda vals: (_sort_value(column, vals[0]),
                                                    _sort_value("name", vals[1])),
                  reverse=reverse)

    def _cells(self, e: Endpoint, report: EndpointReport | None) -> tuple[Any, ...]:
        verdict = report.verdict if report else Verdict.UNKNOWN
        unit = short_unit(self.inventory, e)
        figures = [figure_text(kf, report.figure(kf.check, kf.name, kf.direction)
                               if report else None) for kf in KEY_FIGURES]
        # Text, not str: DataTable parses a str cell as markup (a room named "[x]"
        # would lose its brackets) on every render of the row.
        return (verdict_text(verdict), Text(safe_line(e.name)), Text(safe_line(unit)),
                Text(VENDOR_LABELS.get(e.vendor, e.vendor)), *device_view.table_cells(report),
                *figures)

    @on(DataTable.RowSelected)
    def _chosen(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.EndpointChosen(event.row_key.value))

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        if event.column_key.value is not None:
            self.sort_by(event.column_key.value)
