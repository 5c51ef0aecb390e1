"""One grammar per RDB value type, and the ``value_grammar`` factory.

Mirrors rdbSaveObject()/rdbLoadObject() in src/rdb.c (Redis 7.4; types 26-33: 8.6.2 and
8.10.2) and, for Valkey's type 22 HASH_2, valkey src/rdb.c (9.0).  Layouts are FORMATS.md §4
and FORMATS-RDB13-15.md §§4-7.  Blob types (9-13, 16, 17, 20, quicklist nodes, 23/25/29/30
listpacks) keep the blob as ``bytes`` by default; with ``parse_blobs=True`` the blob grammar
(:mod:`.ziplist`, :mod:`.listpack`, ...) is applied too.

Also the DUMP/RESTORE payload (cluster.c createDumpPayload): [KEY_META prefix (Redis 8.6)], type
byte, value, u16 LE version, u64 LE CRC64.
"""

from __future__ import annotations

from functools import lru_cache

from construct import (
    Byte,
    Computed,
    Construct,
    Error,
    Int16ul,
    Int64sl,
    Int64ul,
    PrefixedArray,
    SizeofError,
    Struct,
    Switch,
    Terminated,
    stream_tell,
    stream_write,
    this,
)

from . import constants as C
from .array import array_grammar
from .hash_template import (
    hash_tmpl_array_grammar,
    hash_tmpl_array_ref_grammar,
    hash_tmpl_lp_grammar,
    hash_tmpl_lp_ref_grammar,
)
from .intset import Intset
from .listpack import Listpack
from .module import KeyMeta, ModuleValue
from .primitives import (
    Blob,
    RdbDoubleAscii,
    RdbDoubleBinary,
    RdbLength,
    RdbLengthIn,
    RdbString,
    RdbStringNoCompress,
)
from .stream import stream_grammar
from .ziplist import Ziplist
from .zipmap import Zipmap

__all__ = ["value_grammar", "dump_payload_grammar", "TYPE_MIN_VERSION", "GcraValue"]

# First RDB version that defines each type code (FORMATS.md §3, FORMATS-RDB13-15.md §1: 27, 28
# and 33 are dated to RDB 14 from the "since 8.8.0" of their commands); used only with
# strict=True.
TYPE_MIN_VERSION = {
    0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 8, 7: 8, 9: 2, 10: 2, 11: 2, 12: 2, 13: 4, 14: 7, 15: 9,
    16: 10, 17: 10, 18: 10, 19: 10, 20: 11, 21: 11, 22: 12, 23: 12, 24: 12, 25: 12,
    26: 13, 27: 14, 28: 14, 29: 15, 30: 15, 31: 15, 32: 15, 33: 14,
}

# Type 33 GCRA: the rate limiter's theoretical arrival time (TaT), unix microseconds, which the
# loader requires to be <= LLONG_MAX.  The type exists only in a -DENABLE_GCRA build of the
# Redis 8.10 source, which no default build is (and the 8.10.2 tree does not even compile with
# it, FORMATS-RDB13-15.md §7): no server writes it, so it is tested with hand-built bytes only.
GcraValue = RdbLengthIn(0, 2**63 - 1, "GCRA TaT")

# Written to RDB files only; in a DUMP payload rdbLoadObject fails ("Hash type %d not valid in
# a DUMP payload"), since the template record they reference is not in the payload.
_RDB_ONLY_TYPES = (C.RDB_TYPE_HASH_TMPL_LP_REF, C.RDB_TYPE_HASH_TMPL_ARRAY_REF)


