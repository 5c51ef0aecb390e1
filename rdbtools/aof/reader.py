# rdbtools: aof/reader.py
"""Reading every AOF layout: single files (plain RESP or with an RDB preamble) and multi-part
directories described by a manifest.

Mirrors aof.c ``loadAppendOnlyFiles()`` / ``loadSingleAppendOnlyFile()`` and redis-check-aof.c
(Redis 7.4, 8.2; Valkey 8.1, 9.1); FORMATS.md §6.  What the reader yields, in load order:

* the records of an RDB preamble / RDB base (:class:`~rdbtools.model.Entry`,
  :class:`~rdbtools.model.Function`, as :class:`~rdbtools.rdb.reader.RdbReader` gives them);
* :class:`AofCommand` for each RESP command, with its file, byte offset and the last ``#TS:``
  timestamp seen.

``MULTI`` ... ``EXEC`` blocks are passed through whole: the reader holds a block back until its
``EXEC`` so that an unfinished transaction at the end of the last file is dropped, as the server
drops it.  A last file that ends inside a command (or inside an unfinished ``MULTI``) is
*truncated*: like Redis with ``aof-load-truncated yes`` the reader stops at the end of the last
complete command and records :attr:`AofReader.truncation` (file and byte offset); with
``strict=True`` it raises :class:`~rdbtools.errors.AofTruncatedError` instead.  Truncation of a
file that is not the last one, and any byte that does not start a RESP record, are always errors
(:class:`~rdbtools.errors.AofFormatError`, naming file, line and byte offset).
"""

from __future__ import annotations

import io
import logging
import os
from operator import itemgetter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generator, Iterator, Union

from ..rdb import _accel
from ..errors import AofFormatError, AofTruncatedError, FormatError
from ..format.resp import (RespError, RespIncomplete, parse_commands, parse_record,
                           parse_timestamp)
from ..model import Aux, Entry, Function
from ..rdb.reader import open_rdb
from .manifest import Manifest, read_manifest

__all__ = ["AofCommand", "CommandBatch", "AofPart", "Truncation", "AofReader", "open_aof",
           "find_layout", "is_aof"]

log = logging.getLogger(__name__)

CHUNK = 8 << 20
BATCH = 2048  # commands per CommandBatch (parse_commands limit)
# the compiled batch parser when it is built (tests/aof/test_resp_reader.py: same results)
_parse_commands = _accel.parse_commands or parse_commands
RDB_MAGICS = (b"REDIS", b"VALKEY")


@dataclass(slots=True)
class AofCommand:
    """One command of the AOF.

    Accessible attributes: ``args`` (list of bytes; ``args[0]`` is the command name as written),
    ``file`` (part name), ``offset`` (byte offset of its ``*`` in that file), ``end`` (offset
    just after it), ``timestamp`` (Unix seconds of the last ``#TS:`` annotation before it, or
    None), ``global_offset`` (offset in the concatenation of the loaded parts).
    """

    args: list[bytes]
    file: str
    offset: int
    end: int
    timestamp: int | None = None
    global_offset: int = 0

    @property
    def name(self) -> bytes:
        return self.args[0].upper()


def _case_variants(word: bytes) -> set[bytes]:
    out = {b""}
    for c in word:
        ch = bytes([c])
        out = {x + v for x in out for v in {ch.lower(), ch.upper()}}
    return out


_TXN = frozenset(_case_variants(b"MULTI") | _case_variants(b"EXEC"))  # any spelling of both
_first = itemgetter(0)


