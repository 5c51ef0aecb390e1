"""Ziplist grammar: header, entries (prevlen + encoding + data), end byte.

Mirrors src/ziplist.c (Redis 7.4): zipStorePrevEntryLength, zipStoreEntryEncoding,
zipEntrySafe and ziplistValidateIntegrity.  Used by RDB types 10, 12, 13 and quicklist-v1 nodes
(type 14).

Parsed form::

    Container(zlbytes=16, zltail=13, zllen=2, entries=[
        Container(prevlen_form=1, prevlen=0, encoding="STR_6BIT", value=b"a"),
        Container(prevlen_form=1, prevlen=3, encoding="IMM_4BIT", value=1)])

``prevlen`` is rebuilt from the previous entry's size; ``prevlen_form`` (1 or 5 bytes) is kept
because the 5-byte form may legally hold a small value (ziplist.c zipStorePrevEntryLengthLarge
after a cascade update shrinks an entry, Redis 3.2+).
"""

from __future__ import annotations

from construct import (
    Check,
    Const,
    Container,
    FocusedSeq,
    GreedyBytes,
    Int16sl,
    Int16ub,
    Int16ul,
    Int24sl,
    Int32sl,
    Int32ub,
    Int32ul,
    Int64sl,
    Int8sl,
    Int8ub,
    ListContainer,
    Prefixed,
    Rebuild,
    Struct,
    Switch,
    Tell,
    Terminated,
    ValidationError,
    len_,
    this,
)

from construct import Adapter

from .primitives import EntryList, Masked, PeekClass

__all__ = [
    "Ziplist",
    "ZiplistEntry",
    "ziplist_elements",
    "ziplist_container",
    "ziplist_entry",
    "build_ziplist",
]

ZIPLIST_HEADER_SIZE = 10
ZIP_BIG_PREVLEN = 254
ZIP_END = 0xFF
ZIPLIST_LEN_UNKNOWN = 65535


def _zl_prevlen_form(b: int) -> int:
    """Size of the prevlen field whose first byte is ``b`` (0xFE: 5 bytes)."""
    return 5 if b == ZIP_BIG_PREVLEN else 1


def _zl_encoding(b: int) -> str | None:
    """Name of the ziplist encoding whose first byte is ``b`` (ziplist.c ZIP_STR_*/ZIP_INT_*)."""
    kind = b >> 6
    if kind == 0:
        return "STR_6BIT"
    if kind == 1:
        return "STR_14BIT"
    if b == 0x80:
        return "STR_32BIT"
    if kind == 2:
        return None  # 0x81..0xBF are not encodings
    return _ZL_INT.get(b) or ("IMM_4BIT" if 0xF1 <= b <= 0xFD else None)


_ZL_INT = {0xC0: "INT_16BIT", 0xD0: "INT_32BIT", 0xE0: "INT_64BIT", 0xF0: "INT_24BIT",
           0xFE: "INT_8BIT"}


class _Immediate(Adapter):
    """1111xxxx with xxxx in 0001..1101: the value xxxx - 1 (0..12) with no data (Redis 2.6+)."""

    def _decode(self, obj, context, path):
        return (obj & 0x0F) - 1

    def _encode(self, obj, context, path):
        if not 0 <= obj <= 12:
            raise ValidationError(f"{obj} is not an immediate 0..12", path=path)
        return 0xF0 | (obj + 1)


def _tagged(tag: int, field):
    return FocusedSeq("value", Const(bytes((tag,))), "value" / field)


ZL_VALUES = {
    "STR_6BIT": Prefixed(Masked(Int8ub, 0x00, 0x3F), GreedyBytes),
    # 14-bit and 32-bit string lengths are big-endian, unlike every integer in a ziplist
    "STR_14BIT": Prefixed(Masked(Int16ub, 0x4000, 0x3FFF), GreedyBytes),
    "STR_32BIT": _tagged(0x80, Prefixed(Int32ub, GreedyBytes)),
    "INT_16BIT": _tagged(0xC0, Int16sl),
    "INT_32BIT": _tagged(0xD0, Int32sl),
    "INT_64BIT": _tagged(0xE0, Int64sl),
    # RDB 6 / Redis 2.6 added the next three (commit ad91404); Redis 2.4 cannot read them
    "INT_24BIT": _tagged(0xF0, Int24sl),
    "INT_8BIT": _tagged(0xFE, Int8sl),
    "IMM_4BIT": _Immediate(Int8ub),
}

