# rdbtools: aof/manifest.py
"""Reading and writing a multi-part AOF manifest (Redis 7.0+, Valkey 7.2+).

Mirrors aof.c ``aofLoadManifestFromFile()`` and ``getAofManifestAsString()`` (Redis 7.4/8.2);
the line grammar is :mod:`rdbtools.format.manifest`.  Loader rules enforced here: at most one
base (``b``) entry, incr (``i``) sequence numbers strictly increasing, file names bare; history
(``h``) entries are listed but never loaded.  Load order: the base, then the incr files in
manifest order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AofFormatError
from ..files import create_new, fsync_directory
from ..format.manifest import (ManifestLine, ManifestSyntaxError, format_manifest_line,
                               parse_manifest_line)

__all__ = ["Manifest", "parse_manifest", "read_manifest", "format_manifest", "write_manifest",
           "base_file_name", "incr_file_name", "MANIFEST_SUFFIX",
           "TEMP_FILE_PREFIX"]

# aof.c naming rules (Redis 7.0+; Valkey keeps them)
MANIFEST_SUFFIX = ".manifest"
TEMP_FILE_PREFIX = "temp-"


@dataclass
class Manifest:
    """A parsed manifest.

    Accessible attributes: ``path`` (of the manifest file, or None), ``lines`` (every
    :class:`ManifestLine` in file order), ``base`` (the ``b`` line or None), ``history`` and
    ``incr`` (lists of lines), ``text`` (the raw manifest text).
    """

    lines: list[ManifestLine] = field(default_factory=list)
    path: Path | None = None
    text: bytes = b""

    @property
    def base(self) -> ManifestLine | None:
        return next((ln for ln in self.lines if ln.type == "b"), None)

    @property
    def history(self) -> list[ManifestLine]:
        return [ln for ln in self.lines if ln.type == "h"]

    @property
    def incr(self) -> list[ManifestLine]:
        return [ln for ln in self.lines if ln.type == "i"]

    def load_order(self) -> list[ManifestLine]:
        """The files a server loads, in order: the base (if any), then every incr file."""
        return ([self.base] if self.base else []) + self.incr


def parse_manifest(text: bytes, name: str = "<manifest>") -> Manifest:
    """Parse a manifest's bytes.

    :raises AofFormatError: a line breaks the grammar or a loader rule (naming the line).
    """
    manifest = Manifest(text=text)
    offset = 0
    last_incr = None
    for number, raw in enumerate(text.split(b"\n"), start=1):
        line = raw[:-1] if raw.endswith(b"\r") else raw
        try:
            entry = parse_manifest_line(line)
        except ManifestSyntaxError as e:
            raise AofFormatError(f"invalid manifest line: {e.reason}", offset + e.column,
                                 file=name, line=number) from None
        if entry is not None:
            if entry.type == "b" and manifest.base is not None:
                raise AofFormatError("more than one base file (type b)", offset, file=name,
                                     line=number)
            if entry.type == "i":
                if last_incr is not None and entry.seq <= last_incr:
                    raise AofFormatError(
                        f"incr file sequence {entry.seq} does not increase (previous {last_incr})",
                        offset, file=name, line=number)
                last_incr = entry.seq
            manifest.lines.append(entry)
        offset += len(raw) + 1
    if not manifest.lines:
        raise AofFormatError("the manifest lists no files", 0, file=name)
    return manifest


def read_manifest(path: str | os.PathLike) -> Manifest:
    """Read and parse the manifest file at ``path``."""
    path = Path(path)
    manifest = parse_manifest(path.read_bytes(), str(path))
    manifest.path = path
    return manifest


def format_manifest(manifest: Manifest) -> bytes:
    """The manifest text: base, history, incr lines in that order (as Redis writes it)."""
    ordered = ([manifest.base] if manifest.base else []) + manifest.history + manifest.incr
    return b"".join(format_manifest_line(ln) + b"\n" for ln in ordered)


def base_file_name(appendfilename: str, seq: int, rdb: bool) -> str:
    """``<appendfilename>.<seq>.base.rdb`` (RDB base) or ``.base.aof`` (RESP base), as
    ``getNewBaseFileNameAndMarkPreAsHistory()`` names it."""
    return f"{appendfilename}.{seq}.base.{'rdb' if rdb else 'aof'}"


def incr_file_name(appendfilename: str, seq: int) -> str:
    """``<appendfilename>.<seq>.incr.aof``, as ``getNewIncrAofName()`` names it."""
    return f"{appendfilename}.{seq}.incr.aof"


def write_manifest(directory: str | os.PathLike, appendfilename: str, manifest: Manifest) -> Path:
    """Replace ``<appendfilename>.manifest`` in ``directory`` atomically, as
    ``persistAofManifest()`` does: write ``temp-<appendfilename>.manifest``, fsync it, rename it
    over the manifest, fsync the directory.  Returns the manifest's path.
    """
    directory = Path(directory)
    final = directory / (appendfilename + MANIFEST_SUFFIX)
    temp = directory / (TEMP_FILE_PREFIX + appendfilename + MANIFEST_SUFFIX)
    temp.unlink(missing_ok=True)  # a crashed writer's leftover; unlinking a symlink is safe
    with os.fdopen(create_new(temp), "wb") as f:  # never through a symlink planted meanwhile
        f.write(format_manifest(manifest))
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, final)
    fsync_directory(directory)
    manifest.path = final
    return final
