"""Is a server writing this AOF right now?  Operations that change an AOF in place (``check
--fix``, ``rewrite``) must not race a live server: it keeps appending to the last incr file and
rewrites the manifest on its own schedule, so a tool's truncation or new manifest would be
undone or, worse, interleaved with the server's writes.

Two independent signs are used:

* :func:`writers_of`: on Linux, every process whose open file descriptors (``/proc/PID/fd``)
  name one of the files with write access (``flags`` in ``/proc/PID/fdinfo/FD``): a running
  server holds its last incr file open for appending.  Processes this user may not inspect are
  not seen, hence the second sign;
* :class:`Fingerprint`: size, mtime and inode of the files before and after the operation; a
  change in between means something else wrote them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

__all__ = ["Writer", "writers_of", "Fingerprint", "LIVE_SERVER_ADVICE"]

LIVE_SERVER_ADVICE = ("a running server owns this AOF: let it do the work (BGREWRITEAOF compacts "
                      "it; a damaged tail needs the server stopped first), or stop the server")

_WRITE_ACCESS = os.O_WRONLY | os.O_RDWR


@dataclass(frozen=True)
class Writer:
    """A process holding one of the files open for writing."""

    pid: int
    name: str
    path: str

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.name}) writes {self.path}"


def _process_name(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return "?"


def _open_for_writing(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags:"):
                    return bool(int(line.split()[1], 8) & _WRITE_ACCESS)
    except (OSError, ValueError, IndexError):
        pass
    return False


def writers_of(paths: Iterable[str | os.PathLike]) -> list[Writer]:
    """Processes other than this one that hold any of ``paths`` open for writing (Linux
    ``/proc``; an empty list where it is not available)."""
    wanted = {os.path.realpath(p): os.fspath(p) for p in paths}
    if not wanted or not os.path.isdir("/proc"):
        return []
    me = str(os.getpid())
    found: list[Writer] = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == me:
            continue
        fd_dir = f"/proc/{pid}/fd"
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to inspect
            continue
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target in wanted and _open_for_writing(pid, fd):
                found.append(Writer(int(pid), _process_name(pid), wanted[target]))
    return found


@dataclass(frozen=True)
class Fingerprint:
    """Size, modification time and inode of each file (None for a missing one)."""

    files: tuple[tuple[str, tuple[int, int, int] | None], ...]

    @classmethod
    def of(cls, paths: Iterable[str | os.PathLike]) -> "Fingerprint":
        rows = []
        for p in paths:
            try:
                st = os.stat(p)
                rows.append((os.fspath(p), (st.st_size, st.st_mtime_ns, st.st_ino)))
            except FileNotFoundError:
                rows.append((os.fspath(p), None))
        return cls(tuple(rows))

    def changed(self) -> list[str]:
        """The files whose size, time or inode differ now from when this was taken."""
        now = Fingerprint.of(p for p, _ in self.files)
        return [p for (p, before), (_, after) in zip(self.files, now.files) if before != after]
