"""Compare what the reader produced with a ground truth captured from a live server.

The ground truth format is the corpus's (../shared/corpus/README.md, "Ground-truth JSON"); the
project's own fixtures (fixtures/*/expected.json) use the same conventions.  Each comparison
returns a list of human-readable mismatches, empty when everything agrees.
"""

from __future__ import annotations

import base64
import math
import re
from typing import Any, Iterable

from rdbtools.format.module import ModuleValue as ModuleValueGrammar
from rdbtools.model import Entry, Stream


def truth_bytes(value: Any) -> bytes:
    """Decode a binary-safe truth string: text, or {"b64": ...}."""
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return str(value).encode("utf-8")


def _sid(text: str) -> tuple[int, int]:
    ms, seq = text.split("-")
    return int(ms), int(seq)


def _fmt_id(sid: tuple[int, int]) -> str:
    return f"{sid[0]}-{sid[1]}"


def _scores_equal(ours: float, theirs: str) -> bool:
    expected = float(theirs)
    if math.isnan(expected):
        return math.isnan(ours)
    return ours == expected


def _module_items(raw: bytes) -> list:
    """A module value's typed items, strings decompressed: the same whether or not the server
    that wrote it had rdbcompression on."""
    parsed = ModuleValueGrammar.parse(raw)
    return [(item.opcode, item.value) for item in parsed["items"]]


def compare_value(entry: Entry, record: dict) -> list[str]:
    """Mismatches between one entry's value and the truth record's value."""
    kind = record["type"]
    value = record["value"]
    ours = entry.value
    if entry.type == "module":
        problems = []
        if ours.module_name != kind:
            problems.append(f"module type {ours.module_name!r} != {kind!r}")
        if "dump_b64" in record and record.get("_compare_module_raw", True):
            payload = base64.b64decode(record["dump_b64"])
            if _module_items(payload[1:-10]) != _module_items(ours.raw):
                problems.append("module value differs from the DUMP payload")
        return problems
    if entry.type != kind:
        return [f"type {entry.type!r} != {kind!r}"]
    if kind == "string":
        return [] if ours == truth_bytes(value) else [f"string {ours[:60]!r} != truth"]
    if kind == "list":
        return [] if ours == [truth_bytes(v) for v in value] else ["list elements differ"]
    if kind == "set":
        expected = sorted(truth_bytes(v) for v in value)
        return [] if sorted(ours) == expected else ["set members differ"]
    if kind == "hash":
        expected = sorted((truth_bytes(f), truth_bytes(v)) for f, v in value)
        problems = [] if sorted(ours) == expected else ["hash fields differ"]
        expected_ttls = {truth_bytes(f): ms for f, ms in record.get("field_expire_at_ms") or []}
        if (entry.field_expire_at_ms or {}) != expected_ttls:
            problems.append(f"field TTLs {entry.field_expire_at_ms} != {expected_ttls}")
        return problems
    if kind == "zset":
        ours_map = {m: s for m, s in ours}
        if len(ours_map) != len(ours) or len(ours) != len(value):
            return [f"zset has {len(ours)} members, truth {len(value)}"]
        for member, score in value:
            m = truth_bytes(member)
            if m not in ours_map or not _scores_equal(ours_map[m], score):
                return [f"zset member {m!r}: {ours_map.get(m)} != {score}"]
        return []
    if kind == "stream":
        return compare_stream(ours, value)
    if kind == "array":
        problems = []
        if ours != [(index, truth_bytes(v)) for index, v in value]:
            problems.append("array elements differ")
        # omitted in the truth when ARNEXT is 0, which is when the file stores no insert index
        want = record.get("array_next_insert_index")
        if entry.array_next_insert_index != want:
            problems.append(f"array next insert index {entry.array_next_insert_index} != {want}")
        return problems
    return [f"unexpected truth type {kind!r}"]


def compare_key_meta(entry: Entry, record: dict) -> list[str]:
    """Key metadata (opcode 243): every class's name, version, flags and exact bytes, in order."""
    want = record.get("key_meta")
    ours = entry.key_meta
    if want is None:
        return [] if ours is None else [f"key metadata {ours} where the truth has none"]
    if ours is None:
        return ["key metadata missing"]
    expected = [(m["class"], m["version"], m["flags"], truth_bytes(m["raw"])) for m in want]
    got = [(m.class_name, m.version, m.flags, m.raw) for m in ours]
    return [] if got == expected else [f"key metadata {got} != {expected}"]


_STREAM_ID = re.compile(r"\b\d+-\d+\b")


def _note_ids(note: str | None, pid: bytes, pids: list[bytes]) -> list[str] | None:
    """The stream IDs the truth's ``idmp_note`` lists for producer ``pid``: its part of the note
    ("<pid>: ... for the entries <id>, <id>", up to "; <another pid>:"), or None when the note
    says nothing of it."""
    text = (note or "").encode()
    start = text.find(pid + b":")
    if start < 0:
        return None
    ends = [text.find(b"; " + other + b":", start) for other in pids if other != pid]
    end = min([e for e in ends if e > start], default=len(text))
    return _STREAM_ID.findall(text[start:end].decode())


