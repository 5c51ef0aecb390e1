"""The JSON dump of a keyspace: :class:`~rdbtools.model.Entry` <-> plain dict, both directions.

Like fontTools' ttx, the dump is lossless for the data a key holds, so later tools can read it back
(see ``docs/dump-format.md`` for the exact format).  One JSON object per key::

    {"db": 0, "key": "user:1", "type": "hash", "expire_at_ms": null, "rdb_type": 16,
     "value": [["name", "Ada"]]}

Byte strings become a JSON string when they are valid UTF-8 and ``{"b64": "..."}`` otherwise.
Writers use orjson when it is importable and the stdlib ``json`` module otherwise; both produce the
same bytes (compact separators, UTF-8, shortest round-trip floats).
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import reprlib
from typing import IO, Any, Iterable, Iterator

from construct import ConstructError

from ..rdb import _accel
from ..errors import FormatError
from ..format.module import decode_key_meta_class, encode_module_id
from ..model import (
    TYPE_ARRAY,
    TYPE_GCRA,
    TYPE_HASH,
    TYPE_LIST,
    TYPE_MODULE,
    TYPE_SET,
    TYPE_STREAM,
    TYPE_STRING,
    TYPE_ZSET,
    VALUE_TYPES,
    Entry,
    KeyMeta,
    ModuleValue,
    Stream,
    StreamConsumer,
    StreamEntry,
    StreamGroup,
    StreamIdmp,
    StreamIdmpProducer,
    StreamPendingEntry,
    StreamId,
)

_json_entry = _accel.json_entry

try:  # pragma: no cover - exercised by whichever is installed
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

__all__ = [
    "encode_bytes",
    "decode_bytes",
    "entry_to_dict",
    "dict_to_entry",
    "entry_to_text",
    "dumps_entry",
    "write_jsonl",
    "write_json",
    "write_text",
    "iter_dump",
    "module_type_id",
]

# --- leaves --------------------------------------------------------------------------------

_SHOWN = reprlib.Repr()
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother = 3, 60, 60


def _shown(obj: Any) -> str:
    """``obj`` for an error message: bounded in size and depth whatever the dump held (a plain
    repr of a huge or 100,000-deep value costs gigabytes or a RecursionError)."""
    return _SHOWN.repr(obj)


def encode_bytes(data: bytes) -> str | dict:
    """``data`` as a JSON string when it is valid UTF-8, else ``{"b64": "<base64>"}``."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return {"b64": base64.b64encode(data).decode("ascii")}


def decode_bytes(obj: Any) -> bytes:
    """Inverse of :func:`encode_bytes`.

    :raises FormatError: ``obj`` is neither a string nor a ``{"b64": ...}`` object.
    """
    if isinstance(obj, str):
        return obj.encode("utf-8", "surrogatepass")
    if isinstance(obj, dict) and isinstance(obj.get("b64"), str) and len(obj) == 1:
        try:
            return base64.b64decode(obj["b64"], validate=True)
        except ValueError as e:
            raise FormatError(f"bad base64 in dump: {e}") from None
    raise FormatError(f"expected a string or {{\"b64\": ...}} in dump, found {_shown(obj)}")


def _encode_score(score: float) -> float | str:
    if math.isnan(score):
        return "nan"
    if math.isinf(score):
        return "inf" if score > 0 else "-inf"
    return score


def _decode_score(obj: Any) -> float:
    if isinstance(obj, str):
        if obj in ("inf", "-inf", "nan"):
            return float(obj)
        raise FormatError(f"bad zset score in dump: {_shown(obj)}")
    if isinstance(obj, (int, float)) and not isinstance(obj, bool):
        try:
            score = float(obj)
        except OverflowError:  # an integer beyond the doubles
            score = math.inf
        if math.isfinite(score):
            return score
        raise FormatError(f"bad zset score in dump: {_shown(obj)} (beyond the range of a double; "
                          "infinities are written \"inf\" and \"-inf\")")
    raise FormatError(f"bad zset score in dump: {_shown(obj)}")


def _encode_id(sid: StreamId) -> str:
    return f"{sid[0]}-{sid[1]}"


_STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


