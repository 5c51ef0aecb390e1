"""Listpack grammar: header, entries with every encoding, backlen, end byte.

Mirrors src/listpack.c (Redis 7.4): lpEncodeBacklen/lpDecodeBacklen, lpCurrentEncodedSizeUnsafe,
lpGet and lpValidateIntegrity/lpValidateNext.  Used by RDB types 16, 17, 18 (packed nodes), 20,
23/25 and stream nodes.

Parsed form::

    Container(total_bytes=12, count=2, entries=[
        Container(encoding="STR_6BIT", value=b"a", backlen=2),
        Container(encoding="UINT_7BIT", value=1, backlen=1)])

:func:`listpack_elements` turns that into the element list ``rdbtools.rdb.blobs.decode_listpack``
returns; :func:`listpack_container` goes the other way choosing Redis's encodings.
"""

from __future__ import annotations

from construct import (
    Check,
    Const,
    Construct,
    Container,
    FocusedSeq,
    GreedyBytes,
    Int16sl,
    Int16ub,
    Int16ul,
    Int24sl,
    Int32sl,
    Int32ul,
    Int64sl,
    Int8ub,
    ListContainer,
    Prefixed,
    SizeofError,
    Struct,
    Switch,
    Tell,
    Terminated,
    ValidationError,
    len_,
    stream_read,
    stream_write,
    this,
)

from .primitives import EntryList, Masked, PeekClass, SignedMasked

__all__ = [
    "Listpack",
    "ListpackEntry",
    "ListpackBacklen",
    "listpack_elements",
    "listpack_container",
    "listpack_entry",
    "build_listpack",
    "encode_backlen",
    "backlen_size",
]

LP_HDR_SIZE = 6
LP_HDR_NUMELE_UNKNOWN = 65535
LP_EOF = 0xFF


def _lp_encoding(b: int) -> str | None:
    """Name of the listpack encoding whose first byte is ``b`` (listpack.c LP_ENCODING_* masks)."""
    if b < 0x80:
        return "UINT_7BIT"  # 0xxxxxxx
    if b < 0xC0:
        return "STR_6BIT"  # 10LLLLLL
    if b < 0xE0:
        return "INT_13BIT"  # 110xxxxx yyyyyyyy
    if b < 0xF0:
        return "STR_12BIT"  # 1110LLLL LLLLLLLL
    return _LP_FIXED.get(b)  # 0xF5..0xFE are unused, 0xFF is the end byte


_LP_FIXED = {
    0xF0: "STR_32BIT",
    0xF1: "INT_16BIT",
    0xF2: "INT_24BIT",
    0xF3: "INT_32BIT",
    0xF4: "INT_64BIT",
}


def _tagged(tag: int, field):
    return FocusedSeq("value", Const(bytes((tag,))), "value" / field)


LP_VALUES = {
    "UINT_7BIT": Masked(Int8ub, 0x00, 0x7F),
    "STR_6BIT": Prefixed(Masked(Int8ub, 0x80, 0x3F), GreedyBytes),
    "INT_13BIT": SignedMasked(Int16ub, 0xC000, 13),
    # the 12-bit length keeps its high bits in the first byte (big-endian-like)
    "STR_12BIT": Prefixed(Masked(Int16ub, 0xE000, 0x0FFF), GreedyBytes),
    "STR_32BIT": _tagged(0xF0, Prefixed(Int32ul, GreedyBytes)),
    "INT_16BIT": _tagged(0xF1, Int16sl),
    "INT_24BIT": _tagged(0xF2, Int24sl),
    "INT_32BIT": _tagged(0xF3, Int32sl),
    "INT_64BIT": _tagged(0xF4, Int64sl),
}


def backlen_size(entry_size: int) -> int:
    """Bytes lpEncodeBacklen uses for an entry of ``entry_size`` bytes (note 16383 -> 3)."""
    if entry_size <= 127:
        return 1
    if entry_size < 16383:
        return 2
    if entry_size < 2097151:
        return 3
    if entry_size < 268435455:
        return 4
    return 5


def encode_backlen(entry_size: int) -> bytes:
    """lpEncodeBacklen: 7-bit groups, the *last* byte holds the least significant group; every
    byte but the first written has bit 0x80 set.

    Example::

        >>> encode_backlen(16383).hex()
        '00ffff'
    """
    n = backlen_size(entry_size)
    out = bytearray()
    for i in range(n - 1, -1, -1):
        group = (entry_size >> (7 * i)) & 127
        out.append(group | (0x80 if i != n - 1 else 0))
    return bytes(out)


