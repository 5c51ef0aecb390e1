"""Leaf grammars of the RDB format: lengths, strings, doubles, times, stream IDs.

Mirrors rdbSaveLen()/rdbLoadLenByRef(), rdbSaveRawString()/rdbGenericLoadStringObject(),
rdbSaveDoubleValue()/rdbLoadDoubleValue() and rdbLoadMillisecondTime() in src/rdb.c (Redis 7.4).

The hot leaves (:data:`RdbLength`, :data:`RdbString`) are hand-written ``Construct`` subclasses
with ``_emitparse``/``_emitbuild`` so that compiled grammars call straight into the functions
below; every other grammar in :mod:`rdbtools.format` is composed from construct idioms.
Also here: a few small building blocks shared by the blob grammars (:class:`PeekClass`,
:class:`EntryList`, :class:`Masked`, :class:`Blob`) and :class:`RdbLengthIn`, a length with the
range check the loader applies.
"""

from __future__ import annotations

import io
import math

from construct import (
    Adapter,
    Construct,
    ExplicitError,
    Float32l,
    Float64l,
    Int32sl,
    Int64sl,
    Int64ub,
    SizeofError,
    StreamError,
    Struct,
    ValidationError,
    stream_read,
    stream_tell,
    stream_write,
)

from ..errors import FormatError
from .lzf import lzf_compress, lzf_decompress

__all__ = [
    "RdbLength",
    "RdbLengthIn",
    "RdbString",
    "RdbStringNoCompress",
    "RdbDoubleAscii",
    "RdbDoubleBinary",
    "RdbFloatBinary",
    "RdbMillisecondTime",
    "RdbSecondTime",
    "StreamIdRaw",
    "PeekClass",
    "EntryList",
    "Masked",
    "SignedMasked",
    "Blob",
    "InvalidEncodingError",
    "encode_rdb_length",
    "encode_rdb_string",
    "is_int_encodable",
]


class InvalidEncodingError(ExplicitError):
    """An encoding/tag byte that the format does not define (propagates through ``Peek``)."""


# --------------------------------------------------------------------------------------------
# Length encoding (rdb.c rdbSaveLen / rdbLoadLenByRef)
# --------------------------------------------------------------------------------------------

RDB_6BITLEN = 0
RDB_14BITLEN = 1
RDB_32BITLEN = 0x80
RDB_64BITLEN = 0x81
RDB_ENCVAL = 3


def _read(stream, n: int) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise StreamError(f"stream read less than specified amount, expected {n}, found {len(data)}")
    return data


def _parse_length_or_encoding(stream) -> tuple[int, bool]:
    """(value, is_encoded): is_encoded means the 11xxxxxx special-encoding form (value = kind)."""
    b = _read(stream, 1)[0]
    kind = b >> 6
    if kind == RDB_6BITLEN:
        return b & 0x3F, False
    if kind == RDB_14BITLEN:
        return ((b & 0x3F) << 8) | _read(stream, 1)[0], False
    if kind == RDB_ENCVAL:
        return b & 0x3F, True
    if b == RDB_32BITLEN:
        return int.from_bytes(_read(stream, 4), "big"), False
    if b == RDB_64BITLEN:
        # RDB 8 / Redis 4.0; older loaders treated every 10xxxxxx byte as a 32-bit length
        return int.from_bytes(_read(stream, 8), "big"), False
    raise InvalidEncodingError(f"invalid length encoding byte 0x{b:02x}")


def _parse_length(stream) -> int:
    value, encoded = _parse_length_or_encoding(stream)
    if encoded:
        raise InvalidEncodingError(
            f"special string encoding 0x{0xC0 | value:02x} where a length is expected"
        )
    return value


