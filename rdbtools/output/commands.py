"""Redis commands that rebuild a key, and their RESP framing.

Mirrors the AOF rewrite of Redis 7.4 (``rewriteAppendOnlyFileRio()`` and the ``rewrite*Object()``
helpers in src/aof.c; FORMATS.md §6.2): collections are sent ``AOF_REWRITE_ITEMS_PER_CMD`` = 64
items per command, a TTL follows as ``PEXPIREAT``, streams are rebuilt with ``XADD`` / ``XSETID`` /
``XGROUP`` / ``XCLAIM``.  Module values, which only the module itself could turn into commands,
become ``RESTORE key 0 <DUMP payload>`` (cluster.c ``createDumpPayload()``).
"""

from __future__ import annotations

import math
from typing import IO, Iterable, Iterator

from ..rdb import _accel
from ..rdb._accel import encode_resp
from ..errors import EncodeError
from ..model import (
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


def _stream_commands(key: bytes, s: Stream, v2: bool) -> Iterator[list[bytes]]:
    # rewriteStreamObject() in aof.c @7.4.0; without ``v2`` the Redis 5.0-6.2 forms (no
    # ENTRIESADDED / MAXDELETEDID / ENTRIESREAD, which those servers refuse)
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


def entry_to_commands(entry: Entry, rdb_version: int | None = None) -> Iterator[list[bytes]]:
    """The commands (lists of byte arguments) that rebuild ``entry``'s key, as the AOF rewrite
    would write them.  Idle time and LFU frequency are not carried over.

    ``rdb_version`` is the version of the file the entry comes from: it is written into the
    ``RESTORE`` payload of a module value, and below RDB 10 (Redis 5.0-6.2) streams are rebuilt
    with the commands those servers know (plain ``XSETID`` and ``XGROUP CREATE``).

    :raises EncodeError: the value cannot be expressed (a NaN score, a module value without
        ``rdb_version``, a sizes-only entry without a value).
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
        yield from _stream_commands(key, value, v2=rdb_version is None or rdb_version >= 10)
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


def write_resp(records: Iterable, fp: IO[bytes], rdb_version: int | None = None) -> int:
    """Write the commands rebuilding ``records`` (in file order) to the binary file ``fp``.

    :class:`Function` records become ``FUNCTION LOAD`` (an RDB stores them before any key, so they
    come first); each :class:`Entry` becomes its commands, preceded by ``SELECT n`` whenever the
    database changes; other records are skipped.  Returns the number of keys written.
    """
    db = None
    n = 0
    out: list[bytes] = []
    for rec in records:
        if isinstance(rec, Entry):
            if rec.db != db:
                db = rec.db
                out.append(encode_resp([b"SELECT", _int(db)]))
            out.append(entry_resp(rec, rdb_version))
            n += 1
        elif isinstance(rec, Function):
            out.append(encode_resp(function_to_command(rec)))
        if len(out) >= 512:  # fewer, larger writes
            fp.write(b"".join(out))
            out = []
    fp.write(b"".join(out))
    return n


def entry_resp(entry: Entry, rdb_version: int | None = None) -> bytes:
    """The RESP bytes of :func:`entry_to_commands` for one key.

    The compiled path renders strings, lists, sets, sorted sets, hashes and streams directly
    (tests show it gives the same bytes); everything else, and every error, goes through the
    commands.
    """
    if _resp_entry is not None:
        data = _resp_entry(entry.type, entry.key, entry.value, entry.expire_at_ms,
                           entry.field_expire_at_ms, rdb_version is None or rdb_version >= 10)
        if data is not None:
            return data
    return b"".join([encode_resp(c) for c in entry_to_commands(entry, rdb_version)])