class ListpackBacklen(Construct):
    """The backlen after a listpack entry of ``size`` bytes (a ``this`` expression or int).

    Parsing reads exactly the number of bytes lpEncodeBacklen writes for ``size`` and requires
    them to be its canonical encoding (lpValidateNext recomputes the backlen size from the entry
    size, so any other form is rejected by Redis too); returns the decoded size.  Building
    ignores the object and writes the encoding of ``size``.
    """

    def __init__(self, size):
        super().__init__()
        self.size = size

    def _parse(self, stream, context, path):
        size = self.size(context) if callable(self.size) else self.size
        expected = encode_backlen(size)
        found = stream_read(stream, len(expected), path)
        if found != expected:
            raise ValidationError(
                f"listpack backlen {found.hex()} does not encode the entry size {size}", path=path
            )
        return size

    def _build(self, obj, stream, context, path):
        size = self.size(context) if callable(self.size) else self.size
        data = encode_backlen(size)
        stream_write(stream, data, len(data), path)
        return size

    def _sizeof(self, context, path):
        raise SizeofError("backlen is variable-sized", path=path)


ListpackEntry = Struct(
    "_start" / Tell,
    "encoding" / PeekClass(_lp_encoding),
    "value" / Switch(this.encoding, LP_VALUES),
    "_end" / Tell,
    "backlen" / ListpackBacklen(this._end - this._start),
)

Listpack = Struct(
    "_base" / Tell,
    "total_bytes" / Int32ul,
    "count" / Int16ul,  # 65535 = unknown, walk to count
    "entries" / EntryList(ListpackEntry, LP_EOF),
    Const(bytes((LP_EOF,))),
    "_stop" / Tell,
    Check(this.total_bytes == this._stop - this._base),
    Check((this.count == LP_HDR_NUMELE_UNKNOWN) | (this.count == len_(this.entries))),
    Terminated,
)


def listpack_elements(parsed) -> list:
    """The element list (``bytes``/``int``) of a parsed listpack, as decode_listpack returns it."""
    return [e.value for e in parsed.entries]


def listpack_entry(value) -> Container:
    """An entry container for ``value`` with the encoding Redis picks (lpEncodeGetType).

    ``int`` values take the smallest integer form (7-bit, 13-bit, 16, 24, 32, 64 bits); ``bytes``
    are stored as strings (convert canonical decimal strings to ``int`` first to mimic
    lpStringToInt64).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 127:
            enc = "UINT_7BIT"
        elif -4096 <= value <= 4095:
            enc = "INT_13BIT"
        elif -(2**15) <= value < 2**15:
            enc = "INT_16BIT"
        elif -(2**23) <= value < 2**23:
            enc = "INT_24BIT"
        elif -(2**31) <= value < 2**31:
            enc = "INT_32BIT"
        elif -(2**63) <= value < 2**63:
            enc = "INT_64BIT"
        else:
            raise ValidationError(f"{value} does not fit a listpack integer")
        size = {"UINT_7BIT": 1, "INT_13BIT": 2, "INT_16BIT": 3, "INT_24BIT": 4,
                "INT_32BIT": 5, "INT_64BIT": 9}[enc]
    else:
        value = bytes(value)
        n = len(value)
        if n < 64:
            enc, size = "STR_6BIT", 1 + n
        elif n < 4096:
            enc, size = "STR_12BIT", 2 + n
        else:
            enc, size = "STR_32BIT", 5 + n
    return Container(encoding=enc, value=value, backlen=size)


def listpack_container(elements) -> Container:
    """The parsed form of the listpack Redis would write for ``elements``."""
    entries = ListContainer(listpack_entry(v) for v in elements)
    total = LP_HDR_SIZE + 1 + sum(e.backlen + backlen_size(e.backlen) for e in entries)
    count = len(entries) if len(entries) < LP_HDR_NUMELE_UNKNOWN else LP_HDR_NUMELE_UNKNOWN
    return Container(total_bytes=total, count=count, entries=entries)


def build_listpack(elements) -> bytes:
    """Listpack bytes for ``elements`` (``bytes``/``int``) via the grammar.

    Example::

        >>> build_listpack([b"a", 1]).hex()
        '0c00000002008161020101ff'
    """
    return Listpack.build(listpack_container(elements))
