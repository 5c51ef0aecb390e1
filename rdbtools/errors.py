"""The rdbtools exception hierarchy.

Every error about the bytes of an input is a :class:`FormatError` that names the absolute byte
offset where the problem was found and, where known, the database, key and element being read.
Format errors also subclass :class:`ValueError`, so callers that catch ``ValueError`` keep working
(as msgpack's exceptions do).
"""

from __future__ import annotations

__all__ = ["RdbToolsError", "FormatError", "TruncatedError", "ChecksumError",
           "UnsupportedVersionError", "UnsupportedCompressionError", "UnknownOpcodeError", "EncodeError", "UnsafeOutputError", "LiveServerError",
           "AofFormatError",
           "AofTruncatedError", "UnknownCommandError", "AofFixRefusedError"]


class RdbToolsError(Exception):
    """Base class of every error raised by rdbtools."""


class FormatError(RdbToolsError, ValueError):
    """The input is not a valid RDB (or AOF) file.

    Accessible attributes: ``offset`` (absolute byte offset in the decompressed input, or None),
    ``reason`` (what is wrong), ``db`` and ``key`` (the record being read, when known) and
    ``detail`` (where inside the value, e.g. ``"listpack at 0x1f, +12 in decompressed data"``).
    """

    def __init__(
        self,
        reason: str,
        offset: int | None = None,
        *,
        db: int | None = None,
        key: bytes | None = None,
        detail: str | None = None,
    ) -> None:
        self.reason = reason
        self.offset = offset
        self.db = db
        self.key = key
        self.detail = detail
        super().__init__(self._message())

    def _message(self) -> str:
        parts = []
        if self.offset is not None:
            parts.append(f"offset {self.offset} (0x{self.offset:x}): ")
        parts.append(self.reason)
        where = []
        if self.db is not None:
            where.append(f"db {self.db}")
        if self.key is not None:
            shown = self.key[:64]
            where.append(f"key {shown!r}" + ("..." if len(self.key) > 64 else ""))
        if self.detail:
            where.append(self.detail)
        if where:
            parts.append(" in " + ", ".join(where))
        return "".join(parts)

    def with_context(self, *, db: int | None = None, key: bytes | None = None) -> "FormatError":
        """Fill in the record context (db, key) if the raiser did not know it."""
        if self.db is None:
            self.db = db
        if self.key is None:
            self.key = key
        self.args = (self._message(),)
        return self

    def __str__(self) -> str:
        return self._message()


class TruncatedError(FormatError):
    """The input ended inside a record (or before the EOF opcode)."""


class ChecksumError(FormatError):
    """The CRC64 trailer does not match the bytes of the file."""


class UnsupportedVersionError(FormatError):
    """The header names an RDB version this project does not read."""


class UnsupportedCompressionError(UnsupportedVersionError):
    """The input is wrapped in a compression this project does not decompress (zstd, bzip2, xz):
    the file may be sound, so this is "unsupported", not damage."""


class UnknownOpcodeError(FormatError):
    """An opcode or value type code that no supported format version defines."""


class EncodeError(RdbToolsError, ValueError):
    """A model object cannot be written in the requested format."""


class UnsafeOutputError(RdbToolsError):
    """A write was refused because it could lose data: the output is an input (same path,
    symlink or hard link) or lies inside an input directory, a symlink or a file that the
    operation did not create has the output's name, or a live server is using the files.
    Nothing was written."""


class LiveServerError(RdbToolsError):
    """A running server (or another process) writes the AOF an in-place operation would change
    (``aoftool check --fix``, ``aoftool rewrite``): refused, nothing changed."""


class AofFormatError(FormatError):
    """An AOF (or one part of a multi-part AOF, or its manifest) is damaged or cannot be replayed.

    Accessible attributes, besides those of :class:`FormatError`: ``file`` (the part or manifest
    being read) and ``line`` (1-based line number of ``offset`` in that file, when known).
    ``offset`` is the byte offset inside ``file``.
    """

    def __init__(self, reason: str, offset: int | None = None, *, file: str | None = None,
                 line: int | None = None, **kwargs) -> None:
        self.file = file
        self.line = line
        super().__init__(reason, offset, **kwargs)

    def _message(self) -> str:
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.line is not None:
            where.append(f"line {self.line}")
        head = ", ".join(where)
        return f"{head}: {super()._message()}" if head else super()._message()


class AofTruncatedError(AofFormatError, TruncatedError):
    """An AOF part ends inside a command (or inside an unfinished MULTI) where that is not
    allowed: in a part that is not the last one, or when truncation was asked to be fatal."""


class UnknownCommandError(AofFormatError):
    """The replay met a command it does not implement (module commands included).

    Accessible attributes: ``command`` (the command name, upper case, as bytes)."""

    def __init__(self, command: bytes, reason: str, offset: int | None = None, **kwargs) -> None:
        self.command = command
        super().__init__(reason, offset, **kwargs)


class AofFixRefusedError(RdbToolsError):
    """``check --fix`` will not repair an AOF: the damage is not a tail of its last file that
    can be cut off (as ``redis-check-aof --fix`` allows), so fixing it would lose data that
    follows.  The message says which file, where, and why; nothing was changed."""