def compare_idmp(ours: Stream, value: dict) -> list[str]:
    """The IDMP state of a type 26/27 stream.  Producers the file keeps with no IIDs (8.10 writes
    them when all their IIDs expired) are not tracked by the server, so not in the truth.  A
    truth producer with ``"iids": null`` is an IDMPAUTO one, whose 16-byte XXH128 iids no
    command returns: there each iid must be 16 bytes and point at the entries ``idmp_note``
    names for it, and the counts must agree with ``iids_tracked``."""
    want = value["idmp"]
    idmp = ours.idmp
    if idmp is None:
        return ["stream IDMP state missing"]
    problems = []
    for name, got in (("duration", idmp.duration_s), ("max_size", idmp.max_size),
                      ("iids_added", idmp.iids_added), ("iids_duplicates", idmp.iids_duplicates)):
        if got != want[name]:
            problems.append(f"stream IDMP {name} {got} != {want[name]}")
    tracked = [p for p in idmp.producers if p.iids]
    if len(tracked) != want["pids_tracked"]:
        problems.append(f"stream IDMP pids tracked {len(tracked)} != {want['pids_tracked']}")
    if sum(len(p.iids) for p in tracked) != want["iids_tracked"]:
        problems.append(f"stream IDMP iids tracked != {want['iids_tracked']}")
    if [p.pid for p in tracked] != [truth_bytes(p["pid"]) for p in want["producers"]]:
        return problems + ["stream IDMP producers differ"]
    for producer, tp in zip(tracked, want["producers"]):
        got = [(iid, _fmt_id(sid)) for iid, sid in producer.iids]
        if tp["iids"] is not None:
            expected = [(truth_bytes(iid), sid) for iid, sid in tp["iids"]]
            if got != expected:
                problems.append(f"stream IDMP producer {producer.pid!r}: {got} != {expected}")
            continue
        ids = _note_ids(value.get("idmp_note"), producer.pid, [p.pid for p in idmp.producers])
        if any(len(iid) != 16 for iid, _ in got) or ids is None or [s for _, s in got] != ids:
            problems.append(f"stream IDMP producer {producer.pid!r} (IDMPAUTO): {got} vs the "
                            f"entries {ids}")
    return problems


def compare_stream(ours: Stream, value: dict) -> list[str]:
    problems = []
    entries = [[_fmt_id(e.id), [x for pair in e.fields for x in pair]] for e in ours.entries]
    expected = [[i, [truth_bytes(x) for x in fv]] for i, fv in value["entries"]]
    if entries != expected:
        problems.append("stream entries differ")
    info = value.get("info_full") or {}
    if ours.length != value["length"]:
        problems.append(f"stream length {ours.length} != {value['length']}")
    if "idmp" in value:  # type 26/27 streams (8.6.2+ truths)
        problems += compare_idmp(ours, value)
    checks = [
        ("last-generated-id", _fmt_id(ours.last_id)),
        ("max-deleted-entry-id", _fmt_id(ours.max_deleted_id)),
        ("entries-added", ours.entries_added),
        ("recorded-first-entry-id", _fmt_id(ours.first_id)),
    ]
    for name, got in checks:
        if name in info and info[name] != got:
            problems.append(f"stream {name} {got} != {info[name]}")
    groups = info.get("groups")
    if groups is None:
        return problems
    if [g.name for g in ours.groups] != [truth_bytes(g["name"]) for g in groups]:
        return problems + ["stream group names differ"]
    for group, tg in zip(ours.groups, groups):
        where = f"group {group.name!r}"
        if _fmt_id(group.last_id) != tg["last-delivered-id"]:
            problems.append(f"{where} last id")
        if "entries-read" in tg and group.entries_read != tg["entries-read"]:
            problems.append(f"{where} entries-read {group.entries_read} != {tg['entries-read']}")
        # a NACKed entry (8.10.2) is owned by no consumer; XINFO shows its consumer as ""
        pel = [[_fmt_id(p.id), b"" if p.consumer is None else p.consumer, p.delivery_time_ms,
                p.delivery_count] for p in group.pending]
        tpel = [[i, truth_bytes(c), t, n] for i, c, t, n in tg["pending"]]
        if sorted(pel) != sorted(tpel):
            problems.append(f"{where} PEL {pel} != {tpel}")
        if "nacked" in tg:  # type 27 streams (8.10.2 truths): the NACK zone in zone order
            nacked = None if group.nacked is None else [_fmt_id(i) for i in group.nacked]
            if nacked != tg["nacked"]:
                problems.append(f"{where} NACK zone {nacked} != {tg['nacked']}")
            unowned = sorted(_fmt_id(p.id) for p in group.pending if p.consumer is None)
            if unowned != sorted(tg["nacked"]):
                problems.append(f"{where} unowned PEL entries {unowned} != the NACK zone")
        by_id = {p.id: p for p in group.pending}
        consumers = []
        for c in group.consumers:
            row = [c.name, c.seen_time_ms,
                   [[_fmt_id(i), by_id[i].delivery_time_ms, by_id[i].delivery_count]
                    for i in c.pending]]
            consumers.append(row)
        tconsumers = [[truth_bytes(c["name"]), c["seen-time"], c["pending"]]
                      for c in tg["consumers"]]
        if sorted(consumers) != sorted(tconsumers):
            problems.append(f"{where} consumers {consumers} != {tconsumers}")
        for c, tc in zip(sorted(group.consumers, key=lambda c: c.name),
                         sorted(tg["consumers"], key=lambda c: truth_bytes(c["name"]))):
            if "active-time" in tc and c.active_time_ms != tc["active-time"]:
                problems.append(f"{where} consumer {c.name!r} active-time")
    return problems


