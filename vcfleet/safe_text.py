"""The one place that makes outside text safe to show on an operator's terminal.

Room names, reasons, device output and probe errors come from files, spreadsheets
and devices that vcfleet does not control.  A control character in them (ESC starts
a colour or an OSC "set window title" sequence, BEL rings, C1 controls such as CSI
act like ESC in some terminals) or a bidi override (it reorders what the operator
reads) must never reach the terminal raw.  Every printer of such text (tables,
reports, the push and backup reports, progress lines, the console) passes it
through ``safe_line`` or ``safe_block``: each unsafe character is shown as a
visible escape (``\\x1b``, ``\\u202e``), so that nothing is hidden and nothing acts.
The character set is ``inventory.model.UNSAFE_TEXT``, the one the inventory
refuses at load time.
"""

from __future__ import annotations

import re

from inventory.model import UNSAFE_TEXT

_UNSAFE_BLOCK = re.compile(r"(?![\n\t])" + UNSAFE_TEXT.pattern)
_NOT_JSON_SAFE = re.compile(r"[\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                            r"\u2066-\u2069]")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_line(value: object) -> str:
    """``value`` as one line of text with every control character (TAB and line ends
    too) and bidi override replaced by a visible escape."""
    return UNSAFE_TEXT.sub(_visible, str(value))


def safe_block(value: object) -> str:
    """Like ``safe_line`` but keeps line ends and TABs (device output, diffs)."""
    text = str(value).replace("\r\n", "\n")
    return _UNSAFE_BLOCK.sub(_visible, text)


def safe_json(text: str) -> str:
    """JSON text with what ``json.dumps(..., ensure_ascii=False)`` leaves raw (DEL, C1
    controls, bidi overrides, line separators) written as ``\\uXXXX`` escapes: the
    same JSON value, safe on a terminal."""
    return _NOT_JSON_SAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
