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

from itertools import accumulate

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
    "parse_commands",
    "parse_timestamp",
    "encode_resp",
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


# A count or length no AOF can hold (and no longer than int() converts without complaint):
# the server's own loader reads them with strtol() into a long.
MAX_NUMBER_DIGITS = 18


def _number(buf: bytes, start: int, end: int, what: str) -> int:
    text = buf[start:end]
    if not text or not text.isdigit() or not text.isascii():
        raise RespError(f"bad {what} {text[:20]!r}: expected a decimal number", start)
    if len(text) > MAX_NUMBER_DIGITS:
        raise RespError(f"bad {what} {text[:20]!r}... ({len(text)} digits): larger than any "
                        "file can hold", start)
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


# "*<n>" / "$<n>" header lines -> n for the lengths an AOF mostly holds (built once); longer
# numbers are checked digit by digit.  "*0" is absent: argc must be at least 1.
_ARGC: dict[bytes, int] = {b"*%d" % _n: _n for _n in range(1, 10000)}
_BULK: dict[bytes, int] = {b"$%d" % _n: _n for _n in range(10000)}


WINDOW = 1 << 14  # bytes split into lines at a time by parse_commands


def _one_command(buf: bytes, pos: int, _argc: dict = _ARGC, _bulk: dict = _BULK):
    """``(args, end)`` for a complete, well-formed command at ``pos``, else None (what
    :func:`parse_record` parses or refuses is not decided here)."""
    find = buf.find
    if pos >= len(buf) or buf[pos] != 0x2A:  # '*'
        return None
    end = find(b"\r\n", pos)
    if end < 0:
        return None
    argc = _argc.get(buf[pos:end])
    if argc is None:
        digits = buf[pos + 1 : end]
        if not digits.isdigit() or len(digits) > MAX_NUMBER_DIGITS:
            return None
        argc = int(digits)
        if argc < 1:
            return None
    p = end + 2
    args = []
    for _ in range(argc):
        end = find(b"\r\n", p)
        if end < 0:
            return None
        length = _bulk.get(buf[p:end])
        if length is None:
            if buf[p] != 0x24:  # '$'
                return None
            digits = buf[p + 1 : end]
            if not digits.isdigit() or len(digits) > MAX_NUMBER_DIGITS:
                return None
            length = int(digits)
        p = end + 2 + length
        if buf[p : p + 2] != b"\r\n":
            return None
        args.append(buf[end + 2 : p])
        p += 2
    return args, p


def parse_commands(buf: bytes, pos: int, limit: int = 4096, _argc: dict = _ARGC,
                   _bulk: dict = _BULK) -> tuple[list[list[bytes]], list[int], int]:
    """Parse up to ``limit`` consecutive *commands* of ``buf`` from ``pos``: ``(commands, ends,
    pos)``, ``ends[i]`` being the offset just after ``commands[i]`` and ``pos`` where parsing
    stopped.

    The batch fast path of :func:`parse_record`: it stops (without consuming it) at the first
    record that is not a complete, well-formed command (an annotation, a record the buffer
    ends inside, damaged bytes, or the end of ``buf``); the caller hands that position to
    :func:`parse_record`, which parses the annotation or raises exactly as it always does.  On
    the commands it does return it agrees with :func:`parse_record` (tests/aof/test_resp_reader.py).

    How: a window of ``buf`` is split at every CRLF; a command is then its ``*<argc>`` line
    and ``2 * argc`` more lines, the header lines at even and the arguments at odd positions
    (two slices), accepted when every header is a ``$<len>`` line and every argument is
    exactly ``len`` bytes long (then each argument is followed by its CRLF, and none contains
    one).  Anything else (argument bytes holding CRLF, lengths of 10000 and more, a command
    crossing the window, damage) goes through :func:`_one_command`, which reads byte by byte
    as :func:`parse_record` does.
    """
    n = len(buf)
    argc_of = _argc.get
    length_of = _bulk.get
    cmds: list[list[bytes]] = []
    ends: list[int] = []
    append_cmd = cmds.append
    append_end = ends.append
    while limit > 0 and pos < n:
        lines = buf[pos : pos + WINDOW].split(b"\r\n")
        full = len(lines) - 1  # lines[full] is not followed by a CRLF in the window
        cum = list(accumulate(map(len, lines)))  # lines[:k] end at pos + cum[k - 1] + 2 * k
        i = 0
        at = pos  # offset of lines[i] in buf
        while limit > 0:  # here i <= full
            argc = argc_of(lines[i])
            if argc is not None:
                j = i + 2 * argc + 1  # lines[i:j] would be the command
                if j <= full:
                    args = lines[i + 2 : j : 2]
                    if [*map(length_of, lines[i + 1 : j : 2])] == [*map(len, args)]:
                        at = pos + cum[j - 1] + 2 * j
                        append_cmd(args)
                        append_end(at)
                        limit -= 1
                        i = j
                        continue
                elif at > pos:
                    break  # the command crosses the window's end: a new window from `at`
            elif i == full and at > pos:
                break  # window used up: a new window from `at`
            # anything else is read byte by byte
            one = _one_command(buf, at)
            if one is None:
                return cmds, ends, at
            args, end = one
            append_cmd(args)
            append_end(end)
            limit -= 1
            while at < end and i < full:  # to the line starting where the command ends
                at += len(lines[i]) + 2
                i += 1
            if at != end:
                at = end
                break
        pos = at
    return cmds, ends, pos


def encode_resp(args: list[bytes]) -> bytes:
    """A command as a RESP array of bulk strings (aof.c ``catAppendOnlyGenericCommand()``)."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n" % len(a))
        out.append(a)
        out.append(b"\r\n")
    return b"".join(out)
