"""How rdbtools writes a file: every output is complete and durable, or absent.

Foundation of every writing layer (the RDB writer, the AOF rewrite and repair, conversions, the
CLI).  The promises, each kept here once:

* a writing operation never touches a file it did not create: new files are opened with
  ``O_CREAT | O_EXCL | O_NOFOLLOW`` (:func:`create_new`), so neither an existing file nor a
  symlink planted under the name is ever written through;
* an output never replaces an input: same path, a symlink to it, a hard link (same inode), or a
  path inside an input directory is refused (:func:`refuse_inputs`);
* :func:`atomic_output` writes a temporary file next to the destination, fsyncs it, renames it
  into place and fsyncs the directory; on any failure (``ENOSPC``, ``EIO``, an exception, a
  signal that unwinds) the temporary file is removed and the destination is untouched;
* every byte written to a stream is checked (:class:`CheckedWriter`): a short write or an error
  of the raw stream is an :class:`OSError`, never silence.
"""

from __future__ import annotations

import errno
import io
import os
import secrets
import stat
from contextlib import contextmanager
from typing import BinaryIO, Iterable, Iterator

from .errors import UnsafeOutputError

__all__ = ["atomic_output", "fsync_directory", "create_new", "refuse_inputs", "input_locations",
           "same_file", "CheckedWriter", "NEW_FILE_FLAGS"]

#: how every new file is opened: created here, never an existing file, never through a symlink
NEW_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def _default_mode() -> int:
    """The mode a new file gets (0666 less the umask), as a server creating it would."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def create_new(path: str | os.PathLike, mode: int | None = None) -> int:
    """Create ``path`` and return its file descriptor (write only).  ``path`` must not exist:
    an existing file, or a symlink (dangling or not) at that name, is refused.

    :raises UnsafeOutputError: something already has the name.
    """
    try:
        return os.open(path, NEW_FILE_FLAGS, _default_mode() if mode is None else mode)
    except FileExistsError:
        kind = "a symlink" if os.path.islink(path) else "a file"
        raise UnsafeOutputError(f"{os.fspath(path)}: {kind} already has this name; refusing to "
                                "write over or through it") from None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file: the same resolved path or the same inode."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def refuse_inputs(dest: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> None:
    """Refuse an output path that would replace or land inside one of ``inputs``.

    :raises UnsafeOutputError: ``dest`` is an input (same path, symlink or hard link), or lies
        inside an input directory (an AOF directory being read).
    """
    real = os.path.realpath(dest)
    for source in inputs:
        if isinstance(source, (str, os.PathLike)) and os.fspath(source) != "-":
            if same_file(dest, source):
                raise UnsafeOutputError(f"{os.fspath(dest)}: the output is the input "
                                        f"{os.fspath(source)}; write to another path")
            if os.path.isdir(source):
                top = os.path.realpath(source)
                if os.path.commonpath([real, top]) == top:
                    raise UnsafeOutputError(f"{os.fspath(dest)}: the output lies inside the input "
                                            f"directory {os.fspath(source)}; write elsewhere")


def input_locations(source: object) -> list[str]:
    """The paths an output must not replace or enter when reading ``source``: the path itself,
    plus its directory when that directory is a multi-part AOF directory (it holds a
    ``.manifest``: every file there is part of the input).  Empty for streams, bytes and ``-``."""
    if not isinstance(source, (str, os.PathLike)) or os.fspath(source) == "-":
        return []
    path = os.fspath(source)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isfile(path):
        try:
            if any(name.endswith(".manifest") for name in os.listdir(directory)):
                return [path, directory]
        except OSError:
            pass
    return [path]


def fsync_directory(path: str | os.PathLike) -> None:
    """fsync a directory, so the renames and creations inside it are durable (``fsyncFileDir()``)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_output(path: str | os.PathLike, *, inputs: Iterable[str | os.PathLike] = ()
                  ) -> Iterator[BinaryIO]:
    """A binary file that replaces ``path`` only when the block ends without error.

    Written to a new temporary file in the same directory (:func:`create_new`), flushed,
    fsynced, renamed into place, and the directory fsynced; the temporary file is removed on
    any error.  The file gets the mode of the file it replaces, or the mode a new file gets
    (0666 less the umask), not a private 0600: a server running as another user must be able to
    load it.

    :raises UnsafeOutputError: ``path`` is one of ``inputs`` (or inside one), or is a symlink
        (replacing a link by a file, or writing where it points, are both surprises).
    """
    path = os.fspath(path)
    refuse_inputs(path, inputs)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        mode = _default_mode()
    else:
        if stat.S_ISLNK(st.st_mode):
            raise UnsafeOutputError(f"{path}: the output is a symlink; name the real file")
        if not stat.S_ISREG(st.st_mode):
            raise UnsafeOutputError(f"{path}: the output exists and is not a regular file")
        mode = st.st_mode & 0o7777
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = create_new(tmp, mode)
    try:
        os.fchmod(fd, mode)  # the umask applied at creation
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_directory(directory)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


class CheckedWriter(io.RawIOBase):
    """A binary stream over a raw one (``sys.stdout.buffer.raw``, a pipe, a socket file) that
    writes every byte it is given or raises: a raw ``write()`` may write fewer bytes than asked
    (a full disk, a signal) and says so only in its return value, which callers of a file
    object never look at."""

    def __init__(self, raw) -> None:
        super().__init__()
        self._raw = raw

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self._raw.fileno()

    def write(self, data) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            n = self._raw.write(view)
            if n is None:  # a non-blocking stream that cannot take more now
                raise BlockingIOError(errno.EAGAIN, "the output does not accept more bytes")
            if n == 0:
                raise OSError(errno.EIO, "the output accepted no bytes")
            view = view[n:]
        return total

    def flush(self) -> None:
        flush = getattr(self._raw, "flush", None)
        if flush is not None:
            flush()
