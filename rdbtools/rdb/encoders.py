"""The blob encoders of the RDB writer: listpack, ziplist and intset bytes, a stream's
entries cut into node listpacks, as the server builds them in memory, and the element tags of
an array (Redis 8.8).

Hand-written for speed: the construct builders in :mod:`rdbtools.format` take ~17 µs per
element, these ~1 µs; hypothesis tests show both give the same bytes (STYLE §2.5).  Their
compiled twins (``rdbtools/rdb/_speedups``) are taken through :mod:`rdbtools.rdb._accel`, which
falls back to these functions.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from math import inf, nextafter
from struct import pack, unpack
from typing import Collection, Iterable

from ..errors import EncodeError
from ..format import constants as C
from ..format.listpack import encode_backlen
from ..format.stream import encode_stream_entry

__all__ = ["canonical_int", "encode_listpack", "encode_ziplist", "encode_intset", "compact",
           "stream_nodes", "listpack_element", "ziplist_encoding", "compact_one", "array_tag"]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1

def canonical_int(data: bytes) -> int | None:
    """The int64 ``data`` spells canonically (string2ll / lpStringToInt64), or None: no sign
    but ``-``, no leading zeros, no ``-0``, at most 20 characters."""
    if not 0 < len(data) <= 20 or data[0] not in b"-0123456789":
        return None
    try:
        value = int(data)
    except ValueError:
        return None
    if not _INT64_MIN <= value <= _INT64_MAX or b"%d" % value != data:
        return None
    return value


def listpack_element(v: bytes | int) -> bytes:
    """One listpack entry (encoding + data + backlen), the smallest form (lpEncodeGetType)."""
    if v.__class__ is int:
        if 0 <= v <= 127:
            return bytes((v, 1))
        if -4096 <= v <= 4095:
            u = v & 0x1FFF
            return bytes((0xC0 | (u >> 8), u & 0xFF, 2))
        if -32768 <= v <= 32767:
            return b"\xf1" + pack("<h", v) + b"\x03"
        if -(2**23) <= v < 2**23:
            return b"\xf2" + (v & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
        if -(2**31) <= v < 2**31:
            return b"\xf3" + pack("<i", v) + b"\x05"
        return b"\xf4" + pack("<q", v) + b"\x09"
    n = len(v)
    if n < 64:
        head = bytes((0x80 | n,))
    elif n < 4096:
        head = bytes((0xE0 | (n >> 8), n & 0xFF))
    else:
        head = b"\xf0" + pack("<I", n)
    size = len(head) + n
    return head + v + (bytes((size,)) if size <= 127 else encode_backlen(size))


def encode_listpack(elements: Iterable[bytes | int]) -> bytes:
    """Listpack bytes for ``elements`` (``int`` elements take integer encodings; convert
    canonical decimal strings first, as Redis does, with :func:`canonical_int`).

    Example::

        >>> encode_listpack([b"a", 1]).hex()
        '0c00000002008161020101ff'
    """
    parts = [listpack_element(v) for v in elements]
    body = b"".join(parts)
    return pack("<IH", 7 + len(body), min(len(parts), 65535)) + body + b"\xff"


def ziplist_encoding(v: bytes | int) -> bytes:
    """A ziplist entry's encoding + data (zipTryEncoding / zipStoreEntryEncoding)."""
    if v.__class__ is int:
        if 0 <= v <= 12:
            return bytes((0xF1 + v,))  # 4-bit immediate (Redis 2.6)
        if -128 <= v <= 127:
            return b"\xfe" + pack("<b", v)
        if -32768 <= v <= 32767:
            return b"\xc0" + pack("<h", v)
        if -(2**23) <= v < 2**23:
            return b"\xf0" + (v & 0xFFFFFF).to_bytes(3, "little")
        if -(2**31) <= v < 2**31:
            return b"\xd0" + pack("<i", v)
        return b"\xe0" + pack("<q", v)
    n = len(v)
    if n <= 0x3F:
        return bytes((n,)) + v
    if n <= 0x3FFF:
        return bytes((0x40 | (n >> 8), n & 0xFF)) + v  # 14-bit length, big-endian
    return b"\x80" + pack(">I", n) + v


