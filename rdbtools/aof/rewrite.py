# rdbtools: aof/rewrite.py
"""Offline AOF rewrite (compaction): what ``BGREWRITEAOF`` does, without a server.

Mirrors aof.c ``rewriteAppendOnlyFileBackground()``, ``backgroundRewriteDoneHandler()``,
``persistAofManifest()`` and ``aofDelHistoryFiles()`` (Redis 7.0 - 8.10, Valkey 8.1 - 9.1;
FORMATS.md §6.4).  The AOF is replayed (:mod:`.replay`) and its dataset written as a new base
(:mod:`.base`: an RDB for the server that wrote the AOF, or the rewrite's commands).

A multi-part directory is rewritten in place, in the server's order, each step durable before
the next one starts, so that a crash (``kill -9``) at any moment leaves a directory that loads
the same dataset:

1. the new base is written as ``temp-rewriteaof-bg-<pid>.aof``, fsynced and renamed to
   ``<appendfilename>.<base seq + 1>.base.rdb`` (or ``.base.aof``);
2. the new, empty incr file ``<appendfilename>.<last incr seq + 1>.incr.aof`` is created and
   fsynced, then the directory;
3. the manifest is replaced atomically (``temp-<appendfilename>.manifest``, fsync, rename, fsync
   of the directory) by one naming the new base and incr file, with the old base and incr files
   re-typed ``h`` (history) in the server's order: the old incr files newest first, then the old
   base, then older history;
4. unless history is kept (``aof-disable-auto-gc yes``), every history file is deleted and the
   manifest is written again without them.

Before step 3 the manifest names only the old files, which are never touched; from step 3 on it
names only complete new files.  Files the manifest does not name (a leftover temporary base) are
ignored by the server's loader.  Redis 8.x manifests carry replication offsets: the new incr
file gets ``startoffset`` = where the last incr file ended (its ``endoffset``, else its
``startoffset`` plus its size), what the server computes on load (``updateReplOffsetAndResetEndOffset()``).

A single-file AOF (Redis 6.x) is rewritten to one compact file, atomically.  The server must not
be running on the AOF being rewritten: an in-place rewrite is refused while a process holds one
of its files open for writing, or when the files change between the replay and the manifest
switch (:mod:`.live`; the advice is the server's own ``BGREWRITEAOF``).  Every file it creates
is created new (``O_EXCL | O_NOFOLLOW``): a symlink planted under the name of the next incr file
or of a temporary file is never written through.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from ..format.manifest import ManifestLine
from ..model import Entry
from ..rdb.targets import Target, get_target
from ..errors import LiveServerError
from ..files import atomic_output, create_new, fsync_directory
from .live import LIVE_SERVER_ADVICE, Fingerprint, writers_of
from ..rdb.writer import WriteResult
from .base import BASE_FORMS, aof_target, last_timestamp, resp_rdb_version, write_base
from .manifest import (MANIFEST_SUFFIX, Manifest, base_file_name,
                       incr_file_name, write_manifest)
from .reader import AofReader, open_aof
from .replay import ServerProfile, replay

__all__ = ["RewriteResult", "rewrite_aof", "ProgressCallback", "BASE_FORMS"]

ProgressCallback = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stage ``"replay"`` (bytes of the AOF) then ``"write"`` (keys)."""


@dataclass
class RewriteResult:
    """What a rewrite did.

    Accessible attributes: ``path`` (the directory or file written), ``layout``
    (``multi-part`` / ``single``), ``base`` (``rdb`` / ``aof``), ``target`` (the server the RDB
    base was written for, or None), ``keys``, ``functions``, ``commands`` (replayed),
    ``size_before`` / ``size_after`` (bytes of the AOF's files, history included, before and
    after), ``seconds``, ``written`` (new file names), ``retired`` (old files re-typed history),
    ``deleted`` (history files removed).
    """

    path: Path
    layout: str
    base: str
    target: Target | None
    keys: int = 0
    functions: int = 0
    commands: int = 0
    size_before: int = 0
    size_after: int = 0
    seconds: float = 0.0
    written: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"path": str(self.path), "layout": self.layout, "base": self.base,
                "target": None if self.target is None else self.target.name,
                "keys": self.keys, "functions": self.functions, "commands": self.commands,
                "size_before": self.size_before, "size_after": self.size_after,
                "seconds": round(self.seconds, 3), "written": self.written,
                "retired": self.retired, "deleted": self.deleted}


def _counting(entries: Iterator[Entry], progress: ProgressCallback, total: int) -> Iterator[Entry]:
    for done, entry in enumerate(entries, 1):
        yield entry
        if not done & 1023:
            progress("write", done, total)
    progress("write", total, total)


