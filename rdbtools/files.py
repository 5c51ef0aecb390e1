"""How rdbtools writes a file: every output replaces its path only when complete and durable.

Foundation of every writing layer (the RDB writer, the AOF rewrite, conversions, the CLI).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from typing import BinaryIO, Iterator

__all__ = ["atomic_output", "fsync_directory"]


@contextmanager
def atomic_output(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only when the block ends without error: written to
    a temporary file in the same directory, flushed, fsynced and renamed into place (the
    temporary file is removed on error).  The file gets the mode of the file it replaces, or
    the mode a new file gets (0666 less the umask), not mkstemp's private 0600: a server
    running as another user must be able to load it."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    try:
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def fsync_directory(path: str | os.PathLike) -> None:
    """fsync a directory, so the renames and creations inside it are durable (``fsyncFileDir()``)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