def encode_rdb_length(value: int) -> bytes:
    """The smallest length encoding of ``value`` (rdbSaveLen).

    Example::

        >>> encode_rdb_length(300).hex()
        '412c'
    """
    if value < 0:
        raise ValidationError(f"negative length {value}")
    if value < 64:
        return bytes((value,))
    if value < 16384:
        return bytes((0x40 | (value >> 8), value & 0xFF))
    if value <= 0xFFFFFFFF:
        return b"\x80" + value.to_bytes(4, "big")
    if value <= 0xFFFFFFFFFFFFFFFF:
        return b"\x81" + value.to_bytes(8, "big")
    raise ValidationError(f"length {value} does not fit 64 bits")


def _build_length(obj, stream):
    if not isinstance(obj, int) or isinstance(obj, bool):
        raise ValidationError(f"length must be an int, got {obj!r}")
    stream.write(encode_rdb_length(obj))
    return obj


class RdbLengthConstruct(Construct):
    r"""RDB length: 6-bit, 14-bit BE, 32-bit BE (0x80) or 64-bit BE (0x81); builds the smallest.

    The special-encoding bytes 0xC0..0xC3 (only valid where a string is expected) are rejected.

    :raises StreamError: input ends inside the length.
    :raises InvalidEncodingError: 0xC0..0xFF or 0x82..0xBF first byte.

    Example::

        >>> RdbLength.parse(b"\x41\x2c")
        300
        >>> RdbLength.build(2**32)
        b'\x81\x00\x00\x00\x01\x00\x00\x00\x00'
    """

    def _parse(self, stream, context, path):
        try:
            return _parse_length(stream)
        except (StreamError, InvalidEncodingError) as e:
            e.path = path
            raise

    def _build(self, obj, stream, context, path):
        return _build_length(obj, stream)

    def _sizeof(self, context, path):
        raise SizeofError("RdbLength is variable-sized", path=path)

    def _emitparse(self, code):
        code.append("from rdbtools.format.primitives import _parse_length as rdb_parse_length")
        return "rdb_parse_length(io)"

    def _emitbuild(self, code):
        code.append("from rdbtools.format.primitives import _build_length as rdb_build_length")
        return "rdb_build_length(obj, io)"


RdbLength = RdbLengthConstruct()


class RdbLengthIn(Adapter):
    r"""An RDB length the loader requires to lie in ``low..high`` (``high=None``: no bound).

    For the counts and flags whose out-of-range values rdbLoadObject() rejects (an empty array,
    more than 7 key-metadata classes, ...); ``what`` names the field in the error.

    :raises ValidationError: the value is out of range (parsing and building).

    Example::

        >>> RdbLengthIn(0, 1, "array insert_idx flag").parse(b"\x01")
        1
    """

    def __init__(self, low: int, high: int | None, what: str):
        super().__init__(RdbLength)
        self.low = low
        self.high = high
        self.what = what

    def _check(self, obj, path):
        # a non-integer is left to RdbLength, which rejects it
        if isinstance(obj, int) and (obj < self.low or (self.high is not None and obj > self.high)):
            bound = "" if self.high is None else self.high
            raise ValidationError(f"{self.what} {obj} is outside {self.low}..{bound}", path=path)
        return obj

    def _decode(self, obj, context, path):
        return self._check(obj, path)

    def _encode(self, obj, context, path):
        return self._check(obj, path)


# --------------------------------------------------------------------------------------------
# Strings (rdb.c rdbSaveRawString / rdbGenericLoadStringObject)
# --------------------------------------------------------------------------------------------

RDB_ENC_INT8, RDB_ENC_INT16, RDB_ENC_INT32, RDB_ENC_LZF = 0, 1, 2, 3


def _parse_string(stream) -> bytes:
    value, encoded = _parse_length_or_encoding(stream)
    if not encoded:
        return _read(stream, value)
    if value == RDB_ENC_INT8:
        return b"%d" % int.from_bytes(_read(stream, 1), "little", signed=True)
    if value == RDB_ENC_INT16:
        return b"%d" % int.from_bytes(_read(stream, 2), "little", signed=True)
    if value == RDB_ENC_INT32:
        return b"%d" % int.from_bytes(_read(stream, 4), "little", signed=True)
    if value == RDB_ENC_LZF:
        clen = _parse_length(stream)
        ulen = _parse_length(stream)
        data = _read(stream, clen)
        try:
            return lzf_decompress(data, ulen)
        except FormatError as e:
            raise ValidationError(f"invalid LZF compressed string: {e}") from e
    raise InvalidEncodingError(f"unknown RDB string encoding 0x{0xC0 | value:02x}")