def _grammars(string, parse_blobs: bool, valkey: bool) -> dict:
    def blob(inner):
        return Blob(inner, string) if parse_blobs else string

    strings = PrefixedArray(RdbLength, string)
    pair = Struct("field" / string, "value" / string)
    g = {
        C.RDB_TYPE_STRING: string,
        C.RDB_TYPE_LIST: strings,
        C.RDB_TYPE_SET: strings,
        C.RDB_TYPE_ZSET: PrefixedArray(RdbLength, Struct("member" / string,
                                                         "score" / RdbDoubleAscii)),
        C.RDB_TYPE_HASH: PrefixedArray(RdbLength, pair),
        # RDB 8 / Redis 4.0: binary scores, written from the highest score down
        C.RDB_TYPE_ZSET_2: PrefixedArray(RdbLength, Struct("member" / string,
                                                           "score" / RdbDoubleBinary)),
        C.RDB_TYPE_MODULE_2: ModuleValue,
        C.RDB_TYPE_HASH_ZIPMAP: blob(Zipmap),
        C.RDB_TYPE_LIST_ZIPLIST: blob(Ziplist),
        C.RDB_TYPE_SET_INTSET: blob(Intset),
        C.RDB_TYPE_ZSET_ZIPLIST: blob(Ziplist),
        C.RDB_TYPE_HASH_ZIPLIST: blob(Ziplist),
        # Redis 3.2: nodes are strings holding ziplists (LZF-compressed nodes stay LZF strings)
        C.RDB_TYPE_LIST_QUICKLIST: PrefixedArray(RdbLength, blob(Ziplist)),
        C.RDB_TYPE_STREAM_LISTPACKS: stream_grammar(C.RDB_TYPE_STREAM_LISTPACKS, parse_blobs),
        C.RDB_TYPE_HASH_LISTPACK: blob(Listpack),
        C.RDB_TYPE_ZSET_LISTPACK: blob(Listpack),
        # Redis 7.0: container 2 = PACKED (listpack), 1 = PLAIN (one raw element)
        C.RDB_TYPE_LIST_QUICKLIST_2: PrefixedArray(
            RdbLength,
            Struct(
                "container" / RdbLength,
                "data" / (Switch(this.container, {C.QUICKLIST_NODE_CONTAINER_PACKED:
                                                  blob(Listpack)}, default=string)
                          if parse_blobs else string),
            ),
        ),
        C.RDB_TYPE_STREAM_LISTPACKS_2: stream_grammar(C.RDB_TYPE_STREAM_LISTPACKS_2, parse_blobs),
        C.RDB_TYPE_SET_LISTPACK: blob(Listpack),
        C.RDB_TYPE_STREAM_LISTPACKS_3: stream_grammar(C.RDB_TYPE_STREAM_LISTPACKS_3, parse_blobs),
    }
    if valkey:
        # Valkey 9.0 (RDB 80): every field carries an 8-byte LE signed expiry (-1 = none)
        g[C.RDB_TYPE_VALKEY_HASH_2] = PrefixedArray(
            RdbLength, Struct("field" / string, "value" / string, "expire_ms" / Int64sl)
        )
    else:
        # Redis 7.4 release candidates: absolute TTL before the field, no minExpire
        g[C.RDB_TYPE_HASH_METADATA_PRE_GA] = PrefixedArray(
            RdbLength, Struct("ttl" / RdbLength, "field" / string, "value" / string)
        )
        g[C.RDB_TYPE_HASH_LISTPACK_EX_PRE_GA] = blob(Listpack)
        # Redis 7.4: TTL *before* the field, relative to min_expire (+1); 0 = no TTL
        g[C.RDB_TYPE_HASH_METADATA] = Struct(
            "min_expire" / Int64ul,
            "fields" / PrefixedArray(
                RdbLength, Struct("ttl" / RdbLength, "field" / string, "value" / string)
            ),
        )
        # Redis 7.4: listpack of (field, value, expire_at_ms) triplets, TTL'd fields first
        g[C.RDB_TYPE_HASH_LISTPACK_EX] = Struct(
            "min_expire" / Int64ul,
            "listpack" / blob(Listpack),
        )
        # Redis 8.6 (IDMP) and 8.8 (NACK zone): every stream a server of that version writes
        for rdb_type in (C.RDB_TYPE_STREAM_LISTPACKS_4, C.RDB_TYPE_STREAM_LISTPACKS_5):
            g[rdb_type] = stream_grammar(rdb_type, parse_blobs)
        g[C.RDB_TYPE_ARRAY] = array_grammar(string)  # Redis 8.8
        # Redis 8.10 template hashes (see .hash_template for the template table)
        g[C.RDB_TYPE_HASH_TMPL_LP] = hash_tmpl_lp_grammar(string, parse_blobs)
        g[C.RDB_TYPE_HASH_TMPL_LP_REF] = hash_tmpl_lp_ref_grammar(string, parse_blobs)
        g[C.RDB_TYPE_HASH_TMPL_ARRAY] = hash_tmpl_array_grammar(string, parse_blobs)
        g[C.RDB_TYPE_HASH_TMPL_ARRAY_REF] = hash_tmpl_array_ref_grammar(string)
        g[C.RDB_TYPE_GCRA] = GcraValue
    return g


