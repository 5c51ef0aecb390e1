"""Conversions between RDB files (for any target), the JSONL dump and RESP commands.

:func:`convert` reads an RDB file, a JSON/JSONL dump or an AOF (replayed, :mod:`rdbtools.aof`),
keeps the keys a
:class:`~rdbtools.rdb.filters.KeyFilter` accepts, and writes an RDB file for a target
(:mod:`rdbtools.rdb.writer`), a JSONL dump (:mod:`rdbtools.output.dump`) or the commands rebuilding the
keys (:mod:`rdbtools.output.commands`).  RDB to RDB copies every value the target itself would store
the same way byte for byte, without decoding it (the fast path).
"""

from __future__ import annotations

import io
import os
from contextlib import contextmanager
from typing import BinaryIO, Callable, Collection, Iterator, Mapping

from itertools import chain

from ..aof.base import default_target
from ..aof.reader import is_aof, open_aof
from ..aof.replay import replay
from ..output.commands import write_resp
from ..output.dump import iter_dump, write_jsonl
from ..rdb.filters import KeyFilter
from ..model import Entry, Function
from ..rdb.reader import open_rdb
from ..rdb.source import InputSource
from ..rdb.targets import Target, get_target, target_for_file
from ..files import atomic_output, input_locations
from ..rdb.writer import RdbWriter, WriteResult, raw_copy_types

__all__ = ["convert", "OUTPUT_FORMATS", "output_format"]

OUTPUT_FORMATS = ("rdb", "jsonl", "resp")
_EXTENSIONS = {".rdb": "rdb", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
               ".aof": "resp", ".resp": "resp"}


def output_format(dest: str | os.PathLike | BinaryIO, to: str | None) -> str:
    """``to`` if given, else from the destination's extension (``.rdb``, ``.jsonl``/``.json``,
    ``.aof``/``.resp``); ``rdb`` for anything else.

    :raises ValueError: an unknown ``to``.
    """
    if to is not None:
        if to not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output format {to!r}; known: {', '.join(OUTPUT_FORMATS)}")
        return to
    if isinstance(dest, (str, os.PathLike)):
        return _EXTENSIONS.get(os.path.splitext(os.fspath(dest))[1].lower(), "rdb")
    return "rdb"


def _peekable(source: InputSource) -> tuple[InputSource, bytes]:
    """The source (re-wrapped when needed so nothing is consumed) and its first bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return source, bytes(source[:16])
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            return source, f.read(16)
    if not hasattr(source, "peek"):
        source = io.BufferedReader(source)  # type: ignore[arg-type]
    return source, source.peek(16)[:16]  # type: ignore[union-attr]


@contextmanager
def _read_input(source: InputSource, key_filter: KeyFilter,
                raw_types: Callable[[Target, tuple[int, bool]], frozenset[int]],
                target_name: str | Target | None, config: Mapping | None, aof_options: dict
                ) -> Iterator[tuple[Iterator, Target | None, tuple[int, bool] | None]]:
    """(records, target, source): records of an RDB file, a dump or a replayed AOF, filtered;
    ``source`` is the RDB file's (version, valkey)."""
    if isinstance(source, (str, os.PathLike)) and is_aof(source):
        with open_aof(source) as aof:
            engine = replay(aof, **aof_options)
        target = get_target(target_name if target_name is not None
                            else default_target(aof, engine), config)
        entries = (e for e in engine.iter_entries() if key_filter.matches(e))
        yield chain(engine.iter_functions(), entries), target, None
        return
    source, head = _peekable(source)
    if head.lstrip()[:1] in (b"{", b"["):
        target = None if target_name is None else get_target(target_name, config)
        fp = open(source, "rb") if isinstance(source, (str, os.PathLike)) else (
            io.BytesIO(bytes(source)) if isinstance(source, (bytes, bytearray, memoryview))
            else source)
        try:
            entries = iter_dump(fp)
            yield (e for e in entries if key_filter.matches(e)), target, None
        finally:
            if fp is not source:
                fp.close()
        return
    with open_rdb(source) as rdb:
        target = get_target(target_name if target_name is not None
                            else target_for_file(rdb.version, rdb.valkey), config)
        select = None if key_filter.is_empty else key_filter.accepts
        source_info = (rdb.version, rdb.valkey)
        yield (rdb.iter_records(select, raw_types=raw_types(target, source_info)), target,
               source_info)


