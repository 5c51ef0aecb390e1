"""Redis commands that rebuild a key, and their RESP framing.

Mirrors the AOF rewrite of Redis 7.4 - 8.10 (``rewriteAppendOnlyFileRio()`` and the
``rewrite*Object()`` helpers in src/aof.c; FORMATS.md §6.2, FORMATS-RDB13-15.md §9): collections
are sent ``AOF_REWRITE_ITEMS_PER_CMD`` = 64 items per command, a TTL follows as ``PEXPIREAT``,
streams are rebuilt with ``XADD`` / ``XSETID`` / ``XGROUP`` / ``XCLAIM``, since Redis 8.8 each
group's NACK zone with ``XNACK ... FAIL IDS n id... RETRYCOUNT c FORCE`` (one per run of equal
delivery counts), since 8.6 the IDMP state with ``XCFGSET`` (only when not the defaults) and
one ``XIDMPRECORD`` per recorded IID whose entry still exists; arrays (8.8) with ``ARMSET``
(32 index/value pairs per command) and ``ARSEEK key <next insert index>``.  Module values,
which only the module itself could turn into commands, become ``RESTORE key 0 <DUMP payload>``
(cluster.c ``createDumpPayload()``).

What a command form the target's server does not know would carry (IDMP state before RDB 13 /
Redis 8.6, NACK zones and arrays before RDB 14 / Redis 8.8) is a loss: an error, or a
:class:`~rdbtools.rdb.writer.Loss` in the caller's list.
"""

from __future__ import annotations

import math
from typing import IO, Iterable, Iterator

from ..rdb import _accel
from ..rdb._accel import encode_resp
from ..errors import EncodeError
from ..model import (
    TYPE_ARRAY,
    TYPE_HASH,
    TYPE_LIST,
    TYPE_MODULE,
    TYPE_SET,
    TYPE_STREAM,
    TYPE_STRING,
    TYPE_ZSET,
    Entry,
    Function,
    ModuleValue,
    Stream,
    StreamId,
)

__all__ = [
    "AOF_REWRITE_ITEMS_PER_CMD",
    "entry_to_commands",
    "function_to_command",
    "encode_resp",
    "write_resp",
    "score_text",
]

AOF_REWRITE_ITEMS_PER_CMD = 64  # server.h
STREAM_IDMP_DEFAULTS = (100, 100)
"""``stream-idmp-duration`` (s) and ``stream-idmp-maxsize`` by default (config.c, Redis 8.6): a
new stream's IDMP settings; the rewrite writes ``XCFGSET`` only for other values."""
RDB_VERSION_IDMP = 13  # Redis 8.6: XCFGSET, XIDMPRECORD
RDB_VERSION_NACK_ARRAY = 14  # Redis 8.8: XNACK, the AR* commands

_resp_entry = _accel.resp_entry


def score_text(score: float) -> bytes:
    """A zset score as the shortest text that reads back to the same double.

    Redis 7.2+ writes scores with fpconv_dtoa (shortest round trip); ``repr`` gives the same
    digits, and integral scores lose their ``.0`` as they do in Redis.

    :raises EncodeError: the score is NaN, which no zset can hold.
    """
    if math.isnan(score):
        raise EncodeError("a zset score cannot be NaN")
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    text = repr(float(score))
    if text.endswith(".0"):
        text = text[:-2]
    return text.encode("ascii")


def _id(sid: StreamId) -> bytes:
    return b"%d-%d" % sid


def _int(n: int) -> bytes:
    return b"%d" % n


def _batched(cmd: list[bytes], items: list, flatten: bool) -> Iterator[list[bytes]]:
    for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD):
        chunk = items[i : i + AOF_REWRITE_ITEMS_PER_CMD]
        if flatten:
            yield cmd + [x for pair in chunk for x in pair]
        else:
            yield cmd + list(chunk)


def _lost(entry: Entry, what: str, losses: list | None, dropped: bool = False) -> None:
    if losses is None:
        raise EncodeError(f"key {entry.key[:64]!r}: {what}")
    from ..rdb.writer import Loss  # the writer imports this module's RESP framing

    losses.append(Loss(entry.db, entry.key, what, dropped))