def _decode_id(text: Any) -> StreamId:
    match = _STREAM_ID.fullmatch(text) if isinstance(text, str) else None
    if match is not None:
        sid = int(match[1]), int(match[2])
        if max(sid) < 1 << 64:
            return sid
    raise FormatError(f"bad stream ID in dump: {_shown(text)} (expected \"<ms>-<seq>\", each "
                      "part below 2^64)")


# --- module type ids -------------------------------------------------------------------------


def module_type_id(name: str, encver: int) -> int:
    """The 64-bit module type id of a 9-character type name and its 10-bit encoding version
    (moduleTypeEncodeId() in src/module.c, via :func:`rdbtools.format.module.encode_module_id`).

    :raises FormatError: the name is not 9 characters of ``A-Za-z0-9-_`` or encver > 1023.
    """
    try:
        return encode_module_id(name, encver)
    except ConstructError as e:
        raise FormatError(f"bad module type in dump: {e}") from None


# --- Entry -> dict ---------------------------------------------------------------------------


def _materialise(value: Any) -> Any:
    """Drain a lazily read collection (``values="lazy"``) into a list."""
    if value is None or isinstance(value, (bytes, list, int, Stream, ModuleValue)):
        return value
    return list(value)


def _idmp_to_dict(idmp: StreamIdmp) -> dict:
    # pids_tracked / iids_tracked are what XINFO reports after a load: producers without IIDs
    # (8.10 keeps them in the file when all their IIDs expired) are not tracked
    tracked = [p for p in idmp.producers if p.iids]
    return {
        "duration": idmp.duration_s,
        "max_size": idmp.max_size,
        "pids_tracked": len(tracked),
        "iids_tracked": sum(len(p.iids) for p in tracked),
        "iids_added": idmp.iids_added,
        "iids_duplicates": idmp.iids_duplicates,
        "producers": [
            {"pid": encode_bytes(p.pid), "iids": [[encode_bytes(iid), _encode_id(sid)] for iid, sid in p.iids]}
            for p in idmp.producers
        ],
    }


def _group_to_dict(g: StreamGroup) -> dict:
    d = {
        "name": encode_bytes(g.name),
        "last_id": _encode_id(g.last_id),
        "entries_read": g.entries_read,
        "pending": [
            {
                "id": _encode_id(p.id),
                "consumer": None if p.consumer is None else encode_bytes(p.consumer),
                "delivery_time_ms": p.delivery_time_ms,
                "delivery_count": p.delivery_count,
            }
            for p in g.pending
        ],
        "consumers": [
            {
                "name": encode_bytes(c.name),
                "seen_time_ms": c.seen_time_ms,
                "active_time_ms": c.active_time_ms,
                "pending": [_encode_id(i) for i in c.pending],
            }
            for c in g.consumers
        ],
    }
    if g.nacked is not None:
        d["nacked"] = [_encode_id(i) for i in g.nacked]
    return d


def _stream_to_dict(s: Stream) -> dict:
    d = {
        "entries": [
            [_encode_id(e.id), [encode_bytes(x) for pair in e.fields for x in pair]] for e in s.entries
        ],
        "length": s.length,
        "last_id": _encode_id(s.last_id),
        "first_id": _encode_id(s.first_id),
        "max_deleted_id": _encode_id(s.max_deleted_id),
        "entries_added": s.entries_added,
        "groups": [_group_to_dict(g) for g in s.groups],
    }
    if s.idmp is not None:
        d["idmp"] = _idmp_to_dict(s.idmp)
    return d


def _value_to_json(type_: str, value: Any) -> Any:
    # The collections take a fast path for the common case (every element valid UTF-8, every
    # score finite: ``s - s == 0`` is false only for inf and NaN) and redo the general one only
    # when it fails: this is the hot loop of `rdbtool dump`.
    if value is None:
        return None
    if type_ == TYPE_STRING:
        return encode_bytes(value)
    try:
        if type_ in (TYPE_LIST, TYPE_SET):
            return [x.decode() for x in value]
        if type_ == TYPE_ZSET:
            return [[m.decode(), s if s - s == 0 else _encode_score(s)] for m, s in value]
        if type_ == TYPE_HASH:
            return [[f.decode(), v.decode()] for f, v in value]
        if type_ == TYPE_ARRAY:
            return [[i, v.decode()] for i, v in value]
    except UnicodeDecodeError:
        pass
    if type_ in (TYPE_LIST, TYPE_SET):
        return [encode_bytes(x) for x in value]
    if type_ == TYPE_ZSET:
        return [[encode_bytes(m), _encode_score(s)] for m, s in value]
    if type_ == TYPE_HASH:
        return [[encode_bytes(f), encode_bytes(v)] for f, v in value]
    if type_ == TYPE_ARRAY:
        return [[i, encode_bytes(v)] for i, v in value]
    if type_ == TYPE_GCRA:
        return value
    if type_ == TYPE_STREAM:
        return _stream_to_dict(value)
    if type_ == TYPE_MODULE:
        return {
            "module": value.module_name,
            "encver": value.encver,
            "raw": {"b64": base64.b64encode(value.raw).decode("ascii")},
        }
    raise FormatError(f"unknown value type {type_!r}")