def convert(source: InputSource, dest: str | os.PathLike | BinaryIO, *, to: str | None = None,
            target: str | Target | None = None, config: Mapping[str, int] | None = None,
            key_filter: KeyFilter | None = None, strict: bool = False, unwritable: str = "drop",
            modules: Collection[str] | None = None, reencode: bool = False,
            skip_unknown: bool = False, upto_timestamp: int | None = None,
            upto_offset: int | None = None) -> WriteResult:
    """Convert ``source`` (an RDB file, possibly gzip/lz4 compressed, or a JSON/JSONL dump: a
    path, a binary file object or bytes; or the path of an AOF: a file, manifest or
    appendonlydir, see :func:`rdbtools.aof.reader.is_aof`) into ``dest`` (a path, written
    atomically, or a binary file object) as ``to`` (``rdb``, ``jsonl`` or ``resp``; default from
    ``dest``'s extension).

    An AOF is replayed (:func:`rdbtools.aof.replay.replay` with ``skip_unknown``,
    ``upto_timestamp`` and ``upto_offset``, which apply to AOF input only); its default target is
    the server named by its RDB part, else the replay's server profile.

    ``target`` (a name of :mod:`rdbtools.rdb.targets`; default: the RDB input's own version) and
    ``config`` (threshold overrides) decide the RDB written, and the RESP forms of stream
    commands.  ``key_filter`` keeps only some keys (file-level records, such as functions, are
    kept).  ``strict``, ``unwritable``, ``modules`` and ``reencode`` are those of
    :class:`~rdbtools.rdb.writer.RdbWriter`.  The result's ``losses`` list what the output does not
    carry (RDB output only: JSONL is lossless; RESP drops LRU/LFU data as the AOF does).

    :raises FormatError: damaged input.
    :raises EncodeError: see :class:`~rdbtools.rdb.writer.RdbWriter`; a path ``dest`` is then left
        untouched.
    :raises ValueError: an unknown target or format, or a dump converted to RDB without a target.
    """
    fmt = output_format(dest, to)
    key_filter = key_filter or KeyFilter()

    def raw_types(t: Target, source_info: tuple[int, bool]) -> frozenset[int]:
        return raw_copy_types(t, *source_info, reencode) if fmt == "rdb" else frozenset()

    aof_options = {"skip_unknown": skip_unknown, "upto_timestamp": upto_timestamp,
                   "upto_offset": upto_offset}
    with _read_input(source, key_filter, raw_types, target, config, aof_options) as (records, t,
                                                                                     info):
        if fmt == "rdb" and t is None:
            raise ValueError("converting a JSON dump to RDB needs a target (e.g. redis-7.4)")
        if isinstance(dest, (str, os.PathLike)):
            with atomic_output(dest, inputs=input_locations(source)) as fp:
                return _write(records, fp, fmt, t, info, strict, unwritable, modules, reencode)
        return _write(records, dest, fmt, t, info, strict, unwritable, modules, reencode)


def _write(records, fp: BinaryIO, fmt: str, target: Target | None, source: tuple | None,
           strict: bool, unwritable: str, modules, reencode: bool) -> WriteResult:
    if fmt == "rdb":
        writer = RdbWriter(fp, target, strict=strict, unwritable=unwritable, modules=modules,
                           source=source, reencode=reencode)
        return writer.write_all(records)
    result = WriteResult(target)
    if fmt == "jsonl":
        result.keys = write_jsonl((r for r in records if r.__class__ is Entry), fp)
    else:
        result.keys = write_resp((r for r in records if r.__class__ in (Entry, Function)), fp,
                                 rdb_version=None if target is None else target.rdb_version)
    fp.flush()
    return result

