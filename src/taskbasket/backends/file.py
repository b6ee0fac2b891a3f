"""The line transports' old module path, kept importable: they live in ``backends.lines``."""

from taskbasket.backends.lines import (
    DEFAULT_DEAD,
    SHORT_DEFAULTS,
    FileBackend,
    LineBackend,
    LineListener,
    StreamBackend,
    append_lines,
    parse_line,
)

__all__ = [
    "DEFAULT_DEAD", "SHORT_DEFAULTS", "FileBackend", "LineBackend", "LineListener",
    "StreamBackend", "append_lines", "parse_line",
]
