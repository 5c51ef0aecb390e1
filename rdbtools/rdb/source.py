"""Input handling shared by every reader: where the bytes come from and how they are consumed.

:func:`open_input` accepts a path, ``"-"`` (standard input), a binary file object or ``bytes``,
and transparently decompresses gzip and lz4-frame input recognised by its magic bytes (backup
pipelines store snapshots compressed; Redis itself never writes them that way).  zstd, bzip2 and
xz are recognised too and refused with :class:`UnsupportedCompressionError`; a damaged gzip or
lz4 stream is a :class:`FormatError` naming how far into the compressed file it broke.

:class:`ByteSource` is the buffered cursor the record loops read from.  It keeps absolute
offsets for error messages, checks every length against what the input can still hold before
reading, feeds the CRC64 of everything consumed, and can record the exact bytes of a span (module
values are kept raw).  Memory stays bounded by the chunk size plus the largest single item that
is really there: reads are at most :data:`READ_MAX` bytes, so a declared length costs nothing
before its bytes arrive, whether the size of the input is known or not.
"""

from __future__ import annotations

import gzip
import io
import os
import sys
import zlib
from pathlib import Path
from typing import BinaryIO, Callable, Union

import anycrc

from ..errors import FormatError, TruncatedError, UnsupportedCompressionError

GZIP_MAGIC = b"\x1f\x8b"
LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
# Compressions recognised only to be refused by name: decompress them first (zstd -d, ...).
UNSUPPORTED_COMPRESSION_MAGICS = (
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)
CHUNK_SIZE = 1 << 20
# The most one read asks for.  A declared length is never passed to read() whole: a pipe or a
# decompressor reserves what it is asked for before it knows whether the bytes exist, so a
# length field of 2^40 in a gzip/lz4/stdin input would be a MemoryError (issue 12).
READ_MAX = CHUNK_SIZE * 8

InputSource = Union[str, os.PathLike, BinaryIO, bytes, bytearray, memoryview]

_CRC64_REDIS = anycrc.Model("CRC64-REDIS")


def crc64(data: bytes | memoryview, crc: int = 0) -> int:
    """CRC-64/Jones as Redis computes it (initial value 0), chainable across chunks.

    Example::

        >>> hex(crc64(b"123456789"))
        '0xe9c6d914c4b8d9ca'
    """
    return _CRC64_REDIS.calc(data, crc)


class Input:
    """A readable, possibly decompressed, byte stream plus what is known about its size.

    Accessible attributes: ``name`` (for messages), ``read(n)``, ``compression`` (None, "gzip" or
    "lz4"), ``raw_size`` (bytes of the underlying file when known), ``raw_position()`` (how far
    into the underlying file reading has got, for progress bars) and ``size`` (the decompressed
    size when known, i.e. for uncompressed regular files).
    """

    def __init__(self, stream: BinaryIO, raw: BinaryIO, name: str, owned: bool) -> None:
        self.name = name
        self._raw = raw
        self._owned = owned
        self.compression: str | None = None
        self.raw_size = _size_of(raw)
        head = _peek(raw, 6)
        for magic, compression in UNSUPPORTED_COMPRESSION_MAGICS:
            if head.startswith(magic):
                raise UnsupportedCompressionError(
                    f"{name} is {compression}-compressed; rdbtools reads gzip and lz4 only "
                    f"(decompress it first, e.g. `{_DECOMPRESS_HINT[compression]}`)", 0)
        if head.startswith(GZIP_MAGIC):
            self.compression = "gzip"
            stream = gzip.GzipFile(fileobj=raw, mode="rb")
        elif head.startswith(LZ4_FRAME_MAGIC):
            import lz4.frame

            self.compression = "lz4"
            stream = lz4.frame.LZ4FrameFile(raw, mode="rb")
        self._stream = stream
        self.size = self.raw_size if self.compression is None else None
        self.read: Callable[[int], bytes] = stream.read if self.compression is None else self._read_decompressed

    def _read_decompressed(self, n: int) -> bytes:
        """Read from the gzip/lz4 stream, turning a damaged stream into a FormatError."""
        try:
            return self._stream.read(n)
        except (EOFError, OSError, zlib.error, RuntimeError) as err:
            # gzip raises BadGzipFile (an OSError) / EOFError / zlib.error, lz4 RuntimeError.
            raise FormatError(
                f"damaged {self.compression} stream: {err or type(err).__name__} "
                f"(at byte {self.raw_position()} of the compressed file)") from None

    def raw_position(self) -> int:
        try:
            return self._raw.tell()
        except (OSError, ValueError):
            return 0

    def close(self) -> None:
        if self._stream is not self._raw:
            self._stream.close()
        if self._owned:
            self._raw.close()


_DECOMPRESS_HINT = {"zstd": "zstd -dc FILE", "bzip2": "bzip2 -dc FILE", "xz": "xz -dc FILE"}


def _size_of(f: BinaryIO) -> int | None:
    try:
        if not f.seekable():
            return None
        here = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(here)
        return end - here
    except (OSError, ValueError, AttributeError):
        return None


def _peek(f: BinaryIO, n: int) -> bytes:
    peek = getattr(f, "peek", None)
    if peek is not None:
        return peek(n)[:n]
    if f.seekable():
        here = f.tell()
        head = f.read(n)
        f.seek(here)
        return head
    raise TypeError("a non-seekable input must support peek() (wrap it in io.BufferedReader)")