def entry_to_dict(entry: Entry) -> dict:
    """The dump object of one key (see ``docs/dump-format.md``).

    A lazily read value (an iterator) is drained.  In a sizes-only read (``value is None``) the
    object has ``"value": null`` and a ``"length"``.
    """
    value = _materialise(entry.value)
    d: dict[str, Any] = {
        "db": entry.db,
        "key": encode_bytes(entry.key),
        "type": entry.type,
        "expire_at_ms": entry.expire_at_ms,
        "rdb_type": entry.rdb_type,
        "value": _value_to_json(entry.type, value),
    }
    if value is None:
        d["length"] = entry.length
    if entry.field_expire_at_ms:
        d["field_expire_at_ms"] = [[encode_bytes(f), ms] for f, ms in entry.field_expire_at_ms.items()]
    if entry.array_next_insert_index is not None:
        d["array_next_insert_index"] = entry.array_next_insert_index
    if entry.key_meta is not None:
        d["key_meta"] = [
            {"class": m.class_name, "version": m.version, "flags": m.flags,
             "raw": {"b64": base64.b64encode(m.raw).decode("ascii")}}
            for m in entry.key_meta
        ]
    if entry.idle_s is not None:
        d["idle_s"] = entry.idle_s
    if entry.freq is not None:
        d["freq"] = entry.freq
    return d


# --- dict -> Entry ---------------------------------------------------------------------------


# The ranges of the integers a dump holds: what the RDB fields they come from can store
# (docs/dump-format.md, "Ranges").  Anything else is refused here, with its line, before a
# writer or a server meets it.
_U64 = (0, (1 << 64) - 1)  # an RDB length (rdbSaveLen), a stream ID half
_I64 = (-(1 << 63), (1 << 63) - 1)  # a time in ms (EXPIRETIME_MS, stream PEL/consumer times)
_U8 = (0, 255)  # a type byte, an LFU counter (RDB_OPCODE_FREQ)
_ENTRIES_READ = (0, (1 << 64) - 2)  # 2^64-1 is "unknown", written for null
_ARRAY_INDEX = (0, (1 << 64) - 2)  # sparsearray indexes stay below 2^64-1
_ARRAY_NEXT_INSERT = (1, 1 << 64)  # the stored insert_idx + 1
_GCRA_TAT = (0, (1 << 63) - 1)  # LLONG_MAX
_MODULE_ENCVER = (0, 1023)  # 10 bits of the module type id
_IDMP_DURATION = (1, 86400)  # server.h CONFIG_STREAM_IDMP_MIN/MAX_DURATION (Redis 8.6)
_IDMP_MAX_SIZE = (1, 10000)  # CONFIG_STREAM_IDMP_MIN/MAX_MAXSIZE
_DB = (0, (1 << 31) - 2)  # SELECTDB: below 'databases', which is at most INT_MAX (config.c)


def _int(obj: Any, what: str, bounds: tuple[int, int] = _U64, nullable: bool = False) -> Any:
    if obj is None and nullable:
        return None
    if isinstance(obj, int) and not isinstance(obj, bool):
        if bounds[0] <= obj <= bounds[1]:
            return obj
        raise FormatError(f"bad {what} in dump: {_shown(obj)} (out of range: "
                          f"{bounds[0]} to {bounds[1]})")
    raise FormatError(f"bad {what} in dump: {_shown(obj)} (expected an integer)")


def _list(obj: Any, what: str) -> list:
    if not isinstance(obj, list):
        raise FormatError(f"bad {what} in dump: {_shown(obj)} (expected an array)")
    return obj