class CommandBatch:
    """Consecutive commands of one part sharing one ``#TS:`` timestamp, without a per-command
    object (what :meth:`AofReader.iter_raw` yields; :meth:`commands` gives the
    :class:`AofCommand` records).

    Accessible attributes: ``file``, ``base`` (offset of the part in the concatenation of the
    loaded parts), ``ts``, ``cmds`` (list of argument lists); :meth:`offset` / :meth:`end`
    give the byte offsets of command ``i`` in its file.
    """

    __slots__ = ("file", "base", "ts", "cmds", "ends", "first", "delta", "starts")

    def __init__(self, file: str, base: int, ts: int | None, cmds: list, ends: list, first: int,
                 delta: int, starts: list | None = None) -> None:
        self.file = file
        self.base = base
        self.ts = ts
        self.cmds = cmds
        self.ends = ends  # end offsets, relative to delta
        self.first = first  # offset of cmds[0], relative to delta (when starts is None)
        self.delta = delta
        self.starts = starts  # offsets relative to delta, or None: contiguous commands

    def offset(self, i: int) -> int:
        if self.starts is not None:
            return self.delta + self.starts[i]
        return self.delta + (self.ends[i - 1] if i else self.first)

    def end(self, i: int) -> int:
        return self.delta + self.ends[i]

    def commands(self) -> list[AofCommand]:
        file, base, ts, delta = self.file, self.base, self.ts, self.delta
        out = []
        if self.starts is None:
            offset = delta + self.first
            for args, e in zip(self.cmds, self.ends):
                end = delta + e
                out.append(AofCommand(args, file, offset, end, ts, base + offset))
                offset = end
        else:
            for args, s, e in zip(self.cmds, self.starts, self.ends):
                out.append(AofCommand(args, file, delta + s, delta + e, ts, base + delta + s))
        return out


def _batches(file: str, base: int, ready: list) -> Iterator[CommandBatch]:
    """``(args, offset, end, ts)`` tuples as batches of one timestamp each."""
    i, n = 0, len(ready)
    while i < n:
        ts = ready[i][3]
        j = i + 1
        while j < n and ready[j][3] == ts:
            j += 1
        group = ready[i:j]
        yield CommandBatch(file, base, ts, [r[0] for r in group], [r[2] for r in group], 0, 0,
                           [r[1] for r in group])
        i = j


class _State:
    """What the RESP reader of one part carries from batch to batch."""

    __slots__ = ("ts", "multi", "multi_offset", "good_end", "error")

    def __init__(self, start: int) -> None:
        self.ts: int | None = None
        self.multi: list | None = None
        self.multi_offset = 0
        self.good_end = start  # end of the last complete command outside MULTI
        self.error: AofFormatError | None = None


@dataclass
class AofPart:
    """One file of the AOF.

    Accessible attributes: ``name``, ``path``, ``kind`` (``single``, ``base``, ``incr`` or
    ``history``), ``seq`` (manifest sequence or None), ``size`` (bytes), ``preamble``
    (``"REDIS0011"``-style header when the file starts with an RDB, else None),
    ``start_offset``/``end_offset`` (Redis 8.x manifest fields), and after reading:
    ``commands`` (count), ``rdb_keys`` (keys in the RDB part), ``rdb_end`` (offset of the first
    byte after the RDB part, None without one), ``first_ts``/``last_ts``.
    """

    name: str
    path: Path
    kind: str
    seq: int | None = None
    size: int = 0
    preamble: str | None = None
    start_offset: int | None = None
    end_offset: int | None = None
    commands: int = 0
    rdb_keys: int = 0
    rdb_end: int | None = None
    first_ts: int | None = None
    last_ts: int | None = None
    rdb_aux: dict[bytes, bytes] = field(default_factory=dict)


@dataclass
class Truncation:
    """Where a truncated last file stops being usable: ``file``, ``offset`` (end of the last
    complete command, outside any MULTI), ``size`` (bytes of the file), ``reason``."""

    file: str
    offset: int
    size: int
    reason: str

    @property
    def dropped_bytes(self) -> int:
        return self.size - self.offset


AofRecord = Union[Entry, Function, AofCommand]


def find_layout(path: str | os.PathLike) -> tuple[str, Path | None, Path]:
    """Classify ``path``: ``("multi-part", manifest, directory)`` for a manifest file, an
    ``appendonlydir`` or a folder containing one; ``("single", None, file)`` for a file.

    :raises AofFormatError: a directory without exactly one manifest.
    """
    p = Path(path)
    if p.is_dir():
        manifests = sorted(q for q in p.glob("*.manifest") if not q.name.startswith("temp-"))
        if not manifests:
            subdirs = [q for q in p.iterdir() if q.is_dir() and list(q.glob("*.manifest"))]
            if len(subdirs) == 1:
                return find_layout(subdirs[0])
            singles = [q for q in p.glob("*.aof") if q.is_file()]
            if len(singles) == 1 and not subdirs:
                return "single", None, singles[0]
            raise AofFormatError("no AOF manifest (*.manifest) in this directory", None,
                                 file=str(p))
        if len(manifests) > 1:
            raise AofFormatError(f"{len(manifests)} manifests in this directory: "
                                 f"{', '.join(m.name for m in manifests)}", None, file=str(p))
        return "multi-part", manifests[0], p
    if p.name.endswith(".manifest"):
        return "multi-part", p, p.parent
    return "single", None, p


