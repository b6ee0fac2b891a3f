"""Log lines safe to read: no terminal control characters, no secrets.

``SafeLogFilter`` rewrites each record it passes: its message (with its arguments merged
in) and its traceback show control characters visibly (``taskbasket.terminal.visible``)
and hide URL passwords and tokens (``taskbasket.redaction.redact_text``). ``taskbasket
worker`` and ``taskbasket relay`` log through it; an application that configures logging
itself adds it to its handlers: ``handler.addFilter(SafeLogFilter())``.
"""

from __future__ import annotations

import logging
import sys

from taskbasket.redaction import redact_text
from taskbasket.terminal import visible

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_TRACEBACKS = logging.Formatter()


def _safe(text: str) -> str:
    return redact_text(visible(text))


class SafeLogFilter(logging.Filter):
    """Make a record's message and traceback safe for terminals and free of secrets.

    The record is changed in place (its ``args`` are merged into ``msg``), so every
    handler after this filter sees the safe text. Extra fields are left as they are.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        safe = _safe(message)
        if safe != message or record.args:
            record.msg, record.args = safe, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = _safe(record.exc_text)
        if record.stack_info:
            record.stack_info = _safe(record.stack_info)
        return True


def setup_logging(level: str) -> None:
    """Log to standard error at ``level``, every line through a ``SafeLogFilter``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(SafeLogFilter())
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT, handlers=[handler])