def _pair(obj: Any, what: str) -> list:
    if not isinstance(obj, list) or len(obj) != 2:
        raise FormatError(f"bad {what} in dump: {_shown(obj)} (expected a 2-element array)")
    return obj


def _stream_from_dict(d: Any) -> Stream:
    if not isinstance(d, dict):
        raise FormatError(f"bad stream value in dump: {_shown(d)}")
    try:
        entries = []
        for item in _list(d["entries"], "stream entries"):
            sid, flat = _pair(item, "stream entry")
            flat = [decode_bytes(x) for x in _list(flat, "stream entry fields")]
            if len(flat) % 2:
                raise FormatError(f"odd number of field/value items in stream entry {sid}")
            entries.append(StreamEntry(_decode_id(sid), list(zip(flat[0::2], flat[1::2]))))
        groups = []
        for g in _list(d["groups"], "stream groups"):
            pending = [
                StreamPendingEntry(
                    _decode_id(p["id"]),
                    None if p["consumer"] is None else decode_bytes(p["consumer"]),
                    _int(p["delivery_time_ms"], "delivery_time_ms", _I64),
                    _int(p["delivery_count"], "delivery_count"),
                )
                for p in _list(g["pending"], "group pending")
            ]
            consumers = [
                StreamConsumer(
                    decode_bytes(c["name"]),
                    _int(c["seen_time_ms"], "seen_time_ms", _I64),
                    _int(c["active_time_ms"], "active_time_ms", _I64, nullable=True),
                    [_decode_id(i) for i in _list(c["pending"], "consumer pending")],
                )
                for c in _list(g["consumers"], "group consumers")
            ]
            nacked = g.get("nacked")
            groups.append(
                StreamGroup(
                    decode_bytes(g["name"]),
                    _decode_id(g["last_id"]),
                    _int(g["entries_read"], "entries_read", _ENTRIES_READ, nullable=True),
                    pending,
                    consumers,
                    None if nacked is None else [_decode_id(i) for i in _list(nacked, "group nacked")],
                )
            )
        idmp = d.get("idmp")
        return Stream(
            entries=entries,
            length=_int(d["length"], "stream length"),
            last_id=_decode_id(d["last_id"]),
            first_id=_decode_id(d["first_id"]),
            max_deleted_id=_decode_id(d["max_deleted_id"]),
            entries_added=_int(d["entries_added"], "entries_added"),
            groups=groups,
            idmp=None if idmp is None else _idmp_from_dict(idmp),
        )
    except (KeyError, TypeError) as e:
        raise FormatError(f"bad stream value in dump: missing or malformed {e}") from None


def _idmp_from_dict(d: Any) -> StreamIdmp:
    # pids_tracked / iids_tracked are derived from the producers and not read back
    if not isinstance(d, dict):
        raise FormatError(f"bad stream idmp in dump: {_shown(d)}")
    producers = []
    for p in _list(d["producers"], "idmp producers"):
        iids = []
        for item in _list(p["iids"], "idmp producer iids"):
            iid, sid = _pair(item, "idmp iid")
            iids.append((decode_bytes(iid), _decode_id(sid)))
        producers.append(StreamIdmpProducer(decode_bytes(p["pid"]), iids))
    return StreamIdmp(
        duration_s=_int(d["duration"], "idmp duration", _IDMP_DURATION),
        max_size=_int(d["max_size"], "idmp max_size", _IDMP_MAX_SIZE),
        producers=producers,
        iids_added=_int(d["iids_added"], "idmp iids_added"),
        iids_duplicates=_int(d["iids_duplicates"], "idmp iids_duplicates"),
    )


def _key_meta_from_json(obj: Any) -> list[KeyMeta]:
    """Key metadata classes; the class name, version and flags must be those of ``raw``'s
    4-byte class spec, the bytes being what a writer copies."""
    out = []
    for m in _list(obj, "key_meta"):
        if not isinstance(m, dict):
            raise FormatError(f"bad key_meta class in dump: {_shown(m)}")
        raw = decode_bytes(m.get("raw"))
        if len(raw) < 5:
            raise FormatError(f"key_meta raw of {len(raw)} bytes in dump (a 4-byte class spec and "
                              "at least the EOF opcode are needed)")
        name, version, flags = decode_key_meta_class(int.from_bytes(raw[:4], "little"))
        if (m.get("class"), m.get("version"), m.get("flags")) != (name, version, flags):
            raise FormatError(f"key_meta class {m.get('class')!r} version {m.get('version')!r} flags "
                              f"{m.get('flags')!r} in dump, but its raw class spec says {name!r} "
                              f"version {version} flags {flags}")
        out.append(KeyMeta(name, version, flags, raw))
    return out