ZL_PREVLEN = {
    1: Rebuild(Int8ub, this._._prev_size),
    5: _tagged(ZIP_BIG_PREVLEN, Rebuild(Int32ul, this._._._prev_size)),
}

ZiplistEntry = Struct(
    "prevlen_form" / PeekClass(_zl_prevlen_form),
    "prevlen" / Switch(this.prevlen_form, ZL_PREVLEN),
    Check(this.prevlen == this._._prev_size),
    "encoding" / PeekClass(_zl_encoding),
    "value" / Switch(this.encoding, ZL_VALUES),
)

Ziplist = Struct(
    "_base" / Tell,
    "zlbytes" / Int32ul,
    "zltail" / Int32ul,  # offset of the first byte of the last entry (10 when empty)
    "zllen" / Int16ul,  # 65535 = unknown, walk to count
    "entries" / EntryList(ZiplistEntry, ZIP_END),
    Const(bytes((ZIP_END,))),
    "_stop" / Tell,
    Check(this.zlbytes == this._stop - this._base),
    Check(this.zltail == this._last_start - this._base),
    Check((this.zllen == ZIPLIST_LEN_UNKNOWN) | (this.zllen == len_(this.entries))),
    Terminated,
)


def ziplist_elements(parsed) -> list:
    """The element list (``bytes``/``int``) of a parsed ziplist, as decode_ziplist returns it."""
    return [e.value for e in parsed.entries]


def _encoded_size(enc: str, value) -> int:
    if enc == "STR_6BIT":
        return 1 + len(value)
    if enc == "STR_14BIT":
        return 2 + len(value)
    if enc == "STR_32BIT":
        return 5 + len(value)
    return {"IMM_4BIT": 1, "INT_8BIT": 2, "INT_16BIT": 3, "INT_24BIT": 4, "INT_32BIT": 5,
            "INT_64BIT": 9}[enc]


def ziplist_entry(value, prevlen: int = 0, legacy: bool = False) -> Container:
    """An entry container for ``value`` with the encoding Redis picks (zipTryEncoding).

    ``legacy`` restricts integers to the Redis 2.4 (RDB 2) encodings 0xC0/0xD0/0xE0.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if not legacy and 0 <= value <= 12:
            enc = "IMM_4BIT"
        elif not legacy and -128 <= value <= 127:
            enc = "INT_8BIT"
        elif -(2**15) <= value < 2**15:
            enc = "INT_16BIT"
        elif not legacy and -(2**23) <= value < 2**23:
            enc = "INT_24BIT"
        elif -(2**31) <= value < 2**31:
            enc = "INT_32BIT"
        elif -(2**63) <= value < 2**63:
            enc = "INT_64BIT"
        else:
            raise ValidationError(f"{value} does not fit a ziplist integer")
    else:
        value = bytes(value)
        n = len(value)
        enc = "STR_6BIT" if n <= 0x3F else "STR_14BIT" if n <= 0x3FFF else "STR_32BIT"
    form = 1 if prevlen < ZIP_BIG_PREVLEN else 5
    return Container(prevlen_form=form, prevlen=prevlen, encoding=enc, value=value)


def ziplist_container(elements, legacy: bool = False) -> Container:
    """The parsed form of the ziplist Redis would write for ``elements``."""
    entries = ListContainer()
    offset = ZIPLIST_HEADER_SIZE
    last = ZIPLIST_HEADER_SIZE
    prev = 0
    for v in elements:
        e = ziplist_entry(v, prev, legacy)
        entries.append(e)
        last = offset
        prev = e.prevlen_form + _encoded_size(e.encoding, e.value)
        offset += prev
    zllen = len(entries) if len(entries) < ZIPLIST_LEN_UNKNOWN else ZIPLIST_LEN_UNKNOWN
    return Container(zlbytes=offset + 1, zltail=last, zllen=zllen, entries=entries)


def build_ziplist(elements, legacy: bool = False) -> bytes:
    """Ziplist bytes for ``elements`` (``bytes``/``int``) via the grammar.

    Example::

        >>> build_ziplist([b"a", 1]).hex()
        '100000000d000000020000016103f2ff'
    """
    return Ziplist.build(ziplist_container(elements, legacy))
