"""``RESTORE`` commands (RestoreWriter, ``rdbtool dump -f restore``): the command shapes, and
the backbone: every corpus file's commands for every installed server, piped into that real
server through a real connection (``redis-cli --pipe`` when installed, else redis-py sending
the bytes), then SAVEd and compared key by key with the ground truth minus what was reported
lost (values, TTLs, field TTLs where the target has them, LRU/LFU data)."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from rdbtools import open_rdb
from rdbtools.ops.convert import convert
from rdbtools.errors import EncodeError
from rdbtools.format.resp import parse_commands
from rdbtools.model import Entry, Function, ModuleAux
from rdbtools.rdb.targets import get_target
from rdbtools.rdb.writer import RestoreWriter, dump_payload, write_restore
from rdbtools_cli.rdbtool import rdbtool
from servers import SERVER_SPECS, RedisServer, probe_server
from truth import compare_entries
from truth_losses import expected_after_losses, unreported_losses

CORPUS = Path(__file__).resolve().parents[1].parent / "shared" / "corpus"
SERVER_TARGETS = {"redis-6.2.5": "redis-6.2", "redis-7.0.15": "redis-7.0",
                  "redis-7.4.1": "redis-7.4", "redis-8.2.3": "redis-8.2",
                  "redis-8.6.2": "redis-8.6", "redis-8.10.2": "redis-8.10",
                  "valkey-8.1.8": "valkey-8.1", "valkey-9.1.2": "valkey-9.1"}
RELOAD_UNSTABLE = ("vset:noquant", "vset:q8")  # Redis 8.2 re-serialises vector sets
FILES = sorted(p for p in CORPUS.glob("*/rdb/dump*.rdb")
               if p.stem in ("dump", "dump-lru", "dump-lfu", "dump-keymeta")
               and p.with_suffix(".json").exists()) \
    if CORPUS.is_dir() else []


def commands(data: bytes) -> list[list[bytes]]:
    out, _, pos = parse_commands(data, 0, len(data) + 1)
    assert pos == len(data)
    return out


def restore(records, target="redis-7.4", **options) -> tuple[list[list[bytes]], object]:
    buf = io.BytesIO()
    result = write_restore(records, buf, target, **options)
    return commands(buf.getvalue()), result


# -- command shapes ----------------------------------------------------------------------------

def test_restore_command_shapes():
    entries = [Entry(0, b"a", "string", b"bar"),
               Entry(0, b"b", "string", b"x", expire_at_ms=4102444800000, idle_s=7),
               Entry(3, b"c", "list", [b"1"], freq=5),
               Entry(3, b"d", "string", b"y", expire_at_ms=0, idle_s=1, freq=2)]
    cmds, result = restore(entries, "redis-7.4", replace=True)
    assert cmds[0] == [b"SELECT", b"0"]
    assert cmds[1] == [b"RESTORE", b"a", b"0", dump_payload(entries[0], "redis-7.4"), b"REPLACE"]
    assert cmds[2][2:] == [b"4102444800000", cmds[2][3], b"ABSTTL", b"REPLACE", b"IDLETIME", b"7"]
    assert cmds[3] == [b"SELECT", b"3"]
    assert cmds[4][-2:] == [b"FREQ", b"5"] and cmds[4][2] == b"0"
    # an expiry at or before the epoch is still an expiry (ttl 0 would mean none)
    assert cmds[5][2] == b"1" and cmds[5][-2:] == [b"IDLETIME", b"1"]
    assert [str(loss) for loss in result.losses] == [
        "db 3 key b'd': LFU counter (RESTORE takes IDLETIME or FREQ, not both)"]
    assert result.keys == 4


def test_restore_payload_version_follows_the_target():
    entry = Entry(0, b"k", "string", b"bar")
    for target, version in (("redis-6.2", 9), ("redis-7.0", 10), ("redis-8.6", 13),
                            ("redis-8.10", 15), ("valkey-9.1", 80)):
        (_, cmd), _ = restore([entry], target)
        assert int.from_bytes(cmd[3][-10:-8], "little") == version


def test_functions_module_aux_and_losses():
    lib = Function(b"#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    aux = ModuleAux("ReJSON-RL", 0, 1, 2, b"")
    cmds, result = restore([lib, aux, Entry(0, b"h", "hash", [(b"f", b"v")],
                                            field_expire_at_ms={b"f": 4102444800000})],
                           "redis-7.0")
    assert cmds[0] == [b"FUNCTION", b"LOAD", lib.code]
    assert [loss.what.split(" (")[0] for loss in result.losses] == [
        "module aux data of 'ReJSON-RL'", "field TTLs of 1 field(s)"]
    cmds, result = restore([lib], "redis-6.2")
    assert cmds == [] and result.losses[0].dropped
    with pytest.raises(EncodeError, match="function library"):
        restore([lib], "redis-6.2", unwritable="fail")


def test_cli_restore_and_usage_errors(tmp_path):
    src = CORPUS / "redis-7.0.15" / "rdb" / "dump.rdb"
    if not src.exists():
        pytest.skip("corpus absent")
    run = CliRunner().invoke
    out = tmp_path / "r.resp"
    result = run(rdbtool, ["dump", str(src), "-f", "restore", "-t", "redis-6.2", "-o", str(out),
                           "--type", "string"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    cmds = commands(out.read_bytes())
    assert cmds[0][0] == b"SELECT" and {c[0] for c in cmds[1:]} <= {b"RESTORE", b"SELECT"}
    assert run(rdbtool, ["dump", str(src), "-f", "jsonl", "-t", "redis-6.2"]).exit_code == 2
    assert run(rdbtool, ["dump", str(src), "-f", "resp", "--replace"]).exit_code == 2
    assert run(rdbtool, ["dump", str(src), "-f", "restore", "-t", "redis-5"]).exit_code == 2
    strict = run(rdbtool, ["dump", str(CORPUS / "redis-7.4.1" / "rdb" / "dump.rdb"), "-f",
                           "restore", "-t", "redis-7.0", "--strict"])
    assert strict.exit_code == 1 and "cannot hold" in strict.stderr


# -- the backbone: corpus x installed servers --------------------------------------------------

def pipe_into(srv: RedisServer, data: bytes) -> tuple[int, int]:
    """(errors, replies) of sending ``data`` to the server as a client would."""
    cli = shutil.which("redis-cli")
    if cli is not None:
        done = subprocess.run([cli, "-p", str(srv.port), "--pipe"], input=data,
                              capture_output=True, timeout=120)
        text = done.stdout.decode(errors="replace")
        assert "errors:" in text, text + done.stderr.decode(errors="replace")
        tail = text.rsplit("errors:", 1)[1]
        errors, replies = (int(x.split(":")[-1]) for x in tail.strip().split(","))
        return errors, replies
    import redis

    conn = srv.client.connection_pool.get_connection("RESTORE")
    try:
        conn.send_packed_command(data)
        errors = replies = 0
        for _ in commands(data):
            try:
                conn.read_response()
            except redis.ResponseError:
                errors += 1
            replies += 1
        return errors, replies
    finally:
        srv.client.connection_pool.release(conn)


def _matrix():
    for path in FILES:
        for spec in SERVER_SPECS:
            if spec.name in SERVER_TARGETS:
                yield pytest.param(path, spec, id=f"{path.relative_to(CORPUS)}->{spec.name}")


@pytest.mark.server
@pytest.mark.parametrize("path, spec", list(_matrix()))
def test_restore_into_real_servers(path: Path, spec):
    reason = probe_server(spec.name)
    if reason is not None:
        pytest.skip(reason)
    truth = json.loads(path.with_suffix(".json").read_text())
    target = get_target(SERVER_TARGETS[spec.name])
    # no modules= given: these files hold no module values but vector sets, which the target
    # table knows to be built into Redis 8.0+ (and lost, reported, for the others)
    buf = io.BytesIO()
    with open_rdb(path) as rdb:
        header = (rdb.version, rdb.valkey)
        writer = RestoreWriter(buf, target, source=header)
        result = writer.write_all(rdb.iter_records(raw_types=writer.raw_types))
    data = buf.getvalue()
    assert result.raw_copies > 0 and result.modules_to_load == {}
    n = len(commands(data))
    # the encodings chosen are the RDB writer's: read them off a converted copy
    converted = io.BytesIO()
    convert(path, converted, to="rdb", target=target)
    with open_rdb(converted.getvalue()) as rdb:
        ours = {(e.db, e.key): e.rdb_type for e in rdb.iter_entries()}
    policy = (truth.get("variant_config") or {}).get("maxmemory-policy")
    with RedisServer(spec, {"maxmemory-policy": policy} if policy else {}) as srv:
        assert pipe_into(srv, data) == (0, n)
        with open_rdb(srv.save()) as rdb:
            entries = list(rdb.iter_entries())
        if "functions" in truth and target.functions:
            libs = srv.execute("FUNCTION", "LIST", "WITHCODE")
            assert sorted(lib[lib.index(b"library_code") + 1] for lib in libs) == \
                sorted(f["library_code"].encode() for f in truth["functions"])
    saved = {(e.db, e.key): e.rdb_type for e in entries}
    same_version = header == (target.rdb_version, target.valkey)
    assert unreported_losses(truth, result) == []
    expected = expected_after_losses(truth, result, ours, saved, same_version, entries)
    assert compare_entries(entries, expected, skip_module_raw=RELOAD_UNSTABLE) == []


def test_cli_restore_vector_sets_need_redis_8(tmp_path):
    """``dump -f restore`` of a Redis 8.2 file for an older target: the vector sets (module
    type vectorset, built into Redis 8.0+) were sent as RESTORE payloads the target refuses;
    now they are reported left out, and --unwritable fail / --strict stop."""
    src = CORPUS / "redis-8.2.3" / "rdb" / "dump.rdb"
    if not src.exists():
        pytest.skip("corpus absent")
    run = CliRunner().invoke
    for target, kept in (("redis-7.4", False), ("valkey-9.1", False), ("redis-8.6", True)):
        out = tmp_path / f"{target}.resp"
        result = run(rdbtool, ["dump", str(src), "-f", "restore", "-t", target, "-o", str(out)],
                     catch_exceptions=False)
        assert result.exit_code == 0, result.output
        restored = {c[1] for c in commands(out.read_bytes()) if c[0] == b"RESTORE"}
        assert ({b"vset:q8", b"vset:noquant"} <= restored) == kept
        lines = [line for line in result.stderr.splitlines() if "vectorset" in line]
        assert len(lines) == (0 if kept else 2) and all("(dropped)" in line for line in lines)
        if not kept:
            for option in (["--unwritable", "fail"], ["--strict"]):
                failed = run(rdbtool, ["dump", str(src), "-f", "restore", "-t", target,
                                       "-o", str(tmp_path / "no.resp"), *option])
                assert failed.exit_code == 1 and "cannot hold" in failed.stderr
                assert not (tmp_path / "no.resp").exists()
    # the file's own version: RDB 12 with vector sets is Redis 8.2's; nothing is lost
    same = run(rdbtool, ["dump", str(src), "-f", "restore", "-o", str(tmp_path / "own.resp")])
    assert same.exit_code == 0 and "vectorset" not in same.stderr