def _value_from_json(type_: str, v: Any) -> Any:
    if v is None:
        return None
    if type_ == TYPE_STRING:
        return decode_bytes(v)
    if type_ in (TYPE_LIST, TYPE_SET):
        return [decode_bytes(x) for x in _list(v, type_ + " value")]
    if type_ == TYPE_ZSET:
        out = []
        for item in _list(v, "zset value"):
            m, s = _pair(item, "zset member")
            out.append((decode_bytes(m), _decode_score(s)))
        return out
    if type_ == TYPE_HASH:
        out = []
        for item in _list(v, "hash value"):
            f, val = _pair(item, "hash field")
            out.append((decode_bytes(f), decode_bytes(val)))
        return out
    if type_ == TYPE_ARRAY:
        out = []
        for item in _list(v, "array value"):
            index, val = _pair(item, "array element")
            out.append((_int(index, "array index", _ARRAY_INDEX), decode_bytes(val)))
        return out
    if type_ == TYPE_GCRA:
        return _int(v, "gcra value", _GCRA_TAT)
    if type_ == TYPE_STREAM:
        return _stream_from_dict(v)
    if type_ == TYPE_MODULE:
        if not isinstance(v, dict) or not isinstance(v.get("module"), str):
            raise FormatError(f"bad module value in dump: {_shown(v)}")
        encver = _int(v.get("encver"), "module encver", _MODULE_ENCVER)
        module_id = v.get("module_id")
        if module_id is None:
            module_id = module_type_id(v["module"], encver)
        return ModuleValue(v["module"], encver, _int(module_id, "module_id"), decode_bytes(v.get("raw")))
    raise FormatError(f"unknown value type {type_!r} in dump (expected one of {', '.join(VALUE_TYPES)})")


def dict_to_entry(d: dict) -> Entry:
    """The :class:`Entry` of one dump object; inverse of :func:`entry_to_dict`.

    ``offset`` and ``size`` are not part of the dump and come back as 0; ``length`` is recomputed
    from the value.

    :raises FormatError: the object does not follow the dump format.
    """
    if not isinstance(d, dict):
        raise FormatError(f"expected a JSON object per key in dump, found {_shown(d)}")
    try:
        type_ = d["type"]
        if type_ not in VALUE_TYPES:
            raise FormatError(f"unknown value type {type_!r} in dump")
        value = _value_from_json(type_, d["value"])
        fexp = d.get("field_expire_at_ms")
        field_expire = None
        if fexp:
            field_expire = {}
            for item in _list(fexp, "field_expire_at_ms"):
                f, ms = _pair(item, "field_expire_at_ms item")
                field_expire[decode_bytes(f)] = _int(ms, "field expire time", _I64)
        return Entry(
            db=_int(d["db"], "db", _DB),
            key=decode_bytes(d["key"]),
            type=type_,
            value=value,
            expire_at_ms=_int(d.get("expire_at_ms"), "expire_at_ms", _I64, nullable=True),
            rdb_type=_int(d.get("rdb_type", 0), "rdb_type", _U8),
            idle_s=_int(d.get("idle_s"), "idle_s", nullable=True),
            freq=_int(d.get("freq"), "freq", _U8, nullable=True),
            field_expire_at_ms=field_expire,
            length=_length(type_, value) if value is not None else _int(d.get("length", 0), "length"),
            array_next_insert_index=_int(d.get("array_next_insert_index"), "array_next_insert_index",
                                         _ARRAY_NEXT_INSERT, nullable=True),
            key_meta=None if d.get("key_meta") is None else _key_meta_from_json(d["key_meta"]),
        )
    except KeyError as e:
        raise FormatError(f"missing field {e} in dump object") from None