def is_int_encodable(data: bytes) -> int | None:
    """The integer an RDB writer stores instead of ``data`` (rdbTryIntegerEncoding), or None.

    Only canonical decimal text (no ``+``, no leading zeros, no ``-0``, at most 11 chars) whose
    value fits int32 qualifies.
    """
    if not 0 < len(data) <= 11 or data[:1] not in b"-0123456789":
        return None
    try:
        value = int(data)
    except ValueError:
        return None
    if b"%d" % value != data or not -(2**31) <= value < 2**31:
        return None
    return value


def encode_rdb_string(data: bytes, compress: bool = True) -> bytes:
    """The bytes rdbSaveRawString writes for ``data`` (with ``rdbcompression yes`` if ``compress``).

    Example::

        >>> encode_rdb_string(b"-1").hex()
        'c0ff'
    """
    value = is_int_encodable(data)
    if value is not None:
        if -128 <= value <= 127:
            return b"\xc0" + value.to_bytes(1, "little", signed=True)
        if -32768 <= value <= 32767:
            return b"\xc1" + value.to_bytes(2, "little", signed=True)
        return b"\xc2" + value.to_bytes(4, "little", signed=True)
    n = len(data)
    if compress and n > 20:
        # rdbSaveLzfStringObject: the output buffer is len-4 bytes, so compression must save 4
        packed = lzf_compress(data)
        if packed is not None and len(packed) <= n - 4:
            return b"\xc3" + encode_rdb_length(len(packed)) + encode_rdb_length(n) + packed
    return encode_rdb_length(n) + data


def _coerce_string(obj) -> bytes:
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return bytes(obj)
    if isinstance(obj, int) and not isinstance(obj, bool):
        return b"%d" % obj
    raise ValidationError(f"RDB string must be bytes or int, got {type(obj).__name__}")


def _build_string(obj, stream, compress: bool):
    data = _coerce_string(obj)
    stream.write(encode_rdb_string(data, compress))
    return data


class RdbStringConstruct(Construct):
    r"""RDB string: raw, int8/16/32-encoded (parsed to decimal text) or LZF; parses to ``bytes``.

    Build follows rdbSaveRawString: canonical integers fitting int32 use the smallest integer
    encoding; otherwise, when ``compress`` is set, strings longer than 20 bytes are LZF-compressed
    if that saves at least 4 bytes; else raw.

    :param compress: emit LZF on build (Redis ``rdbcompression yes``).
    :raises StreamError: input ends inside the string.
    :raises InvalidEncodingError: special encoding 0xC4+ or a bad length byte.
    :raises ValidationError: LZF data that does not expand to the declared length.

    Example::

        >>> RdbString.parse(b"\xc1\x39\x30")
        b'12345'
        >>> RdbString.build(b"bar")
        b'\x03bar'
    """

    def __init__(self, compress: bool = True):
        super().__init__()
        self.compress = compress

    def _parse(self, stream, context, path):
        try:
            return _parse_string(stream)
        except (StreamError, InvalidEncodingError, ValidationError) as e:
            e.path = path
            raise

    def _build(self, obj, stream, context, path):
        return _build_string(obj, stream, self.compress)

    def _sizeof(self, context, path):
        raise SizeofError("RdbString is variable-sized", path=path)

    def _emitparse(self, code):
        code.append("from rdbtools.format.primitives import _parse_string as rdb_parse_string")
        return "rdb_parse_string(io)"

    def _emitbuild(self, code):
        code.append("from rdbtools.format.primitives import _build_string as rdb_build_string")
        return f"rdb_build_string(obj, io, {self.compress!r})"


RdbString = RdbStringConstruct(compress=True)
RdbStringNoCompress = RdbStringConstruct(compress=False)


