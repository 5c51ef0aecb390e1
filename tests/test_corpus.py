"""Conformance: every RDB in the shared corpus reads back exactly as the server that wrote it
said it held it (ground truth captured from the live server), in every reading mode."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rdbtools import open_rdb
from truth import compare_entries, truth_bytes

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")


def _rdbs(pattern: str) -> list[Path]:
    return sorted(CORPUS.glob(pattern)) if CORPUS.is_dir() else []


TRUTH_RDBS = [p for p in _rdbs("*/**/rdb/*.rdb") if p.with_suffix(".json").exists()]
ALL_RDBS = _rdbs("**/*.rdb")
LEGACY = [p for p in _rdbs("legacy/**/*.rdb")]


def _id(path: Path) -> str:
    return str(path.relative_to(CORPUS))


# ts:temp and ts:temp:avg: the corpus notes their dump_b64 is not byte-identical to the file.
UNSTABLE_MODULE_DUMPS = ("ts:temp", "ts:temp:avg")


@pytest.mark.parametrize("path", TRUTH_RDBS, ids=_id)
def test_rdb_matches_ground_truth(path: Path) -> None:
    truth = json.loads(path.with_suffix(".json").read_text())
    with open_rdb(path) as rdb:
        entries = list(rdb.iter_entries())
        assert rdb.magic == truth["magic"]
        assert rdb.version == truth["rdb_version"]
        assert rdb.checksum == "ok"
    problems = compare_entries(entries, truth, skip_module_raw=UNSTABLE_MODULE_DUMPS)
    assert problems == []
    if "functions" in truth:
        with open_rdb(path) as rdb:
            list(rdb.iter_records())
            codes = sorted(f.code for f in rdb.functions)
            names = sorted(f.library_name for f in rdb.functions)
        assert codes == sorted(f["library_code"].encode() for f in truth["functions"])
        assert names == sorted(f["library_name"] for f in truth["functions"])


@pytest.mark.parametrize("path", TRUTH_RDBS, ids=_id)
def test_aux_fields_name_the_server(path: Path) -> None:
    truth = json.loads(path.with_suffix(".json").read_text())
    with open_rdb(path, values="sizes") as rdb:
        list(rdb.iter_records())
        aux = {a.key: a.value for a in rdb.aux}
    server = truth["server"]
    if server["server_name"] == "valkey":
        assert aux[b"valkey-ver"].decode() == server["valkey_version"]
    else:
        assert aux[b"redis-ver"].decode() == server["redis_version"]
    assert aux[b"redis-bits"] == b"64"


@pytest.mark.parametrize("path", ALL_RDBS, ids=_id)
def test_every_mode_agrees(path: Path) -> None:
    """full, sizes and lazy reads see the same keys with the same element counts, and the
    checksum of every file (AOF base RDBs included) verifies."""
    with open_rdb(path) as rdb:
        full = [(e.db, e.key, e.type, e.rdb_type, e.expire_at_ms, e.length, e.offset, e.size)
                for e in rdb.iter_entries()]
        status = rdb.checksum
    with open_rdb(path, values="sizes") as rdb:
        sizes = [(e.db, e.key, e.type, e.rdb_type, e.expire_at_ms, e.length, e.offset, e.size)
                 for e in rdb.iter_entries()]
    lazy_entries = []
    with open_rdb(path, values="lazy") as rdb:
        for e in rdb.iter_entries():
            if e.length == -1:
                e.length = sum(1 for _ in e.value)
            lazy_entries.append(e)
    lazy = [(e.db, e.key, e.type, e.rdb_type, e.expire_at_ms, e.length, e.offset, e.size)
            for e in lazy_entries]
    assert sizes == full
    assert lazy == full
    head = path.read_bytes()[:9]
    version = int(head[5:9]) if head[:5] == b"REDIS" else 80
    if version < 5:
        assert status == "absent"
    elif "legacy" in path.parts:
        assert status in ("ok", "disabled")  # redis_40_with_module.rdb stores a zero CRC
    else:
        assert status == "ok"



def _legacy_expectation(entry, expect) -> list[str]:
    if isinstance(expect, str):
        return [] if entry.value == expect.encode() else [f"value {entry.value!r} != {expect!r}"]
    problems = []
    if entry.type != expect["type"]:
        return [f"type {entry.type} != {expect['type']}"]
    value = entry.value
    if "len" in expect:
        length = value.length if entry.type == "stream" else len(
            value.raw if entry.type == "module" else value)
        if length != expect["len"]:
            problems.append(f"len {length} != {expect['len']}")
    if "value" in expect:
        want = expect["value"]
        if entry.type == "string":
            ok = value == want.encode()
        elif entry.type == "set":
            ok = sorted(value) == sorted(str(m).encode() for m in want)
        elif entry.type == "list":
            ok = value == [str(m).encode() for m in want]
        elif entry.type == "zset":
            ok = {m: s for m, s in value} == {m.encode(): float(s) for m, s in want.items()}
        elif entry.type == "hash":
            ok = dict(value) == {k.encode(): str(v).encode() for k, v in want.items()}
        else:
            ok = False
        if not ok:
            problems.append(f"value {value!r} != {want!r}")
    for field, want in (expect.get("value_subset") or {}).items():
        if dict(value).get(field.encode()) != str(want).encode():
            problems.append(f"field {field} != {want!r}")
    for item in expect.get("contains") or []:
        if str(item).encode() not in value:
            problems.append(f"{item!r} not in the list")
    for member, score in (expect.get("score_of") or {}).items():
        if dict(value).get(member.encode()) != float(score):
            problems.append(f"score of {member}")
    if "expiry_utc" in expect:
        want = datetime.fromisoformat(expect["expiry_utc"]).replace(tzinfo=timezone.utc)
        if entry.expire_at_ms != round(want.timestamp() * 1000):
            problems.append(f"expiry {entry.expire_at_ms} != {expect['expiry_utc']}")
    if "module_name" in expect and value.module_name != expect["module_name"]:
        problems.append(f"module {value.module_name} != {expect['module_name']}")
    for field, length in (expect.get("value_lengths") or {}).items():
        if len(dict(value)[field.encode()]) != length:
            problems.append(f"length of field {field}")
    return problems


@pytest.mark.parametrize("path", LEGACY, ids=_id)
def test_legacy_file_matches_its_sidecar(path: Path) -> None:
    with open_rdb(path) as rdb:
        entries = list(rdb.iter_entries())
        version = rdb.version
    sidecar = path.with_name(path.name + ".expect.json")
    if not sidecar.exists():
        assert entries or path.name == "redis_60_with_module_aux.rdb"
        return
    expect = json.loads(sidecar.read_text())
    if "rdb_version" in expect:
        assert version == expect["rdb_version"]
    by_db: dict[int, dict[bytes, object]] = {}
    for e in entries:
        by_db.setdefault(e.db, {})[e.key] = e
    problems = []
    for db_name, keys in expect.items():
        if not db_name.startswith("db"):
            continue
        db = int(db_name[2:])
        for key, exp in keys.items():
            entry = by_db.get(db, {}).get(key.encode())
            if entry is None:
                problems.append(f"{db_name} {key}: missing")
                continue
            problems += [f"{db_name} {key}: {p}" for p in _legacy_expectation(entry, exp)]
    assert problems == []


def test_legacy_parser_filters_keys() -> None:
    path = CORPUS / "legacy/redis-rdb-tools/parser_filters.rdb"
    with open_rdb(path) as rdb:
        entries = {e.key: e for e in rdb.iter_entries()}
    import re
    matching = {k: e.value for k, e in entries.items() if re.fullmatch(rb"k[0-9]", k)}
    assert matching == {b"k1": b"ssssssss", b"k3": b"wwwwwwww"}
    assert sorted(k for k, e in entries.items() if e.type == "zset") == [b"z1", b"z2", b"z3", b"z4"]


def test_legacy_module_aux() -> None:
    path = CORPUS / "legacy/redis-rdb-tools/redis_60_with_module_aux.rdb"
    with open_rdb(path) as rdb:
        records = list(rdb.iter_records())
    assert [(m.module_name, m.encver) for m in rdb.module_aux] == [("test__rdb", 1)]
    assert not any(r.__class__.__name__ == "Entry" for r in records)


def test_legacy_stream_listpacks() -> None:
    path = CORPUS / "legacy/redis-rdb-tools/redis_50_with_streams.rdb"
    with open_rdb(path) as rdb:
        stream = next(e for e in rdb.iter_entries() if e.key == b"mystream").value
    assert stream.length == 4 == len(stream.entries)
    assert stream.first_id == stream.entries[0].id


def test_uncompressible_string_key_lengths() -> None:
    path = CORPUS / "legacy/redis-rdb-tools/uncompressible_string_keys.rdb"
    with open_rdb(path) as rdb:
        lengths = sorted(len(e.key) for e in rdb.iter_entries())
    assert lengths == [60, 16382, 16386]


def test_integer_key_names() -> None:
    path = CORPUS / "legacy/redis-rdb-tools/integer_keys.rdb"
    with open_rdb(path) as rdb:
        keys = sorted(int(e.key) for e in rdb.iter_entries())
    assert keys == sorted([125, 43947, 183358245, -123, -29477, -183358245])


def test_truth_bytes_helper() -> None:
    assert truth_bytes({"b64": "AP8="}) == b"\x00\xff"
    assert truth_bytes("é") == "é".encode()