def _length(type_: str, value: Any) -> int:
    if type_ == TYPE_STREAM:
        return value.length
    if type_ == TYPE_MODULE:
        return len(value.raw)  # as the reader counts it
    if type_ == TYPE_GCRA:
        return 1  # one rate limiter state, as the reader counts it
    return len(value)


# --- writers and reader --------------------------------------------------------------------


def _json_fallback(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def dumps_entry(entry: Entry) -> bytes:
    """One key as compact UTF-8 JSON (no trailing newline).

    The compiled renderer (``json_entry`` in ``rdbtools/rdb/csrc/render_json.c``) writes the bytes the
    stdlib json module would write for :func:`entry_to_dict` (orjson, used here, gives the same
    JSON values); it hands back None for what it does not cover (module values, lazily read
    values, integers beyond 64 bits), which is rendered here.
    """
    if _json_entry is not None:
        rendered = _json_entry(entry)
        if rendered is not None:
            return rendered
    d = entry_to_dict(entry)
    if _orjson is not None:
        try:
            return _orjson.dumps(d)
        except _orjson.JSONEncodeError:  # integers beyond 64 bits: let json do it
            pass
    return _json_fallback(d)


def _byte_writer(fp: IO) -> Any:
    """A ``write(bytes)`` for a binary or text file object."""
    if isinstance(fp, io.TextIOBase):
        return lambda b: fp.write(b.decode("utf-8"))
    return fp.write


def write_jsonl(entries: Iterable[Entry], fp: IO) -> int:
    """Write one JSON object per line (JSON Lines); return the number of keys written.

    ``fp`` may be a binary or a text file object.
    """
    write = _byte_writer(fp)
    n = 0
    batch: list[bytes] = []
    for entry in entries:
        batch.append(dumps_entry(entry))
        n += 1
        if len(batch) == 512:  # fewer, larger writes
            batch.append(b"")
            write(b"\n".join(batch))
            batch = []
    if batch:
        batch.append(b"")
        write(b"\n".join(batch))
    return n


def write_json(entries: Iterable[Entry], fp: IO) -> int:
    """Write a JSON array with one object per line; return the number of keys written."""
    write = _byte_writer(fp)
    n = 0
    for entry in entries:
        write((b"[\n" if n == 0 else b",\n") + dumps_entry(entry))
        n += 1
    write(b"\n]\n" if n else b"[]\n")
    return n


def iter_dump(fp: IO) -> Iterator[Entry]:
    """Read back a dump written by :func:`write_jsonl` or :func:`write_json`.

    JSON Lines are read one line at a time; a JSON array is read whole.

    :raises FormatError: the input is not JSON or does not follow the dump format (types,
        ranges: docs/dump-format.md).  ``offset`` is the byte offset of the line (of the
        document, for a JSON array), ``key`` the key when it could be read and ``detail`` the
        line number (the array element).
    """
    first = b""
    offset = 0
    lines = iter(fp)
    lineno = 0
    for line in lines:
        if isinstance(line, str):
            line = line.encode("utf-8")
        lineno += 1
        if line.strip():
            first = line
            break
        offset += len(line)
    if not first:
        return
    if first.lstrip().startswith(b"["):
        rest = b"".join(x.encode("utf-8") if isinstance(x, str) else x for x in lines)
        data = _parse(first + rest, offset, "the JSON array")
        for index, d in enumerate(_list(data, "dump")):
            yield _entry_at(d, offset, f"element {index} of the JSON array")
        return
    for line in _chain_first(first, lines):
        if isinstance(line, str):
            line = line.encode("utf-8")
        if line.strip():
            where = f"line {lineno} of the dump"
            yield _entry_at(_parse(line, offset, where), offset, where)
        offset += len(line)
        lineno += 1


def _parse(data: bytes, offset: int, where: str) -> Any:
    try:
        return _loads(data)
    except ValueError as e:
        raise FormatError(f"dump is not valid JSON: {e}", offset, detail=where) from None


def _entry_at(d: Any, offset: int, where: str) -> Entry:
    """:func:`dict_to_entry`, with a FormatError placed at ``offset`` / ``where`` (and its key)."""
    try:
        return dict_to_entry(d)
    except FormatError as err:
        key = None
        if isinstance(d, dict):
            try:
                key = decode_bytes(d.get("key"))
            except FormatError:
                pass
        err.offset = offset
        err.detail = where
        raise err.with_context(key=key) from None


_BIG_INT = re.compile(rb"\d{20}")
# orjson (3.8 at least) parses nested arrays recursively without a depth limit and crashes the
# process on deep ones (a 200,000-deep array is a segfault, seen with orjson 3.8.3).  A line
# of at most this many bytes nests at most half as deep, which it survives with room to spare;
# longer documents go to the stdlib parser, which raises RecursionError instead.
_ORJSON_MAX = 16 << 10


def _loads(data: bytes) -> Any:
    # orjson reads integers beyond 64 bits as floats, silently: let json read those documents
    if _orjson is not None and len(data) <= _ORJSON_MAX and not _BIG_INT.search(data):
        return _orjson.loads(data)
    try:
        return json.loads(data, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def _finite_float(text: str) -> float:
    # as orjson: 1e400 is refused, not read as infinity
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text[:40]} is infinity when parsed as a double")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (the dump writes \"nan\", \"inf\", \"-inf\")")


