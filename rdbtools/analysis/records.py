"""The on-disk shape of one key record that the decoded model drops: blob byte lengths, quicklist
node boundaries, stream node keys.

Mirrors the record layout read by rdbLoadObject() in src/rdb.c: optional EXPIRETIME(_MS), IDLE,
FREQ and (Redis 8.6+) KEY_META opcodes, the type byte, the key string, then the value.  Only the framing is walked; an LZF
blob's uncompressed length is taken from its header without decompressing it.
"""

from __future__ import annotations

from ..format import constants as C
from ..rdb.reader import RecordCursor

__all__ = ["RecordShape", "record_shape", "BLOB_TYPES", "QUICKLIST_TYPES", "STREAM_TYPES"]

BLOB_TYPES = frozenset({C.RDB_TYPE_HASH_ZIPMAP, C.RDB_TYPE_LIST_ZIPLIST, C.RDB_TYPE_SET_INTSET,
                        C.RDB_TYPE_ZSET_ZIPLIST, C.RDB_TYPE_HASH_ZIPLIST, C.RDB_TYPE_HASH_LISTPACK,
                        C.RDB_TYPE_ZSET_LISTPACK, C.RDB_TYPE_SET_LISTPACK,
                        C.RDB_TYPE_HASH_LISTPACK_EX})
QUICKLIST_TYPES = frozenset({C.RDB_TYPE_LIST_QUICKLIST, C.RDB_TYPE_LIST_QUICKLIST_2})
STREAM_TYPES = frozenset({C.RDB_TYPE_STREAM_LISTPACKS, C.RDB_TYPE_STREAM_LISTPACKS_2,
                          C.RDB_TYPE_STREAM_LISTPACKS_3, C.RDB_TYPE_STREAM_LISTPACKS_4,
                          C.RDB_TYPE_STREAM_LISTPACKS_5})


class RecordShape:
    """Accessible attributes: ``rdb_type``; ``blobs``: one ``(container, length, payload)`` per
    blob of the value (container 2 = packed listpack/ziplist, 1 = plain quicklist node; payload is
    the decompressed bytes when asked for, else None); ``node_keys``: stream node keys (16 bytes)."""

    __slots__ = ("rdb_type", "blobs", "node_keys")

    def __init__(self, rdb_type: int) -> None:
        self.rdb_type = rdb_type
        self.blobs: list[tuple[int, int, bytes | None]] = []
        self.node_keys: list[bytes] = []


def _skip_module_values(length, skip_string, src) -> None:
    """Module-typed values up to their EOF opcode (rdb.c rdbLoadCheckModuleValue)."""
    while (op := length()) != C.RDB_MODULE_OPCODE_EOF:
        if op in (C.RDB_MODULE_OPCODE_SINT, C.RDB_MODULE_OPCODE_UINT):
            length()
        elif op == C.RDB_MODULE_OPCODE_FLOAT:
            src.skip(4)
        elif op == C.RDB_MODULE_OPCODE_DOUBLE:
            src.skip(8)
        else:  # RDB_MODULE_OPCODE_STRING; anything else is the reader's to reject
            skip_string()


def record_shape(record: bytes, *, payloads: bool = False) -> RecordShape:
    """Walk the record bytes of one key (``Entry.offset`` .. ``+ Entry.size``)."""
    cursor = RecordCursor.over(record)
    src = cursor._src
    length, skip_string, read_string = cursor._read_len, cursor._skip_string, cursor._read_string

    def string(want: bool) -> tuple[int, bytes | None]:
        if not want:
            return skip_string(), None
        data = read_string()
        return len(data), data

    while True:
        op = src.take(1)[0]
        if op == C.RDB_OPCODE_EXPIRETIME_MS:
            src.skip(8)
        elif op == C.RDB_OPCODE_EXPIRETIME:
            src.skip(4)
        elif op == C.RDB_OPCODE_IDLE:
            length()
        elif op == C.RDB_OPCODE_FREQ:
            src.skip(1)
        elif op == C.RDB_OPCODE_KEY_META:  # Redis 8.6+, right before the type byte
            for _ in range(length()):
                src.skip(4)  # the class spec
                _skip_module_values(length, skip_string, src)
        else:
            break
    shape = RecordShape(op)
    skip_string()  # the key
    if op in BLOB_TYPES:
        if op == C.RDB_TYPE_HASH_LISTPACK_EX:
            src.skip(8)  # the smallest field expiry (ms) precedes the listpack (rdb.c @7.4.0)
        shape.blobs.append((2, *string(payloads)))
    elif op in QUICKLIST_TYPES:
        for _ in range(length()):
            container = length() if op == C.RDB_TYPE_LIST_QUICKLIST_2 else 2
            shape.blobs.append((container, *string(payloads)))
    elif op in STREAM_TYPES:
        for _ in range(length()):
            shape.node_keys.append(read_string())
            shape.blobs.append((2, skip_string(), None))
    return shape
