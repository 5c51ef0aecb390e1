# rdbtools: format/resp.py
"""RESP framing of AOF records: the grammar (the specification) and the hand-written fast path.

Mirrors aof.c ``catAppendOnlyGenericCommand()`` (writer) and ``loadSingleAppendOnlyFile()``
(reader) in Redis 7.4, FORMATS.md §6.1 and §6.5.  An AOF after its optional RDB preamble is a
sequence of records, each one of:

* a command: ``*<argc>\\r\\n`` then ``argc`` bulk strings ``$<len>\\r\\n<bytes>\\r\\n``;
* an annotation line ``#<text>\\r\\n`` (7.0+: ``#TS:<unix seconds>``, written by
  ``aof-timestamp-enabled yes``; loaders skip any line starting with ``#``).

:data:`AofRecord` is the construct grammar.  :func:`parse_record` is the fast path the readers
use; ``tests/aof/test_resp_grammar.py`` shows by hypothesis that both accept the same inputs and
return the same records, and that both refuse damaged input.

Redis reads the ``*``/``$`` lines with ``fgets`` into a 128-byte buffer and the numbers with
``strtol``: a count must be a plain decimal number.  We accept exactly ``[0-9]+`` (``argc`` at
least 1), which is what Redis writes; anything else is a format error.
"""

from __future__ import annotations

from construct import (
    Array,
    Bytes,
    Const,
    Construct,
    ConstructError,
    ExprValidator,
    Peek,
    Struct,
    Switch,
    stream_read,
    stream_write,
    this,
)

__all__ = [
    "AofRecord",
    "BulkString",
    "Command",
    "Annotation",
    "RespIncomplete",
    "RespError",
    "parse_record",
    "parse_timestamp",
    "MAX_LINE",
]

MAX_LINE = 128  # aof.c: char buf[AOF_ANNOTATION_LINE_MAX_LEN] / the fgets() buffer for *<argc> lines


class _Line(Construct):
    r"""Bytes up to (not including) the first ``\r\n``, which is consumed.

    Example::

        >>> _Line().parse(b"TS:1700000000\r\n")
        b'TS:1700000000'
    """

    def _parse(self, stream, context, path):
        out = bytearray()
        while True:
            b = stream_read(stream, 1, path)
            if b == b"\r":
                nxt = stream_read(stream, 1, path)
                if nxt == b"\n":
                    return bytes(out)
                out += b
                b = nxt
                if b == b"\r":  # "\r\r\n": the second \r may start the terminator
                    stream.seek(-1, 1)
                    continue
            out += b

    def _build(self, obj, stream, context, path):
        stream_write(stream, obj + b"\r\n", len(obj) + 2, path)
        return obj

    def _sizeof(self, context, path):
        raise ConstructError("variable size", path=path)


Line = _Line()


class _Decimal(Construct):
    r"""An unsigned decimal number terminated by ``\r\n`` (the ``*<argc>`` / ``$<len>`` lines).

    Example::

        >>> _Decimal().parse(b"12\r\n")
        12
    """

    def _parse(self, stream, context, path):
        digits = Line._parsereport(stream, context, path)
        if not digits or not digits.isdigit() or not digits.isascii():
            raise ConstructError(f"not a decimal number: {digits[:20]!r}", path=path)
        return int(digits)

    def _build(self, obj, stream, context, path):
        data = b"%d\r\n" % obj
        stream.write(data)
        return obj

    def _sizeof(self, context, path):
        raise ConstructError("variable size", path=path)


Decimal = _Decimal()

BulkString = Struct(
    Const(b"$"),
    "length" / Decimal,
    "data" / Bytes(this.length),
    Const(b"\r\n"),
)
"""``$<len>\\r\\n<bytes>\\r\\n``."""

Command = Struct(
    Const(b"*"),
    "argc" / ExprValidator(Decimal, lambda obj, ctx: obj >= 1),
    "args" / Array(this.argc, BulkString),
)
"""``*<argc>\\r\\n`` + ``argc`` bulk strings (argc >= 1)."""

Annotation = Struct(
    Const(b"#"),
    "text" / Line,
)
"""``#<text>\\r\\n``: ``#TS:<unix seconds>`` or any other comment the loader skips."""

AofRecord = Struct(
    "kind" / Peek(Bytes(1)),
    "body" / Switch(this.kind, {b"*": Command, b"#": Annotation}),
)
"""One record of the RESP part of an AOF; ``body`` is None for any other first byte (an error)."""


class RespIncomplete(Exception):
    """The buffer ends inside a record: more bytes are needed (or the file is truncated)."""


class RespError(Exception):
    """The bytes at the given position are not a RESP record.  ``pos`` is where the bad byte is."""

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.pos = pos


def _number(buf: bytes, start: int, end: int, what: str) -> int:
    text = buf[start:end]
    if not text or not text.isdigit() or not text.isascii():
        raise RespError(f"bad {what} {text[:20]!r}: expected a decimal number", start)
    return int(text)


def parse_record(buf: bytes, pos: int) -> tuple[list[bytes] | None, bytes | None, int]:
    """Parse one record of ``buf`` at ``pos``: ``(args, None, end)`` for a command,
    ``(None, text, end)`` for an annotation (``text`` without ``#`` and CRLF).

    :raises RespIncomplete: ``buf`` ends before the record does.
    :raises RespError: the bytes are not a RESP record (``.pos`` is the bad offset in ``buf``).
    """
    n = len(buf)
    if pos >= n:
        raise RespIncomplete()
    first = buf[pos]
    if first == 0x23:  # '#'
        end = buf.find(b"\r\n", pos)
        if end < 0:
            raise RespIncomplete()
        return None, buf[pos + 1 : end], end + 2
    if first != 0x2A:  # '*'
        raise RespError(f"expected '*' or '#', found {buf[pos:pos + 1]!r}", pos)
    end = buf.find(b"\r\n", pos)
    if end < 0:
        if n - pos > MAX_LINE:
            raise RespError("argument count line too long", pos)
        raise RespIncomplete()
    argc = _number(buf, pos + 1, end, "argument count")
    if argc < 1:
        raise RespError("argument count 0", pos + 1)
    pos = end + 2
    args = []
    append = args.append
    find = buf.find
    for _ in range(argc):
        if pos >= n:
            raise RespIncomplete()
        if buf[pos] != 0x24:  # '$'
            raise RespError(f"expected '$', found {buf[pos:pos + 1]!r}", pos)
        end = find(b"\r\n", pos)
        if end < 0:
            if n - pos > MAX_LINE:
                raise RespError("bulk length line too long", pos)
            raise RespIncomplete()
        length = _number(buf, pos + 1, end, "bulk length")
        start = end + 2
        stop = start + length
        if stop + 2 > n:
            raise RespIncomplete()
        if buf[stop : stop + 2] != b"\r\n":
            raise RespError("bulk string not followed by CRLF", stop)
        append(buf[start:stop])
        pos = stop + 2
    return args, None, pos


def parse_timestamp(text: bytes) -> int | None:
    """The Unix seconds of a ``TS:<n>`` annotation text, None for any other annotation."""
    if text.startswith(b"TS:"):
        digits = text[3:]
        if digits.isdigit() and digits.isascii():
            return int(digits)
    return None
