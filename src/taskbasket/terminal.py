"""Text from the store made safe for an operator's terminal: control characters made visible.

A task's error, arguments or name may hold escape sequences (a handler's exception text
is whatever the handler raised) that a terminal would obey: set the window title, write
the clipboard (OSC 52), clear the screen, or reorder text (bidirectional overrides).
``visible`` shows each such character as its escape instead (``\\x1b``, ``\\x9b``,
``\\u202e``), keeping newlines and tabs. The CLI prints through ``SafeConsole`` and the
worker's log lines pass ``taskbasket.logs.SafeLogFilter``; ``--json`` output is left exact.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.text import Text

_KEPT = {"\n", "\t"}
_FORMAT_CONTROLS = [0x061C, 0x200E, 0x200F, 0x2028, 0x2029, *range(0x202A, 0x202F),
                    *range(0x2066, 0x206A)]
_CONTROLS = [c for c in [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in _KEPT]
_TABLE: dict[int, str] = {
    **{c: f"\\x{c:02x}" for c in _CONTROLS},
    **{c: f"\\u{c:04x}" for c in _FORMAT_CONTROLS},
}
_ANY_CONTROL = frozenset(chr(c) for c in _TABLE)


def has_control(text: str) -> bool:
    """Whether ``text`` holds a character that ``visible`` would rewrite."""
    return not _ANY_CONTROL.isdisjoint(text)


def visible(text: str) -> str:
    """``text`` with every terminal control character shown as its escape (``\\x1b``).

    Newlines and tabs are kept; everything else a terminal could act on (C0 and C1
    controls, DEL, bidirectional and line-separator format characters) is rewritten.
    """
    return text.translate(_TABLE) if has_control(text) else text


class SafeConsole(Console):
    """A rich Console that shows control characters in every string it prints visibly.

    Every ``str`` printed, alone or in a table cell, passes ``visible`` before rich reads
    its markup; rich's own styling is unaffected.
    """

    def render_str(self, text: str, **options: Any) -> Text:
        return super().render_str(visible(text), **options)
