# rdbtools: format/manifest.py
"""The multi-part AOF manifest line grammar (Redis 7.0+, Valkey 7.2+).

Mirrors aof.c ``aofLoadManifestFromFile()`` / ``getAofManifestAsString()`` (Redis 7.4 and 8.2)
and sds.c ``sdssplitargs()`` / ``sdscatrepr()``; FORMATS.md §6.4.  A manifest is text, one line
per file, ``\\n``-terminated; lines starting with ``#`` are comments; a line is at most 1024
bytes.  A line is space-separated key/value tokens::

    file appendonly.aof.2.incr.aof seq 2 type i startoffset 224 endoffset 532

Tokens follow ``sdssplitargs()``: bare words, or double-quoted strings with C escapes
(``\\n \\r \\t \\b \\a \\\\ \\" \\xHH``), or single-quoted strings (only ``\\'`` escaped); a closing
quote must be followed by a space or the end of the line.  Keys are case-insensitive; unknown keys
are ignored (Redis 8.x adds ``startoffset``/``endoffset``); the loader needs at least 6 tokens
and an even count.

The manifest is text, not binary, so the grammar is written as the token regular expression plus
the pair rules (construct has no text tokenizer); :func:`parse_manifest_line` and
:func:`format_manifest_line` are its two directions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "MANIFEST_MAX_LINE",
    "ManifestLine",
    "ManifestSyntaxError",
    "split_args",
    "quote_arg",
    "parse_manifest_line",
    "format_manifest_line",
    "AOF_FILE_TYPES",
]

MANIFEST_MAX_LINE = 1024  # aof.c AOF_MANIFEST_MAX_LINE? (buf[MANIFEST_MAX_LINE+1])
AOF_FILE_TYPES = {"b": "base", "h": "history", "i": "incr"}  # aof.c AOF_FILE_TYPE_*

# One token of sdssplitargs(): a double-quoted string, a single-quoted string or a bare word.
_TOKEN = re.compile(
    rb"""[ \n\r\t\v\f]*(?:
        "(?P<dq>(?:\\x[0-9a-fA-F]{2}|\\.|[^"\\])*)"(?=[ \n\r\t\v\f]|$)
      | '(?P<sq>(?:\\'|[^'])*)'(?=[ \n\r\t\v\f]|$)
      | (?P<bare>[^ \n\r\t\v\f"']+)
    )""",
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("a"): b"\a"}


class ManifestSyntaxError(ValueError):
    """A manifest line does not follow the grammar.  ``column`` is the 0-based byte position."""

    def __init__(self, reason: str, column: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.column = column


def _unescape_dq(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == 0x5C and i + 1 < len(body):  # backslash
            nxt = body[i + 1]
            if nxt == ord("x") and re.fullmatch(rb"[0-9a-fA-F]{2}", body[i + 2 : i + 4] or b""):
                out.append(int(body[i + 2 : i + 4], 16))
                i += 4
                continue
            out += _ESCAPES.get(nxt, bytes([nxt]))
            i += 2
            continue
        out.append(c)
        i += 1
    return bytes(out)


def split_args(line: bytes) -> list[bytes]:
    """``sdssplitargs()``: the tokens of ``line``.

    Example::

        >>> split_args(b'file "a b" seq 1')
        [b'file', b'a b', b'seq', b'1']

    :raises ManifestSyntaxError: unbalanced quotes, or a closing quote followed by a non-space.
    """
    tokens = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos] in b" \n\r\t\v\f":
            pos += 1
        if pos >= n:
            return tokens
        m = _TOKEN.match(line, pos)
        if m is None or m.end() == pos:
            raise ManifestSyntaxError("unbalanced quotes or a quote not followed by a space", pos)
        if m.group("dq") is not None:
            tokens.append(_unescape_dq(m.group("dq")))
        elif m.group("sq") is not None:
            tokens.append(m.group("sq").replace(b"\\'", b"'"))
        else:
            tokens.append(m.group("bare"))
        pos = m.end()


def quote_arg(arg: bytes) -> bytes:
    """``sdscatrepr()`` when needed: a bare word if it has no space, quote or control byte."""
    if arg and re.fullmatch(rb"[!#-&(-~]+", arg) and b"\\" not in arg:
        return arg
    out = bytearray(b'"')
    for c in arg:
        if c in (0x5C, 0x22):
            out += b"\\" + bytes([c])
        elif c == 0x0A:
            out += b"\\n"
        elif c == 0x0D:
            out += b"\\r"
        elif c == 0x09:
            out += b"\\t"
        elif c == 0x07:
            out += b"\\a"
        elif c == 0x08:
            out += b"\\b"
        elif 0x20 <= c < 0x7F:
            out.append(c)
        else:
            out += b"\\x%02x" % c
    out += b'"'
    return bytes(out)


@dataclass
class ManifestLine:
    """One file entry of a manifest.

    Accessible attributes: ``file`` (bytes, a bare file name), ``seq``, ``type`` (``b``/``h``/
    ``i``), ``start_offset`` / ``end_offset`` (Redis 8.x replication offsets, None when absent),
    ``extra`` (other key/value pairs, kept in order; the loader ignores them).
    """

    file: bytes
    seq: int
    type: str
    start_offset: int | None = None
    end_offset: int | None = None
    extra: list[tuple[bytes, bytes]] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return AOF_FILE_TYPES[self.type]


def _int(value: bytes, what: str) -> int:
    if not re.fullmatch(rb"-?[0-9]+", value):
        raise ManifestSyntaxError(f"{what} {value!r} is not an integer")
    return int(value)


def parse_manifest_line(line: bytes) -> ManifestLine | None:
    """Parse one manifest line (without its ``\\n``); None for a comment or a blank line.

    :raises ManifestSyntaxError: the line breaks a rule of the grammar or of the loader.
    """
    if len(line) > MANIFEST_MAX_LINE:
        raise ManifestSyntaxError(f"line longer than {MANIFEST_MAX_LINE} bytes", MANIFEST_MAX_LINE)
    if line.startswith(b"#"):
        return None
    tokens = split_args(line)
    if not tokens:
        return None
    if len(tokens) < 6 or len(tokens) % 2:
        raise ManifestSyntaxError(f"{len(tokens)} tokens: expected key/value pairs, at least 3")
    values: dict[str, bytes] = {}
    extra = []
    for key, value in zip(tokens[0::2], tokens[1::2]):
        name = key.lower()
        if name in (b"file", b"seq", b"type", b"startoffset", b"endoffset"):
            values[name.decode()] = value
        else:
            extra.append((key, value))
    for required in ("file", "seq", "type"):
        if required not in values:
            raise ManifestSyntaxError(f"missing key {required!r}")
    name = values["file"]
    if b"/" in name or not name:
        raise ManifestSyntaxError(f"file name {name!r} must be a bare name (no path)")
    kind = values["type"].decode("ascii", "replace")
    if kind not in AOF_FILE_TYPES:
        raise ManifestSyntaxError(f"unknown file type {kind!r} (expected b, h or i)")
    return ManifestLine(
        file=name,
        seq=_int(values["seq"], "seq"),
        type=kind,
        start_offset=_int(values["startoffset"], "startoffset") if "startoffset" in values else None,
        end_offset=_int(values["endoffset"], "endoffset") if "endoffset" in values else None,
        extra=extra,
    )


def format_manifest_line(entry: ManifestLine) -> bytes:
    """The manifest line for ``entry`` (without ``\\n``), as ``getAofManifestAsString()`` writes it."""
    parts = [b"file", quote_arg(entry.file), b"seq", b"%d" % entry.seq, b"type", entry.type.encode()]
    if entry.start_offset is not None:
        parts += [b"startoffset", b"%d" % entry.start_offset]
    if entry.end_offset is not None:
        parts += [b"endoffset", b"%d" % entry.end_offset]
    for k, v in entry.extra:
        parts += [k, quote_arg(v)]
    return b" ".join(parts)
