"""Text that every store can keep: the one place where a handler's text is made storable.

A handler decides some of the text taskbasket stores: the text of an error it raised (and,
with #19, its results and progress notes). PostgreSQL refuses a NUL in text, and no store
can encode a lone surrogate (``os.fsdecode`` makes them from undecodable file names, JSON
``"\\ud800"`` decodes to one) as UTF-8. Such text is escaped here, visibly, before it
reaches a store, so one hostile string can never make an outcome unstorable.
"""

from __future__ import annotations

import re

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""The code points some store cannot keep: NUL (PostgreSQL) and lone surrogates (UTF-8)."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return "\\x00" if code == 0 else f"\\u{code:04x}"


def storable_text(text: str) -> str:
    """``text`` with every code point a store cannot keep escaped visibly: NUL becomes the
    four characters ``\\x00`` and a lone surrogate such as U+DC80 the six characters
    ``\\udc80``; every other character is kept exactly (so the escape is not reversible).

    Every text a handler decides and taskbasket stores goes through this function: error
    texts of attempts, retry reasons, relay and dead-letter reasons, and the results and
    progress notes of #19. Cheap on ordinary text (one scan, no copy).
    """
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub(_escape, text)
