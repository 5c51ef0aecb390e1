# rdbtools: aof/base.py
"""Writing a replayed dataset as an AOF base file, the way the server's rewrite writes it.

Mirrors aof.c ``rewriteAppendOnlyFile()`` (Redis 7.4 / 8.2, Valkey 8.1 / 9.1; FORMATS.md §6.2,
§6.3): with ``aof-use-rdb-preamble yes`` the base is an RDB file (``rdbSaveRio()`` with
``RDBFLAGS_AOF_PREAMBLE``), written here by :class:`~rdbtools.rdb.writer.RdbWriter` for the server's
:class:`~rdbtools.rdb.targets.Target`; with ``no`` it is the rewrite's commands
(``rewriteAppendOnlyFileRio()``), written by :func:`rdbtools.output.commands.write_resp`: function
libraries first, ``SELECT n`` per database, 64 items per command, ``PEXPIREAT`` after a key with
a TTL.  With ``aof-timestamp-enabled yes`` a RESP base starts with a ``#TS:`` annotation (Redis
7.0); an RDB base never carries one.

Also here: which server an AOF was written by (the ``redis-ver`` / ``valkey-ver`` AUX field of
its RDB part), as a write target.
"""

from __future__ import annotations

import re
from dataclasses import replace
from itertools import chain
from typing import BinaryIO, Iterable

from ..output.commands import STREAM_IDMP_DEFAULTS, write_resp
from ..model import TYPE_ARRAY, TYPE_STREAM, Entry, Stream
from ..rdb.targets import TARGETS, Target, builtin_modules_of
from ..rdb.writer import RdbWriter, WriteResult
from .reader import AofReader
from .replay import Replayer

__all__ = ["BASE_FORMS", "target_for_server", "aof_target", "default_target", "resp_rdb_version",
           "last_timestamp", "write_base"]

BASE_FORMS = ("rdb", "aof")  # the suffixes of a base file: .base.rdb / .base.aof


def _release(server: str, text: str) -> tuple[int, ...]:
    """What a target stands for: a Redis release line (major, minor: 7.0, 7.2 and 7.4 write
    RDB 10, 11 and 12) or a Valkey major release (8.0 and 8.1 write RDB 11, 9.0 and 9.1
    VALKEY080)."""
    numbers = tuple(int(x) for x in re.findall(r"\d+", text))
    return numbers[:1] if server == "valkey" else numbers[:2]


def target_for_server(server: str, version: str) -> Target:
    """The named target for a server release: the newest of its family that is not newer
    (``redis 7.4.1`` → ``redis-7.4``, ``redis 8.0.2`` → ``redis-7.4``: same RDB 12, ``valkey
    9.0.0`` → ``valkey-9.1``), or the family's oldest when every target is newer (Redis 6.0 →
    ``redis-6.2``, RDB 9 for both; Valkey 7.2 → ``valkey-8.1``, RDB 11 for both).

    :raises ValueError: an unknown server family.
    """
    family = sorted((t for t in TARGETS.values() if t.server == server),
                    key=lambda t: _release(server, t.version))
    if not family:
        raise ValueError(f"unknown server {server!r} (expected redis or valkey)")
    wanted = _release(server, version)
    older = [t for t in family if _release(server, t.version) <= wanted]
    # the release's own built-in module types (Redis 8.0 writes RDB 12 like 7.4, with vector sets)
    return replace(older[-1] if older else family[0],
                   builtin_modules=builtin_modules_of(server, version))


def aof_target(reader: AofReader) -> Target | None:
    """The target of the server that wrote the AOF, named by the AUX fields of its RDB preamble
    or RDB base; None when it has no RDB part.  Valid once the reader has read that part."""
    if reader.server_name and reader.server_version:
        return target_for_server(reader.server_name, reader.server_version)
    return None


