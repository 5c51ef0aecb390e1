"""The RDB writer: model records -> an RDB file, DUMP payloads or RESTORE commands for a target
server.

Mirrors rdbSaveRio() (file layout), rdbSaveKeyValuePair() (per-key opcodes), rdbSaveObject()
(values) and rdbSaveRawString() in Redis's src/rdb.c, with the encoding choices the target
server makes in memory (t_hash.c, t_set.c, t_zset.c, quicklist.c, t_stream.c): a value is
written in the encoding the target itself would have written for it, decided by the target's
thresholds (:mod:`rdbtools.rdb.targets`).  Valkey 9 differences (VALKEY magic, HASH_2) follow
valkey's src/rdb.c.

Blob encoders (listpack, ziplist, intset) are hand-written for speed: the construct builders
in :mod:`rdbtools.format` take ~17 µs per element, these ~1 µs; tests show both give the same
bytes (STYLE §2.5).  They, string encoding (LZF) and stream node cutting have compiled versions
in ``rdbtools/rdb/csrc/encoders.c``, taken through :mod:`rdbtools.rdb._accel` and tested to give the same
bytes.

What a target cannot hold is a :class:`Loss`, reported per key:

* *degraded*: the key is written without something (field TTLs before Redis 7.4 / Valkey 9,
  stream metadata of newer stream types — IDMP state before Redis 8.6, NACKed PEL entries
  before 8.8 —, module key metadata before 8.6, LRU/LFU data);
* *unwritable*: a module value whose module the target lacks (a vector set before Redis 8.0
  and on Valkey: the built-in ``vectorset`` type; any other module not in ``modules`` when that
  is given), an array before Redis 8.8, a GCRA value (no default build loads type 33), a
  function library before Redis 7.0, module aux data.  ``unwritable="drop"`` leaves it out,
  ``"fail"`` raises.

A module value of a module that is neither built into the target nor declared in ``modules``
is written, and :attr:`WriteResult.modules_to_load` names the module the target must load.

Every integer is checked against the field it is written to, and the model against what the
loader refuses or misreads (duplicates, inconsistent stream state): an :class:`EncodeError`
naming the key, never a value that wraps or a file the server refuses.

Redis 8.10 template hashes (types 29-32) are written as the plain hashes they are in the model
(8.10 loads those unchanged); their ``HashTemplate`` records are not written.

``strict=True`` makes every loss an :class:`~rdbtools.errors.EncodeError`.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from struct import pack
from typing import BinaryIO, Collection, Iterable

from ..errors import EncodeError
from ..format import constants as C
from ..files import atomic_output
from ..format.primitives import encode_rdb_length
from ..model import (Aux, Entry, Function, KeyMeta, ModuleAux, ModuleValue, RawValue, Record,
                    ResizeDb, SelectDb, Stream, StreamGroup, StreamIdmp, TYPE_ARRAY, TYPE_GCRA,
                    TYPE_HASH, TYPE_LIST, TYPE_MODULE, TYPE_SET, TYPE_STREAM, TYPE_STRING,
                    TYPE_ZSET)
from ._accel import (compact, encode_intset, encode_listpack, encode_rdb_string, encode_resp,
                     encode_ziplist, stream_nodes)
from .encoders import array_tag, compact_one, listpack_element, ziplist_encoding
from .source import crc64
from .targets import BUILTIN_MODULE_TYPES, Target, builtin_module_release, get_target

__all__ = ["RdbWriter", "RestoreWriter", "WriteResult", "Loss", "write_rdb", "write_restore",
           "encode_value", "dump_payload", "raw_copy_types", "UNWRITABLE"]

UNWRITABLE = ("drop", "fail")
_U64 = 2**64 - 1
# (lowest, highest, text) of the on-disk and in-memory fields the writer fills
_U64_RANGE = (0, _U64, "0..2^64-1")  # rdbSaveLen() lengths, stream ID halves
_I64_RANGE = (-(2**63), 2**63 - 1, "-2^63..2^63-1")  # rdbSaveMillisecondTime()
_LLONG_RANGE = (0, 2**63 - 1, "0..2^63-1")  # counters the server keeps as long long
# a key's expiry: rdbLoadObject() takes -1 for "no expiry", and a server never sets one before
# 1970 (PEXPIREAT in the past deletes the key; RESTORE ... ABSTTL refuses a negative time)
_EXPIRE_RANGE = (0, 2**63 - 1, "0..2^63-1 ms since 1970")
_FREQ_RANGE = (0, 255, "0..255")  # the one-byte LFU counter
# ebuckets.h EB_EXPIRE_TIME_MAX (Redis 7.4): field TTLs live in 48 bits
_FIELD_EXPIRE_RANGE = (1, (1 << 48) - 1, "1..2^48-1")
# AUX fields the writer writes itself, or must not carry into another server's file:
# replication ids would let replicas PSYNC against a dataset that is no longer the same
_OWN_AUX = frozenset({b"redis-ver", b"valkey-ver", b"redis-bits", b"ctime", b"used-mem",
                      b"aof-base", b"aof-preamble", b"repl-stream-db", b"repl-id",
                      b"repl-offset", b"slot-info"})
_FLUSH_AT = 1 << 20
# server.h CONFIG_STREAM_IDMP_MIN/MAX_DURATION and _MAXSIZE (Redis 8.6): the loader refuses
# a stream whose IDMP settings are outside them
_IDMP_DURATION = (1, 86400, "1..86400")
_IDMP_MAX_SIZE = (1, 10000, "1..10000")
# The IDMP state of a stream from a server before 8.6: the stream-idmp-duration and
# stream-idmp-maxsize defaults (config.c), no producers, counters 0
_IDMP_DEFAULT = StreamIdmp(100, 100, [], 0, 0)
# keymeta.h KEY_META_MAX_NUM_MODULES: more classes on a key is a load error
_KEY_META_MAX_CLASSES = 7
# keyMetaClassEncode(): 6 bits per class-name character (the module type name charset)
_KEY_META_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"


# --------------------------------------------------------------------------------------------
# Scores
# --------------------------------------------------------------------------------------------

def _score_text(score: float, shortest: bool) -> bytes:
    """d2string(): the text a compact zset stores for a score.  Redis 7.2 switched to the
    shortest round-trip form (fpconv_dtoa); before, integral values within 2^52 were printed
    as integers and the rest with %.17g.  Both read back as the same double."""
    if math.isinf(score):
        return b"inf" if score > 0 else b"-inf"
    if score == 0:
        return b"-0" if math.copysign(1.0, score) < 0 else b"0"
    if shortest:
        text = repr(score)
        return (text[:-2] if text.endswith(".0") else text).encode()
    if -4503599627370495 < score < 4503599627370496 and score == int(score):
        return b"%d" % int(score)
    return b"%.17g" % score


# --------------------------------------------------------------------------------------------
# Losses and results
# --------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Loss:
    """Something of the input the output does not carry.

    Accessible attributes: ``db`` and ``key`` (None for file-level records: functions, module
    aux data), ``what`` (human-readable), ``dropped`` (True when the whole key or record was
    left out, False when it was written without the part named in ``what``).
    """

    db: int | None
    key: bytes | None
    what: str
    dropped: bool = False

    def __str__(self) -> str:
        where = "" if self.key is None else f"db {self.db} key {self.key[:64]!r}: "
        return f"{where}{self.what}" + (" (dropped)" if self.dropped else "")


@dataclass
class WriteResult:
    """What a write did.  Accessible attributes: ``target``, ``keys`` (written),
    ``raw_copies`` (keys copied byte for byte without decoding, module values included), ``functions``, ``losses``
    (:class:`Loss` list), ``dropped_keys``, ``modules_to_load`` (module type name -> module
    values and aux records written for a module that is neither built into the target nor
    declared in ``modules``: the target loads the file only with that module loaded) and
    ``warnings`` (``modules_to_load`` as text)."""

    target: Target | None
    keys: int = 0
    raw_copies: int = 0
    functions: int = 0
    losses: list[Loss] = field(default_factory=list)
    modules_to_load: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_keys(self) -> int:
        return sum(1 for loss in self.losses if loss.dropped and loss.key is not None)

    @property
    def warnings(self) -> list[str]:
        return [f"{n} module value(s) or aux record(s) of module type {name!r}: the target "
                "must load the module that defines it" for name, n in
                sorted(self.modules_to_load.items())]


def raw_copy_types(target: Target, source_version: int, source_valkey: bool,
                   reencode: bool = False) -> frozenset[int]:
    """Type codes whose on-disk bytes a ``target`` file can take unchanged (the fast path):
    the encodings the target itself writes, when its thresholds are the defaults.  Codes 22+
    only between files of the same family (they mean different things in Redis and Valkey);
    the element-by-element types 2, 4 and 5 only from a file of the same RDB version, because
    an older server chose them where the target would use a compact encoding (a Redis 6.2
    hashtable set of strings is a listpack for 7.2).  Module values are always copied and are
    not listed."""
    if reencode or not target.thresholds_are_default:
        return frozenset()
    same = source_version == target.rdb_version and source_valkey == target.valkey
    return frozenset(t for t in target.native_types
                     if (t < 22 or source_valkey == target.valkey)
                     and (same or t not in (C.RDB_TYPE_SET, C.RDB_TYPE_HASH, C.RDB_TYPE_ZSET_2)))


class _Unwritable(Exception):
    """Internal: the value cannot be written for the target at all."""


# --------------------------------------------------------------------------------------------
# Values
# --------------------------------------------------------------------------------------------

class _ValueEncoder:
    """rdbSaveObject() for one target: ``encode(entry) -> (rdb_type, value bytes)``, appending
    what could not be carried over to ``losses`` (strings)."""

    def __init__(self, target: Target, compress: bool, modules: Collection[str] | None,
                 source: tuple[int, bool] | None, reencode: bool) -> None:
        self.target = target
        self.t = target.thresholds
        self.compress = compress
        self.modules = None if modules is None else frozenset(modules)
        self.shortest_scores = target.rdb_version >= 11  # Redis 7.2: fpconv_dtoa
        self.raw_types = frozenset() if source is None else raw_copy_types(target, *source,
                                                                            reencode)

    def string(self, data: bytes) -> bytes:
        return encode_rdb_string(data, self.compress)

    def encode(self, entry: Entry, losses: list[str]) -> tuple[int, bytes]:
        value = entry.value
        if value.__class__ is RawValue:
            if entry.rdb_type not in self.raw_types:
                raise EncodeError(f"a raw value of type {entry.rdb_type} cannot be copied into "
                                  f"a {self.target.name} file; read it decoded")
            return entry.rdb_type, value.data
        if value is None:
            raise EncodeError("the key was read without its value (values='sizes')")
        kind = entry.type
        if kind == TYPE_STRING:
            return C.RDB_TYPE_STRING, self.string(value)
        if kind == TYPE_MODULE:
            return self._module(value)
        if kind == TYPE_STREAM:
            return self._stream(value, losses)
        if kind == TYPE_GCRA:
            raise _Unwritable("GCRA value (type 33 loads only in Redis builds with "
                              "-DENABLE_GCRA)")
        if not isinstance(value, list):
            value = list(value)  # a lazily read collection
        if not value and kind in (TYPE_LIST, TYPE_SET, TYPE_ZSET, TYPE_HASH):
            # rdbLoadObject(): "empty keys skipped" (Redis 6.2+); a file is no place for them
            raise _Unwritable(f"empty {kind} (a server drops empty keys when loading)")
        if kind == TYPE_ARRAY:
            return self._array(value, entry.array_next_insert_index)
        if kind == TYPE_LIST:
            return self._list(value)
        if kind == TYPE_SET:
            return self._set(value)
        if kind == TYPE_ZSET:
            return self._zset(value)
        if kind == TYPE_HASH:
            return self._hash(value, entry.field_expire_at_ms, losses)
        raise EncodeError(f"unknown value type {kind!r}")

    def key_meta(self, classes: list[KeyMeta] | None, losses: list[str]) -> bytes:
        """The KEY_META record before a key's type byte (rdbSaveKeyMetadata(), Redis 8.6):
        ``0xF3``, the number of classes, each class's raw spec + values + EOF; empty when the
        key has none, or when the target cannot hold it (a loss)."""
        if not classes:
            return b""
        if not self.target.key_meta:
            losses.append(f"key metadata of {len(classes)} class(es) "
                          f"({', '.join(m.class_name for m in classes)}; needs Redis 8.6)")
            return b""
        if len(classes) > _KEY_META_MAX_CLASSES:
            raise EncodeError(f"{len(classes)} key metadata classes (Redis loads at most "
                              f"{_KEY_META_MAX_CLASSES})")
        for m in classes:
            if len(m.raw) < 5 or m.raw[:4] != _key_meta_spec(m):
                raise EncodeError(f"key metadata class {m.class_name!r}: raw bytes do not "
                                  "start with its class spec")
        return (bytes((C.RDB_OPCODE_KEY_META,)) + encode_rdb_length(len(classes))
                + b"".join(m.raw for m in classes))

    def module_needed(self, name: str) -> bool:
        """Whether data of module type ``name`` can be written only for a target that loads
        that module (not built in, not declared: a warning).

        :raises _Unwritable: the target lacks the module: a built-in module type of a newer
            release (vector sets before Redis 8.0), or one not in the declared ``modules``.
        """
        if name in self.target.builtin_modules:
            return False
        if self.modules is not None:
            if name not in self.modules:
                raise _Unwritable(f"module type {name!r} is not among the modules the target "
                                  "loads")
            return False
        if name in BUILTIN_MODULE_TYPES:
            raise _Unwritable(f"module type {name!r} is built into {builtin_module_release(name)}+ "
                              f"only; {self.target.name} lacks it")
        return True

    def _module(self, value: ModuleValue) -> tuple[int, bytes]:
        self.module_needed(value.module_name)
        return C.RDB_TYPE_MODULE_2, value.raw

    # lists: quicklist nodes filled as _quicklistNodeAllowInsert() fills them
    def _list(self, items: list[bytes]) -> tuple[int, bytes]:
        t = self.t
        limit = t.list_node_bytes
        count_limit = t.list_max_listpack_size if t.list_max_listpack_size > 0 else None
        v2 = self.target.listpacks
        nodes: list[tuple[bool, list]] = []  # (plain, elements)
        node: list | None = None
        node_bytes = 0  # what lpBytes()/ziplistBlobLen() says of the node so far
        for item, value in zip(items, compact(items)):
            n = len(item)
            if v2:
                if n > limit:
                    # Redis 7.0: an element larger than a node gets a PLAIN node of its own
                    nodes.append((True, [item]))
                    node = None
                    continue
                added = n + 8  # SIZE_ESTIMATE_OVERHEAD
                real = len(listpack_element(value))
            else:
                # Redis <= 6.2 estimates the ziplist prevlen and encoding overhead
                added = n + (1 if n < 254 else 5) + (1 if n < 64 else 2 if n < 16384 else 5)
                real = len(ziplist_encoding(value)) + (1 if node is None or node_bytes - 11 < 254
                                                   else 5)
            if node is not None and (
                    node_bytes + added <= limit if count_limit is None
                    else node_bytes + added <= limit and len(node) < count_limit):
                node.append(value)
                node_bytes += real
            else:
                node = [value]
                nodes.append((False, node))
                node_bytes = (7 if v2 else 11) + real
        out = [encode_rdb_length(len(nodes))]
        for plain, elements in nodes:
            if not v2:
                out.append(self.string(encode_ziplist(elements)))
            elif plain:
                out.append(encode_rdb_length(C.QUICKLIST_NODE_CONTAINER_PLAIN))
                out.append(self.string(elements[0]))
            else:
                out.append(encode_rdb_length(C.QUICKLIST_NODE_CONTAINER_PACKED))
                out.append(self.string(encode_listpack(elements)))
        rdb_type = C.RDB_TYPE_LIST_QUICKLIST_2 if v2 else C.RDB_TYPE_LIST_QUICKLIST
        return rdb_type, b"".join(out)

    def _set(self, members: list[bytes]) -> tuple[int, bytes]:
        _unique(members, "set member")
        t = self.t
        n = len(members)
        if 0 < n <= t.set_max_intset_entries:
            ints = compact(members)
            if all(x.__class__ is int for x in ints):
                return C.RDB_TYPE_SET_INTSET, self.string(encode_intset(ints))
        if (self.target.set_listpack and n <= t.set_max_listpack_entries
                and all(len(m) <= t.set_max_listpack_value for m in members)):
            return C.RDB_TYPE_SET_LISTPACK, self.string(encode_listpack(compact(members)))
        return C.RDB_TYPE_SET, self._strings(members)

    def _zset(self, pairs: list[tuple[bytes, float]]) -> tuple[int, bytes]:
        t = self.t
        for member, score in pairs:
            if math.isnan(score):
                raise EncodeError(f"zset member {member[:64]!r} has a NaN score")
        _unique([m for m, _ in pairs], "zset member")
        ordered = sorted(pairs, key=lambda p: (p[1], p[0]))
        if (len(pairs) <= t.zset_max_listpack_entries
                and all(len(m) <= t.zset_max_listpack_value for m, _ in pairs)):
            texts: list[bytes] = []
            for member, score in ordered:
                texts += (member, _score_text(score, self.shortest_scores))
            elements = compact(texts)
            if self.target.listpacks:
                return C.RDB_TYPE_ZSET_LISTPACK, self.string(encode_listpack(elements))
            return C.RDB_TYPE_ZSET_ZIPLIST, self.string(encode_ziplist(elements))
        # ZSET_2: binary scores, from the highest down (cheap inserts at load, rdb.c)
        out = [encode_rdb_length(len(pairs))]
        for member, score in reversed(ordered):
            out.append(self.string(member))
            out.append(pack("<d", score))
        return C.RDB_TYPE_ZSET_2, b"".join(out)

    def _hash(self, pairs: list[tuple[bytes, bytes]], ttls: dict[bytes, int] | None,
              losses: list[str]) -> tuple[int, bytes]:
        _unique([f for f, _ in pairs], "hash field")
        t = self.t
        small = len(pairs) <= t.hash_max_listpack_entries and all(
            len(f) <= t.hash_max_listpack_value and len(v) <= t.hash_max_listpack_value
            for f, v in pairs)
        ttls = {f: ms for f, ms in (ttls or {}).items() if ms is not None}
        if ttls:
            kinds = self.target.field_ttl_types
            if kinds is None:
                losses.append(f"field TTLs of {len(ttls)} field(s) (the target has no hash "
                              "field expiration)")
            else:
                for f, ms in ttls.items():
                    _check_int(ms, _FIELD_EXPIRE_RANGE, f"field {f[:64]!r} TTL")
                return self._hash_with_ttls(pairs, ttls, kinds, small)
        if small:
            elements = compact([x for pair in pairs for x in pair])
            if self.target.listpacks:
                return C.RDB_TYPE_HASH_LISTPACK, self.string(encode_listpack(elements))
            return C.RDB_TYPE_HASH_ZIPLIST, self.string(encode_ziplist(elements))
        return C.RDB_TYPE_HASH, self._strings([x for pair in pairs for x in pair], len(pairs))

    def _hash_with_ttls(self, pairs, ttls, kinds, small) -> tuple[int, bytes]:
        hashtable_type, listpack_type = kinds
        out = []
        if self.target.valkey:
            # Valkey 9.0 HASH_2: field, value, 8-byte LE signed expiry (-1 = none); Valkey
            # keeps volatile fields in hashtables only
            out.append(encode_rdb_length(len(pairs)))
            for f, v in pairs:
                out += [self.string(f), self.string(v), pack("<q", ttls.get(f, -1))]
            return hashtable_type, b"".join(out)
        min_expire = min(ttls.values())
        if small:
            # Redis 7.4 HASH_LISTPACK_EX: fields with a TTL first, ascending, then the rest
            timed = sorted((p for p in pairs if p[0] in ttls), key=lambda p: ttls[p[0]])
            elements: list = []
            for f, v in timed:
                elements += [compact_one(f), compact_one(v), ttls[f]]
            for f, v in pairs:
                if f not in ttls:
                    elements += [compact_one(f), compact_one(v), 0]
            return listpack_type, pack("<Q", min_expire) + self.string(encode_listpack(elements))
        # Redis 7.4 HASH_METADATA: TTL before the field, relative to minExpire + 1 (0 = none)
        out.append(pack("<Q", min_expire))
        out.append(encode_rdb_length(len(pairs)))
        for f, v in pairs:
            ms = ttls.get(f)
            out += [encode_rdb_length(0 if ms is None else ms - min_expire + 1),
                    self.string(f), self.string(v)]
        return hashtable_type, b"".join(out)

    def _array(self, elements: list[tuple[int, bytes]],
               next_insert: int | None) -> tuple[int, bytes]:
        """Type 28 (Redis 8.8): count, the insert cursor, then index, tag and value per element
        in ascending index order (rdbSaveObject(), rdbSaveArrayElement())."""
        if not self.target.arrays:
            raise _Unwritable(f"array of {len(elements)} element(s) (arrays need Redis 8.8)")
        if not elements:
            raise EncodeError("an array cannot be empty (the loader refuses it)")
        out = [encode_rdb_length(len(elements))]
        if next_insert is None:
            out.append(encode_rdb_length(0))
        elif 0 < next_insert <= _U64:
            out += [encode_rdb_length(1), encode_rdb_length(next_insert - 1)]
        else:
            raise EncodeError(f"array next insert index {next_insert} is outside 1..2^64-1")
        string = self.string
        previous = -1
        for index, data in elements:
            # UINT64_MAX is the loader's "no index"; out of order would overwrite silently
            if not previous < index < _U64:
                raise EncodeError(f"array index {index} after {previous}: indexes must ascend "
                                  "within 0..2^64-2")
            previous = index
            tag = array_tag(data)
            out.append(encode_rdb_length(index) + bytes((tag,)))
            if tag == C.ARRAY_TAG_INT:
                out.append(pack("<q", int(data)))
            elif tag == C.ARRAY_TAG_FLOAT:
                out.append(pack("<d", float(data)))
            else:
                out.append(string(data))
        return C.RDB_TYPE_ARRAY, b"".join(out)

    def _strings(self, items: list[bytes], count: int | None = None) -> bytes:
        string = self.string
        return encode_rdb_length(len(items) if count is None else count) + b"".join(
            [string(x) for x in items])

    # streams: nodes rebuilt as streamAppendItem() fills them
    def _stream(self, s: Stream, losses: list[str]) -> tuple[int, bytes]:
        target = self.target
        rdb_type = target.stream_type
        v2 = rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_2
        v3 = rdb_type >= C.RDB_TYPE_STREAM_LISTPACKS_3
        _check_stream(s)
        _stream_losses(s, v2, v3, target.stream_idmp, losses)
        string = self.string
        nodes = stream_nodes(s.entries, self.t.stream_node_max_bytes or 2**30,
                              self.t.stream_node_max_entries)
        out = [encode_rdb_length(len(nodes))]
        for master, listpack in nodes:
            out.append(string(pack(">QQ", *master)))
            out.append(string(listpack))
        out.append(encode_rdb_length(s.length))
        out += [encode_rdb_length(s.last_id[0]), encode_rdb_length(s.last_id[1])]
        if v2:
            out += [encode_rdb_length(x) for x in (*s.first_id, *s.max_deleted_id,
                                                   s.entries_added)]
        _unique([g.name for g in s.groups], "consumer group")
        for g in s.groups:
            _check_pel(g, s.entries_added)
        out.append(encode_rdb_length(len(s.groups)))
        for g in s.groups:
            out += [string(g.name), encode_rdb_length(g.last_id[0]),
                    encode_rdb_length(g.last_id[1])]
            if v2:
                # None (SCG_INVALID_ENTRIES_READ, -1) is written as 2^64-1
                out.append(encode_rdb_length(_U64 if g.entries_read is None
                                             else g.entries_read))
            pel = sorted(g.pending, key=lambda p: p.id)
            zone = _nack_zone(g, pel, target.stream_nack)
            if zone is None:
                unowned = len(pel)
                pel = [p for p in pel if p.consumer is not None]
                unowned -= len(pel)
                if unowned:
                    # every PEL entry needs a consumer before 8.8: deep sanitization refuses
                    # one without, and without it the server keeps a consumer-less entry that
                    # XCLAIM/XPENDING dereference
                    losses.append(f"{unowned} NACKed PEL entr{'y' if unowned == 1 else 'ies'} "
                                  f"of group {g.name[:64]!r} (no NACK zone before Redis 8.8)")
            out.append(encode_rdb_length(len(pel)))
            for p in pel:
                out += [pack(">QQ", *p.id), pack("<q", p.delivery_time_ms),
                        encode_rdb_length(p.delivery_count)]
            out.append(encode_rdb_length(len(g.consumers)))
            for c in g.consumers:
                out += [string(c.name), pack("<q", c.seen_time_ms)]
                if v3:
                    active = c.seen_time_ms if c.active_time_ms is None else c.active_time_ms
                    out.append(pack("<q", active))
                ids = sorted(c.pending)
                out.append(encode_rdb_length(len(ids)))
                out += [pack(">QQ", *i) for i in ids]
            if zone is not None:
                out.append(encode_rdb_length(len(zone)))
                out += [pack(">QQ", *i) for i in zone]
        if target.stream_idmp:
            out.append(self._idmp(s.idmp or _IDMP_DEFAULT))
        return rdb_type, b"".join(out)

    def _idmp(self, idmp: StreamIdmp) -> bytes:
        """A stream's IDMP section (Redis 8.6): settings, producers in rax (pid byte) order,
        each with its iids in insertion order, then the all-time counters
        (rdbSaveStreamIdmpEntries())."""
        _check_int(idmp.duration_s, _IDMP_DURATION, "stream IDMP duration")
        _check_int(idmp.max_size, _IDMP_MAX_SIZE, "stream IDMP max size")
        producers = sorted(idmp.producers, key=lambda p: p.pid)
        for a, b in zip(producers, producers[1:]):
            if a.pid == b.pid:
                raise EncodeError(f"stream IDMP producer {a.pid[:64]!r} appears twice")
        for p in producers:
            for _, sid in p.iids:
                _check_id(sid, f"stream IDMP iid of producer {p.pid[:64]!r}: ID")
        _check_int(idmp.iids_added, _U64_RANGE, "stream IDMP iids-added")
        _check_int(idmp.iids_duplicates, _U64_RANGE, "stream IDMP iids-duplicates")
        string = self.string
        out = [encode_rdb_length(idmp.duration_s), encode_rdb_length(idmp.max_size),
               encode_rdb_length(len(producers))]
        for p in producers:
            out += [string(p.pid), encode_rdb_length(len(p.iids))]
            for iid, (ms, seq) in p.iids:
                out += [string(iid), encode_rdb_length(ms), encode_rdb_length(seq)]
        out += [encode_rdb_length(idmp.iids_added), encode_rdb_length(idmp.iids_duplicates)]
        return b"".join(out)


def _check_key_opcodes(entry: Entry) -> None:
    """The expiry (EXPIRETIME_MS, RESTORE's ttl) and LRU/LFU data (IDLE, FREQ, RESTORE's
    IDLETIME/FREQ) of a key fit their fields."""
    if entry.expire_at_ms is not None:
        _check_int(entry.expire_at_ms, _EXPIRE_RANGE, "expire time")
    if entry.idle_s is not None:
        _check_int(entry.idle_s, _LLONG_RANGE, "LRU idle time")
    if entry.freq is not None:
        _check_int(entry.freq, _FREQ_RANGE, "LFU counter")


def _key_meta_spec(m: KeyMeta) -> bytes:
    """keyMetaClassEncode(): the 4-byte class spec (name in bits 31..8, version, flags)."""
    if len(m.class_name) != 4 or not set(m.class_name) <= set(_KEY_META_CHARSET) \
            or not 0 <= m.version <= 31 or not 0 <= m.flags <= 7:
        raise EncodeError(f"key metadata class {m.class_name!r} version {m.version} flags "
                          f"{m.flags} cannot be encoded")
    spec = 0
    for ch in m.class_name:
        spec = spec << 6 | _KEY_META_CHARSET.index(ch)
    return pack("<I", spec << 8 | m.version << 3 | m.flags)


def _check_int(value: object, bounds: tuple[int, int, str], what: str) -> None:
    """``value`` fits the field it is written to (``bounds``: lowest, highest, as text):
    struct.pack and rdbSaveLen() would refuse it with a bare error, a server would wrap it."""
    lo, hi, text = bounds
    if value.__class__ is not int or not lo <= value <= hi:  # type: ignore[operator]
        raise EncodeError(f"{what} {value!r} is outside {text}")


def _id_text(sid) -> str:
    return f"{sid[0]}-{sid[1]}"


def _check_id(sid: object, what: str) -> None:
    """A stream ID: two unsigned 64-bit halves (streamID, written as 128-bit big endian or as
    two rdbSaveLen() lengths)."""
    halves = sid if sid.__class__ is tuple else ()
    if len(halves) != 2 or not all(x.__class__ is int and 0 <= x <= _U64 for x in halves):
        raise EncodeError(f"{what} {sid!r} is not a stream ID (two integers in 0..2^64-1)")


def _check_stream(s: Stream) -> None:
    """What streamAppendItem() guarantees of a stream and rdbLoadObject() checks (Redis
    8.10; older servers load such a stream and misbehave): entry IDs strictly ascending (nodes
    are delta-encoded against their first ID, and keyed by it), none above the last ID,
    ``length`` the number of entries, ``entries_added`` within length..2^63-1."""
    previous = None
    for e in s.entries:
        _check_id(e.id, "stream entry ID")
        if previous is not None and e.id <= previous:
            raise EncodeError(f"stream entry ID {_id_text(e.id)} after {_id_text(previous)}: "
                              "entry IDs must ascend")
        previous = e.id
    for what, sid in (("last ID", s.last_id), ("first ID", s.first_id),
                      ("max-deleted-entry ID", s.max_deleted_id)):
        _check_id(sid, f"stream {what}")
    if previous is not None and s.last_id < previous:
        raise EncodeError(f"stream last ID {_id_text(s.last_id)} is below its last entry "
                          f"{_id_text(previous)}")
    if s.length != len(s.entries):
        raise EncodeError(f"stream length {s.length!r} but {len(s.entries)} entries (the loader "
                          "refuses a length inconsistent with the live entries)")
    n = len(s.entries)
    _check_int(s.entries_added, (n, 2**63 - 1, f"{n} (its length)..2^63-1"),
               "stream entries-added")


def _unique(items: list[bytes], what: str) -> None:
    """The loader refuses duplicates ("Duplicate set members detected", "... hash fields ...",
    "... zset fields ...", t_stream.c's group and consumer lookups): so does the writer."""
    if len(set(items)) != len(items):
        seen: set[bytes] = set()
        for item in items:
            if item in seen:
                raise EncodeError(f"{what} {item[:64]!r} appears twice (the server refuses to "
                                  "load a duplicate)")
            seen.add(item)


def _check_pel(g: StreamGroup, entries_added: int) -> None:
    """What rdbLoadObject() checks of a group: its entries-read unknown (None) or at most the
    stream's entries-added, each PEL ID once, each consumer once, each consumer's pending IDs
    exactly the group PEL entries it owns, every owner a consumer of the group (NACKed
    entries, consumer None, are checked with the NACK zone); every ID, time and counter within
    its field."""
    group = g.name[:64]
    _check_id(g.last_id, f"last ID of group {group!r}")
    if g.entries_read is not None:
        bounds = (0, entries_added, f"0..{entries_added} (the stream's entries-added)")
        _check_int(g.entries_read, bounds, f"entries-read of group {group!r}")
    for p in g.pending:
        _check_id(p.id, f"PEL entry of group {group!r}: ID")
        _check_int(p.delivery_time_ms, _I64_RANGE, f"PEL entry {_id_text(p.id)} of group "
                   f"{group!r}: delivery time")
        # XPENDING and XCLAIM RETRYCOUNT take it as a long long
        _check_int(p.delivery_count, _LLONG_RANGE, f"PEL entry {_id_text(p.id)} of group "
                   f"{group!r}: delivery count")
    for c in g.consumers:
        _check_int(c.seen_time_ms, _I64_RANGE, f"consumer {c.name[:64]!r} of group {group!r}: "
                   "seen time")
        if c.active_time_ms is not None:
            _check_int(c.active_time_ms, _I64_RANGE, f"consumer {c.name[:64]!r} of group "
                       f"{group!r}: active time")
    _unique([c.name for c in g.consumers], f"consumer of group {group!r}:")
    _unique([pack(">QQ", *p.id) for p in g.pending], f"PEL entry of group {group!r}:")
    owned: dict[bytes, set] = {}
    for p in g.pending:
        if p.consumer is not None:
            owned.setdefault(p.consumer, set()).add(p.id)
    for c in g.consumers:
        ids = owned.pop(c.name, set())
        if len(c.pending) != len(ids) or not ids.issuperset(c.pending):
            raise EncodeError(f"consumer {c.name[:64]!r} of group {group!r}: its pending "
                              "IDs are not the group PEL entries that belong to it")
    if owned:
        name = next(iter(owned))
        raise EncodeError(f"group {group!r} has PEL entries of {name[:64]!r}, which is not "
                          "a consumer of the group")


def _nack_zone(g: StreamGroup, pel: list, has_zone: bool) -> list | None:
    """The group's NACK zone IDs for a target that has one (type 27), checked as the loader
    checks them: each an unowned PEL entry, listed once, and no unowned entry outside the
    zone; None for a target without."""
    if not has_zone:
        return None
    zone = g.nacked or []
    unowned = {p.id for p in pel if p.consumer is None}
    if len(set(zone)) != len(zone) or not unowned.issuperset(zone):
        raise EncodeError(f"NACK zone of group {g.name[:64]!r} lists an ID that is not a "
                          "PEL entry without consumer, or one twice")
    if len(unowned) != len(zone):
        raise EncodeError(f"group {g.name[:64]!r} has PEL entries without consumer outside "
                          "its NACK zone")
    return zone


def _stream_losses(s: Stream, v2: bool, v3: bool, idmp: bool, losses: list[str]) -> None:
    if not v2:
        # RDB stream v1 (Redis 5.0-6.2): the loader derives these; anything else is lost
        derived_first = s.entries[0].id if s.entries else (0, 0)
        if s.first_id != derived_first:
            losses.append(f"stream first-id {s.first_id[0]}-{s.first_id[1]}")
        if s.max_deleted_id != (0, 0):
            losses.append(f"stream max-deleted-id {s.max_deleted_id[0]}-{s.max_deleted_id[1]}")
        if s.entries_added != s.length:
            losses.append(f"stream entries-added {s.entries_added}")
        for g in s.groups:
            if g.entries_read is not None:
                losses.append(f"entries-read of group {g.name[:64]!r}")
    if not v3:
        for g in s.groups:
            for c in g.consumers:
                if c.active_time_ms is not None and c.active_time_ms != c.seen_time_ms:
                    losses.append(f"active-time of consumer {c.name[:64]!r} in group "
                                  f"{g.name[:64]!r}")
    state = s.idmp
    if not idmp and state is not None and (
            (state.duration_s, state.max_size) != (_IDMP_DEFAULT.duration_s,
                                                   _IDMP_DEFAULT.max_size)
            or state.producers or state.iids_added or state.iids_duplicates):
        iids = sum(len(p.iids) for p in state.producers)
        losses.append(f"stream IDMP state (duration {state.duration_s} s, max size "
                      f"{state.max_size}, {len(state.producers)} producer(s), {iids} iid(s); "
                      "needs Redis 8.6)")


# --------------------------------------------------------------------------------------------
# DUMP payloads
# --------------------------------------------------------------------------------------------

def encode_value(entry: Entry, target: str | int | Target = "redis-7.4", *, compress: bool = True,
                 modules: Collection[str] | None = None) -> tuple[int, bytes, list[str]]:
    """``(rdb_type, value bytes, losses)`` of one entry as ``target`` would write it.

    :raises EncodeError: the value cannot be written for the target at all.
    """
    losses: list[str] = []
    encoder = _ValueEncoder(get_target(target), compress, modules, None, True)
    try:
        rdb_type, data = encoder.encode(entry, losses)
    except _Unwritable as e:
        raise EncodeError(str(e)) from None
    return rdb_type, data, losses


def _dump_frame(rdb_type: int, data: bytes, rdb_version: int, key_meta: bytes = b"") -> bytes:
    # createDumpPayload(): [KEY_META record (8.6+)], type byte, value, u16 LE RDB version,
    # u64 LE CRC64 of all that
    body = key_meta + bytes((rdb_type,)) + data + pack("<H", rdb_version)
    return body + pack("<Q", crc64(body))


def dump_payload(entry: Entry, target: str | int | Target = "redis-7.4", *,
                 compress: bool = True, modules: Collection[str] | None = None) -> bytes:
    """The DUMP payload of ``entry`` for ``target`` (the key's metadata from Redis 8.6 on, type
    byte, value, u16 LE RDB version, u64 LE CRC64; cluster.c createDumpPayload), what
    ``RESTORE`` takes.  Parts the target cannot hold are left out, as :func:`write_rdb` does.

    :raises EncodeError: the value cannot be written for the target at all.
    """
    t = get_target(target)
    rdb_type, data, losses = encode_value(entry, t, compress=compress, modules=modules)
    meta = _ValueEncoder(t, compress, modules, None, True).key_meta(entry.key_meta, losses)
    return _dump_frame(rdb_type, data, t.rdb_version, meta)


# --------------------------------------------------------------------------------------------
# Files and command streams
# --------------------------------------------------------------------------------------------

class _KeyWriter(ABC):
    """What the RDB file writer and the RESTORE command writer share: the target's value
    encoder, the loss policy (``strict``, ``unwritable``) and the :class:`WriteResult`."""

    def __init__(self, target: str | Target, compress: bool, strict: bool, unwritable: str,
                 modules: Collection[str] | None, source: tuple[int, bool] | None,
                 reencode: bool) -> None:
        if unwritable not in UNWRITABLE:
            raise ValueError(f"unwritable must be one of {UNWRITABLE}, not {unwritable!r}")
        self.target = get_target(target)
        self._values = _ValueEncoder(self.target, compress, modules, source, reencode)
        self._reencode = reencode
        self._strict = strict
        self._unwritable = unwritable
        self._db: int | None = None
        # 128-bit digests of (db, key) seen: a server refuses a file with a key twice
        # ("RDB has duplicated key"), and RESTORE of the second copy fails; about 70 bytes a key
        self._keys: set[int] = set()
        self.result = WriteResult(self.target)

    @property
    def raw_types(self) -> frozenset[int]:
        """Type codes whose values this writer copies unchanged (ask the reader to keep them
        raw: ``iter_records(raw_types=writer.raw_types)``)."""
        return self._values.raw_types

    def set_source(self, source: tuple[int, bool] | None) -> None:
        """Raw values come from a file of ``(rdb_version, valkey)`` from now on (a merge reads
        several files): :attr:`raw_types` changes accordingly."""
        self._values.raw_types = frozenset() if source is None else raw_copy_types(
            self.target, *source, self._reencode)

    def _encode(self, entry: Entry, losses: list[str]) -> tuple[int, bytes, bytes] | None:
        """The entry's ``(rdb_type, value bytes, KEY_META record)``, or None when it is dropped
        as unwritable."""
        try:
            _check_key_opcodes(entry)
            values = self._values
            return (*values.encode(entry, losses), values.key_meta(entry.key_meta, losses))
        except _Unwritable as e:
            self._lose(entry.db, entry.key, str(e), unwritable=True)
            return None
        except EncodeError as e:
            raise EncodeError(f"db {entry.db} key {entry.key[:64]!r}: {e}") from None

    def _written(self, entry: Entry, losses: list[str]) -> None:
        for what in losses:
            self._lose(entry.db, entry.key, what, unwritable=False)
        self.result.keys += 1
        value = entry.value
        if value.__class__ is ModuleValue:
            self.result.raw_copies += 1
            if self._values.module_needed(value.module_name):
                self._module_written(value.module_name)
        elif value.__class__ is RawValue:
            self.result.raw_copies += 1

    def _module_written(self, name: str) -> None:
        needed = self.result.modules_to_load
        needed[name] = needed.get(name, 0) + 1

    def _lose(self, db: int | None, key: bytes | None, what: str, *, unwritable: bool) -> None:
        loss = Loss(db, key, what, dropped=unwritable)
        if self._strict or unwritable and self._unwritable == "fail":
            raise EncodeError(f"{self.target.name} cannot hold {loss}")
        self.result.losses.append(loss)

    def write_all(self, records: Iterable[Record]) -> WriteResult:
        """Write every record, then :meth:`close`."""
        write = self.write
        for record in records:
            write(record)
        return self.close()

    def write_entry(self, entry: Entry) -> None:
        """Write one key: a ``SELECT`` first when its database is not the last key's.

        :raises EncodeError: naming the key, when it cannot be written (or, with ``strict``,
            when anything of it is lost).
        """
        db, key = entry.db, entry.key
        databases = self.target.thresholds.databases
        if db < 0:
            raise EncodeError(f"db {db} key {key[:64]!r}: a database number cannot be negative")
        if db >= databases:
            raise EncodeError(f"db {db} key {key[:64]!r}: {self.target.name} has databases 0.."
                              f"{databases - 1} (give the target's `databases` config, e.g. "
                              f"--config databases={db + 1}, when it has more)")
        digest = int.from_bytes(hashlib.blake2b(key, digest_size=16,
                                                salt=db.to_bytes(16, "little")).digest(), "little")
        if digest in self._keys:
            raise EncodeError(f"db {db} key {key[:64]!r} appears twice: a server refuses to load "
                              "a file with a duplicated key")
        self._keys.add(digest)
        losses: list[str] = []
        encoded = self._encode(entry, losses)
        if encoded is None:
            return
        if entry.db != self._db:
            self._db = entry.db
            self._select(entry.db)
        self._write_key(entry, *encoded, losses)

    @abstractmethod
    def _select(self, db: int) -> None:
        """Switch the output to database ``db``."""

    @abstractmethod
    def _write_key(self, entry: Entry, rdb_type: int, data: bytes, meta: bytes,
                   losses: list[str]) -> None:
        """Write one encoded key (``meta``: its KEY_META record or nothing); ``losses`` (add to
        it) go to :meth:`_written` before."""

    @abstractmethod
    def write(self, record: Record) -> None:
        """Write one record."""

    @abstractmethod
    def close(self) -> WriteResult:
        """Finish the output; the result."""


class RdbWriter(_KeyWriter):
    """Writes records to a binary file object as an RDB file for ``target``.

    Records arrive in file order (:meth:`write` each, or :meth:`write_all`); :meth:`close`
    writes EOF and the CRC64 trailer.  The header and the writer's own AUX fields
    (``redis-ver``/``valkey-ver`` naming the target, ``redis-bits``, ``ctime``, ``aof-base``)
    come first; AUX fields of the input pass through except those and the replication ids.
    ``SELECTDB`` is written whenever the database changes, ``RESIZEDB`` after it when a
    :class:`~rdbtools.model.ResizeDb` record for that database was given (sizing hints only).

    Accessible attributes: ``target``, ``result`` (a :class:`WriteResult`), ``raw_types``.

    :param compress: LZF-compress strings longer than 20 bytes when that saves 4 bytes or more
        (``rdbcompression yes``).
    :param strict: any loss raises :class:`EncodeError`.
    :param unwritable: ``"drop"`` or ``"fail"``: what happens to keys and records the target
        cannot hold at all.
    :param modules: names of the module types the target has loaded (None: assume it has
        every module the input uses).
    :param source: ``(rdb_version, valkey)`` of the file raw values come from (see
        :func:`raw_copy_types`); None when no value is raw.
    :param reencode: never copy raw values (``RawValue`` entries then raise).
    :param aof_base: the file is the RDB part of an AOF (``aof-base 1``, ``aof-preamble 1``
        before RDB 10), as the server marks the base it writes in a rewrite.
    """

    def __init__(self, fp: BinaryIO, target: str | Target = "redis-7.4", *,
                 compress: bool = True, strict: bool = False, unwritable: str = "drop",
                 modules: Collection[str] | None = None, source: tuple[int, bool] | None = None,
                 reencode: bool = False, ctime: int | None = None, aof_base: bool = False) -> None:
        super().__init__(target, compress, strict, unwritable, modules, source, reencode)
        self._aof_base = aof_base
        self._fp = fp
        self._buf: list[bytes] = []
        self._buffered = 0
        self._crc = 0
        self._hints: dict[int, ResizeDb] = {}
        self._pending_db: int | None = None
        self._closed = False
        self._begin(int(time.time()) if ctime is None else ctime)

    # -- output --------------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        self._buf.append(data)
        self._buffered += len(data)
        if self._buffered >= _FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        data = b"".join(self._buf)
        self._crc = crc64(data, self._crc)
        self._fp.write(data)
        self._buf = []
        self._buffered = 0

    def _aux(self, key: bytes, value: bytes) -> None:
        s = self._values.string
        self._emit(bytes((C.RDB_OPCODE_AUX,)) + s(key) + s(value))

    def _begin(self, ctime: int) -> None:
        t = self.target
        self._emit(t.magic)
        # rdbSaveInfoAuxFields() order
        self._aux(t.version_aux, t.version.encode())
        self._aux(b"redis-bits", b"64")
        self._aux(b"ctime", b"%d" % ctime)
        # 7.0+ names the multi-part AOF base; 4.0-6.2 the old single-file preamble
        self._aux(b"aof-base" if t.rdb_version >= 10 else b"aof-preamble",
                  b"1" if self._aof_base else b"0")

    # -- records -------------------------------------------------------------------------
    def write(self, record: Record) -> None:
        """Write one record (an :class:`Entry` or a file-level record)."""
        cls = record.__class__
        if cls is Entry:
            self.write_entry(record)  # type: ignore[arg-type]
        elif cls is SelectDb:
            self._pending_db = record.db  # type: ignore[union-attr]
        elif cls is ResizeDb:
            if self._pending_db is not None:
                self._hints[self._pending_db] = record  # type: ignore[assignment]
        elif cls is Aux:
            if record.key not in _OWN_AUX:  # type: ignore[union-attr]
                self._aux(record.key, record.value)  # type: ignore[union-attr]
        elif cls is Function:
            self.write_function(record)  # type: ignore[arg-type]
        elif cls is ModuleAux:
            self.write_module_aux(record)  # type: ignore[arg-type]
        # SlotInfo: per-slot counts of the input's cluster node, not data; not carried over.
        # HashTemplate (8.10): the hashes using it are written as plain hashes

    def write_function(self, function: Function) -> None:
        if not self.target.functions:
            self._lose(None, None, f"function library {function.library_name!r} (functions "
                       "need Redis 7.0)", unwritable=True)
            return
        self._emit(bytes((C.RDB_OPCODE_FUNCTION2,)) + self._values.string(function.code))
        self.result.functions += 1

    def write_module_aux(self, aux: ModuleAux) -> None:
        try:
            needed = self._values.module_needed(aux.module_name)
        except _Unwritable as e:
            self._lose(None, None, f"module aux data of {aux.module_name!r} ({e})",
                       unwritable=True)
            return
        if needed:
            self._module_written(aux.module_name)
        self._emit(bytes((C.RDB_OPCODE_MODULE_AUX,)) + encode_rdb_length(aux.module_id)
                   + encode_rdb_length(C.RDB_MODULE_OPCODE_UINT) + encode_rdb_length(aux.when)
                   + aux.raw)

    def _select(self, db: int) -> None:
        record = bytes((C.RDB_OPCODE_SELECTDB,)) + encode_rdb_length(db)
        hints = self._hints.get(db)
        if hints is not None:
            record += (bytes((C.RDB_OPCODE_RESIZEDB,)) + encode_rdb_length(hints.db_size)
                       + encode_rdb_length(hints.expires_size))
        self._emit(record)

    def _write_key(self, entry: Entry, rdb_type: int, data: bytes, meta: bytes,
                   losses: list[str]) -> None:
        """rdbSaveKeyValuePair(): the key's opcodes (expiry, LRU/LFU, metadata), type, name and
        value."""
        head = []
        if entry.expire_at_ms is not None:
            head.append(bytes((C.RDB_OPCODE_EXPIRETIME_MS,)) + pack("<q", entry.expire_at_ms))
        if entry.idle_s is not None or entry.freq is not None:
            if not self.target.lru_lfu:
                losses.append("LRU/LFU data (needs RDB 9)")
            else:
                if entry.idle_s is not None:
                    head.append(bytes((C.RDB_OPCODE_IDLE,)) + encode_rdb_length(entry.idle_s))
                if entry.freq is not None:
                    head.append(bytes((C.RDB_OPCODE_FREQ, entry.freq)))
        # KEY_META comes after the expiry and LRU/LFU opcodes, right before the type (8.6)
        head.append(meta)
        self._written(entry, losses)
        head.append(bytes((rdb_type,)))
        head.append(self._values.string(entry.key))
        head.append(data)
        self._emit(b"".join(head))

    def close(self) -> WriteResult:
        """Write EOF and the CRC64 trailer (once) and flush; the file object stays open."""
        if not self._closed:
            self._closed = True
            self._emit(bytes((C.RDB_OPCODE_EOF,)))
            self._flush()
            self._fp.write(pack("<Q", self._crc))
            self._fp.flush()
        return self.result


class RestoreWriter(_KeyWriter):
    """Writes records as ``RESTORE`` commands (RESP, for ``redis-cli --pipe``) whose DUMP
    payloads are built for ``target`` (restoreCommand() in cluster.c):
    ``RESTORE key ttl payload [ABSTTL] [REPLACE] [IDLETIME s | FREQ n]``.

    A key with a TTL gets its absolute expiry with ``ABSTTL`` (Redis 5.0), so the TTL does not
    depend on when the commands are sent; a key already expired then is not created, as when a
    master loads an RDB file.  ``SELECT n`` precedes the first key and every change of
    database.  Function libraries become ``FUNCTION LOAD [REPLACE] code`` (Redis 7.0).  What a
    DUMP payload or RESTORE cannot carry is a :class:`Loss`: the parts of a value the target
    lacks (as for :class:`RdbWriter`), the LFU counter of a key that also has an LRU idle time
    (RESTORE takes one of IDLETIME and FREQ), module aux data.

    Accessible attributes: ``target``, ``result``, ``raw_types``.

    :param replace: add ``REPLACE`` (an existing key or library is overwritten; without it the
        server answers ``BUSYKEY`` and keeps its own).
    Other parameters as for :class:`RdbWriter`.
    """

    def __init__(self, fp: BinaryIO, target: str | Target = "redis-7.4", *,
                 replace: bool = False, compress: bool = True, strict: bool = False,
                 unwritable: str = "drop", modules: Collection[str] | None = None,
                 source: tuple[int, bool] | None = None, reencode: bool = False) -> None:
        super().__init__(target, compress, strict, unwritable, modules, source, reencode)
        self._fp = fp
        self._replace = [b"REPLACE"] if replace else []
        self._version = pack("<H", self.target.rdb_version)
        self._out: list[bytes] = []

    def write(self, record: Record) -> None:
        """Write one record: keys and function libraries; other file-level records are not
        data a server takes through commands (module aux data is reported as lost)."""
        cls = record.__class__
        if cls is Entry:
            self.write_entry(record)  # type: ignore[arg-type]
        elif cls is Function:
            self.write_function(record)  # type: ignore[arg-type]
        elif cls is ModuleAux:
            self._lose(None, None, f"module aux data of {record.module_name!r} (RESTORE "  # type: ignore[union-attr]
                       "cannot carry it)", unwritable=True)

    def write_function(self, function: Function) -> None:
        if not self.target.functions:
            self._lose(None, None, f"function library {function.library_name!r} (functions "
                       "need Redis 7.0)", unwritable=True)
            return
        self._command([b"FUNCTION", b"LOAD", *self._replace, function.code])
        self.result.functions += 1

    def _select(self, db: int) -> None:
        self._command([b"SELECT", b"%d" % db])

    def _write_key(self, entry: Entry, rdb_type: int, data: bytes, meta: bytes,
                   losses: list[str]) -> None:
        """The ``RESTORE`` of one key, with its TTL and LRU/LFU data."""
        key = entry.key
        payload = _dump_frame(rdb_type, data, self.target.rdb_version, meta)
        if entry.expire_at_ms is None:
            args = [b"RESTORE", key, b"0", payload]
        else:
            # with ABSTTL a ttl of 0 means "no expiry" and a negative one is refused: a key
            # that expired before 1970-01-01T00:00:00.001 is sent as expired at 1 ms
            ttl = max(entry.expire_at_ms, 1)
            args = [b"RESTORE", key, b"%d" % ttl, payload, b"ABSTTL"]
        args += self._replace
        if entry.idle_s is not None:
            args += [b"IDLETIME", b"%d" % entry.idle_s]
            if entry.freq is not None:
                losses.append("LFU counter (RESTORE takes IDLETIME or FREQ, not both)")
        elif entry.freq is not None:
            args += [b"FREQ", b"%d" % entry.freq]
        self._written(entry, losses)
        self._command(args)

    def _command(self, args: list[bytes]) -> None:
        self._out.append(encode_resp(args))
        if len(self._out) >= 256:
            self._fp.write(b"".join(self._out))
            self._out = []

    def close(self) -> WriteResult:
        """Flush what is buffered; the file object stays open."""
        self._fp.write(b"".join(self._out))
        self._out = []
        self._fp.flush()
        return self.result


def write_rdb(records: Iterable[Record], dest: str | os.PathLike | BinaryIO,
              target: str | Target = "redis-7.4", **options) -> WriteResult:
    """Write ``records`` (entries and file-level records, in file order) as an RDB file for
    ``target`` to ``dest``: a path (written atomically, see :func:`atomic_output`) or a binary
    file object.  ``options`` are those of :class:`RdbWriter`.

    :raises EncodeError: a key cannot be written (with ``strict``: anything is lost); a path
        destination is then left untouched.
    """
    if isinstance(dest, (str, os.PathLike)):
        with atomic_output(dest) as fp:
            return RdbWriter(fp, target, **options).write_all(records)
    return RdbWriter(dest, target, **options).write_all(records)


def write_restore(records: Iterable[Record], dest: str | os.PathLike | BinaryIO,
                  target: str | Target = "redis-7.4", **options) -> WriteResult:
    """Write ``records`` as ``RESTORE`` commands for ``target`` (see :class:`RestoreWriter`,
    whose options ``options`` are) to ``dest``: a path (written atomically) or a binary file
    object.

    :raises EncodeError: a key cannot be written (with ``strict``: anything is lost).
    """
    if isinstance(dest, (str, os.PathLike)):
        with atomic_output(dest) as fp:
            return RestoreWriter(fp, target, **options).write_all(records)
    return RestoreWriter(dest, target, **options).write_all(records)
