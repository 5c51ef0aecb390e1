"""Spec names of the RDB format, spelled as in Redis's src/rdb.h (and Valkey's where they differ).

Type codes 22-25 mean different things in Redis (hash field expiration, 7.4) and Valkey
(22 = HASH_2, 9.0): which table applies is decided by the file's magic, see
:func:`value_type_name`.
"""

from __future__ import annotations

# Highest RDB versions this project reads: Redis 7.4 - 8.4 write 12, 8.6 writes 13, 8.8 writes 14,
# 8.10 writes 15; Valkey 9.0 writes 80.
RDB_VERSION_MAX_REDIS = 15
RDB_VERSION_MAX_VALKEY = 80
# Valkey uses the 9-byte "VALKEY" + 3 digits magic for versions above 79 (valkey rdb.h).
VALKEY_MAGIC_MIN_VERSION = 80

# --- Opcodes (rdb.h) ---------------------------------------------------------------------
RDB_OPCODE_HASH_TEMPLATE = 242  # Redis 8.10 (RDB 15): one record per hash template
RDB_OPCODE_KEY_META = 243  # Redis 8.6 (RDB 13): module key metadata before a key's type byte
# Valkey 8.1+ uses 243 for SLOT_IMPORT; the file's magic decides which meaning applies.
RDB_OPCODE_SLOT_INFO = 244  # Redis 7.4, cluster mode
RDB_OPCODE_FUNCTION2 = 245  # Redis 7.0 GA
RDB_OPCODE_FUNCTION_PRE_GA = 246  # Redis 7.0 release candidates only
RDB_OPCODE_MODULE_AUX = 247  # Redis 5.0
RDB_OPCODE_IDLE = 248  # Redis 5.0, LRU idle seconds
RDB_OPCODE_FREQ = 249  # Redis 5.0, LFU counter
RDB_OPCODE_AUX = 250  # Redis 3.2
RDB_OPCODE_RESIZEDB = 251  # Redis 3.2
RDB_OPCODE_EXPIRETIME_MS = 252  # Redis 2.6
RDB_OPCODE_EXPIRETIME = 253  # Redis <= 2.4, seconds
RDB_OPCODE_SELECTDB = 254
RDB_OPCODE_EOF = 255

# --- Value types (rdb.h) -----------------------------------------------------------------
RDB_TYPE_STRING = 0
RDB_TYPE_LIST = 1
RDB_TYPE_SET = 2
RDB_TYPE_ZSET = 3
RDB_TYPE_HASH = 4
RDB_TYPE_ZSET_2 = 5  # Redis 4.0: binary double scores
RDB_TYPE_MODULE_PRE_GA = 6  # Redis 4.0 release candidates; cannot be skipped
RDB_TYPE_MODULE_2 = 7  # Redis 4.0
RDB_TYPE_HASH_ZIPMAP = 9
RDB_TYPE_LIST_ZIPLIST = 10
RDB_TYPE_SET_INTSET = 11
RDB_TYPE_ZSET_ZIPLIST = 12
RDB_TYPE_HASH_ZIPLIST = 13
RDB_TYPE_LIST_QUICKLIST = 14  # Redis 3.2
RDB_TYPE_STREAM_LISTPACKS = 15  # Redis 5.0
RDB_TYPE_HASH_LISTPACK = 16  # Redis 7.0
RDB_TYPE_ZSET_LISTPACK = 17  # Redis 7.0
RDB_TYPE_LIST_QUICKLIST_2 = 18  # Redis 7.0
RDB_TYPE_STREAM_LISTPACKS_2 = 19  # Redis 7.0
RDB_TYPE_SET_LISTPACK = 20  # Redis 7.2
RDB_TYPE_STREAM_LISTPACKS_3 = 21  # Redis 7.2
# Redis 7.4 (RDB 12): hash field expiration.  22/23 were only written by 7.4 release candidates.
RDB_TYPE_HASH_METADATA_PRE_GA = 22
RDB_TYPE_HASH_LISTPACK_EX_PRE_GA = 23
RDB_TYPE_HASH_METADATA = 24
RDB_TYPE_HASH_LISTPACK_EX = 25
# Redis 8.6 (RDB 13): every stream, with its IDMP (idempotent XADD) state.
RDB_TYPE_STREAM_LISTPACKS_4 = 26
# Redis 8.8 (RDB 14): every stream, plus a per-group NACK zone (XNACK).
RDB_TYPE_STREAM_LISTPACKS_5 = 27
# Redis 8.8 (RDB 14): sparse array indexed by uint64 (AR* commands).
RDB_TYPE_ARRAY = 28
# Redis 8.10 (RDB 15): template ("compact") hashes.  29/31 appear only in DUMP payloads, 30/32
# (values that reference an opcode-242 template record) only in RDB files.
RDB_TYPE_HASH_TMPL_LP = 29
RDB_TYPE_HASH_TMPL_LP_REF = 30
RDB_TYPE_HASH_TMPL_ARRAY = 31
RDB_TYPE_HASH_TMPL_ARRAY_REF = 32
# Redis 8.10 source: GCRA rate limiter, compiled only with -DENABLE_GCRA (no default build writes it).
RDB_TYPE_GCRA = 33

