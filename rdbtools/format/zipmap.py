"""Zipmap grammar (hashes of Redis <= 2.4, RDB type 9).

Mirrors src/zipmap.c (Redis 7.4 still carries it for loading): ``zmlen`` (pair count if < 254,
else unknown), then ``len(key) key len(value) free value <free bytes>`` repeated, then 0xFF.
Lengths are 1 byte if < 254, else 0xFE + u32 (little-endian on every real host; zipmap.c
memrev32ifbe).  ``zmlen`` is only a hint: neither Redis nor this grammar checks it.

Parsed form::

    Container(zmlen=1, entries=[Container(key=b"a", free=0, value=b"b", padding=b"")])
"""

from __future__ import annotations

from construct import (
    Bytes,
    Const,
    Construct,
    Container,
    GreedyBytes,
    Int8ub,
    ListContainer,
    Prefixed,
    Rebuild,
    SizeofError,
    Struct,
    Terminated,
    len_,
    stream_read,
    stream_write,
    this,
)

from .primitives import EntryList, InvalidEncodingError

__all__ = ["Zipmap", "ZipmapEntry", "ZipmapLength", "zipmap_elements", "zipmap_container",
           "build_zipmap"]

ZIPMAP_BIGLEN = 254
ZIPMAP_END = 255


class ZipmapLengthConstruct(Construct):
    r"""zipmap length: 1 byte < 254, else 0xFE + u32 LE (0xFF is the end marker, not a length).

    Example::

        >>> ZipmapLength.parse(b"\xfe\x00\x01\x00\x00")
        256
    """

    def _parse(self, stream, context, path):
        b = stream_read(stream, 1, path)[0]
        if b < ZIPMAP_BIGLEN:
            return b
        if b == ZIPMAP_BIGLEN:
            return int.from_bytes(stream_read(stream, 4, path), "little")
        raise InvalidEncodingError("zipmap end marker where a length is expected", path=path)

    def _build(self, obj, stream, context, path):
        data = bytes((obj,)) if obj < ZIPMAP_BIGLEN else b"\xfe" + obj.to_bytes(4, "little")
        stream_write(stream, data, len(data), path)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("zipmap length is variable-sized", path=path)


ZipmapLength = ZipmapLengthConstruct()

ZipmapEntry = Struct(
    "key" / Prefixed(ZipmapLength, GreedyBytes),
    "_value_len" / Rebuild(ZipmapLength, len_(this.value)),
    "free" / Rebuild(Int8ub, len_(this.padding)),  # unused bytes after the value
    "value" / Bytes(this._value_len),
    "padding" / Bytes(this.free),
)

Zipmap = Struct(
    "zmlen" / Int8ub,
    "entries" / EntryList(ZipmapEntry, ZIPMAP_END),
    Const(bytes((ZIPMAP_END,))),
    Terminated,
)


def zipmap_elements(parsed) -> list:
    """Flat ``[k1, v1, k2, v2, ...]`` as decode_zipmap returns it."""
    out = []
    for e in parsed.entries:
        out.append(e.key)
        out.append(e.value)
    return out


def zipmap_container(pairs) -> Container:
    """Parsed form of a zipmap holding ``pairs`` ((key, value) tuples), no free space."""
    entries = ListContainer(Container(key=bytes(k), free=0, value=bytes(v), padding=b"")
                            for k, v in pairs)
    return Container(zmlen=min(len(entries), ZIPMAP_BIGLEN), entries=entries)


def build_zipmap(pairs) -> bytes:
    """Zipmap bytes via the grammar.

    Example::

        >>> build_zipmap([(b"a", b"b")]).hex()
        '010161010062ff'
    """
    return Zipmap.build(zipmap_container(pairs))
