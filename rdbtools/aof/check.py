# rdbtools: aof/check.py
"""Checking an AOF file by file, and repairing a damaged tail of its last file.

Mirrors redis-check-aof.c (Redis 7.4 / 8.2, Valkey 8.1 / 9.1; FORMATS.md §6.6): every file the
server loads (the base, then each incr file; or the single file) is read on its own, RDB part
first (records, inner encodings and CRC64), then its RESP commands, ``MULTI`` / ``EXEC`` nesting
included.  For each file the report gives the first bad offset and ``ok_up_to``, the end of the
last complete command outside a ``MULTI`` block (the RDB part's end when no command follows).

Like ``redis-check-aof --fix``, :func:`fix_aof` truncates a file at ``ok_up_to`` only when that
file is the last one loaded (the last incr file, or a single-file AOF) and the damage is in its
RESP part: the server itself accepts losing such a tail (``aof-load-truncated yes``).  Damage
anywhere else would lose the commands that follow it, so it is refused with
:class:`~rdbtools.errors.AofFixRefusedError` and nothing is changed.  So is damage in the middle
of the last file that complete commands follow (a flipped byte, not a torn tail): cutting there
would drop them, where a torn tail (the file ends inside a command, or in bytes that hold no
command, such as the zeros a crash leaves) loses only what the server never finished writing.
A fix is also refused while a process holds the AOF open for writing (a running server,
:mod:`rdbtools.aof.live`) or when the files change during the check.  A copy of the file is
written (to a new file: never through a symlink) before it is truncated.
"""

from __future__ import annotations

import logging
import mmap
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import AofFixRefusedError, AofFormatError, LiveServerError
from ..files import create_new, fsync_directory
from ..format.resp import RespError, RespIncomplete, parse_record
from .live import LIVE_SERVER_ADVICE, Fingerprint, writers_of
from .reader import AofPart, AofReader, CommandBatch, open_aof

__all__ = ["FileCheck", "AofCheck", "FixResult", "check_aof", "fix_aof"]


@dataclass
class FileCheck:
    """The check of one file.

    Accessible attributes: ``file`` (name), ``path``, ``kind`` (``base``, ``incr`` or
    ``single``), ``size``, ``ok``, ``problem`` (None when sound), ``offset`` (first bad byte:
    for a truncated file, the start of the incomplete command or of the unfinished ``MULTI``),
    ``truncated`` (the file ends inside a command or a ``MULTI`` block, rather than holding
    bytes that are not RESP), ``in_rdb`` (the damage is inside the RDB part), ``ok_up_to``,
    ``rdb_end``, ``rdb_keys``, ``commands``.
    """

    file: str
    path: Path
    kind: str
    size: int
    problem: str | None = None
    offset: int | None = None
    truncated: bool = False
    in_rdb: bool = False
    ok_up_to: int = 0
    rdb_end: int | None = None
    rdb_keys: int = 0
    commands: int = 0

    @property
    def ok(self) -> bool:
        return self.problem is None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["path"] = str(self.path)
        d["ok"] = self.ok
        return d


@dataclass
class AofCheck:
    """The check of a whole AOF.  Accessible attributes: ``path``, ``layout``, ``manifest``
    (path of the manifest or None), ``files`` (:class:`FileCheck` per loaded file, in load
    order), ``history`` (names of history files, not checked: the server never loads them),
    ``ok``."""

    path: Path
    layout: str
    manifest: Path | None
    files: list[FileCheck] = field(default_factory=list)
    history: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(f.ok for f in self.files)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "layout": self.layout, "ok": self.ok,
                "manifest": None if self.manifest is None else str(self.manifest),
                "files": [f.to_dict() for f in self.files], "history": self.history}


@dataclass
class FixResult:
    """What :func:`fix_aof` did: ``file`` (path truncated, None when nothing needed fixing),
    ``backup`` (path of the copy), ``size_before``, ``size_after``, ``check`` (the
    :class:`AofCheck` before the fix)."""

    check: AofCheck
    file: Path | None = None
    backup: Path | None = None
    size_before: int = 0
    size_after: int = 0

    def to_dict(self) -> dict:
        return {"fixed": None if self.file is None else str(self.file),
                "backup": None if self.backup is None else str(self.backup),
                "size_before": self.size_before, "size_after": self.size_after,
                "check": self.check.to_dict()}


def _check_file(part: AofPart) -> FileCheck:
    """Read one file as the server loads it, alone (it is the last of its own load)."""
    result = FileCheck(part.name, part.path, part.kind, part.size)
    reader = AofReader(part.path)
    last_end = 0
    try:
        for rec in reader.iter_raw():
            if rec.__class__ is CommandBatch:
                last_end = rec.end(len(rec.cmds) - 1)
    except AofFormatError as e:
        result.problem, result.offset = e.reason, e.offset
    single = reader.parts[0]
    result.rdb_end, result.rdb_keys, result.commands = single.rdb_end, single.rdb_keys, single.commands
    if single.preamble and single.rdb_end is None:
        result.in_rdb = True  # the RDB part did not end well
        return result
    if reader.truncation is not None:
        t = reader.truncation
        result.problem, result.offset, result.truncated = t.reason, t.offset, True
        result.ok_up_to = t.offset
    elif result.problem is not None:
        result.ok_up_to = max(last_end, single.rdb_end or 0)
    else:
        result.ok_up_to = part.size
    return result


