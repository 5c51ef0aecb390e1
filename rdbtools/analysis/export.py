"""Writing per-key memory rows (:class:`~rdbtools.analysis.memory.KeyMemory`) as CSV, JSON Lines
or Parquet.  Keys are written as UTF-8 text with backslash escapes for other bytes (CSV, JSON)
and as raw bytes in Parquet (a binary column)."""

from __future__ import annotations

import csv
import io
import json
from itertools import islice
from typing import IO, Iterable

from .memory import KeyMemory, compiled_estimator

__all__ = ["write_memory", "COLUMNS"]

COLUMNS = ("db", "key", "type", "encoding", "elements", "memory_usage", "largest_element", "expire_at_ms")


def _key(k: bytes) -> str:
    return k.decode("utf-8", "backslashreplace")


def write_memory(rows: Iterable[KeyMemory], out: IO[bytes], fmt: str = "csv") -> int:
    """Write ``rows`` to the binary stream ``out``; returns the number of rows.

    :raises RuntimeError: for parquet without pyarrow installed.
    """
    if fmt == "parquet":
        return _write_parquet(rows, out)
    compiled = compiled_estimator()
    if compiled is not None and fmt in ("csv", "jsonl"):
        return _write_rendered(rows, out, fmt == "csv", compiled.render_rows)
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=True)
    n = 0
    try:
        if fmt == "csv":
            w = csv.writer(text)
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow((r.db, _key(r.key), r.type, r.encoding, r.elements, r.memory_usage,
                            r.largest_element, "" if r.expire_at_ms is None else r.expire_at_ms))
                n += 1
        elif fmt == "jsonl":
            for r in rows:
                d = r.to_dict()
                d["key"] = _key(r.key)
                text.write(json.dumps(d, ensure_ascii=False) + "\n")
                n += 1
        else:
            raise ValueError(f"unknown format {fmt!r}")
    finally:
        text.flush()
        text.detach()
    return n


def _write_rendered(rows: Iterable[KeyMemory], out: IO[bytes], csv_rows: bool, render, batch: int = 1024) -> int:
    """The compiled twin of the loops above: ``render(rows, csv_rows)`` gives the bytes that
    csv.writer / json.dumps write for a batch of rows."""
    if csv_rows:
        out.write(",".join(COLUMNS).encode() + b"\r\n")
    n = 0
    it = iter(rows)
    while chunk := list(islice(it, batch)):
        out.write(render(chunk, csv_rows))
        n += len(chunk)
    return n


def _write_parquet(rows: Iterable[KeyMemory], out: IO[bytes], batch: int = 65536) -> int:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise RuntimeError("parquet output needs pyarrow: pip install 'rdbtools-suite[parquet]'") from None
    schema = pa.schema([("db", pa.int32()), ("key", pa.binary()), ("type", pa.string()),
                        ("encoding", pa.string()), ("elements", pa.int64()),
                        ("memory_usage", pa.int64()), ("largest_element", pa.int64()),
                        ("expire_at_ms", pa.int64())])
    n = 0
    with pq.ParquetWriter(out, schema) as writer:
        cols: dict[str, list] = {c: [] for c in COLUMNS}
        for r in rows:
            for c in COLUMNS:
                cols[c].append(getattr(r, c))
            n += 1
            if len(cols["db"]) >= batch:
                writer.write_table(pa.table(cols, schema=schema))
                cols = {c: [] for c in COLUMNS}
        if cols["db"] or n == 0:
            writer.write_table(pa.table(cols, schema=schema))
    return n
