# rdbtools: aof/cut.py
"""Point-in-time recovery: the dataset of an AOF as it was at a ``#TS:`` timestamp or at a byte
offset, written as a new AOF, an RDB file or a JSONL dump.  The input is never modified.

What is kept is what ``redis-check-aof --truncate-to-timestamp`` keeps (redis-check-aof.c,
Redis 7.0+; FORMATS.md §6.5, §6.6), generalised to every file of a multi-part AOF: everything
before the first ``#TS:`` annotation later than the timestamp, or before the first command that
ends after the offset (counted over the loaded files in load order); a ``MULTI`` block is kept or
dropped whole.  An RDB part (preamble or base) is always kept whole.

* AOF output (a directory for a multi-part AOF, a file for a single-file AOF): the files are
  copied up to the cut, the file holding it cut short there, later files left out; a new
  manifest names them (an empty incr file is added when the cut falls in the base).  The server
  loads exactly the commands that were kept.
* RDB / JSONL / RESP output: the kept commands are replayed and converted
  (:func:`rdbtools.ops.convert.convert`).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..format.manifest import ManifestLine
from ..files import atomic_output, fsync_directory, input_locations, refuse_inputs
from ..rdb.writer import WriteResult
from ..aof.manifest import MANIFEST_SUFFIX, Manifest, incr_file_name, write_manifest
from ..aof.reader import AofReader, open_aof

__all__ = ["CutResult", "cut_aof", "CUT_FORMATS", "cut_format"]

CUT_FORMATS = ("aof", "rdb", "jsonl", "resp")
_EXTENSIONS = {".rdb": "rdb", ".jsonl": "jsonl", ".json": "jsonl", ".ndjson": "jsonl",
               ".resp": "resp"}


def cut_format(dest: str | os.PathLike, to: str | None = None) -> str:
    """``to``, else from ``dest``: ``.rdb`` → rdb, ``.jsonl``/``.json``/``.ndjson`` → jsonl,
    ``.resp`` → resp (the commands rebuilding the keys), anything else → an AOF in the input's
    layout."""
    if to is not None:
        if to not in CUT_FORMATS:
            raise ValueError(f"unknown output format {to!r}; known: {', '.join(CUT_FORMATS)}")
        return to
    return _EXTENSIONS.get(os.path.splitext(os.fspath(dest))[1].lower(), "aof")


@dataclass
class CutResult:
    """What a cut did.  Accessible attributes: ``path`` (written), ``format``, ``cut`` (``(file,
    offset)`` of the first byte left out, None when the whole AOF was kept), ``files`` (AOF
    output: the files written), ``keys`` (RDB / JSONL / RESP output), ``write`` (the
    :class:`~rdbtools.rdb.writer.WriteResult` of those outputs)."""

    path: Path
    format: str
    cut: tuple[str, int] | None
    files: list[str] = field(default_factory=list)
    keys: int | None = None
    write: WriteResult | None = None

    def to_dict(self) -> dict:
        return {"path": str(self.path), "format": self.format,
                "cut": None if self.cut is None else {"file": self.cut[0], "offset": self.cut[1]},
                "files": self.files, "keys": self.keys,
                "losses": [str(x) for x in self.write.losses] if self.write else []}


def _locate(aof: AofReader, to_timestamp: int | None, to_offset: int | None) -> tuple[str, int] | None:
    """Read the AOF up to the cut (no replay) and return where the kept part ends: ``(file,
    offset)``, or None to keep everything.

    :raises ValueError: a timestamp cut of an AOF without annotations, or one that keeps
        nothing (as redis-check-aof refuses to truncate at offset 0).
    """
    for _ in aof.iter_raw(upto_timestamp=to_timestamp, upto_offset=to_offset):
        pass
    if to_timestamp is not None:
        if aof.stopped_at is None and all(p.first_ts is None for p in aof.parts):
            raise ValueError(f"{aof.path}: no #TS: annotations (the server ran with "
                             "aof-timestamp-enabled no): cut at an offset instead")
        if aof.stopped_at == (aof.parts[0].name, 0):
            raise ValueError(f"{aof.path}: nothing is at or before {to_timestamp}: the AOF "
                             f"starts with an annotation later than that")
    if aof.stopped_at is None and aof.truncation is not None:
        return aof.truncation.file, aof.truncation.offset  # the server drops the torn tail too
    return aof.stopped_at


def _copy_prefix(source: Path, dest, size: int | None) -> None:
    with open(source, "rb") as src:
        if size is None:
            shutil.copyfileobj(src, dest, 1 << 20)
            return
        left = size
        while left:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                break
            dest.write(chunk)
            left -= len(chunk)


def _write_directory(aof: AofReader, cut: tuple[str, int] | None, dest: Path) -> list[str]:
    assert aof.manifest is not None and aof.manifest.path is not None
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ValueError(f"{dest}: exists and is not an empty directory")
    appendfilename = aof.manifest.path.name[: -len(MANIFEST_SUFFIX)]
    by_name = {ln.file.decode("utf-8", "surrogateescape"): ln for ln in aof.manifest.load_order()}
    lines: list[ManifestLine] = []
    dest.parent.mkdir(parents=True, exist_ok=True)
    build = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        build.chmod(0o755)
        for part in aof.parts:
            stop = cut[1] if cut is not None and cut[0] == part.name else None
            with open(build / part.name, "wb") as out:
                _copy_prefix(part.path, out, stop)
                out.flush()
                os.fsync(out.fileno())
            ln = by_name[part.name]
            # a cut file no longer ends at its recorded replication offset (Redis 8.x)
            lines.append(ManifestLine(ln.file, ln.seq, ln.type, ln.start_offset,
                                      None if stop is not None else ln.end_offset, list(ln.extra)))
            if stop is not None:
                break
        if not any(ln.type == "i" for ln in lines):
            following = next((ln for ln in aof.manifest.incr), None)
            seq = following.seq if following is not None else 1
            name = incr_file_name(appendfilename, seq)
            open(build / name, "wb").close()
            lines.append(ManifestLine(name.encode(), seq, "i"))
        write_manifest(build, appendfilename, Manifest(lines))
        os.replace(build, dest)
        fsync_directory(dest.parent)
    except BaseException:
        shutil.rmtree(build, ignore_errors=True)
        raise
    return sorted(p.name for p in dest.iterdir())


def cut_aof(path: str | os.PathLike, dest: str | os.PathLike, *, to_timestamp: int | None = None,
            to_offset: int | None = None, to: str | None = None, target=None,
            skip_unknown: bool = False, **convert_options) -> CutResult:
    """Write the state of the AOF at ``path`` at ``to_timestamp`` (Unix seconds, from ``#TS:``
    annotations) or at byte ``to_offset`` to ``dest``, as ``to`` (default from ``dest``, see
    :func:`cut_format`).  ``target``, ``skip_unknown`` and ``convert_options`` (``key_filter``,
    ``strict`` ...) go to :func:`rdbtools.ops.convert.convert` for RDB / JSONL / RESP output.

    :raises ValueError: neither or both cut points, a timestamp cut without annotations or
        keeping nothing, a ``dest`` directory that is not empty.
    :raises AofFormatError: damaged input.
    """
    if (to_timestamp is None) == (to_offset is None):
        raise ValueError("give exactly one of to_timestamp and to_offset")
    fmt = cut_format(dest, to)
    dest = Path(dest)
    refuse_inputs(dest, input_locations(path))
    with open_aof(path) as aof:
        cut = _locate(aof, to_timestamp, to_offset)
        if fmt == "aof":
            if aof.layout == "multi-part":
                files = _write_directory(aof, cut, dest)
            else:
                part = aof.parts[0]
                with atomic_output(dest) as out:
                    _copy_prefix(part.path, out, None if cut is None else cut[1])
                files = [dest.name]
            return CutResult(dest, fmt, cut, files=files)
    from .convert import convert

    written = convert(path, dest, to=fmt, target=target, skip_unknown=skip_unknown,
                      upto_timestamp=to_timestamp, upto_offset=to_offset, **convert_options)
    return CutResult(dest, fmt, cut, keys=written.keys, write=written)