def is_aof(path: str | os.PathLike) -> bool:
    """Whether ``path`` names an AOF rather than an RDB file or a dump: a directory, a
    ``.manifest``, a file starting with a RESP array or an annotation (``*``, ``#``), or a
    ``*.aof`` file (one that starts with an RDB preamble included)."""
    p = Path(path)
    if p.is_dir() or p.name.endswith(".manifest"):
        return True
    try:
        with open(p, "rb") as f:
            head = f.read(1)
    except OSError:
        return False
    return head in (b"*", b"#") or (p.suffix == ".aof" and head in (b"R", b"V"))


def _line_of(path: Path, offset: int) -> int | None:
    try:
        with open(path, "rb") as f:
            return f.read(offset).count(b"\n") + 1
    except OSError:
        return None


class _Unseekable(io.RawIOBase):
    """Hides the size of a file from the RDB reader, which otherwise warns about the RESP bytes
    after the preamble ("bytes after the RDB end")."""

    def __init__(self, f) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._f.read(len(b))
        b[: len(data)] = data
        return len(data)


class AofReader:
    """Reads one AOF (a single file or a multi-part directory).  Use as a context manager.

    Accessible attributes: ``path``, ``layout`` (``single``, ``single-preamble`` or
    ``multi-part``), ``manifest`` (:class:`~rdbtools.aof.manifest.Manifest` or None), ``parts``
    (the :class:`AofPart` files loaded, in order), ``history`` (history parts, not loaded),
    ``truncation`` (a :class:`Truncation` after reading, or None), ``stopped_at`` (after a
    read that ``upto_timestamp`` / ``upto_offset`` ended early: ``(part name, offset)`` of the
    first byte not used, the start of a ``#TS:`` line, a command or a dropped ``MULTI``; None
    when the whole AOF was read), ``rdb_version`` /
    ``rdb_magic`` / ``server_version`` (from an RDB preamble or base, when there is one).

    :param strict: raise :class:`AofTruncatedError` for a truncated last file instead of
        stopping at the last complete command.
    """

    def __init__(self, path: str | os.PathLike, *, strict: bool = False) -> None:
        self.path = Path(path)
        self.strict = strict
        kind, manifest_path, where = find_layout(self.path)
        self.manifest: Manifest | None = None
        self.history: list[AofPart] = []
        self.truncation: Truncation | None = None
        self.stopped_at: tuple[str, int] | None = None
        self.rdb_magic: str | None = None
        self.rdb_version: int | None = None
        self.server_version: str | None = None
        self.server_name: str | None = None
        if kind == "multi-part":
            self.manifest = read_manifest(manifest_path)
            self.parts = []
            for ln in self.manifest.lines:
                name = ln.file.decode("utf-8", "surrogateescape")
                part = AofPart(name, where / name, {"b": "base", "i": "incr", "h": "history"}[ln.type],
                               seq=ln.seq, start_offset=ln.start_offset, end_offset=ln.end_offset)
                self._stat(part, must_exist=ln.type != "h")
                (self.history if ln.type == "h" else self.parts).append(part)
            order = {"base": 0, "incr": 1}
            self.parts.sort(key=lambda p: order[p.kind])  # base first; incr in manifest order
            self.layout = "multi-part"
        else:
            if not where.is_file():
                raise AofFormatError("no such AOF file", None, file=str(where))
            part = AofPart(where.name, where, "single")
            self._stat(part)
            self.parts = [part]
            self.layout = "single-preamble" if part.preamble else "single"

    @staticmethod
    def _stat(part: AofPart, must_exist: bool = True) -> None:
        try:
            part.size = part.path.stat().st_size
            with open(part.path, "rb") as f:
                head = f.read(9)
        except FileNotFoundError:
            if must_exist:
                raise AofFormatError("file listed in the manifest does not exist", None,
                                     file=str(part.path)) from None
            return
        if head.startswith(RDB_MAGICS):
            part.preamble = head.decode("ascii", "replace")

    def __enter__(self) -> "AofReader":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def close(self) -> None:
        pass

    @property
    def total_size(self) -> int:
        return sum(p.size for p in self.parts)

    # -- iteration ----------------------------------------------------------------------------
    def iter_commands(self, **kwargs) -> Iterator[AofCommand]:
        """Only the :class:`AofCommand` records of :meth:`iter_records`."""
        for rec in self.iter_records(**kwargs):
            if rec.__class__ is AofCommand:
                yield rec  # type: ignore[misc]

    def iter_records(self, *, upto_timestamp: int | None = None,
                     upto_offset: int | None = None) -> Iterator[AofRecord]:
        """Every record in load order (see the module docstring).

        ``upto_timestamp`` stops at the first ``#TS:`` annotation later than it (what
        ``redis-check-aof --truncate-to-timestamp`` keeps); ``upto_offset`` stops before the
        first command that does not end at or before this offset in the concatenation of the
        loaded parts.  Either way a MULTI block is kept or dropped whole.

        :raises AofFormatError: damaged input (file, line and byte offset named).
        """
        for rec in self.iter_raw(upto_timestamp=upto_timestamp, upto_offset=upto_offset):
            if rec.__class__ is CommandBatch:
                yield from rec.commands()
            else:
                yield rec

    def iter_raw(self, *, upto_timestamp: int | None = None,
                 upto_offset: int | None = None) -> Iterator[Union[Entry, Function, "CommandBatch"]]:
        """:meth:`iter_records` with the commands grouped into :class:`CommandBatch` objects
        (what the replay engine reads: no per-command object)."""
        self.truncation = None
        self.stopped_at = None
        base = 0
        for index, part in enumerate(self.parts):
            last = index == len(self.parts) - 1
            stop = yield from self._read_part(part, last, base, upto_timestamp, upto_offset)
            base += part.size
            if stop:
                return

    def _read_part(self, part: AofPart, last: bool, base: int, upto_ts, upto_offset):
        start = 0
        if part.preamble:
            start = part.rdb_end = yield from self._read_rdb(part)
        return (yield from self._read_resp(part, start, last, base, upto_ts, upto_offset))

    def _read_rdb(self, part: AofPart) -> Iterator[AofRecord]:
        with open(part.path, "rb") as f:
            try:
                with open_rdb(io.BufferedReader(_Unseekable(f), 1 << 20)) as rdb:
                    self.rdb_magic, self.rdb_version = rdb.magic, rdb.version
                    for rec in rdb.iter_records():
                        cls = rec.__class__
                        if cls is Entry:
                            part.rdb_keys += 1
                            yield rec
                        elif cls is Function:
                            yield rec
                        elif cls is Aux:
                            part.rdb_aux[rec.key] = rec.value
                    end = rdb.end_offset
            except AofFormatError:
                raise
            except FormatError as e:
                raise AofFormatError(f"in the RDB preamble: {e.reason}", e.offset, file=part.name,
                                     db=e.db, key=e.key, detail=e.detail) from e
        aux = part.rdb_aux
        if b"valkey-ver" in aux:
            self.server_name, self.server_version = "valkey", aux[b"valkey-ver"].decode()
        elif b"redis-ver" in aux:
            self.server_name, self.server_version = "redis", aux[b"redis-ver"].decode()
        return end

    def _error(self, part: AofPart, reason: str, offset: int) -> AofFormatError:
        return AofFormatError(reason, offset, file=part.name, line=_line_of(part.path, offset))

    def _read_resp(self, part: AofPart, start: int, last: bool, base: int, upto_ts, upto_offset):
        """Yield the commands of ``part`` from byte ``start`` as :class:`CommandBatch` objects;
        return True to stop the load."""
        st = _State(start)
        name = part.name
        with open(part.path, "rb") as f:
            f.seek(start)
            buf = f.read(CHUNK)
            buf_base = start  # file offset of buf[0]
            pos = 0
            eof = len(buf) < CHUNK
            while True:
                if pos >= len(buf):
                    if eof:
                        break
                    buf = f.read(CHUNK)
                    buf_base += pos
                    pos = 0
                    eof = len(buf) < CHUNK
                    if not buf:
                        break
                    continue
                cmds, ends, npos = _parse_commands(buf, pos, BATCH)
                if cmds:
                    if (st.multi is None and
                            (upto_offset is None or base + buf_base + ends[-1] <= upto_offset) and
                            _TXN.isdisjoint(map(_first, cmds))):
                        part.commands += len(cmds)
                        st.good_end = buf_base + npos
                        yield CommandBatch(name, base, st.ts, cmds, ends, pos, buf_base)
                    elif (yield from self._release(name, part, st, cmds, ends, pos, buf_base,
                                                   base, upto_offset)):
                        return True
                    pos = npos
                    if len(cmds) == BATCH or pos >= len(buf):
                        continue
                try:
                    args, text, end = parse_record(buf, pos)
                except RespIncomplete:
                    if not eof:
                        want = max(CHUNK, 2 * (len(buf) - pos))
                        more = f.read(want)
                        eof = len(more) < want
                        if more:
                            buf = buf[pos:] + more
                            buf_base += pos
                            pos = 0
                            continue
                        eof = True
                    reason = ("the file ends inside a command" if st.multi is None else
                              "the file ends inside a MULTI block")
                    return self._truncated(part, last, st.good_end, reason)
                except RespError as e:
                    raise self._error(part, f"not a RESP record: {e.reason}", buf_base + e.pos) from None
                if args is not None:  # parse_commands takes every command: never here
                    if (yield from self._release(name, part, st, [args], [end], pos, buf_base,
                                                 base, upto_offset)):
                        return True
                    pos = end
                    continue
                line_start, pos = pos, end
                stamp = parse_timestamp(text)
                if stamp is not None:
                    if upto_ts is not None and stamp > upto_ts:
                        self.stopped_at = (name, st.multi_offset if st.multi is not None
                                           else buf_base + line_start)
                        return True
                    st.ts = stamp
                    if part.first_ts is None:
                        part.first_ts = stamp
                    part.last_ts = stamp
                if st.multi is None:
                    st.good_end = buf_base + end
        if st.multi is not None:
            return self._truncated(part, last, st.multi_offset, "the file ends inside a MULTI block")
        return False

    def _release(self, name: str, part: AofPart, st: "_State", cmds, ends, pos: int,
                 buf_base: int, base: int, upto_offset) -> Generator[CommandBatch, None, bool]:
        """:meth:`_take` as batches; its value is True to stop the load (raising the error that
        stopped it, if any)."""
        ready: list = []
        stop = self._take(part, st, cmds, ends, pos, buf_base, base, upto_offset, ready)
        yield from _batches(name, base, ready)
        if stop and st.error is not None:
            raise st.error
        return stop

    def _take(self, part: AofPart, st: "_State", cmds, ends, pos: int, buf_base: int, base: int,
              upto_offset, ready: list) -> bool:
        """The per-command path (MULTI blocks, ``upto_offset``): append ``(args, offset, end,
        ts)`` of the commands released to ``ready``; True to stop the load."""
        ts = st.ts
        offset = buf_base + pos
        for args, e in zip(cmds, ends):
            end = buf_base + e
            if upto_offset is not None and base + end > upto_offset:
                self.stopped_at = (part.name, st.multi_offset if st.multi is not None else offset)
                return True
            a0 = args[0]
            name = a0.upper() if a0 in _TXN else None
            if st.multi is not None:
                st.multi.append((args, offset, end, ts))
                if name == b"EXEC":
                    part.commands += len(st.multi)
                    ready.extend(st.multi)
                    st.multi = None
                    st.good_end = end
                elif name == b"MULTI":
                    st.error = self._error(part, "MULTI inside MULTI", offset)
                    return True
            elif name == b"MULTI":
                st.multi = [(args, offset, end, ts)]
                st.multi_offset = offset
            else:
                part.commands += 1
                ready.append((args, offset, end, ts))
                st.good_end = end
            offset = end
        return False

    def _truncated(self, part: AofPart, last: bool, offset: int, reason: str) -> bool:
        if not last:
            raise AofTruncatedError(f"{reason}, and only the last file may be truncated", offset,
                                    file=part.name, line=_line_of(part.path, offset))
        if self.strict:
            raise AofTruncatedError(f"{reason}: usable up to offset {offset} of {part.size}",
                                    offset, file=part.name, line=_line_of(part.path, offset))
        self.truncation = Truncation(part.name, offset, part.size, reason)
        log.warning("%s: truncated AOF (%s); loaded up to offset %d of %d", part.name, reason,
                    offset, part.size)
        return True


def open_aof(path: str | os.PathLike, *, strict: bool = False) -> AofReader:
    """Open an AOF: a single ``appendonly.aof``, a manifest file, an ``appendonlydir`` or the
    directory holding it.

    :raises AofFormatError: the layout cannot be recognised or the manifest is invalid.
    """
    return AofReader(path, strict=strict)
