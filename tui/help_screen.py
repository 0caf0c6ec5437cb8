"""Keys, screens and the filter syntax, one key away (``?``)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from vcfleet.render.verdicts import label
from vcfleet.report import Verdict

HELP = f"""\
# vcfleet console

| key | does |
| --- | --- |
| `a` | sweep every room |
| `s` | sweep the rooms shown (the unit chosen in the tree, and the filter) |
| `x` | cancel the running sweep |
| `/` | filter; `enter` or `escape` back to the table |
| `enter` | details of the room under the cursor (in the tree: choose that unit) |
| `o` | sort by the column under the cursor (again: reverse); or click a header |
| `r` | export the readiness report (HTML and Markdown files; the path is shown) |
| `f` | rooms that failed often in the last 7 days, worst first (`enter`: details) |
| `m` | with `--meetings`: upcoming meetings; `enter` scopes the console to one |
| `t` | hide or show the tree of units |
| `tab` | move between tree, filter and table |
| `?` | this help |
| `q` | quit |

On the details screen: `c` re-checks the room now, `escape` goes back.

## Filter

Words with `=` are selector terms, ANDed; `,` means or; `!` negates:
`tier=commune district=ha-trung,nga-son !tag=maintenance verdict=down,degraded`.
Keys: `id`, `tier`, `district`, `vendor`, `tag`, `name`, `parent`, `under`,
`profile`, `maintenance` and the console's own `verdict` (ready, degraded,
down, unknown).  Other words are a name to find, without accents:
`ha son` finds "UBND xã Hà Sơn".

## Verdicts

`{label(Verdict.READY)}` (green), `{label(Verdict.DEGRADED)}` (yellow: a figure past its \
threshold or an
advisory check failed), `{label(Verdict.DOWN)}` (red: a required check failed),
`{label(Verdict.UNKNOWN)}`.  Figures: SIP RTT and media RTT in ms, jitter in ms and
loss in % per direction (↑ to the room, ↓ from it), MOS estimate.
"""


class HelpScreen(ModalScreen[None]):
    """The keys and the filter language."""

    CSS_PATH = "help_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(HELP)

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