def compare_entries(entries: Iterable[Entry], truth: dict, *, exact_idle: bool = False,
                    skip_module_raw: Iterable[str] = ()) -> list[str]:
    """Mismatches between all entries of a file and its ground truth document."""
    problems: list[str] = []
    ours = {(e.db, e.key): e for e in entries}
    expected: dict[tuple[int, bytes], dict] = {}
    for db, records in truth["dbs"].items():
        for record in records:
            expected[(int(db), truth_bytes(record["key"]))] = record
    for missing in sorted(set(expected) - set(ours)):
        problems.append(f"db {missing[0]} key {missing[1]!r}: missing from our read")
    for extra in sorted(set(ours) - set(expected)):
        problems.append(f"db {extra[0]} key {extra[1]!r}: not in the ground truth")
    skip_raw = set(skip_module_raw)
    for ident in sorted(set(ours) & set(expected)):
        entry, record = ours[ident], expected[ident]
        where = f"db {ident[0]} key {ident[1]!r}"
        if isinstance(record["key"], str) and record["key"] in skip_raw:
            record = {**record, "_compare_module_raw": False}
        for p in compare_value(entry, record) + compare_key_meta(entry, record):
            problems.append(f"{where}: {p}")
        if entry.rdb_type != record["rdb_type"]:
            problems.append(f"{where}: rdb_type {entry.rdb_type} != {record['rdb_type']}")
        want = record["expire_at_ms"]
        source = record.get("expire_source", "")
        if want is None or not source.startswith("approximate"):
            if entry.expire_at_ms != want:
                problems.append(f"{where}: expire {entry.expire_at_ms} != {want}")
        elif entry.expire_at_ms is None or abs(entry.expire_at_ms - want) > 5000:
            problems.append(f"{where}: expire {entry.expire_at_ms} !~ {want}")
        if "lru_idle_s" in record:
            if entry.idle_s is None or abs(entry.idle_s - record["lru_idle_s"]) > (
                    0 if exact_idle else 10):
                problems.append(f"{where}: idle {entry.idle_s} != {record['lru_idle_s']}")
        if "lfu_freq" in record:
            if entry.freq is None or not 0 <= entry.freq - record["lfu_freq"] <= 2:
                problems.append(f"{where}: freq {entry.freq} != {record['lfu_freq']}")
    return problems


def expected_after_write(truth: dict, result, ours: dict, saved: dict, same_version: bool) -> dict:
    """The truth minus what a write (``result``, a WriteResult) reported as lost, with our
    written type codes ``ours`` (the server must keep the encoding we chose: it is the one it
    writes itself).  Exceptions: a
    same-version copy of a hashtable-form value (2, 4, 5) is the source server's choice, which
    a reload may compact (Valkey 9 keeps a hash that once had field TTLs as a hashtable); and
    stream types before 21 have no consumer active-time at all."""
    lost: dict[tuple[int, bytes], list] = {}
    for loss in result.losses:
        if loss.key is not None:
            lost.setdefault((loss.db, loss.key), []).append(loss)
    dbs = {}
    for db, records in truth["dbs"].items():
        kept = []
        for record in records:
            ident = (int(db), truth_bytes(record["key"]))
            losses = lost.get(ident, [])
            if any(loss.dropped for loss in losses):
                continue
            written = ours[ident]
            if same_version and written in (2, 4, 5):
                written = saved.get(ident, written)
            record = dict(record, rdb_type=written)
            if record["type"] == "stream" and result.target.stream_type < 21:
                _strip_stream(record, ("active-time",))
            for loss in losses:
                if "field TTLs" in loss.what:
                    record.pop("field_expire_at_ms", None)
                elif record["type"] == "stream":
                    _strip_stream(record, ("recorded-first-entry-id", "max-deleted-entry-id",
                                           "entries-added", "entries-read"))
            kept.append(record)
        dbs[db] = kept
    return dict(truth, dbs=dbs)


def _strip_stream(record: dict, names: tuple[str, ...]) -> None:
    info = dict(record["value"].get("info_full") or {})
    for name in names:
        info.pop(name, None)
    groups = []
    for g in info.get("groups") or []:
        g = {k: v for k, v in g.items() if k not in names}
        g["consumers"] = [{k: v for k, v in c.items() if k not in names} for c in g["consumers"]]
        groups.append(g)
    if groups:
        info["groups"] = groups
    record["value"] = dict(record["value"], info_full=info)