# Type 28 element tags (t_array.c arEncode): the in-memory tagged-pointer kind of each value.
ARRAY_TAG_SDS = 0
ARRAY_TAG_INT = 1
ARRAY_TAG_FLOAT = 2
ARRAY_TAG_SMALLSTR = 3

# Types 29/31 field-name formats (DUMP payloads, Redis 8.10)
HASH_TMPL_FIELDS_LP = 0
HASH_TMPL_FIELDS_RAW = 1

# Valkey 9.0 (RDB 80): a hashtable hash whose fields may carry an expiry.
RDB_TYPE_VALKEY_HASH_2 = 22

# Quicklist v2 node containers (quicklist.h)
QUICKLIST_NODE_CONTAINER_PLAIN = 1
QUICKLIST_NODE_CONTAINER_PACKED = 2

# Module value opcodes (rdb.h RDB_MODULE_OPCODE_*)
RDB_MODULE_OPCODE_EOF = 0
RDB_MODULE_OPCODE_SINT = 1
RDB_MODULE_OPCODE_UINT = 2
RDB_MODULE_OPCODE_FLOAT = 3
RDB_MODULE_OPCODE_DOUBLE = 4
RDB_MODULE_OPCODE_STRING = 5

# String special encodings (rdb.h RDB_ENC_*)
RDB_ENC_INT8 = 0
RDB_ENC_INT16 = 1
RDB_ENC_INT32 = 2
RDB_ENC_LZF = 3

# Stream entry flags (t_stream.c)
STREAM_ITEM_FLAG_DELETED = 1
STREAM_ITEM_FLAG_SAMEFIELDS = 2

_REDIS_TYPE_NAMES = {
    RDB_TYPE_STRING: "STRING",
    RDB_TYPE_LIST: "LIST",
    RDB_TYPE_SET: "SET",
    RDB_TYPE_ZSET: "ZSET",
    RDB_TYPE_HASH: "HASH",
    RDB_TYPE_ZSET_2: "ZSET_2",
    RDB_TYPE_MODULE_PRE_GA: "MODULE_PRE_GA",
    RDB_TYPE_MODULE_2: "MODULE_2",
    RDB_TYPE_HASH_ZIPMAP: "HASH_ZIPMAP",
    RDB_TYPE_LIST_ZIPLIST: "LIST_ZIPLIST",
    RDB_TYPE_SET_INTSET: "SET_INTSET",
    RDB_TYPE_ZSET_ZIPLIST: "ZSET_ZIPLIST",
    RDB_TYPE_HASH_ZIPLIST: "HASH_ZIPLIST",
    RDB_TYPE_LIST_QUICKLIST: "LIST_QUICKLIST",
    RDB_TYPE_STREAM_LISTPACKS: "STREAM_LISTPACKS",
    RDB_TYPE_HASH_LISTPACK: "HASH_LISTPACK",
    RDB_TYPE_ZSET_LISTPACK: "ZSET_LISTPACK",
    RDB_TYPE_LIST_QUICKLIST_2: "LIST_QUICKLIST_2",
    RDB_TYPE_STREAM_LISTPACKS_2: "STREAM_LISTPACKS_2",
    RDB_TYPE_SET_LISTPACK: "SET_LISTPACK",
    RDB_TYPE_STREAM_LISTPACKS_3: "STREAM_LISTPACKS_3",
    RDB_TYPE_HASH_METADATA_PRE_GA: "HASH_METADATA_PRE_GA",
    RDB_TYPE_HASH_LISTPACK_EX_PRE_GA: "HASH_LISTPACK_EX_PRE_GA",
    RDB_TYPE_HASH_METADATA: "HASH_METADATA",
    RDB_TYPE_HASH_LISTPACK_EX: "HASH_LISTPACK_EX",
    RDB_TYPE_STREAM_LISTPACKS_4: "STREAM_LISTPACKS_4",
    RDB_TYPE_STREAM_LISTPACKS_5: "STREAM_LISTPACKS_5",
    RDB_TYPE_ARRAY: "ARRAY",
    RDB_TYPE_HASH_TMPL_LP: "HASH_TMPL_LP",
    RDB_TYPE_HASH_TMPL_LP_REF: "HASH_TMPL_LP_REF",
    RDB_TYPE_HASH_TMPL_ARRAY: "HASH_TMPL_ARRAY",
    RDB_TYPE_HASH_TMPL_ARRAY_REF: "HASH_TMPL_ARRAY_REF",
    RDB_TYPE_GCRA: "GCRA",
}

_VALKEY_TYPE_NAMES = {
    **{code: name for code, name in _REDIS_TYPE_NAMES.items() if code < 22},
    RDB_TYPE_VALKEY_HASH_2: "HASH_2",
}


def value_type_name(rdb_type: int, valkey: bool = False) -> str:
    """Name of an RDB value type code as rdb.h spells it (Valkey's table when ``valkey``)."""
    names = _VALKEY_TYPE_NAMES if valkey else _REDIS_TYPE_NAMES
    return names.get(rdb_type, f"UNKNOWN_{rdb_type}")