def default_target(reader: AofReader, engine: Replayer) -> Target:
    """:func:`aof_target`, else the oldest Redis release that holds the replayed data (a Valkey
    profile: its own release).

    An AOF without an RDB part does not name the server that wrote it, and a server refuses an
    RDB version above its own: an RDB for Redis 7.4 made from a Redis 6.2 AOF would not load
    where the AOF came from.  The oldest release that can hold the data loads on the writer and
    on every newer release: a multi-part AOF was written by Redis 7.0 or newer, a single file
    may be older (6.2 rules); function libraries need 7.0, hash field TTLs 7.4, stream IDMP
    state and key metadata 8.6, arrays and NACK zones 8.8.
    """
    named = aof_target(reader)
    if named is not None:
        return named
    if engine.profile.name == "valkey":
        return target_for_server("valkey", ".".join(map(str, engine.profile.version)))
    needed = max((7, 0) if reader.layout == "multi-part" else (6, 2),
                 (7, 0) if engine.functions else (6, 2))
    for entry in engine.iter_entries():
        needed = max(needed, _release_needed(entry))
    return target_for_server("redis", ".".join(map(str, needed)))


def _release_needed(entry: Entry) -> tuple[int, int]:
    """The oldest Redis release line whose RDB holds everything of ``entry``."""
    if entry.type == TYPE_ARRAY:
        return (8, 8)
    if entry.type == TYPE_STREAM and any(g.nacked for g in entry.value.groups):
        return (8, 8)
    if entry.key_meta or (entry.type == TYPE_STREAM and _idmp_state(entry.value)):
        return (8, 6)
    if entry.field_expire_at_ms:
        return (7, 4)
    return (6, 2)


def _idmp_state(stream: Stream) -> bool:
    """Whether a stream carries IDMP state a file before RDB 13 would lose: producers, counters,
    or settings other than the server defaults."""
    idmp = stream.idmp
    return idmp is not None and bool(idmp.producers or idmp.iids_added or idmp.iids_duplicates
                                     or (idmp.duration_s, idmp.max_size) != STREAM_IDMP_DEFAULTS)


def resp_rdb_version(reader: AofReader, target: Target | None) -> int:
    """The RDB version whose command forms a RESP base uses (stream ``XSETID`` / ``XGROUP`` with
    ``ENTRIESADDED`` / ``ENTRIESREAD`` from RDB 10, module ``RESTORE`` payloads): the target's;
    without one, the layout's: multi-part AOFs exist since Redis 7.0 (RDB 10), a single file
    without an RDB preamble was written by Redis 6.2 or older (RDB 9)."""
    if target is not None:
        return target.rdb_version
    return 10 if reader.layout == "multi-part" else 9


def last_timestamp(reader: AofReader) -> int | None:
    """The last ``#TS:`` annotation the reader saw (None: the AOF has none, aof-timestamp-enabled
    was off)."""
    stamps = [p.last_ts for p in reader.parts if p.last_ts is not None]
    return max(stamps) if stamps else None


def write_base(engine: Replayer, fp: BinaryIO, form: str, target: Target | None, *,
               rdb_version: int, timestamp: int | None = None,
               entries: Iterable[Entry] | None = None) -> WriteResult:
    """Write the dataset of ``engine`` to ``fp`` as a base file: ``form`` ``"rdb"`` (an RDB for
    ``target``, every loss an error: a rewrite must keep the whole dataset) or ``"aof"`` (the
    rewrite's commands in the forms of ``rdb_version``, after ``#TS:<timestamp>`` when given).
    ``entries`` replaces ``engine.iter_entries()`` (to watch the progress).

    :raises EncodeError: a key the target cannot hold in full (RDB form).
    """
    records = chain(engine.iter_functions(),
                    engine.iter_entries() if entries is None else entries)
    if form == "rdb":
        if target is None:
            raise ValueError("an RDB base needs a target server")
        return RdbWriter(fp, target, strict=True, aof_base=True).write_all(records)
    if form != "aof":
        raise ValueError(f"unknown base form {form!r}; known: {', '.join(BASE_FORMS)}")
    result = WriteResult(target)
    if timestamp is not None:
        fp.write(b"#TS:%d\r\n" % timestamp)
    result.functions = len(engine.functions)
    result.keys = write_resp(records, fp, rdb_version=rdb_version)
    fp.flush()
    return result