@lru_cache(maxsize=None)
def _table(compress: bool, parse_blobs: bool, valkey: bool, dump: bool = False) -> dict:
    g = _grammars(RdbString if compress else RdbStringNoCompress, parse_blobs, valkey)
    if dump:
        for rdb_type in _RDB_ONLY_TYPES:
            g.pop(rdb_type, None)
    return g


def _is_valkey(rdb_version: int, valkey: bool) -> bool:
    return valkey or rdb_version >= C.VALKEY_MAGIC_MIN_VERSION


def value_grammar(rdb_type: int, rdb_version: int = 12, valkey: bool = False, *,
                  compress: bool = True, parse_blobs: bool = False, strict: bool = False):
    """Grammar of a value of type ``rdb_type`` in a file of ``rdb_version``.

    ``valkey`` (or a version >= 80) selects Valkey's meaning of codes 22/23.  ``compress``
    controls LZF on build; ``parse_blobs`` applies the blob grammars to blob strings; ``strict``
    rejects type codes that ``rdb_version`` does not define yet (Redis itself does not check).

    :raises KeyError: unknown (or, with ``strict``, not yet defined) type code.
    """
    vk = _is_valkey(rdb_version, valkey)
    table = _table(compress, parse_blobs, vk)
    if rdb_type not in table:
        raise KeyError(f"no value grammar for RDB type {rdb_type} "
                       f"({C.value_type_name(rdb_type, vk)}) in RDB {rdb_version}")
    if strict and not vk and TYPE_MIN_VERSION.get(rdb_type, 99) > rdb_version:
        raise KeyError(f"RDB type {rdb_type} is not defined in RDB version {rdb_version}")
    return table[rdb_type]


@lru_cache(maxsize=None)
def value_switch(rdb_version: int = 12, valkey: bool = False, *, compress: bool = True,
                 parse_blobs: bool = False, dump: bool = False):
    """``Switch`` over ``this.rdb_type`` (a sibling field) for every type of the variant
    (``dump``: of a DUMP payload, which cannot hold types 30 and 32)."""
    vk = _is_valkey(rdb_version, valkey)
    return Switch(this.rdb_type, _table(compress, parse_blobs, vk, dump), default=Error)


class _OptionalPrefix(Construct):
    """``subcon`` after the byte ``opcode``, present only when the next byte is ``opcode``: else
    parses to None and consumes nothing.  Builds the opcode and ``subcon``, or nothing for None.
    """

    def __init__(self, opcode: int, subcon):
        super().__init__()
        self.opcode = opcode
        self.subcon = subcon

    def _parse(self, stream, context, path):
        start = stream_tell(stream, path)
        if stream.read(1) != bytes((self.opcode,)):
            stream.seek(start)
            return None
        return self.subcon._parsereport(stream, context, path)

    def _build(self, obj, stream, context, path):
        if obj is not None:
            stream_write(stream, bytes((self.opcode,)), 1, path)
            self.subcon._build(obj, stream, context, path)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("an optional prefix is variable-sized", path=path)


@lru_cache(maxsize=None)
def dump_payload_grammar(rdb_version: int = 12, valkey: bool = False, *, compress: bool = True,
                         parse_blobs: bool = False):
    """DUMP/RESTORE payload: [0xF3 key metadata], type byte, value, u16 LE RDB version, u64 LE
    CRC64 of the rest.

    ``key_meta`` is None without the prefix (always so for Valkey, where 243 means something
    else, and for Redis RESTOREs in an AOF, written with DUMP_PAYLOAD_SKIP_KEY_META).  The CRC
    is not verified here (see rdbtools.crc64); ``rdb_version`` only picks the type table.
    """
    vk = _is_valkey(rdb_version, valkey)
    return Struct(
        "key_meta" / (Computed(None) if vk else _OptionalPrefix(C.RDB_OPCODE_KEY_META, KeyMeta)),
        "rdb_type" / Byte,
        "value" / value_switch(rdb_version, valkey, compress=compress, parse_blobs=parse_blobs,
                               dump=True),
        "rdb_version" / Int16ul,
        "crc64" / Int64ul,
        Terminated,
    )