def encode_ziplist(elements: Iterable[bytes | int]) -> bytes:
    """Ziplist bytes for ``elements`` (RDB 6+ integer encodings).

    Example::

        >>> encode_ziplist([b"a", 1]).hex()
        '100000000d000000020000016103f2ff'
    """
    parts = []
    prev = 0
    offset = last = 10
    for v in elements:
        entry = (bytes((prev,)) if prev < 254 else b"\xfe" + pack("<I", prev)) + ziplist_encoding(v)
        parts.append(entry)
        last = offset
        prev = len(entry)
        offset += prev
    return pack("<IIH", offset + 1, last, min(len(parts), 65535)) + b"".join(parts) + b"\xff"


def encode_intset(members: Collection[int]) -> bytes:
    """Intset bytes: sorted, unique, the smallest width holding every member.

    Example::

        >>> encode_intset([2, 1]).hex()
        '020000000200000001000200'
    """
    values = sorted(set(members))
    if not values:
        raise EncodeError("an intset cannot be empty")
    lo, hi = values[0], values[-1]
    width, code = (2, "h") if -32768 <= lo and hi <= 32767 else (
        (4, "i") if -(2**31) <= lo and hi < 2**31 else (8, "q"))
    return pack(f"<II{len(values)}{code}", width, len(values), *values)


def compact_one(item: bytes) -> bytes | int:
    value = canonical_int(item)
    return item if value is None else value


def compact(items: list[bytes]) -> list[bytes | int]:
    """Elements as a listpack/ziplist stores them: canonical decimal text becomes an integer."""
    return [compact_one(x) for x in items]


def _lp_size(elements: list) -> int:
    return sum(len(listpack_element(x)) for x in elements)


def stream_nodes(entries, max_bytes: int, max_entries: int) -> list[tuple[tuple[int, int], bytes]]:
    """Stream entries cut into node listpacks as streamAppendItem() (t_stream.c) fills them: a
    new node when ``lp_bytes + field and value bytes >= max_bytes`` (stream-node-max-bytes) or
    the node holds ``max_entries`` entries (stream-node-max-entries; 0: no limit).  The first
    entry's ID and fields are the node's master entry.  Returns ``(master ID, listpack bytes)``
    per node."""
    nodes: list[list] = []
    node: list | None = None  # [master ID, master fields, entries' elements, entry count]
    lp_bytes = 0
    for e in entries:
        fields = [(compact_one(f), compact_one(v)) for f, v in e.fields]
        if node is not None and (
                lp_bytes + sum(len(f) + len(v) for f, v in e.fields) >= max_bytes
                or max_entries and node[3] >= max_entries):
            node = None
        if node is None:
            master_fields = [f for f, _ in fields]
            node = [e.id, master_fields, [], 0]
            nodes.append(node)
            lp_bytes = 7 + _lp_size([0, 0, len(master_fields), *master_fields, 0])
        elements = encode_stream_entry(*node[0], node[1], *e.id, 0, fields)
        node[2] += elements
        node[3] += 1
        lp_bytes += _lp_size(elements)
    return [(master, encode_listpack([count, 0, len(fields), *fields, 0, *elements]))
            for master, fields, elements, count in nodes]


# -- arrays (Redis 8.8 t_array.c / sparsearray.c) ---------------------------------------------

