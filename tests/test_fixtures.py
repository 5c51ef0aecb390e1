"""The project's own fixtures (written by real servers with fixtures/generate.py) read back as the
live server reported them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdbtools import open_rdb
from truth import compare_entries

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PAIRS = sorted(
    (rdb, rdb.with_name(rdb.name.replace("dump", "expected").replace(".rdb", ".json")))
    for rdb in FIXTURES.glob("*/dump*.rdb")
)


@pytest.mark.parametrize("rdb,truth", PAIRS, ids=[str(p[0].relative_to(FIXTURES)) for p in PAIRS])
def test_fixture_matches_what_the_server_said(rdb: Path, truth: Path) -> None:
    expected = json.loads(truth.read_text())
    with open_rdb(rdb) as reader:
        entries = list(reader.iter_entries())
        assert reader.checksum == "ok"
        assert (reader.magic, reader.version) == (expected["magic"], expected["rdb_version"])
    assert compare_entries(entries, expected) == []


def test_every_server_has_a_fixture() -> None:
    assert {p.parent.name for p, _ in PAIRS} >= {"redis-6.2.5", "redis-7.0.15", "redis-8.2.3",
                                                  "valkey-8.1.8", "valkey-9.1.2"}