# --------------------------------------------------------------------------------------------
# Doubles and times (rdb.c rdbSaveDoubleValue / rdbSaveBinaryDoubleValue / rdbLoadMillisecondTime)
# --------------------------------------------------------------------------------------------


def format_ascii_double(value: float) -> bytes:
    """Score text as Redis <= 6.2 rdbSaveDoubleValue writes it (integral within 2^52: no dot)."""
    if value.is_integer() and abs(value) < 2**52:
        return b"%d" % int(value)
    return b"%.17g" % value


class RdbDoubleAsciiConstruct(Construct):
    r"""Type-3 ZSET score: length byte (253 NaN, 254 +inf, 255 -inf) + ASCII text (``%lg``).

    Builds the Redis <= 6.2 text (integral values within 2^52 as integers, else ``%.17g``).

    Example::

        >>> RdbDoubleAscii.parse(b"\x03" b"0.5")
        0.5
        >>> RdbDoubleAscii.build(float("-inf"))
        b'\xff'
    """

    def _parse(self, stream, context, path):
        n = stream_read(stream, 1, path)[0]
        if n == 253:
            return math.nan
        if n == 254:
            return math.inf
        if n == 255:
            return -math.inf
        text = stream_read(stream, n, path)
        try:
            return float(text)
        except ValueError:
            raise ValidationError(f"score {text!r} is not a number", path=path) from None

    def _build(self, obj, stream, context, path):
        value = float(obj)
        if math.isnan(value):
            stream_write(stream, b"\xfd", 1, path)
        elif math.isinf(value):
            stream_write(stream, b"\xfe" if value > 0 else b"\xff", 1, path)
        else:
            text = format_ascii_double(value)
            stream_write(stream, bytes((len(text),)) + text, len(text) + 1, path)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("RdbDoubleAscii is variable-sized", path=path)


RdbDoubleAscii = RdbDoubleAsciiConstruct()
# RDB 8+: ZSET_2 scores and module DOUBLE; module FLOAT
RdbDoubleBinary = Float64l
RdbFloatBinary = Float32l
# 8-byte LE signed ms (version < 9 files were written in host order: LE on every real host)
RdbMillisecondTime = Int64sl
# EXPIRETIME (RDB <= 2.4): 4-byte signed seconds
RdbSecondTime = Int32sl

# A stream ID stored as 16 raw bytes, both halves big-endian (PEL entries, node master IDs)
StreamIdRaw = Struct("ms" / Int64ub, "seq" / Int64ub)


# --------------------------------------------------------------------------------------------
# Building blocks for the blob grammars
# --------------------------------------------------------------------------------------------


def _peek_class(stream, classify):
    pos = stream.tell()
    data = stream.read(1)
    stream.seek(pos)
    if not data:
        raise StreamError("stream read less than specified amount, expected 1, found 0")
    name = classify(data[0])
    if name is None:
        raise InvalidEncodingError(f"invalid encoding byte 0x{data[0]:02x} at {pos}")
    return name


class PeekClass(Construct):
    """Peek at the next byte and name its class with ``classify(byte) -> str | None`` (no consume).

    Used as the key of a ``Switch`` whose cases parse the whole tagged entry, for formats whose
    first byte mixes a tag with data bits (ziplist, listpack).  Building writes nothing.
    ``classify`` must be a module-level function (compiled grammars import it by name).
    """

    def __init__(self, classify):
        super().__init__()
        self.classify = classify

    def _parse(self, stream, context, path):
        try:
            return _peek_class(stream, self.classify)
        except (StreamError, InvalidEncodingError) as e:
            e.path = path
            raise

    def _build(self, obj, stream, context, path):
        return obj

    def _sizeof(self, context, path):
        return 0

    def _emitparse(self, code):
        fn = self.classify
        alias = f"classify_{fn.__name__}"
        code.append("from rdbtools.format.primitives import _peek_class")
        code.append(f"from {fn.__module__} import {fn.__name__} as {alias}")
        return f"_peek_class(io, {alias})"

    def _emitbuild(self, code):
        return "obj"


