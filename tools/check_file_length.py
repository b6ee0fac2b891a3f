"""Check that no file under the given folders is longer than the limit (500 lines).

``python tools/check_file_length.py [--max-lines N] [FOLDER ...]`` (default ``src``) names
each longer file with its length and exits 1, or prints nothing and exits 0. Each file
does one job, and a file over the limit is a sign that it does several. Caches
(``__pycache__``, ``*.egg-info``) and binary files are not counted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

MAX_LINES = 500
SKIPPED_FOLDERS = ("__pycache__",)


def files_under(folder: Path) -> Iterator[Path]:
    """Every file under ``folder`` (or ``folder`` itself, a file), caches left out."""
    if folder.is_file():
        yield folder
        return
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        if any(p in SKIPPED_FOLDERS or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if path.is_file() and not path.name.endswith(".pyc"):
            yield path


def line_count(path: Path) -> int | None:
    """How many lines ``path`` has (a last line without a newline counts), None if binary."""
    data = path.read_bytes()
    if b"\0" in data:
        return None
    return data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)


def too_long(folders: Sequence[Path], max_lines: int) -> list[tuple[Path, int]]:
    """The files under ``folders`` longer than ``max_lines``, with their lengths."""
    found = []
    for folder in folders:
        for path in files_under(folder):
            count = line_count(path)
            if count is not None and count > max_lines:
                found.append((path, count))
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("src")])
    parser.add_argument("--max-lines", type=int, default=MAX_LINES)
    options = parser.parse_args(argv)
    missing = [str(f) for f in options.folders if not f.exists()]
    if missing:
        print(f"no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    found = too_long(options.folders, options.max_lines)
    for path, count in found:
        print(f"{path}: {count} lines, over the limit of {options.max_lines}: split it by job")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
