"""A DataTable that redraws only the cells that changed, and draws a one-line cell directly.

Every use of a private name of Textual's ``DataTable`` is here (tested against
Textual 8.2); ``UPSTREAM`` lists them and tests/test_library_internals.py checks
each against the installed Textual, as it does those of aiortc and aioice.
docs/console.md ("The table's fast drawing") says why.

Two costs of ``DataTable`` that a live fleet table cannot afford:

- its cell render cache is keyed on one table-wide counter (``_update_count``)
  that every ``update_cell`` bumps, so one new result re-renders every visible
  cell (about 400 at 160x45);
- it renders each cell through Rich's general pipeline (``Padding``,
  ``Styled``, line splitting), and resolves the zebra stripe's CSS for every
  line it draws.

``FastDataTable`` caches a cell's lines on the table's structure plus the
cell's own version, so a result re-renders only the cells it changed, and
draws a one-line ``Text`` cell with ``one_line`` (tests/test_tui.py checks that
it gives DataTable's characters and styles).  Any other cell, fixed rows or
columns, and multi-line rows go to DataTable's own drawing.
"""

from __future__ import annotations

from typing import Any, Literal, NamedTuple

from rich.console import Console
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.cache import LRUCache
from textual.geometry import Region
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowKey

SegmentLines = list[list[Segment]]


class PrivateName(NamedTuple):
    """A private name of Textual this module relies on (the fields of ``probes.upstream.Upstream``
    after ``library``; the console does not import ``probes``)."""

    owner: str
    name: str
    kind: Literal["field", "method", "function"]
    why: str
    parameters: tuple[str, ...] | None = None
    source_has: tuple[str, ...] = ()


UPSTREAM: tuple[PrivateName, ...] = (
    PrivateName("DataTable", "_render_cell", "method",
                "FastDataTable._render_cell: the per-cell drawing we replace, and its cache key",
                ("row_index", "column_index", "base_style", "width", "cursor", "hover"),
                ("self._update_count,",)),
    PrivateName("DataTable", "_get_row_style", "method",
                "FastDataTable._get_row_style: cached per stripe instead of per line",
                ("row_index", "base_style")),
    PrivateName("DataTable", "_get_styles_to_render_cell", "method",
                "FastDataTable._render_cell: the cursor and hover styles of a cell",
                ("is_header_cell", "is_row_label_cell", "is_fixed_style_cell", "hover", "cursor",
                 "show_cursor", "show_hover_cursor", "has_css_foreground_priority",
                 "has_css_background_priority")),
    PrivateName("DataTable", "update_cell", "method",
                "FastDataTable.update_cell does what it does, then refreshes one line only",
                ("row_key", "column_key", "value", "update_width"),
                ("self._data[row_key][column_key] = value", "self._update_count += 1")),
    PrivateName("DataTable", "_refresh_region", "method",
                "FastDataTable.update_cell: refresh the changed row's line", ("region",)),
    *(PrivateName("DataTable", name, "field", why) for name, why in (
        ("_data", "FastDataTable: the cells' values, by row and column key"),
        ("_row_locations", "FastDataTable: row key <-> row index"),
        ("_column_locations", "FastDataTable: column key <-> column index"),
        ("_update_count", "FastDataTable: the structure's version, in the cell cache key"),
        ("_show_hover_cursor", "FastDataTable._render_cell: part of the cell cache key"),
        ("_pseudo_class_state", "FastDataTable: focus/hover state, in the style cache keys"),
    )),
    PrivateName("TwoWayDict", "get_key", "method",
                "FastDataTable._render_cell: the row and column keys of an index", ("value",)),
)
"""Every private name of Textual this module touches."""


def one_line(console: Console, cell: Text, width: int, padding: int, pre_style: Style,
             post_style: Style) -> list[Segment]:
    """A one-line cell as DataTable draws it (``Styled(Padding(cell, (0, padding)),
    pre_style, post_style)``, no wrap), without Rich's general rendering pipeline."""
    inner = max(0, width - 2 * padding)
    lines = cell.wrap(console, inner, justify=cell.justify, overflow=cell.overflow,
                      no_wrap=True)
    line = lines[0] if lines else Text()
    blank = pre_style + post_style
    segments = [Segment(" " * padding, blank)] if padding else []
    base = pre_style + console.get_style(line.style) if line.style else pre_style
    used = 0
    for segment in line.render(console, end=""):
        style = base + segment.style if segment.style else base
        segments.append(Segment(segment.text, style + post_style))
        used += segment.cell_length
    if inner - used + padding > 0:
        segments.append(Segment(" " * (inner - used + padding), blank))
    return segments


