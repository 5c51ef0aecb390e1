"""The compiled estimator (rdbtools/analysis/_estimate.c) against the pure-Python one it mirrors:
identical KeyMemory rows for every key of every corpus file for every server profile, and for
hypothesis-generated files written for every target; identical CSV / JSON Lines bytes from the
compiled row renderer.  Skipped when the extension is not built or RDBTOOLS_PUREPYTHON is set."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rdbtools import open_rdb
from rdbtools._accel import compiled_estimator
from rdbtools.analysis.export import COLUMNS, write_memory
from rdbtools.analysis.memory import (DEFAULT_THRESHOLDS, PROFILES, FileEstimates, KeyMemory,
                                      MemoryEstimator, iter_estimates, profile_for)
from rdbtools.model import Entry
from rdbtools.writer import write_rdb

from strategies import big_element, element

compiled = compiled_estimator()
pytestmark = pytest.mark.skipif(compiled is None, reason="compiled estimator not built or disabled")

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def _rows(kms) -> list[tuple]:
    return [(k.db, k.key, k.type, k.encoding, k.elements, k.memory_usage, k.largest_element,
             k.expire_at_ms, k.idle_s, k.freq, k.key_bytes, k.rdb_type) for k in kms]


def _both(source, server: str, config: dict | None = None) -> tuple[list, list, int]:
    """(pure rows, compiled rows, keys the compiled estimator answered) of one file."""
    out = []
    answered = 0
    for use_compiled in (False, True):
        with open_rdb(source) as rdb:
            est = FileEstimates(rdb, None, server, config, None)
            estimator = MemoryEstimator(est.profile)
            if use_compiled:
                fast = estimator.compiled

                def counting(entry, buf, base):
                    nonlocal answered
                    km = fast(entry, buf, base)
                    answered += km is not None
                    return km

                estimator.compiled = counting
            else:
                estimator.compiled = None
            out.append(_rows(iter_estimates(rdb, list(est._first) + list(est._records), estimator)))
    return out[0], out[1], answered


def _corpus_files() -> list[Path]:
    return sorted(CORPUS.glob("*/rdb/*.rdb"))


@pytest.mark.parametrize("server", sorted(PROFILES))
def test_corpus_compiled_equals_pure(server):
    files = _corpus_files()
    if not files:
        pytest.skip(f"shared corpus not found at {CORPUS}")
    total = answered = 0
    for path in files:
        pure, fast, n = _both(path, server)
        assert fast == pure, path
        total += len(pure)
        answered += n
    assert answered > total // 2  # the compiled code really answered most keys


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
