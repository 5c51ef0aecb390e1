"""The on-disk shape of one key record that the decoded model drops: blob byte lengths, quicklist
node boundaries, stream node keys.

Mirrors the record layout read by rdbLoadObject() in src/rdb.c: optional EXPIRETIME(_MS), IDLE and
FREQ opcodes, the type byte, the key string, then the value.  Only the framing is walked; an LZF
blob's uncompressed length is taken from its header without decompressing it.
"""

from __future__ import annotations

from struct import unpack_from

from ..format import constants as C
from ..errors import FormatError
from ..format.lzf import lzf_decompress

__all__ = ["RecordShape", "record_shape", "BLOB_TYPES", "QUICKLIST_TYPES", "STREAM_TYPES"]

BLOB_TYPES = frozenset({C.RDB_TYPE_HASH_ZIPMAP, C.RDB_TYPE_LIST_ZIPLIST, C.RDB_TYPE_SET_INTSET,
                        C.RDB_TYPE_ZSET_ZIPLIST, C.RDB_TYPE_HASH_ZIPLIST, C.RDB_TYPE_HASH_LISTPACK,
                        C.RDB_TYPE_ZSET_LISTPACK, C.RDB_TYPE_SET_LISTPACK,
                        C.RDB_TYPE_HASH_LISTPACK_EX})
QUICKLIST_TYPES = frozenset({C.RDB_TYPE_LIST_QUICKLIST, C.RDB_TYPE_LIST_QUICKLIST_2})
STREAM_TYPES = frozenset({C.RDB_TYPE_STREAM_LISTPACKS, C.RDB_TYPE_STREAM_LISTPACKS_2,
                          C.RDB_TYPE_STREAM_LISTPACKS_3})


class RecordShape:
    """Accessible attributes: ``rdb_type``; ``blobs``: one ``(container, length, payload)`` per
    blob of the value (container 2 = packed listpack/ziplist, 1 = plain quicklist node; payload is
    the decompressed bytes when asked for, else None); ``node_keys``: stream node keys (16 bytes)."""

    __slots__ = ("rdb_type", "blobs", "node_keys")

    def __init__(self, rdb_type: int) -> None:
        self.rdb_type = rdb_type
        self.blobs: list[tuple[int, int, bytes | None]] = []
        self.node_keys: list[bytes] = []


class _Walker:
    __slots__ = ("buf", "pos")

    def __init__(self, buf: bytes) -> None:
        self.buf = buf
        self.pos = 0

    def u8(self) -> int:
        b = self.buf[self.pos]
        self.pos += 1
        return b

    def length(self) -> tuple[int, bool]:
        """(value, is_special_encoding) as rdbLoadLenByRef()."""
        b = self.u8()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | self.u8(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            v = unpack_from(">I", self.buf, self.pos)[0]
            self.pos += 4
            return v, False
        if b == 0x81:
            v = unpack_from(">Q", self.buf, self.pos)[0]
            self.pos += 8
            return v, False
        raise FormatError(f"bad length byte 0x{b:02x}")

    def string(self, want: bool) -> tuple[int, bytes | None]:
        """(decoded length, decoded bytes when ``want``) of an RDB string."""
        n, special = self.length()
        if not special:
            data = self.buf[self.pos : self.pos + n] if want else None
            self.pos += n
            return n, data
        if n == C.RDB_ENC_LZF:
            clen = self.length()[0]
            ulen = self.length()[0]
            data = None
            if want:
                data = lzf_decompress(self.buf[self.pos : self.pos + clen], ulen)
            self.pos += clen
            return ulen, data
        width = {0: 1, 1: 2, 2: 4}[n]
        text = b"%d" % int.from_bytes(self.buf[self.pos : self.pos + width], "little", signed=True)
        self.pos += width
        return len(text), text


def record_shape(record: bytes, *, payloads: bool = False) -> RecordShape:
    """Walk the record bytes of one key (``Entry.offset`` .. ``+ Entry.size``)."""
    w = _Walker(record)
    while True:
        op = w.u8()
        if op == C.RDB_OPCODE_EXPIRETIME_MS:
            w.pos += 8
        elif op == C.RDB_OPCODE_EXPIRETIME:
            w.pos += 4
        elif op == C.RDB_OPCODE_IDLE:
            w.length()
        elif op == C.RDB_OPCODE_FREQ:
            w.pos += 1
        else:
            break
    shape = RecordShape(op)
    w.string(False)  # the key
    if op in BLOB_TYPES:
        if op == C.RDB_TYPE_HASH_LISTPACK_EX:
            w.pos += 8  # the smallest field expiry (ms) precedes the listpack (rdb.c @7.4.0)
        n, data = w.string(payloads)
        shape.blobs.append((2, n, data))
    elif op in QUICKLIST_TYPES:
        for _ in range(w.length()[0]):
            container = 2
            if op == C.RDB_TYPE_LIST_QUICKLIST_2:
                container = w.length()[0]
            n, data = w.string(payloads)
            shape.blobs.append((container, n, data))
    elif op in STREAM_TYPES:
        for _ in range(w.length()[0]):
            shape.node_keys.append(w.string(True)[1] or b"")
            n, _ = w.string(False)
            shape.blobs.append((2, n, None))
    return shape