def _stream_commands(key: bytes, s: Stream, v2: bool, idmp: bool,
                     nack_zones: bool) -> Iterator[list[bytes]]:
    # rewriteStreamObject() in aof.c @8.10.2; without ``v2`` the Redis 5.0-6.2 forms (no
    # ENTRIESADDED / MAXDELETEDID / ENTRIESREAD, which those servers refuse); ``idmp`` /
    # ``nack_zones``: the target knows XCFGSET / XIDMPRECORD (8.6), XNACK (8.8)
    if s.entries:
        for e in s.entries:
            yield [b"XADD", key, _id(e.id)] + [x for pair in e.fields for x in pair]
    else:
        # the XADD MAXLEN 0 trick creates an empty stream
        yield [b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"]
    setid = [b"XSETID", key, _id(s.last_id)]
    if v2:
        setid += [b"ENTRIESADDED", _int(s.entries_added), b"MAXDELETEDID", _id(s.max_deleted_id)]
    yield setid
    for g in s.groups:
        create = [b"XGROUP", b"CREATE", key, g.name, _id(g.last_id)]
        if v2:
            entries_read = -1 if g.entries_read is None else g.entries_read  # unknown
            create += [b"ENTRIESREAD", _int(entries_read)]
        yield create
        pel = {p.id: p for p in g.pending}
        for c in g.consumers:
            if not c.pending:
                yield [b"XGROUP", b"CREATECONSUMER", key, g.name, c.name]
                continue
            for pid in c.pending:
                nack = pel.get(pid)
                when, count = (nack.delivery_time_ms, nack.delivery_count) if nack else (c.seen_time_ms, 1)
                yield [
                    b"XCLAIM", key, g.name, c.name, b"0", _id(pid),
                    b"TIME", _int(when), b"RETRYCOUNT", _int(count), b"JUSTID", b"FORCE",
                ]  # fmt: skip
        if nack_zones and g.nacked:
            yield from _nack_commands(key, g.name, g.nacked, pel)
    if idmp and s.idmp is not None:
        i = s.idmp
        if (i.duration_s, i.max_size) != STREAM_IDMP_DEFAULTS:
            yield [b"XCFGSET", key, b"IDMP-DURATION", _int(i.duration_s),
                   b"IDMP-MAXSIZE", _int(i.max_size)]
        live = {e.id for e in s.entries}
        for p in i.producers:
            for iid, sid in p.iids:
                if sid in live:  # XIDMPRECORD refuses an ID the stream no longer has
                    yield [b"XIDMPRECORD", key, p.pid, iid, _id(sid)]


def _nack_commands(key: bytes, group: bytes, zone: list[StreamId],
                   pel: dict) -> Iterator[list[bytes]]:
    """One ``XNACK ... FAIL IDS n id... RETRYCOUNT c FORCE`` per run of zone entries with the
    same delivery count, at most 64 IDs each (rioWriteStreamNackedEntries())."""
    run: list[StreamId] = []
    count = None
    for sid in [*zone, None]:
        if sid is not None and sid not in pel:
            raise EncodeError(f"stream {key[:64]!r} group {group[:64]!r}: NACK-zone ID "
                              f"{sid[0]}-{sid[1]} is not in the group's PEL")
        this = None if sid is None else pel[sid].delivery_count
        if run and (this != count or len(run) == AOF_REWRITE_ITEMS_PER_CMD):
            yield [b"XNACK", key, group, b"FAIL", b"IDS", _int(len(run)), *map(_id, run),
                   b"RETRYCOUNT", _int(count), b"FORCE"]
            run = []
        if sid is not None:
            run.append(sid)
            count = this


def _stream_losses(entry: Entry, idmp: bool, nack: bool, losses: list | None) -> None:
    s = entry.value
    if not idmp and s.idmp is not None:
        live = {e.id for e in s.entries}
        if (s.idmp.duration_s, s.idmp.max_size) != STREAM_IDMP_DEFAULTS or any(
                sid in live for p in s.idmp.producers for _, sid in p.iids):
            _lost(entry, "IDMP settings and IIDs (XCFGSET / XIDMPRECORD need Redis 8.6)", losses)
    if not nack and any(g.nacked for g in s.groups):
        _lost(entry, "NACK-zone entries of its consumer groups (XNACK needs Redis 8.8)", losses)


def _array_commands(key: bytes, items: list, next_insert: int | None) -> Iterator[list[bytes]]:
    # rewriteArrayObject() in aof.c @8.10.2: AOF_REWRITE_ITEMS_PER_CMD / 2 pairs per ARMSET
    for i in range(0, len(items), AOF_REWRITE_ITEMS_PER_CMD // 2):
        yield [b"ARMSET", key] + [x for idx, v in items[i : i + AOF_REWRITE_ITEMS_PER_CMD // 2]
                                  for x in (_int(idx), v)]
    if next_insert is not None:
        yield [b"ARSEEK", key, _int(next_insert)]


def entry_to_commands(entry: Entry, rdb_version: int | None = None,
                      losses: list | None = None) -> Iterator[list[bytes]]:
    """The commands (lists of byte arguments) that rebuild ``entry``'s key, as the AOF rewrite
    would write them.  Idle time and LFU frequency are not carried over.

    ``rdb_version`` is the version of the file the entry comes from (None: the newest): it is
    written into the ``RESTORE`` payload of a module value, below RDB 10 (Redis 5.0-6.2)
    streams are rebuilt with the commands those servers know (plain ``XSETID`` and ``XGROUP
    CREATE``), and it decides whether IDMP state (RDB 13), NACK zones and arrays (RDB 14) can
    be written.  What cannot is appended to ``losses`` (:class:`~rdbtools.rdb.writer.Loss`; an
    array is dropped) or, without a list, raised.

    :raises EncodeError: the value cannot be expressed (a NaN score, a module value without
        ``rdb_version``, a sizes-only entry without a value), or a loss without ``losses``.
    """
    key, value, t = entry.key, entry.value, entry.type
    if value is None:
        raise EncodeError(f"key {key[:64]!r} was read without its value")
    if not isinstance(value, (bytes, list, Stream, ModuleValue)):
        value = list(value)  # a lazily read collection
    if t == TYPE_STRING:
        yield [b"SET", key, value]
    elif t == TYPE_LIST:
        yield from _batched([b"RPUSH", key], value, flatten=False)
    elif t == TYPE_SET:
        yield from _batched([b"SADD", key], value, flatten=False)
    elif t == TYPE_ZSET:
        yield from _batched([b"ZADD", key], [(score_text(s), m) for m, s in value], flatten=True)
    elif t == TYPE_HASH:
        yield from _batched([b"HSET", key], value, flatten=True)
        for field, ms in (entry.field_expire_at_ms or {}).items():
            yield [b"HPEXPIREAT", key, _int(ms), b"FIELDS", b"1", field]
    elif t == TYPE_STREAM:
        idmp = rdb_version is None or rdb_version >= RDB_VERSION_IDMP
        nack = rdb_version is None or rdb_version >= RDB_VERSION_NACK_ARRAY
        _stream_losses(entry, idmp, nack, losses)
        yield from _stream_commands(key, value, v2=rdb_version is None or rdb_version >= 10,
                                    idmp=idmp, nack_zones=nack)
    elif t == TYPE_ARRAY:
        if rdb_version is not None and rdb_version < RDB_VERSION_NACK_ARRAY:
            _lost(entry, "an array (the AR* commands need Redis 8.8)", losses, dropped=True)
            return
        yield from _array_commands(key, value, entry.array_next_insert_index)
    elif t == TYPE_MODULE:
        if rdb_version is None:
            raise EncodeError(f"module key {key[:64]!r}: RESTORE needs the RDB version of the payload")
        from ..rdb.writer import dump_payload  # the writer imports this module's RESP framing

        # a module value (RDB 8, Redis 4.0) is the same in every later version; RDB 9 is the
        # oldest version the writer produces
        yield [b"RESTORE", key, b"0", dump_payload(entry, max(rdb_version, 9))]
    else:
        raise EncodeError(f"unknown value type {t!r} for key {key[:64]!r}")
    if entry.expire_at_ms is not None:
        yield [b"PEXPIREAT", key, _int(entry.expire_at_ms)]


def function_to_command(function: Function) -> list[bytes]:
    """``FUNCTION LOAD <code>`` for a function library."""
    return [b"FUNCTION", b"LOAD", function.code]


def write_resp(records: Iterable, fp: IO[bytes], rdb_version: int | None = None,
               losses: list | None = None) -> int:
    """Write the commands rebuilding ``records`` (in file order) to the binary file ``fp``.

    :class:`Function` records become ``FUNCTION LOAD`` (an RDB stores them before any key, so they
    come first); each :class:`Entry` becomes its commands, preceded by ``SELECT n`` whenever the
    database changes; other records are skipped.  What the commands of ``rdb_version`` cannot
    carry goes to ``losses`` (see :func:`entry_to_commands`; without a list it is an
    :class:`EncodeError`).  Returns the number of keys written (a dropped key is not).
    """
    db = None
    n = 0
    out: list[bytes] = []
    for rec in records:
        if isinstance(rec, Entry):
            data = entry_resp(rec, rdb_version, losses)
            if not data:
                continue  # dropped
            if rec.db != db:
                db = rec.db
                out.append(encode_resp([b"SELECT", _int(db)]))
            out.append(data)
            n += 1
        elif isinstance(rec, Function):
            out.append(encode_resp(function_to_command(rec)))
        if len(out) >= 512:  # fewer, larger writes
            fp.write(b"".join(out))
            out = []
    fp.write(b"".join(out))
    return n


def _plain_stream(value) -> bool:
    """A stream without Redis 8.6+ state, which the compiled path renders."""
    return not (value.idmp is not None and (value.idmp.producers or (
        value.idmp.duration_s, value.idmp.max_size) != STREAM_IDMP_DEFAULTS)
        or any(g.nacked for g in value.groups))


def entry_resp(entry: Entry, rdb_version: int | None = None, losses: list | None = None) -> bytes:
    """The RESP bytes of :func:`entry_to_commands` for one key (empty: the key was dropped).

    The compiled path renders strings, lists, sets, sorted sets, hashes and streams without
    IDMP state or NACK zones directly (tests show it gives the same bytes); everything else,
    and every error, goes through the commands.
    """
    if _resp_entry is not None and entry.type != TYPE_ARRAY and (
            entry.type != TYPE_STREAM or not isinstance(entry.value, Stream)
            or _plain_stream(entry.value)):
        data = _resp_entry(entry.type, entry.key, entry.value, entry.expire_at_ms,
                           entry.field_expire_at_ms, rdb_version is None or rdb_version >= 10)
        if data is not None:
            return data
    return b"".join([encode_resp(c) for c in entry_to_commands(entry, rdb_version, losses)])
