"""A summary of an RDB file: header, AUX fields, keys per database, types and encodings.

Computed in one ``values="sizes"`` pass (no element is decoded), so it costs about one read of
the file.  Returns data; rendering is the caller's business (``rdbtool info`` draws tables).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Iterable

from ..format.constants import value_type_name
from ..model import Entry, Function, ModuleAux, SlotInfo

__all__ = ["RdbSummary", "DbSummary", "summarize"]


@dataclass
class DbSummary:
    """Key counts of one database: ``keys``, ``expires`` (keys with a TTL) and
    ``resize_keys`` / ``resize_expires`` (the RESIZEDB hints, None when absent)."""

    keys: int = 0
    expires: int = 0
    resize_keys: int | None = None
    resize_expires: int | None = None


@dataclass
class RdbSummary:
    """What :func:`summarize` found.

    Accessible attributes: ``magic``, ``version``, ``aux`` (AUX field -> value, decoded as UTF-8
    with backslash escapes), ``dbs`` (db number -> :class:`DbSummary`), ``keys`` / ``expires``
    (totals), ``types`` (type name -> keys), ``rdb_types`` (on-disk type code -> keys),
    ``functions`` (library names), ``modules`` (module type names seen in values and module aux
    data), ``slots`` (slot-info records), ``checksum`` ("ok", "disabled", "absent", ...),
    ``file_size`` (bytes of the input file when known, else bytes read).
    """

    magic: str
    version: int
    aux: dict[str, str] = field(default_factory=dict)
    dbs: dict[int, DbSummary] = field(default_factory=dict)
    keys: int = 0
    expires: int = 0
    types: dict[str, int] = field(default_factory=dict)
    rdb_types: dict[int, int] = field(default_factory=dict)
    functions: list[str] = field(default_factory=list)
    modules: list[str] = field(default_factory=list)
    slots: int = 0
    checksum: str | None = None
    file_size: int | None = None
    valkey: bool = False

    def rdb_type_name(self, code: int) -> str:
        """The rdb.h name of an on-disk type code, using Valkey's table for VALKEY files."""
        return value_type_name(code, self.valkey)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (string keys throughout)."""
        d = asdict(self)
        d["dbs"] = {str(db): s for db, s in d["dbs"].items()}
        d["rdb_types"] = [
            {"code": code, "name": self.rdb_type_name(code), "keys": n} for code, n in sorted(self.rdb_types.items())
        ]
        del d["valkey"]
        return d


def summarize(reader: Any, records: Iterable | None = None) -> RdbSummary:
    """Read a whole RDB file and summarise it.

    ``reader`` is an open :class:`~rdbtools.rdb.reader.RdbReader` not yet iterated (open it with
    ``values="sizes"`` for speed) or anything :func:`~rdbtools.open_rdb` accepts.  ``records``
    replaces ``reader.iter_records()`` when given (e.g. the same records wrapped in a progress
    bar).

    :raises FormatError: the file is damaged (including a checksum mismatch).
    """
    if not hasattr(reader, "iter_records"):
        from ..rdb.reader import open_rdb

        with open_rdb(reader, values="sizes") as rdb:
            return summarize(rdb)
    valkey = reader.magic == "VALKEY" or reader.version >= 80
    s = RdbSummary(reader.magic, reader.version, valkey=valkey)
    modules: set[str] = set()
    dbs = s.dbs
    current = None
    for rec in reader.iter_records() if records is None else records:
        if isinstance(rec, Entry):
            db = dbs.get(rec.db)
            if db is None:
                db = dbs[rec.db] = DbSummary()
            db.keys += 1
            if rec.expire_at_ms is not None:
                db.expires += 1
            s.types[rec.type] = s.types.get(rec.type, 0) + 1
            s.rdb_types[rec.rdb_type] = s.rdb_types.get(rec.rdb_type, 0) + 1
            if rec.type == "module" and rec.value is not None:
                modules.add(rec.value.module_name)
            continue
        name = type(rec).__name__
        if name == "SelectDb":
            current = dbs.setdefault(rec.db, DbSummary())
        elif name == "ResizeDb" and current is not None:
            current.resize_keys, current.resize_expires = rec.db_size, rec.expires_size
        elif name == "Aux":
            s.aux[rec.key.decode("utf-8", "backslashreplace")] = rec.value.decode("utf-8", "backslashreplace")
        elif isinstance(rec, Function):
            s.functions.append(rec.library_name or "?")
        elif isinstance(rec, ModuleAux):
            modules.add(rec.module_name)
        elif isinstance(rec, SlotInfo):
            s.slots += 1
    # a db announced by SELECTDB but holding no key (possible after expiry on load) stays listed
    s.dbs = dict(sorted(dbs.items()))
    s.keys = sum(d.keys for d in dbs.values())
    s.expires = sum(d.expires for d in dbs.values())
    s.types = dict(sorted(s.types.items(), key=lambda kv: (-kv[1], kv[0])))
    s.rdb_types = dict(sorted(s.rdb_types.items()))
    s.modules = sorted(modules)
    s.checksum = reader.checksum
    s.file_size = reader.total_size if reader.total_size is not None else reader.bytes_read
    return s
