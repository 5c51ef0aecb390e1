"""Differential tests against real servers: random datasets straddling every encoding threshold
are created on each installed Redis/Valkey, SAVEd, read back by rdbtools and compared with what
the live server returns for every key (values, TTLs, field TTLs, stream groups and PELs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from capture import capture_dbs
from rdbtools import open_rdb
from servers import RedisServer
from strategies import dataset, live_examples
from truth import compare_entries

pytestmark = pytest.mark.server


@pytest.fixture(scope="module")
def live_server(server_spec, tmp_path_factory):
    with RedisServer(server_spec, workdir=tmp_path_factory.mktemp(server_spec.name)) as srv:
        yield srv


def _field_ttls_supported(spec) -> bool:
    return spec.version >= ((9, 0, 0) if spec.is_valkey else (7, 4, 0))


def _load(srv: RedisServer, data) -> dict:
    """Create the dataset; return the absolute expiries that were set (for servers without
    PEXPIRETIME the truth uses them)."""
    x = srv.execute
    x("FLUSHALL")
    expiries = {}
    field_ttls = _field_ttls_supported(srv.spec)
    for db, spec in data:
        x("SELECT", db)
        for command in spec.commands:
            x(*command)
        if spec.expire_at_ms is not None:
            x("PEXPIREAT", spec.key, spec.expire_at_ms)
            expiries[(db, spec.key)] = spec.expire_at_ms
        if field_ttls:
            for field, at in spec.field_ttls.items():
                x("HPEXPIREAT", spec.key, at, "FIELDS", 1, field)
    x("SELECT", 0)
    return expiries


@settings(max_examples=live_examples(8), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=dataset())
def test_random_dataset_reads_as_the_server_holds_it(live_server, data) -> None:
    expiries = _load(live_server, data)
    path = live_server.save()
    truth = {"dbs": capture_dbs(live_server, expiries)}
    with open_rdb(path) as rdb:
        entries = list(rdb.iter_entries())
        assert rdb.checksum == "ok"
        assert rdb.magic.encode() + (b"%03d" if rdb.magic == "VALKEY" else b"%04d") % rdb.version \
            == live_server.spec.rdb_magic
    assert compare_entries(entries, truth) == []


@pytest.mark.slow
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=dataset(max_keys=30))
def test_random_dataset_exhaustive(live_server, data) -> None:
    test_random_dataset_reads_as_the_server_holds_it.hypothesis.inner_test(live_server, data)