class FastDataTable(DataTable[Any]):
    """A ``DataTable`` whose ``update_cell`` re-renders that cell only (see the module)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._cell_updates = 0
        self._cell_versions: dict[tuple[str | None, str | None], int] = {}
        self._cell_lines: LRUCache[tuple[Any, ...], SegmentLines] = LRUCache(4096)
        self._row_styles: dict[tuple[Any, ...], Style] = {}

    def clear(self, columns: bool = False) -> FastDataTable:
        """Remove the rows (and the cell versions that went with them)."""
        self._cell_versions.clear()
        self._cell_lines.clear()
        super().clear(columns)
        return self

    def update_cell(self, row_key: RowKey | str, column_key: ColumnKey | str, value: Any, *,
                    update_width: bool = False) -> None:
        """Set one cell; only that cell's region is refreshed and rendered again."""
        row = row_key if isinstance(row_key, RowKey) else RowKey(row_key)
        column = column_key if isinstance(column_key, ColumnKey) else ColumnKey(column_key)
        if update_width:
            super().update_cell(row, column, value, update_width=True)
        else:
            row_index = self._row_locations.get(row)
            column_index = self._column_locations.get(column)
            if row_index is None or column_index is None:
                raise CellDoesNotExist(f"No cell exists for row_key={row!r}, "
                                       f"column_key={column!r}.")
            self._data[row][column] = value
            self._update_count += 1
            # Rows are one line high: the row's line, found without DataTable's
            # per-update recomputation of every row's offset.
            y = row_index + (self.header_height if self.show_header else 0)
            self._refresh_region(Region(0, y, self.virtual_size.width, 1))
        self._cell_updates += 1
        self._cell_versions[(row.value, column.value)] = self._cell_updates

    def _render_cell(self, row_index: int, column_index: int, base_style: Style, width: int,
                     cursor: bool = False, hover: bool = False) -> SegmentLines:
        row_key = self._row_locations.get_key(row_index) if row_index >= 0 else None
        column_key = self._column_locations.get_key(column_index) if column_index >= 0 \
            else None
        if row_key is None or column_key is None or self.fixed_rows or self.fixed_columns:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        value = self._data.get(row_key, {}).get(column_key)
        if not isinstance(value, Text) or self.rows[row_key].height != 1:
            return super()._render_cell(row_index, column_index, base_style, width, cursor,
                                        hover)
        # Our own updates bump _update_count too (DataTable's line caches must see
        # them); taking them out leaves the count of structural changes only.
        key = (row_key, column_key, self._update_count - self._cell_updates,
               self._cell_versions.get((row_key.value, column_key.value), 0), row_index,
               width, base_style, cursor, hover, self._show_hover_cursor,
               self._pseudo_class_state)
        lines = self._cell_lines.get(key)
        if lines is None:
            component_style, post_style = self._get_styles_to_render_cell(
                False, False, False, hover, cursor, self.show_cursor,
                self._show_hover_cursor, self.cursor_foreground_priority == "css",
                self.cursor_background_priority == "css")
            pre_style = (base_style + Style.from_meta({"row": row_index, "column": column_index})
                         + component_style)
            lines = [one_line(self.app.console, value, width, self.cell_padding, pre_style,
                              post_style)]
            self._cell_lines[key] = lines
        return lines

    def _get_row_style(self, row_index: int, base_style: Style) -> Style:
        # DataTable resolves the zebra stripe's CSS for every line it draws.
        if row_index < self.fixed_rows:
            return super()._get_row_style(row_index, base_style)
        key = (row_index % 2 if self.zebra_stripes else -2, base_style,
               self._pseudo_class_state)
        style = self._row_styles.get(key)
        if style is None:
            style = self._row_styles[key] = super()._get_row_style(row_index, base_style)
        return style

    def notify_style_update(self) -> None:
        """CSS changed (theme, focus): resolve the row styles again."""
        self._row_styles.clear()
        super().notify_style_update()