def check_aof(path: str | os.PathLike) -> AofCheck:
    """Check every file the server would load from the AOF at ``path`` (see the module
    docstring).  Damage is reported in the result, file by file, not raised.

    :raises AofFormatError: the layout cannot be recognised, the manifest is invalid, or a file
        it lists is missing.
    """
    # the reader's "truncated AOF" warning says what the report says: not twice
    reader_log = logging.getLogger(open_aof.__module__)
    level = reader_log.level
    reader_log.setLevel(logging.ERROR)
    try:
        with open_aof(path) as aof:
            report = AofCheck(Path(path), aof.layout,
                              None if aof.manifest is None else aof.manifest.path)
            report.files = [_check_file(part) for part in aof.parts]
            report.history = [h.name for h in aof.history]
    finally:
        reader_log.setLevel(level)
    return report


def _refuse_live(paths: list) -> None:
    writers = writers_of(paths)
    if writers:
        raise LiveServerError(f"{writers[0]}: {LIVE_SERVER_ADVICE}. Nothing was changed.")


def _commands_after(path: Path, offset: int) -> tuple[int, int | None]:
    """How many complete RESP commands follow the damage at ``offset``, and where the first
    starts: each line start after it is tried as the start of a command, then the commands
    from the first one that parses are counted.  The file is mapped, not read into memory."""
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size <= offset + 1:
            return 0, None
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            pos = offset + 1
            while True:
                line = data.find(b"\n*", pos)
                if line < 0:
                    return 0, None
                start = pos = line + 1
                try:
                    args, _, end = parse_record(data, start)
                except (RespError, RespIncomplete):
                    continue
                count = 1
                while end < len(data):
                    try:
                        args, _, end = parse_record(data, end)
                    except (RespError, RespIncomplete):
                        break
                    count += args is not None
                return count, start


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".bak")
    n = 1
    while os.path.lexists(candidate):  # a dangling symlink is taken too
        candidate = path.with_name(f"{path.name}.bak.{n}")
        n += 1
    return candidate


def fix_aof(path: str | os.PathLike, backup: str | os.PathLike | None = None) -> FixResult:
    """Truncate the damaged tail of the AOF's last file at its ``ok_up_to``, after copying the
    file to ``backup`` (default: ``<file>.bak``, or ``.bak.1`` ... when that exists) and
    fsyncing the copy.  An AOF without damage is left alone (``result.file`` is None).

    :raises LiveServerError: a process holds the AOF open for writing, or it changed meanwhile.
    :raises AofFixRefusedError: damage that is not a tail of the last file's RESP part (a file
        before the last one, the RDB part, a base file); nothing is changed.
    """
    with open_aof(path) as aof:
        watched = [part.path for part in aof.parts]
        if aof.manifest is not None and aof.manifest.path is not None:
            watched.append(aof.manifest.path)
    _refuse_live(watched)
    before = Fingerprint.of(watched)
    report = check_aof(path)
    result = FixResult(report)
    bad = [f for f in report.files if not f.ok]
    if not bad:
        return result
    last = report.files[-1]
    for f in bad:
        where = f"{f.file} is damaged at offset {f.offset} ({f.problem})"
        if f is not last:
            raise AofFixRefusedError(
                f"{where} and is not the last file of the AOF: cutting it there would lose "
                f"every command after it, in it and in {len(report.files) - 1 - report.files.index(f)} "
                "later file(s); only a damaged tail of the last incr file can be cut off. "
                "Nothing was changed.")
        if f.kind not in ("incr", "single"):
            raise AofFixRefusedError(
                f"{where}: it is the {f.kind} file, not an incr file; only a damaged tail of the "
                "last incr file can be cut off. Nothing was changed.")
        if f.in_rdb:
            raise AofFixRefusedError(
                f"{where}: the damage is inside its RDB part, which cannot be cut short. "
                "Nothing was changed.")
        if not f.truncated:
            following, first = _commands_after(f.path, f.offset)
            if following:
                raise AofFixRefusedError(
                    f"{where}, but it is not a torn tail: {following} complete command(s) follow "
                    f"from offset {first} ({f.size - first} bytes); cutting at {f.ok_up_to} would "
                    "lose them. Repair the bytes by hand or restore a backup. Nothing was changed.")
    target = last.path
    copy = Path(backup) if backup is not None else _backup_path(target)
    src = os.open(target, os.O_RDWR | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        with os.fdopen(create_new(copy), "wb") as out, open(src, "rb", closefd=False) as f:
            shutil.copyfileobj(f, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        fsync_directory(copy.parent)
        _refuse_live(watched)
        changed = before.changed()
        if changed:
            raise LiveServerError(
                f"{', '.join(changed)} changed while being checked: something else is writing "
                f"this AOF ({LIVE_SERVER_ADVICE}). Nothing was changed (a copy is in {copy}).")
        os.ftruncate(src, last.ok_up_to)
        os.fsync(src)
    finally:
        os.close(src)
    result.file, result.backup = target, copy
    result.size_before, result.size_after = last.size, last.ok_up_to
    return result
