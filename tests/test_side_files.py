"""Side files and folders of the stores (issue #14 F10): SQLite's wake-up socket folder and
the line transports' ``.offset`` and dead letters get fixed modes whatever the umask, and a
symbolic link in their place is refused with a clear error (nothing written through it)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from taskbasket import Basket, ConfigurationError
from taskbasket.backends.base import ClaimParams
from taskbasket.backends.file import FileBackend, StreamBackend


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 000, as on hosts that give every new file to everyone."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: str | Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_the_wakeup_folder_and_sockets_are_private(sqlite_url: str, open_umask: None) -> None:
    basket = Basket(sqlite_url)
    try:
        listener = basket.backend.listener(None)
        folder = urlsplit(sqlite_url).path[1:] + ".wake"
        assert _mode(folder) == 0o700
        sockets = os.listdir(folder)
        assert sockets and all(_mode(os.path.join(folder, s)) == 0o600 for s in sockets)
        listener.close()
    finally:
        basket.close()


def test_a_loose_wakeup_folder_of_ours_is_tightened(sqlite_url: str, open_umask: None) -> None:
    folder = urlsplit(sqlite_url).path[1:] + ".wake"
    os.mkdir(folder, 0o777)  # as taskbasket made it before, under umask 000
    basket = Basket(sqlite_url)
    try:
        basket.backend.listener(None).close()
        assert _mode(folder) == 0o700
    finally:
        basket.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder away")
def test_another_users_wakeup_folder_is_left_alone(sqlite_url: str) -> None:
    from taskbasket.backends.base import PollingListener

    folder = urlsplit(sqlite_url).path[1:] + ".wake"
    os.mkdir(folder, 0o755)
    os.chown(folder, 54321, 54321)
    basket = Basket(sqlite_url)
    try:
        assert isinstance(basket.backend.listener(None), PollingListener)  # it polls
        assert _mode(folder) == 0o755 and os.listdir(folder) == []
    finally:
        basket.close()


def test_a_symlinked_wakeup_folder_is_refused(sqlite_url: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = urlsplit(sqlite_url).path[1:] + ".wake"
    os.symlink(elsewhere, folder)
    basket = Basket(sqlite_url)
    try:
        basket.enqueue("job")  # producers do not send through it either
        with pytest.raises(ConfigurationError, match="symbolic link"):
            basket.backend.listener(None)
        assert os.listdir(elsewhere) == []
    finally:
        basket.close()


def test_line_side_files_are_private(tmp_path: Path, open_umask: None) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text('not a task\n{"name": "stamp"}\n')
    backend = FileBackend(f"file://{tasks}")
    try:
        assert len(backend.tasks_claim(ClaimParams("w", None, 2, 30.0))) == 1
    finally:
        backend.close()
    assert _mode(f"{tasks}.offset") == 0o600
    assert _mode(f"{tasks}.dead") == 0o600
    read, write = os.pipe()
    stream = StreamBackend(f"stdin://?dead={tmp_path / 'stdin-dead.jsonl'}", input_fd=read)
    os.write(write, b"junk\n")
    os.close(write)
    try:
        assert stream.tasks_claim(ClaimParams("w", None, 1, 30.0)) == []
        assert _mode(tmp_path / "stdin-dead.jsonl") == 0o600
    finally:
        os.close(read)


@pytest.mark.parametrize("side", [".offset", ".dead"])
def test_symlinked_line_side_files_are_refused(tmp_path: Path, side: str) -> None:
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text("not a task\n")
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    os.symlink(victim, f"{tasks}{side}")
    backend = FileBackend(f"file://{tasks}")
    try:
        with pytest.raises(ConfigurationError, match=f"{side} is a symbolic link"):
            backend.listener(None)
    finally:
        backend.close()
    if side == ".dead":  # reading (and rewriting) the dead letters does not follow it
        with pytest.raises(ConfigurationError, match="symbolic link"):
            Basket(f"file://{tasks}").count(state="failed")
    assert victim.read_text() == "precious\n"