# arIntFits() on 64-bit builds: an immediate integer keeps 62 bits
_AR_INT_MIN, _AR_INT_MAX = -(2**61), 2**61 - 1
_AR_SMALLSTR_MAXLEN = 7  # AR_SMALLSTR_MAXLEN, 64-bit builds
# double2ll(): d2string() prints integral doubles within +-LLONG_MAX/2 with ll2string()
_DOUBLE2LL_MAX = float(2**63 // 2)
_DIGITS = frozenset(b"0123456789")


def _fpconv_text(d: float) -> str | None:
    """fpconv_dtoa(d) (Redis's Grisu2 printer) for a finite non-zero ``d`` when it prints
    without an exponent (emit_digits()); None when it uses scientific notation, which no
    candidate of :func:`array_tag` matches.  The digits are Python's shortest round-trip
    digits: :func:`_grisu_certain` decides whether Grisu2 finds the same."""
    sign, digits, k = Decimal(repr(abs(d))).normalize().as_tuple()
    text = "".join(map(str, digits))
    n = len(text)
    exp = abs(k + n - 1)
    neg = "-" if d < 0 else ""
    if k >= 0 and exp < n + 7:
        return neg + text + "0" * k
    if k < 0 and (k > -7 or exp < 4):
        offset = n + k
        if offset <= 0:
            return neg + "0." + "0" * -offset + text
        return neg + text[:offset] + "." + text[offset:]
    return None


def _grisu_certain(text: bytes, d: float) -> bool:
    """Whether Grisu2 surely prints ``d`` as ``text`` (its shortest digits, as Python finds
    them).  Grisu2 works in 64-bit fixed point with a rounding interval narrowed by a few units
    (about 1/1000 of an ulp, see fpconv_dtoa.c grisu2()): it may miss the shortest digits when they lie that close to the
    interval's edge, or pick another candidate as close to ``d``.  Cases within 1/256 ulp of
    either are left uncertain; the caller then writes a string, which the loader re-encodes
    with arEncode() itself (SDS) or keeps as the same text (SMALLSTR): never a wrong value."""
    exact = Fraction(d)
    value = Fraction(text.decode())
    lo = (exact + Fraction(nextafter(d, -inf))) / 2
    hi = (exact + Fraction(nextafter(d, inf))) / 2
    margin = (hi - lo) / 256
    decimals = len(text) - text.index(b".") - 1 if b"." in text else 0
    step = Fraction(1, 10**decimals)
    return (value - lo > margin and hi - value > margin
            and abs(value - exact) < step / 2 - margin)


def _is_array_float(data: bytes) -> bool:
    """arTryEncodeFloat(): an optional ``-``, digits and exactly one ``.``, whose double with
    the low 2 mantissa bits cleared (the pointer tag) prints back (d2string()) as ``data``, or
    as ``data`` without a trailing ``.0`` (``1.0`` is a float, ``1`` an integer, ``0.1`` a
    string: its double has low bits set)."""
    body = data[1:] if data[:1] == b"-" else data
    if body.count(b".") != 1 or not _DIGITS.issuperset(body.replace(b".", b"")):
        return False
    try:
        d = float(data)
    except ValueError:  # "." or "-."
        return False
    if d in (inf, -inf):
        return False
    bits = unpack("<Q", pack("<d", d))[0]
    if bits & 3:
        # the truncated double is another number: its text cannot be ``data``, which rounds
        # to ``d`` (string2d(), then clearing the bits moves it out of d's interval)
        return False
    if d == 0 or (d == int(d) and abs(d) <= _DOUBLE2LL_MAX):
        # "0"/"-0" and ll2string(): exact, only the ".0" form can match
        text = ("-0" if bits >> 63 else "0") if d == 0 else "%d" % d
        return data == text.encode() + b".0"
    text = _fpconv_text(d)
    if text is None:
        return False
    printed = text.encode()
    if data == printed + b".0":
        return _grisu_certain(printed, d)
    return data == printed and _grisu_certain(printed, d)


def array_tag(data: bytes) -> int:
    """The tag an array element gets on disk (rdbSaveArrayElement()): the kind of tagged
    pointer arEncode() (sparsearray.c, Redis 8.8) makes of the string — ``ARRAY_TAG_INT`` for a
    canonical decimal integer within 62 bits, ``ARRAY_TAG_FLOAT`` for a plain decimal whose
    tagged double prints back as the same text, ``ARRAY_TAG_SMALLSTR`` for up to 7 bytes,
    ``ARRAY_TAG_SDS`` for the rest.

    Example::

        >>> [array_tag(v) for v in (b"-2", b"3.5", b"0.1", b"a string longer than 7")]
        [1, 2, 3, 0]
    """
    value = canonical_int(data)
    if value is not None and _AR_INT_MIN <= value <= _AR_INT_MAX:
        return C.ARRAY_TAG_INT
    if _is_array_float(data):
        return C.ARRAY_TAG_FLOAT
    return C.ARRAY_TAG_SMALLSTR if len(data) <= _AR_SMALLSTR_MAXLEN else C.ARRAY_TAG_SDS