def _input_form(aof: AofReader, target: Target | None) -> str:
    """The base form the server that wrote the AOF uses (its ``aof-use-rdb-preamble``): the form
    of the AOF's own base or single file."""
    first = aof.parts[0] if aof.parts else None
    if first is not None and first.kind in ("base", "single"):
        return "rdb" if first.preamble else "aof"
    return "rdb" if target is not None else "aof"


def _repl_offset(aof: AofReader) -> int | None:
    """Redis 8.x: the replication offset at the end of the last incr file (None before 8.0)."""
    if not any(p.start_offset is not None for p in aof.parts):
        return None
    last = next((p for p in reversed(aof.parts) if p.kind == "incr"), None)
    if last is None:
        return None
    if last.end_offset is not None:
        return last.end_offset
    return (last.start_offset or 0) + last.size


def _files_of(aof: AofReader) -> list[Path]:
    """The files a server writes while it runs on this AOF: its parts and its manifest."""
    files = [part.path for part in aof.parts]
    if aof.manifest is not None and aof.manifest.path is not None:
        files.append(aof.manifest.path)
    return files


def _as_history(line: ManifestLine) -> ManifestLine:
    return ManifestLine(line.file, line.seq, "h", line.start_offset, line.end_offset,
                        list(line.extra))


def _write_base_and_incr(directory: Path, base_name: str, incr_name: str,
                         write: Callable[[BinaryIO], WriteResult]) -> WriteResult:
    """Steps 1 and 2 of the module docstring.  The new incr file is created first: a file
    already under its name (a planted symlink included) stops the rewrite before anything is
    written, and it is removed again if writing the base fails."""
    fd = create_new(directory / incr_name)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    temp = directory / f"temp-rewriteaof-bg-{os.getpid()}.aof"
    try:
        temp.unlink(missing_ok=True)  # a crashed run's leftover (unlinking a symlink is safe)
        with os.fdopen(create_new(temp), "wb") as f:
            result = write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, directory / base_name)
    except BaseException:
        temp.unlink(missing_ok=True)
        (directory / incr_name).unlink(missing_ok=True)
        raise
    fsync_directory(directory)
    return result


def _name(line: ManifestLine) -> str:
    return line.file.decode("utf-8", "surrogateescape")


