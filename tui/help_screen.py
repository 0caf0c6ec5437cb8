"""Keys, screens and the filter syntax, one key away (``?``)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

from vcfleet.i18n import N_, _
from vcfleet.render.verdicts import label
from vcfleet.report import Verdict

KEYS: tuple[tuple[str, str], ...] = (
    ("a", N_("sweep every room")),
    ("s", N_("sweep the rooms shown (the unit chosen in the tree, and the filter)")),
    ("x", N_("cancel the running sweep")),
    ("/", N_("filter; `enter` or `escape` back to the table")),
    ("enter", N_("details of the room under the cursor (in the tree: choose that unit)")),
    ("o", N_("sort by the column under the cursor (again: reverse); or click a header")),
    ("r", N_("export the readiness report (HTML and Markdown files; the path is shown)")),
    ("f", N_("rooms that failed often in the last 7 days, worst first (`enter`: details)")),
    ("m", N_("with `--meetings`: upcoming meetings; `enter` scopes the console to one")),
    ("t", N_("hide or show the tree of units")),
    ("tab", N_("move between tree, filter and table")),
    ("?", N_("this help")),
    ("q", N_("quit")),
)
"""The keys and what they do (message ids), in the order the help lists them."""


def help_text() -> str:
    """The help, as Markdown, in the current language."""
    rows = "".join(f"| `{key}` | {_(does)} |\n" for key, does in KEYS)
    filtering = _(
        "Words with `=` are selector terms, ANDed; `,` means or; `!` negates:\n"
        "`tier=commune district=ha-trung,nga-son !tag=maintenance verdict=down,degraded`.\n"
        "Keys: `id`, `tier`, `district`, `vendor`, `tag`, `name`, `parent`, `under`,\n"
        "`profile`, `maintenance` and the console's own `verdict` (ready, degraded,\n"
        "down, unknown).  Other words are a name to find, without accents:\n"
        "`ha son` finds \"UBND xã Hà Sơn\".")
    verdicts = _(
        "`{ready}` (green), `{degraded}` (yellow: a figure past its threshold or an\n"
        "advisory check failed), `{down}` (red: a required check failed),\n"
        "`{unknown}`.  Figures: SIP RTT and media RTT in ms, jitter in ms and\n"
        "loss in % per direction (↑ to the room, ↓ from it), MOS estimate.").format(
            ready=label(Verdict.READY), degraded=label(Verdict.DEGRADED),
            down=label(Verdict.DOWN), unknown=label(Verdict.UNKNOWN))
    title, key, does = _("vcfleet console"), _("key"), _("does")
    filter_, verdicts_ = _("Filter"), _("Verdicts")
    details = _("On the details screen: `c` re-checks the room now, `escape` goes back.")
    return (f"# {title}\n\n| {key} | {does} |\n| --- | --- |\n{rows}\n{details}\n\n"
            f"## {filter_}\n\n{filtering}\n\n## {verdicts_}\n\n{verdicts}\n")


class HelpScreen(ModalScreen[None]):
    """The keys and the filter language."""

    CSS_PATH = "help_screen.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", N_("Close"))]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_text())

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
