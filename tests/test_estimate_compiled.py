"""The compiled estimator (rdbtools/analysis/csrc/) against the pure-Python one it mirrors:
identical KeyMemory rows for every key of every corpus file for every server profile, and for
hypothesis-generated files written for every target; identical CSV / JSON Lines bytes from the
compiled row renderer.  The raw path (values sized from their bytes, not decoded) against the
decoding one: identical rows on the corpus and generated files, and on damaged files the same
rows up to the same error (type, offset, message).  Skipped when the extension is not built or
RDBTOOLS_PUREPYTHON is set."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools import open_rdb
from rdbtools.analysis.memory import compiled_estimator
from rdbtools.analysis.export import COLUMNS, write_memory
from rdbtools.analysis import memory
from rdbtools.analysis.memory import (DEFAULT_THRESHOLDS, PROFILES, FileEstimates, KeyMemory,
                                      MemoryEstimator, iter_estimates, profile_for)
from rdbtools.errors import ChecksumError
from rdbtools.model import (Entry, Stream, StreamConsumer, StreamEntry, StreamGroup,
                            StreamPendingEntry)
from rdbtools.rdb.writer import write_rdb

from strategies import big_element, element

compiled = compiled_estimator()
pytestmark = pytest.mark.skipif(compiled is None, reason="compiled estimator not built or disabled")

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _rows(kms) -> list[tuple]:
    return [(k.db, k.key, k.type, k.encoding, k.elements, k.memory_usage, k.largest_element,
             k.expire_at_ms, k.idle_s, k.freq, k.key_bytes, k.rdb_type) for k in kms]


def _both(source, server: str, config: dict | None = None) -> tuple[list, list, list]:
    """(pure rows, compiled rows, the entries the compiled estimator answered) of one file."""
    out = []
    answered: list[Entry] = []
    for use_compiled in (False, True):
        with open_rdb(source) as rdb:
            est = FileEstimates(rdb, None, server, config, None)
            estimator = MemoryEstimator(est.profile)
            if use_compiled:
                fast = estimator.compiled

                def counting(entry, buf, base):
                    km = fast(entry, buf, base)
                    if km is not None:
                        answered.append(entry)
                    return km

                estimator.compiled = counting
            else:
                estimator.compiled = None
            out.append(_rows(iter_estimates(rdb, list(est._first) + list(est._records), estimator)))
    return out[0], out[1], answered


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/rdb/*.rdb"))


#: record types a Redis 8 server writes in the encodings it keeps in memory (strings, quicklist
#: 2 lists, intset / listpack / plain sets, listpack / plain sorted sets and hashes): the
#: compiled estimator sizes every such key for a Redis 8 profile, 8.6+'s tracked accounting and
#: keys with module key metadata included
_OWN_ENCODINGS = {0, 2, 3, 4, 5, 11, 16, 17, 18, 20}


@pytest.mark.parametrize("server", sorted(PROFILES))
def test_corpus_compiled_equals_pure(server):
    files = _corpus_files()
    if not files:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    total = answered = 0
    redis8 = server.startswith("redis-8")
    for path in files:
        pure, fast, done = _both(path, server)
        assert fast == pure, path
        total += len(pure)
        answered += len(done)
        if redis8:
            got = {(e.db, e.key) for e in done}
            with open_rdb(path) as rdb:
                own = [e for e in rdb.iter_entries()
                       if e.rdb_type in _OWN_ENCODINGS and e.type in ("string", "list", "set", "zset", "hash")]
            assert all((e.db, e.key) in got for e in own), path
            meta = [e for e in own if e.key_meta]
            assert all((e.db, e.key) in got for e in meta)
    assert answered > total // 2  # the compiled code really answered most keys


def test_keymeta_corpus_is_compiled():
    """The 8.6.2 / 8.10.2 key-metadata files really exercise keys with metadata classes."""
    for version in ("redis-8.6.2", "redis-8.10.2"):
        path = CORPUS / version / "rdb" / "dump-keymeta.rdb"
        if not path.exists():
            pytest.skip(f"{path} not found")
        pure, fast, done = _both(path, version)
        assert fast == pure
        assert sum(bool(e.key_meta) for e in done) >= 3, version


# -- hypothesis: files written for every target, estimated for random profiles and thresholds --

_members = st.lists(st.one_of(element, big_element), max_size=40)
_value = {
    "string": st.one_of(element, big_element),
    "list": _members.filter(bool),
    "set": st.lists(st.one_of(element, big_element), min_size=1, max_size=40, unique=True),
    "zset": st.lists(st.tuples(element, st.floats(allow_nan=False)), min_size=1, max_size=40,
                     unique_by=lambda p: p[0]),
    "hash": st.lists(st.tuples(st.one_of(element, big_element), element), min_size=1, max_size=40,
                     unique_by=lambda p: p[0]),
}


@st.composite
def _entries(draw) -> list[Entry]:
    keys = draw(st.lists(st.binary(max_size=40), min_size=1, max_size=8, unique=True))
    out = []
    for key in keys:
        kind = draw(st.sampled_from(sorted(_value)))
        expire = draw(st.one_of(st.none(), st.integers(1, 2**62)))
        out.append(Entry(0, key, kind, draw(_value[kind]), expire))
    return out


_config = st.fixed_dictionaries({}, optional={
    name: st.sampled_from([0, 1, 2, 5, 64, 128, 512] if not name.startswith("list") else [-5, -2, -1, 1, 5, 128])
    for name in DEFAULT_THRESHOLDS})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=_entries(), target=st.sampled_from(["redis-6.2", "redis-7.0", "redis-7.2", "redis-7.4"]),
       server=st.sampled_from(sorted(PROFILES)), config=_config)
def test_generated_compiled_equals_pure(entries, target, server, config):
    buf = io.BytesIO()
    write_rdb(entries, buf, target)
    pure, fast, _ = _both(buf.getvalue(), server, config)
    assert fast == pure


# -- the raw path: values sized from their bytes against decoded values -------------------------

def _file_rows(path, server: str | None, raw: bool, config: dict | None = None) -> list:
    """Rows of ``FileEstimates`` over ``path``, ending with ("error", type, offset, message) when
    the read fails."""
    out: list = []
    try:
        with open_rdb(path) as rdb:
            est = FileEstimates(rdb, path, server, config, None, raw=raw)
            assert (est._raw is not None) == raw
            for k in est:
                out.append(_rows([k])[0])
    except Exception as err:  # noqa: BLE001 - compared, not handled
        out.append(("error", type(err).__name__, getattr(err, "offset", None), str(err)))
    return out


class _Counting:
    """Counts the keys the raw path answered and those it handed to the reader; with
    ``decline``, every other key is handed to the reader whatever the compiled code says."""

    def __init__(self, monkeypatch, decline: bool = False):
        self.answered = self.decoded = 0
        real_init = MemoryEstimator.__init__
        real_decode = memory.decode_raw
        counter = self

        def init(self_, profile):
            real_init(self_, profile)
            fast = self_.compiled_raw

            def counting(entry):
                km = fast(entry)
                if decline and (counter.answered + counter.decoded) % 2:
                    km = None
                counter.answered += km is not None
                return km

            self_.compiled_raw = counting

        def decode(rdb, entry):
            counter.decoded += 1
            return real_decode(rdb, entry)

        monkeypatch.setattr(MemoryEstimator, "__init__", init)
        monkeypatch.setattr(memory, "decode_raw", decode)


@pytest.mark.parametrize("server", sorted(PROFILES))
@pytest.mark.parametrize("decline", [False, True], ids=["raw", "half-declined"])
def test_corpus_raw_equals_decoded(server, decline, monkeypatch):
    files = _corpus_files()
    if not files:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    decoded = {path: _file_rows(path, server, False) for path in files}
    count = _Counting(monkeypatch, decline)
    total = 0
    for path in files:
        assert _file_rows(path, server, True) == decoded[path], path
        total += len(decoded[path])
    assert count.answered > total // (4 if decline else 2)  # the raw path really answered most keys
    if decline:
        assert count.decoded > total // 4  # ... and the reader decoded what it handed back


def test_bench_raw_equals_decoded(tmp_path):
    """The benchmark's keyspace (every category of benchmarks/make_dataset.py, 20,000 keys,
    written by a real Redis 7.0.15): raw and decoded estimates agree for three targets."""
    import subprocess
    import sys

    from servers import probe_server

    reason = probe_server("redis-7.0.15")
    if reason is not None:
        pytest.skip(reason)
    repo = Path(__file__).resolve().parents[1]
    path = tmp_path / "bench-20k.rdb"
    subprocess.run([sys.executable, str(repo / "benchmarks" / "make_dataset.py"), "--keys", "20000",
                    "-o", str(path)], check=True, capture_output=True, cwd=repo)
    for server in (None, "redis-6.2", "valkey-8.1"):
        assert _file_rows(path, server, True) == _file_rows(path, server, False)


_ids = st.lists(st.tuples(st.integers(0, 2**48), st.integers(0, 3)), min_size=1, max_size=12, unique=True)


@st.composite
def _streams(draw) -> Stream:
    ids = sorted(draw(_ids))
    same = draw(st.booleans())
    entries = [StreamEntry(i, [(b"f", v)] if same else draw(st.lists(st.tuples(element, element), max_size=3)))
               for i, v in zip(ids, draw(st.lists(element, min_size=len(ids), max_size=len(ids))))]
    groups = []
    for name in draw(st.lists(st.binary(max_size=8), max_size=3, unique=True)):
        pel = draw(st.lists(st.sampled_from(ids), unique=True, max_size=len(ids)))
        owners = draw(st.lists(st.binary(max_size=6), min_size=1, max_size=3, unique=True))
        pending = [StreamPendingEntry(i, owners[k % len(owners)], 1000 + k, 1 + k) for k, i in enumerate(pel)]
        consumers = [StreamConsumer(o, 5, 6, [pe.id for pe in pending if pe.consumer == o]) for o in owners]
        groups.append(StreamGroup(name, ids[-1], len(ids), pending, consumers))
    return Stream(entries, len(entries), ids[-1], ids[0], (0, 0), len(entries), groups)


@st.composite
def _raw_entries(draw) -> list[Entry]:
    out = draw(_entries())
    for key in draw(st.lists(st.binary(min_size=1, max_size=10).map(lambda k: b"s:" + k), max_size=3, unique=True)):
        out.append(Entry(0, key, "stream", draw(_streams())))
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
@given(entries=_raw_entries(), target=st.sampled_from(["redis-6.2", "redis-7.0", "redis-7.2", "redis-7.4", "valkey-8.1"]),
       server=st.sampled_from(sorted(PROFILES)), config=_config)
def test_generated_raw_equals_decoded(entries, target, server, config, tmp_path):
    path = tmp_path / "gen.rdb"
    write_rdb(entries, path, target)
    assert _file_rows(path, server, True, config) == _file_rows(path, server, False, config)


def test_damaged_raw_equals_decoded(tmp_path):
    """Random byte changes and truncations of corpus files: the raw path gives the same rows and
    then the same error as the decoding read."""
    files = _corpus_files()
    if not files:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    rng = random.Random(4)
    path = tmp_path / "damaged.rdb"
    failures = 0
    for _ in range(250):
        data = bytearray(rng.choice(files).read_bytes())
        for _ in range(rng.choice([1, 1, 2, 4])):
            data[rng.randrange(9, len(data))] = rng.randrange(256)
        if rng.random() < 0.1:
            data = data[: rng.randrange(9, len(data))]
        path.write_bytes(bytes(data))
        server = rng.choice([None, "redis-6.2", "redis-7.0", "redis-7.4", "valkey-8.1"])
        decoded = _file_rows(path, server, False)
        assert _file_rows(path, server, True) == decoded, bytes(data).hex()
        failures += decoded[-1][0] == "error" and decoded[-1][1] != ChecksumError.__name__
    assert failures > 50  # value damage the raw path had to hand back, not just CRC mismatches


# -- row rendering ------------------------------------------------------------------------------

_text = st.one_of(st.none(), st.integers(-2**70, 2**70), st.text(max_size=6))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(st.builds(
    KeyMemory, db=st.integers(0, 20), key=st.binary(max_size=30) | st.text(max_size=20).map(str.encode),
    type=st.sampled_from(["string", "hash"]), encoding=st.text(max_size=8), elements=st.integers(0, 2**65),
    memory_usage=st.integers(0, 2**40), largest_element=st.integers(0, 9), expire_at_ms=_text.filter(
        lambda v: not isinstance(v, str))), max_size=5))
def test_render_rows_equals_csv_and_json(rows):
    for fmt in ("csv", "jsonl"):
        text = io.StringIO(newline="")
        if fmt == "csv":
            w = csv.writer(text)
            w.writerow(COLUMNS)
            for r in rows:
                w.writerow((r.db, r.key.decode("utf-8", "backslashreplace"), r.type, r.encoding, r.elements,
                            r.memory_usage, r.largest_element, "" if r.expire_at_ms is None else r.expire_at_ms))
        else:
            for r in rows:
                d = r.to_dict()
                d["key"] = r.key.decode("utf-8", "backslashreplace")
                text.write(json.dumps(d, ensure_ascii=False) + "\n")
        out = io.BytesIO()
        assert write_memory(rows, out, fmt) == len(rows)
        assert out.getvalue() == text.getvalue().encode("utf-8")


def test_profiles_are_configurable():
    """Every profile (with overrides) builds a compiled estimator."""
    for name in PROFILES:
        assert MemoryEstimator(profile_for(name, config={"list-max-listpack-size": 5})).compiled is not None
