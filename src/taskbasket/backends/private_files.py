"""Side files and folders of a store that only their owner may use, never reached through a
symbolic link.

Stores keep files beside the user's own: SQLite's wake-up socket folder, the line
transports' ``.offset`` ledger and ``.dead`` letters. They often live in shared places
(``/tmp``), where another user could plant a symbolic link that makes taskbasket write,
truncate or bind where that user chose, or read what the umask left open. So folders are
created with mode 0700 and files with 0600 whatever the umask, an existing folder of ours
is tightened to 0700 (another user's is left alone), and a symbolic link is refused with
an error that names the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

from taskbasket.errors import ConfigurationError

DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def _refused(path: str, what: str) -> ConfigurationError:
    return ConfigurationError(
        f"{path} is {what}; taskbasket keeps its side files only where no other user can "
        "redirect them, and never follows a symbolic link there: remove it (or choose "
        "another path) and start again"
    )


def is_symlink(path: str) -> bool:
    """Whether ``path`` itself (not what it points to) is a symbolic link."""
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False


def refuse_symlink(path: str) -> None:
    """Raise a ConfigurationError if ``path`` is a symbolic link."""
    if is_symlink(path):
        raise _refused(path, "a symbolic link")


def private_directory(path: str) -> None:
    """Make ``path`` a folder of this user with mode 0700: create it so, or tighten it.

    Raises ConfigurationError for a symbolic link or something that is not a folder;
    PermissionError for a folder of another user; OSError when it cannot be made.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, DIRECTORY_MODE)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):
            raise _refused(path, "a symbolic link" if is_symlink(path) else "not a folder"
                           ) from None
        raise
    try:
        info = os.fstat(fd)
        if info.st_uid != os.geteuid():  # theirs to keep: the caller works without it
            raise PermissionError(errno.EPERM, f"a folder of another user (uid "
                                  f"{info.st_uid}); taskbasket leaves it alone", path)
        if stat.S_IMODE(info.st_mode) != DIRECTORY_MODE:
            os.fchmod(fd, DIRECTORY_MODE)
    finally:
        os.close(fd)


def open_private_file(path: str, flags: int) -> int:
    """``os.open`` of a side file: a new one gets mode 0600 whatever the umask; an existing
    one is opened as it is. Never through a symbolic link (ConfigurationError)."""
    flags |= os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(5):  # a file removed between the two opens: create it again
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            pass
        else:
            os.fchmod(fd, FILE_MODE)  # the umask may have taken bits away
            return fd
        try:
            return os.open(path, flags)
        except FileNotFoundError:
            continue
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _refused(path, "a symbolic link") from None
            raise
    raise OSError(errno.EAGAIN, "the file keeps disappearing", path)