def open_input(source: InputSource) -> Input:
    """Open ``source`` for reading; see the module docstring for what it may be."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return Input(io.BytesIO(bytes(source)), io.BytesIO(bytes(source)), "<bytes>", True)
    if isinstance(source, (str, os.PathLike)):
        if str(source) == "-":
            raw = sys.stdin.buffer
            if not hasattr(raw, "peek"):
                raw = io.BufferedReader(raw)  # type: ignore[arg-type]
            return Input(raw, raw, "<stdin>", False)
        path = Path(source)
        raw = open(path, "rb")
        try:
            return Input(raw, raw, str(path), True)
        except BaseException:
            raw.close()
            raise
    if not hasattr(source, "peek") and not source.seekable():
        source = io.BufferedReader(source)  # type: ignore[arg-type]
    return Input(source, source, getattr(source, "name", "<stream>"), False)


class ByteSource:
    """A cursor over an :class:`Input` with absolute offsets, CRC64 and span recording.

    The hot readers access ``buf`` and ``pos`` directly: the bytes ``buf[pos:]`` are available,
    ``base + pos`` is the absolute offset, and :meth:`fill` makes more bytes available.
    """

    __slots__ = ("buf", "pos", "base", "_read", "_size", "crc", "_crc_from", "_capture",
                 "_capture_from", "_checksum")

    def __init__(self, read: Callable[[int], bytes], size: int | None = None,
                 checksum: bool = True) -> None:
        self.buf = b""
        self.pos = 0
        self.base = 0
        self._read = read
        self._size = size
        self.crc = 0
        self._crc_from = 0
        self._capture: list[bytes] | None = None
        self._capture_from = 0
        self._checksum = checksum

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def _consume_window(self) -> None:
        """Account for buf[..pos] before it is discarded (CRC and span recording)."""
        if self._checksum and self._crc_from < self.pos:
            self.crc = _CRC64_REDIS.calc(memoryview(self.buf)[self._crc_from : self.pos], self.crc)
        if self._capture is not None and self._capture_from < self.pos:
            self._capture.append(self.buf[self._capture_from : self.pos])

    def fill(self, n: int) -> None:
        """Make at least ``n`` bytes available at ``pos`` or raise :class:`TruncatedError`."""
        avail = len(self.buf) - self.pos
        if avail >= n:
            return
        offset = self.base + self.pos
        if self._size is not None and offset + n > self._size:
            raise TruncatedError(
                f"file truncated: {n} bytes needed, {self._size - offset} left", offset
            )
        self._consume_window()
        parts = [self.buf[self.pos :]]
        missing = n - avail
        while missing > 0:
            data = self._read(min(max(missing, CHUNK_SIZE), READ_MAX))
            if not data:
                raise TruncatedError(f"file truncated: {n} bytes needed, {n - missing} left",
                                     offset)
            parts.append(data)
            missing -= len(data)
        self.buf = b"".join(parts)
        self.base = offset
        self.pos = 0
        self._crc_from = 0
        self._capture_from = 0

    def at_eof(self) -> bool:
        """True when no byte is left (reads ahead one chunk if needed)."""
        if self.pos < len(self.buf):
            return False
        try:
            self.fill(1)
        except TruncatedError:
            return True
        return False

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes."""
        pos = self.pos
        if pos + n > len(self.buf):
            self.fill(n)
            pos = self.pos
        self.pos = pos + n
        return self.buf[pos : pos + n]

    def skip(self, n: int) -> None:
        """Advance ``n`` bytes without keeping them (streams through huge values)."""
        if self.pos + n <= len(self.buf):
            self.pos += n
            return
        offset = self.base + self.pos
        if self._size is not None and offset + n > self._size:
            raise TruncatedError(
                f"file truncated: {n} bytes needed, {self._size - offset} left", offset
            )
        left = n - (len(self.buf) - self.pos)
        self.pos = len(self.buf)
        self._consume_window()
        self.base += self.pos
        self.buf = b""
        self.pos = self._crc_from = self._capture_from = 0
        while left > 0:
            data = self._read(min(left, READ_MAX))
            if not data:
                raise TruncatedError(f"file truncated: {n} bytes needed, {n - left} left", offset)
            take = min(left, len(data))
            if self._checksum:
                self.crc = _CRC64_REDIS.calc(memoryview(data)[:take], self.crc)
            if self._capture is not None:
                self._capture.append(data[:take])
            left -= take
            if take < len(data):
                # keep the rest of this read; base stays the offset of data[0]
                self.buf = data
                self.pos = self._crc_from = self._capture_from = take
                return
            self.base += take

    def checksum_so_far(self) -> int:
        """CRC64 of every byte consumed up to ``pos``."""
        if self._crc_from < self.pos:
            return _CRC64_REDIS.calc(memoryview(self.buf)[self._crc_from : self.pos], self.crc)
        return self.crc

    def start_capture(self) -> None:
        self._capture = []
        self._capture_from = self.pos

    def end_capture(self) -> bytes:
        parts = self._capture or []
        parts.append(self.buf[self._capture_from : self.pos])
        self._capture = None
        return b"".join(parts)