def _chain_first(first: bytes, rest: Iterator) -> Iterator:
    yield first
    yield from rest


# --- human-readable text ---------------------------------------------------------------------


def _short(data: bytes, limit: int = 80) -> str:
    # Only a prefix is formatted: every byte becomes 1 to 4 characters, so ``limit`` bytes give
    # at least what is shown (a 512 MB value would otherwise cost gigabytes of repr text).
    text = repr(data[:limit])[2:-1]
    return text if len(data) <= limit and len(text) <= limit else text[: limit - 3] + "..."


def entry_to_text(entry: Entry, limit: int = 8) -> str:
    """A one-line human-readable rendering of a key (not meant to be read back).

    Shows db, type, key, TTL and the first ``limit`` elements of the value.
    """
    value = _materialise(entry.value)
    parts = [f"db={entry.db}", entry.type, _short(entry.key, 200)]
    if entry.expire_at_ms is not None:
        parts.append(f"expire_at_ms={entry.expire_at_ms}")
    if value is None:
        parts.append(f"length={entry.length}")
        return " ".join(parts)
    t = entry.type
    if t == TYPE_STRING:
        body = _short(value)
    elif t == TYPE_MODULE:
        body = f"<module {value.module_name} encver={value.encver} {len(value.raw)} bytes>"
    elif t == TYPE_GCRA:
        body = f"<gcra tat_us={value}>"
    elif t == TYPE_STREAM:
        shown = [
            f"{_encode_id(e.id)} {{" + ", ".join(f"{_short(f, 40)}: {_short(v, 40)}" for f, v in e.fields[:limit])
            + (f", ... +{len(e.fields) - limit}" if len(e.fields) > limit else "") + "}"
            for e in value.entries[:limit]
        ]
        more = len(value.entries) - len(shown)
        body = (
            f"<stream {value.length} entries, last_id={_encode_id(value.last_id)}, "
            f"{len(value.groups)} groups> [" + ", ".join(shown) + (f", ... +{more}" if more > 0 else "") + "]"
        )
    else:
        if t == TYPE_ZSET:
            items = [f"{_short(m, 40)}={s!r}" for m, s in value[:limit]]
        elif t == TYPE_HASH:
            items = [f"{_short(f, 40)}: {_short(v, 40)}" for f, v in value[:limit]]
        elif t == TYPE_ARRAY:
            items = [f"{i}: {_short(v, 40)}" for i, v in value[:limit]]
        else:
            items = [_short(x, 40) for x in value[:limit]]
        more = len(value) - len(items)
        body = f"({len(value)}) [" + ", ".join(items) + (f", ... +{more}" if more > 0 else "") + "]"
    parts.append(body)
    if entry.field_expire_at_ms:
        parts.append(f"field_ttls={len(entry.field_expire_at_ms)}")
    if entry.array_next_insert_index is not None:
        parts.append(f"next_insert_index={entry.array_next_insert_index}")
    if entry.key_meta:
        parts.append("key_meta=" + ",".join(m.class_name for m in entry.key_meta))
    return " ".join(parts)


def write_text(entries: Iterable[Entry], fp: IO) -> int:
    """Write :func:`entry_to_text` lines; return the number of keys written."""
    write = _byte_writer(fp)
    n = 0
    for entry in entries:
        write(entry_to_text(entry).encode("utf-8") + b"\n")
        n += 1
    return n