class EntryList(Construct):
    """Entries repeated until the next byte is ``marker`` (not consumed); a ``ListContainer``.

    While parsing and building it keeps two values in the enclosing context, for the entry and
    container checks to use: ``_prev_size`` (byte size of the previous entry, 0 before the first:
    the ziplist ``prevlen``) and ``_last_start`` (stream offset of the last entry, or of the
    position where entries start when there are none: the ziplist ``zltail``).
    """

    def __init__(self, subcon, marker: int = 0xFF):
        super().__init__()
        self.subcon = subcon
        self.marker = marker

    def _parse(self, stream, context, path):
        from construct import ListContainer

        out = ListContainer()
        context["_prev_size"] = 0
        context["_last_start"] = stream_tell(stream, path)
        while True:
            start = stream_tell(stream, path)
            b = stream.read(1)
            if not b:
                raise StreamError("entries end without the end marker", path=path)
            stream.seek(start)
            if b[0] == self.marker:
                return out
            context["_index"] = len(out)
            out.append(self.subcon._parsereport(stream, context, f"{path} -> [{len(out)}]"))
            context["_last_start"] = start
            context["_prev_size"] = stream_tell(stream, path) - start

    def _build(self, obj, stream, context, path):
        context["_prev_size"] = 0
        context["_last_start"] = stream_tell(stream, path)
        out = []
        for i, item in enumerate(obj):
            start = stream_tell(stream, path)
            context["_index"] = i
            out.append(self.subcon._build(item, stream, context, f"{path} -> [{i}]"))
            context["_last_start"] = start
            context["_prev_size"] = stream_tell(stream, path) - start
        return out

    def _sizeof(self, context, path):
        raise SizeofError("EntryList is variable-sized", path=path)


class Masked(Adapter):
    """An integer field whose top bits are a fixed ``tag``: value = field & mask (build: tag|value)."""

    def __init__(self, subcon, tag: int, mask: int):
        super().__init__(subcon)
        self.tag = tag
        self.mask = mask

    def _decode(self, obj, context, path):
        return obj & self.mask

    def _encode(self, obj, context, path):
        if not 0 <= obj <= self.mask:
            raise ValidationError(f"{obj} does not fit mask 0x{self.mask:x}", path=path)
        return self.tag | obj


class SignedMasked(Masked):
    """Like :class:`Masked` for a two's-complement value of ``bits`` bits (listpack 13-bit int)."""

    def __init__(self, subcon, tag: int, bits: int):
        super().__init__(subcon, tag, (1 << bits) - 1)
        self.bits = bits

    def _decode(self, obj, context, path):
        v = obj & self.mask
        return v - (1 << self.bits) if v >> (self.bits - 1) else v

    def _encode(self, obj, context, path):
        half = 1 << (self.bits - 1)
        if not -half <= obj < half:
            raise ValidationError(f"{obj} does not fit {self.bits} signed bits", path=path)
        return self.tag | (obj & self.mask)


class Blob(Construct):
    """A structure stored inside an RDB string (listpack, ziplist, intset, node master ID...).

    Parses the string (undoing int/LZF encodings) and then ``subcon`` from its bytes, which must be
    consumed entirely; building builds ``subcon`` and stores the bytes with ``string``.
    """

    def __init__(self, subcon, string=RdbString):
        super().__init__()
        self.subcon = subcon
        self.string = string

    def _parse(self, stream, context, path):
        data = self.string._parsereport(stream, context, path)
        sub = io.BytesIO(data)
        obj = self.subcon._parsereport(sub, context, path)
        if sub.tell() != len(data):
            raise ValidationError(
                f"{len(data) - sub.tell()} bytes left over inside the string", path=path
            )
        return obj

    def _build(self, obj, stream, context, path):
        sub = io.BytesIO()
        self.subcon._build(obj, sub, context, path)
        self.string._build(sub.getvalue(), stream, context, path)
        return obj

    def _sizeof(self, context, path):
        raise SizeofError("Blob is variable-sized", path=path)