def _rewrite_directory(aof: AofReader, dest: Path | None, form: str, keep_history: bool,
                       write: Callable[[BinaryIO], WriteResult], out: RewriteResult,
                       watched: Fingerprint | None) -> WriteResult:
    old = aof.manifest
    assert old is not None and old.path is not None
    appendfilename = old.path.name[: -len(MANIFEST_SUFFIX)]
    # aof.c: curr_base_file_seq / curr_incr_file_seq are the base's and the last incr's seq
    base_seq = (old.base.seq if old.base else 0) + 1
    incr_seq = (old.incr[-1].seq if old.incr else 0) + 1
    base_name = base_file_name(appendfilename, base_seq, form == "rdb")
    incr_name = incr_file_name(appendfilename, incr_seq)
    new_base = ManifestLine(base_name.encode(), base_seq, "b")
    new_incr = ManifestLine(incr_name.encode(), incr_seq, "i", start_offset=_repl_offset(aof))
    out.written = [base_name, incr_name]
    if dest is not None:
        if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
            raise ValueError(f"{dest}: exists and is not an empty directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        build = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
        try:
            build.chmod(0o755)
            result = _write_base_and_incr(build, base_name, incr_name, write)
            write_manifest(build, appendfilename, Manifest([new_base, new_incr]))
            os.replace(build, dest)
            fsync_directory(dest.parent)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        out.path = dest
        out.size_after = (dest / base_name).stat().st_size
        return result
    directory = old.path.parent
    result = _write_base_and_incr(directory, base_name, incr_name, write)
    changed = watched.changed() if watched is not None else []
    if changed or writers_of(_files_of(aof)):
        for name in (base_name, incr_name):  # the manifest never named them: nothing else changes
            (directory / name).unlink(missing_ok=True)
        raise LiveServerError(f"{', '.join(changed) or directory}: written to during the "
                                 f"rewrite ({LIVE_SERVER_ADVICE}). Nothing was changed.")
    # backgroundRewriteDoneHandler(): the old base, then each old incr file, is put at the
    # head of the history list
    retired = [_as_history(ln) for ln in reversed(old.incr)]
    if old.base is not None:
        retired.append(_as_history(old.base))
    history = retired + old.history
    out.retired = [_name(ln) for ln in retired]
    write_manifest(directory, appendfilename, Manifest([new_base, *history, new_incr]))
    out.path = directory
    if keep_history:
        kept = sum((directory / _name(ln)).stat().st_size for ln in history
                   if (directory / _name(ln)).is_file())
    else:
        live = {base_name, incr_name}
        for ln in history:
            name = _name(ln)
            if name not in live and (directory / name).is_file():
                (directory / name).unlink()
                out.deleted.append(name)
        fsync_directory(directory)
        write_manifest(directory, appendfilename, Manifest([new_base, new_incr]))
        kept = 0
    out.size_after = (directory / base_name).stat().st_size + kept
    return result


def _rewrite_file(aof: AofReader, dest: Path | None, write: Callable[[BinaryIO], WriteResult],
                  out: RewriteResult) -> WriteResult:
    source = aof.parts[0].path
    target = source if dest is None else (dest / source.name if dest.is_dir() else dest)
    with atomic_output(target) as fp:
        if target == source:
            os.fchmod(fp.fileno(), source.stat().st_mode & 0o7777)
        result = write(fp)
    out.path = target
    out.written = [target.name]
    out.size_after = target.stat().st_size
    return result


def rewrite_aof(path: str | os.PathLike, dest: str | os.PathLike | None = None, *,
                base: str | None = None, target: str | Target | None = None,
                keep_history: bool = False, profile: ServerProfile | None = None,
                progress: ProgressCallback | None = None) -> RewriteResult:
    """Rewrite the AOF at ``path`` (a multi-part directory, its manifest, or a single file) to
    its compact form, as the server's rewrite would (see the module docstring).

    ``dest``: None rewrites in place; otherwise a new directory (multi-part input; it must not
    exist or be empty) or file (single-file input), and ``path`` is left as it is.  ``base``:
    ``"rdb"`` or ``"aof"``; default: the form of the AOF's own base (the server's
    ``aof-use-rdb-preamble``).  ``target``: the server an RDB base is written for; default: the
    server named by the AOF's RDB part.  ``keep_history`` keeps the retired files (as
    ``aof-disable-auto-gc yes``).  ``profile`` is the replay's server profile.

    :raises AofFormatError: damaged input (a truncated last file included: fix it first), or a
        command the replay does not implement.  Nothing has been written then.
    :raises EncodeError: a key the target cannot hold in full (nothing is replaced then).
    :raises ValueError: an RDB base without a known server and without ``target``; a ``dest``
        that is not empty.
    """
    started = time.monotonic()
    explicit = None if target is None else get_target(target)
    if profile is None and explicit is not None:
        # the replay's encodings and stream metadata are those of the target (an RDB part
        # naming its server still wins)
        profile = ServerProfile.parse(f"{explicit.server}-{explicit.version}")
    with open_aof(path, strict=True) as aof:
        total = aof.total_size
        watched = None
        if dest is None:
            writers = writers_of(_files_of(aof))
            if writers:
                raise LiveServerError(f"{writers[0]}: {LIVE_SERVER_ADVICE}. Nothing was changed.")
            watched = Fingerprint.of(_files_of(aof))
        engine = replay(aof, profile=profile, progress=None if progress is None else
                        (lambda done: progress("replay", done, total)))
    chosen = explicit or aof_target(aof)
    form = base or _input_form(aof, chosen)
    if form == "rdb" and chosen is None:
        raise ValueError(f"{path}: the AOF has no RDB part naming the server that wrote it; "
                         "give the target server for an RDB base (e.g. redis-7.0), or write "
                         "an AOF base")
    entries = engine.iter_entries()
    if progress is not None:
        entries = _counting(entries, progress, sum(len(keys) for keys in engine.dbs.values()))

    # the command forms of a RESP base: the target's; without one, those of the server the
    # replay was told it imitates (XCFGSET, XNACK, ARMSET ... need Redis 8.6 / 8.8), else the
    # layout's
    rdb_version = resp_rdb_version(aof, chosen)
    if chosen is None and (profile is not None or engine.profile_proven):
        rdb_version = engine.profile.rdb_version

    def write(fp: BinaryIO) -> WriteResult:
        return write_base(engine, fp, form, chosen, rdb_version=rdb_version,
                          timestamp=last_timestamp(aof) if form == "aof" else None,
                          entries=entries)

    out = RewriteResult(Path(path), aof.layout if aof.layout == "multi-part" else "single", form,
                        chosen if form == "rdb" else None, commands=engine.commands)
    out.size_before = total + sum(h.size for h in aof.history)
    dest_path = None if dest is None else Path(dest)
    if aof.layout == "multi-part":
        result = _rewrite_directory(aof, dest_path, form, keep_history, write, out, watched)
    else:
        result = _rewrite_file(aof, dest_path, write, out)
    out.keys, out.functions = result.keys, result.functions
    out.seconds = time.monotonic() - started
    return out
