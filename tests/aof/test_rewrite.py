"""Offline rewrite (rdbtools.aof.rewrite) against real servers.

* Every AOF variant of the corpus (module-free), rewritten in place, loads in every installed
  server that can read it, with the dataset of the ground truth, key by key; the rewrite is
  smaller than the original.
* ``kill -9`` of a rewrite at random moments: the directory always loads the full dataset.
* The directory follows the server's rules: names, sequence numbers, history order,
  ``--keep-history``, Redis 8 replication offsets, ``-o`` and single files.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from aof_servers import CORPUS, aof_of, load_in_server, skip_reason, writable_copy
from rdbtools.aof import open_aof, read_aof
from rdbtools.aof.manifest import read_manifest
from rdbtools.aof.rewrite import rewrite_aof
from rdbtools.errors import AofTruncatedError, EncodeError
from servers import SERVER_SPECS, RedisServer, spec_by_name
from test_corpus_aof import EXPECTED, _profile
from truth import _note_ids, compare_entries, truth_bytes

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")
REPO = Path(__file__).resolve().parents[2]

VARIANTS = sorted(p for p in CORPUS.glob("*/aof/*") if p.is_dir()) if CORPUS.is_dir() else []


def readers(variant: Path) -> list[str]:
    """The installed-or-not servers that load the variant's AOF (RDB version and commands)."""
    name = variant.parts[-3]
    family, version = name.split("-")
    v = tuple(int(x) for x in version.split("."))
    newer_redis = [s.name for s in SERVER_SPECS if not s.is_valkey and s.version >= v]
    if family == "valkey":
        return ["valkey-8.1.8", "valkey-9.1.2", "redis-8.2.3"] if v < (9, 0, 0) else [name]
    if v >= (7, 4, 0):
        return newer_redis  # RDB 12 / field TTLs: no installed Valkey loads them
    if v >= (7, 2, 0):
        return [n for n in newer_redis if n != "redis-7.0.15"] + ["valkey-8.1.8", "valkey-9.1.2"]
    return newer_redis + ["valkey-8.1.8", "valkey-9.1.2"]


CASES = [(v, s) for v in VARIANTS for s in readers(v)]


def _id(case) -> str:
    return f"{case.relative_to(CORPUS)}" if isinstance(case, Path) else case


def _expire_idmp(truth: dict, now_ms: int) -> dict:
    """The truth as a Redis 8.6+ server holds it once its cron has dropped the IIDs older than
    their stream's IDMP duration (handleExpiredIdmpEntries(), t_stream.c): the corpus was
    captured days before this machine's clock, so a server loading it drops them all; the
    all-time counters stay."""
    truth = json.loads(json.dumps(truth))
    for records in truth["dbs"].values():
        for rec in records:
            idmp = rec["value"].get("idmp") if rec["type"] == "stream" else None
            if not idmp:
                continue
            horizon = now_ms - idmp["duration"] * 1000
            pids = [truth_bytes(p["pid"]) for p in idmp["producers"]]
            kept, tracked = [], 0
            for p, pid in zip(idmp["producers"], pids):
                # IDMPAUTO producers: their entries are listed in idmp_note
                ids = [x[1] for x in p["iids"]] if p["iids"] is not None else \
                    _note_ids(rec["value"].get("idmp_note"), pid, pids) or []
                live = [i for i in ids if int(i.split("-")[0]) > horizon]
                if p["iids"] is not None:
                    p["iids"] = [x for x in p["iids"] if x[1] in live]
                if live:
                    kept.append(p)
                    tracked += len(live)
            idmp["producers"] = kept
            idmp["pids_tracked"] = len(kept)
            idmp["iids_tracked"] = tracked
    return truth


def _truth_problems(entries, truth: dict, variant: Path, same_server: bool) -> list[str]:
    """compare_entries, without what an AOF cannot carry or another server encodes differently:
    stream consumer seen/active times (the server that loads the rewrite stamps its own clock
    on consumers it rebuilds from XCLAIM), and, across servers, the RDB type."""
    records = {(int(db), truth_bytes(r["key"])): r for db, rs in truth["dbs"].items() for r in rs}
    for e in entries:
        rec = records.get((e.db, e.key))
        if e.type != "stream" or rec is None or rec["type"] != "stream":
            continue
        groups = {truth_bytes(g["name"]): g for g in rec["value"]["info_full"].get("groups", [])}
        for g in e.value.groups:
            for c in g.consumers:
                t = {truth_bytes(x["name"]): x for x in groups.get(g.name, {}).get("consumers", [])}.get(c.name)
                if t is not None:
                    c.seen_time_ms = t["seen-time"]
                    c.active_time_ms = t.get("active-time", c.active_time_ms)
    # Redis 8.2 re-serialises vector sets when it saves them (tests/test_writer.py)
    problems = compare_entries(entries, truth, skip_module_raw=("vset:noquant", "vset:q8"))
    # the rewrite keeps values, not encoding history: a hash whose field TTLs were all removed
    # is written as a plain hash (docs/aof.md), as the server's own RESP rewrite does
    problems = [p for p in problems if "b'hfe:persisted': rdb_type" not in p]
    if not same_server:
        problems = [p for p in problems if ": rdb_type " not in p]
    # Redis 8.10 template hashes (types 30/32) are written as plain hashes (rdbtools/rdb/writer.py),
    # which load as ordinary listpack / hashtable hashes; their values are compared
    templates = {repr(truth_bytes(r["key"])) for rs in truth["dbs"].values() for r in rs
                 if r["rdb_type"] in (30, 32)}
    problems = [p for p in problems
                if not (": rdb_type " in p and any(f"key {k}:" in p for k in templates))]
    for needle, _why in EXPECTED.get(str(variant.relative_to(CORPUS)), []):
        problems = [p for p in problems if needle not in p]
    return problems


def _dataset(entries) -> dict:
    out = {}
    for e in entries:
        value = e.value
        if e.type in ("set", "hash", "zset"):
            value = sorted(value)
        elif e.type == "module":  # Redis 8.2 re-serialises vector sets when it saves them
            value = value.module_name
        elif e.type == "stream":
            # the IDMP counters are not carried by a RESP rewrite (FORMATS-RDB13-15.md §9)
            idmp = value.idmp and (value.idmp.duration_s, value.idmp.max_size,
                                   [(p.pid, p.iids) for p in value.idmp.producers])
            value = ([(x.id, x.fields) for x in value.entries], value.last_id,
                     [(g.name, g.last_id, [(p.id, p.consumer, p.delivery_count)
                                           for p in g.pending], g.nacked)
                      for g in value.groups], idmp)
        elif e.type == "array":
            value = (value, e.array_next_insert_index)
        out[(e.db, e.key)] = (e.type, value, e.expire_at_ms)
    return out


@pytest.mark.server
@pytest.mark.parametrize("variant, server", CASES, ids=[f"{_id(v)}@{s}" for v, s in CASES])
def test_rewritten_corpus_loads_in_real_server(variant: Path, server: str, tmp_path: Path):
    if "with-modules" in str(variant):
        pytest.skip("module commands cannot be replayed")
    spec = spec_by_name(server)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    truth = json.loads(variant.with_suffix(".json").read_text())
    aof = writable_copy(aof_of(variant), tmp_path / "in" / aof_of(variant).name)
    result = rewrite_aof(aof, profile=_profile(truth))
    templates = any(str(k.get("encoding", "")).startswith("template-")
                    for v in truth["dbs"].values() for k in (v["keys"] if isinstance(v, dict) else v))
    if not templates:
        # Redis 8.10 template hashes share one field list per template; the writer stores them
        # as plain hashes (each key with its field names), which can outweigh the compaction
        assert result.size_after < result.size_before
    entries, functions, log = load_in_server(spec, aof, tmp_path / "srv")
    assert "append only file" in log or "AOF" in log
    same = server == variant.parts[-3]
    problems = _truth_problems(entries, truth, variant, same)
    if problems:  # the loading server's cron may have dropped the old IIDs before its SAVE
        problems = _truth_problems(entries, _expire_idmp(truth, int(time.time() * 1000)),
                                   variant, same)
    assert problems == []
    if "functions" in truth and spec.version >= (7, 0, 0):
        assert functions == sorted(f["library_code"].encode() for f in truth["functions"])


@pytest.mark.parametrize("variant", [v for v in VARIANTS if "modules" not in str(v)], ids=_id)
def test_rewrite_replays_to_the_same_dataset(variant: Path, tmp_path: Path):
    """Our own reading of the rewrite equals our reading of the original (every variant, also
    those of servers not installed here)."""
    aof = writable_copy(aof_of(variant), tmp_path / aof_of(variant).name)
    # the server that wrote it (an AOF without an RDB part does not say; Redis 8.6+ commands
    # need a profile that has them)
    profile = _profile(json.loads(variant.with_suffix(".json").read_text()))
    before = _dataset(read_aof(aof, profile=profile))
    result = rewrite_aof(aof, profile=profile)
    assert _dataset(read_aof(aof, profile=profile)) == before
    assert result.keys == len(before)


def test_directory_follows_the_server_naming(tmp_path: Path):
    src = CORPUS / "redis-7.0.15/aof/aof-preamble"
    aof = writable_copy(aof_of(src), tmp_path / "appendonlydir")
    result = rewrite_aof(aof, keep_history=True)
    m = read_manifest(aof / "appendonly.aof.manifest")
    lines = [(ln.file.decode(), ln.seq, ln.type) for ln in m.lines]
    # backgroundRewriteDoneHandler(): new base; old incr then old base at the head of the
    # history list, the older history after them; then the new incr file
    assert lines == [("appendonly.aof.3.base.rdb", 3, "b"),
                     ("appendonly.aof.2.incr.aof", 2, "h"), ("appendonly.aof.2.base.rdb", 2, "h"),
                     ("appendonly.aof.1.incr.aof", 1, "h"), ("appendonly.aof.1.base.rdb", 1, "h"),
                     ("appendonly.aof.3.incr.aof", 3, "i")]
    assert (aof / "appendonly.aof.3.incr.aof").stat().st_size == 0
    assert result.retired == ["appendonly.aof.2.incr.aof", "appendonly.aof.2.base.rdb"]
    assert (aof / "appendonly.aof.3.base.rdb").read_bytes()[:9] == b"REDIS0010"
    # a second rewrite without --keep-history removes every history file
    result = rewrite_aof(aof)
    assert sorted(p.name for p in aof.iterdir()) == [
        "appendonly.aof.4.base.rdb", "appendonly.aof.4.incr.aof", "appendonly.aof.manifest"]
    assert len(result.deleted) == 6


def test_multi_incr_base_aof_and_redis8_offsets(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "redis-7.2.4/aof/aof-multi-incr"), tmp_path / "a")
    result = rewrite_aof(aof, base="aof")
    assert result.written == ["appendonly.aof.2.base.aof", "appendonly.aof.3.incr.aof"]
    assert (aof / "appendonly.aof.2.base.aof").read_bytes().startswith(b"*")
    aof8 = writable_copy(aof_of(CORPUS / "redis-8.2.3/aof/aof-preamble"), tmp_path / "b")
    rewrite_aof(aof8)
    incr = read_manifest(aof8 / "appendonly.aof.manifest").incr
    assert [(ln.seq, ln.start_offset, ln.end_offset) for ln in incr] == [(3, 487, None)]


def test_timestamps_and_targets(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "redis-7.4.1/aof/aof-timestamp"), tmp_path / "a")
    with open_aof(aof) as reader:
        list(reader.iter_commands())
        last = max(p.last_ts for p in reader.parts if p.last_ts)
    rewrite_aof(aof)  # RESP base, as the input's: starts with the last annotation
    assert (aof / "appendonly.aof.3.base.aof").read_bytes().startswith(b"#TS:%d\r\n" % last)
    with pytest.raises(ValueError, match="no RDB part"):
        rewrite_aof(aof, base="rdb")
    with pytest.raises(EncodeError, match="redis-7.0 cannot hold"):  # field TTLs, active-times
        rewrite_aof(aof, base="rdb", target="redis-7.0")
    assert sorted(p.name for p in aof.iterdir())[:2] == ["appendonly.aof.3.base.aof",
                                                        "appendonly.aof.3.incr.aof"]
    result = rewrite_aof(aof, base="rdb", target="redis-7.4")
    assert result.target.name == "redis-7.4" and result.written[0] == "appendonly.aof.4.base.rdb"


def test_output_elsewhere_and_single_files(tmp_path: Path):
    src = aof_of(CORPUS / "valkey-8.1.8/aof/aof-preamble")
    before = sorted((p.name, p.stat().st_mtime_ns) for p in src.iterdir())
    result = rewrite_aof(src, tmp_path / "out" / "appendonlydir")
    assert sorted((p.name, p.stat().st_mtime_ns) for p in src.iterdir()) == before
    assert sorted(p.name for p in result.path.iterdir()) == [
        "appendonly.aof.3.base.rdb", "appendonly.aof.3.incr.aof", "appendonly.aof.manifest"]
    assert [e.key for e in read_aof(result.path)] == [e.key for e in read_aof(src)]
    with pytest.raises(ValueError, match="not an empty directory"):
        rewrite_aof(src, result.path)
    single = writable_copy(aof_of(CORPUS / "redis-6.2.5/aof/aof-norewrite"), tmp_path / "appendonly.aof")
    keys = [e.key for e in read_aof(single)]
    result = rewrite_aof(single)
    assert result.layout == "single" and result.base == "aof" and result.size_after < result.size_before
    assert [e.key for e in read_aof(single)] == keys
    result = rewrite_aof(single, tmp_path / "compact.aof", base="rdb", target="redis-6.2")
    assert (tmp_path / "compact.aof").read_bytes()[:9] == b"REDIS0009"
    assert [e.key for e in read_aof(tmp_path / "compact.aof")] == keys


def test_truncated_input_is_refused(tmp_path: Path):
    aof = writable_copy(aof_of(CORPUS / "redis-7.0.15/aof/aof-nopreamble"), tmp_path / "a")
    incr = aof / "appendonly.aof.2.incr.aof"
    os.truncate(incr, incr.stat().st_size - 3)
    before = sorted(p.name for p in aof.iterdir())
    with pytest.raises(AofTruncatedError):
        rewrite_aof(aof)
    assert sorted(p.name for p in aof.iterdir()) == before


# -- kill -9 ---------------------------------------------------------------------------------------

CRASH_SERVER = "redis-7.0.15"


def _build_crash_source(srv) -> None:
    conn = srv.client
    for round_ in range(2):
        pipe = conn.pipeline(transaction=False)
        for i in range(12000):
            pipe.set(b"s:%d" % (i % 4000), b"v%d-%d" % (i, round_) * 3)
            pipe.rpush(b"l:%d" % (i % 50), b"e%d" % i)
            pipe.hset(b"h:%d" % (i % 80), b"f%d" % (i % 150), b"%d" % i)
            pipe.sadd(b"set:%d" % (i % 40), b"m%d" % (i % 300))
            pipe.zadd(b"z:%d" % (i % 40), {b"m%d" % (i % 200): i / 7})
            pipe.xadd(b"x:%d" % (i % 10), {b"f": b"%d" % i}, id=b"%d-%d" % (round_ + 1, i))
            if i % 97 == 0:
                pipe.pexpireat(b"s:%d" % (i % 4000), 4102444800000 + i)
        pipe.execute()
        if round_ == 0:
            conn.bgrewriteaof()
            deadline = time.monotonic() + 60
            while srv.info("persistence").get("aof_rewrite_in_progress") != "0" or \
                    srv.info("persistence").get("aof_rewrite_scheduled") != "0":
                assert time.monotonic() < deadline
                time.sleep(0.05)


def _rewrite_process(path: Path) -> subprocess.Popen:
    code = "import sys; from rdbtools.aof.rewrite import rewrite_aof; rewrite_aof(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-c", code, str(path)], env=env)


@pytest.mark.server
def test_kill_9_at_random_moments_never_loses_data(tmp_path: Path):
    spec = spec_by_name(CRASH_SERVER)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    with RedisServer(spec, {"appendonly": "yes", "appendfsync": "no"}, workdir=tmp_path / "gen") as srv:
        _build_crash_source(srv)  # stopped by SIGTERM: the AOF is flushed and fsynced
    assert (tmp_path / "gen" / "appendonlydir").is_dir()
    pristine = tmp_path / "gen" / "appendonlydir"
    entries, _, _ = load_in_server(spec, pristine, tmp_path / "truth")
    truth = _dataset(entries)
    # how long a whole rewrite takes, interpreter start included
    probe = writable_copy(pristine, tmp_path / "probe")
    started = time.monotonic()
    assert _rewrite_process(probe).wait(120) == 0
    full = time.monotonic() - started
    rng = random.Random(7)
    states = set()
    for i in range(16):
        work = writable_copy(pristine, tmp_path / f"run{i}")
        proc = _rewrite_process(work)
        # half the kills anywhere, half in the last third, where the files are swapped
        delay = rng.uniform(0, full) if i % 2 else rng.uniform(full * 0.66, full * 1.05)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        states.add(tuple(sorted(p.name for p in work.iterdir())))
        loaded, _, log = load_in_server(spec, work, tmp_path / f"srv{i}")
        assert _dataset(loaded) == truth, (i, delay, sorted(p.name for p in work.iterdir()))
    assert len(states) >= 2  # the kills did land in different phases


NEW_STATE_BASES = [CORPUS / f"{name}/aof/aof-nopreamble" for name in ("redis-8.6.2", "redis-8.10.2")]


@pytest.mark.parametrize("variant", [v for v in NEW_STATE_BASES if v.is_dir()], ids=_id)
def test_rewrite_forms_of_new_state_are_the_servers(variant: Path):
    """The server's own RESP rewrite (the base file of the corpus's aof-nopreamble) replayed and
    rewritten again gives, key by key, exactly the server's commands for every stream (IDMP:
    XCFGSET / XIDMPRECORD, NACK zones: XNACK) and array (ARMSET / ARSEEK).  Template hashes
    (RESTORE payloads) are left out: their decoding is the reader's."""
    from rdbtools.aof.replay import Replayer
    from rdbtools.output.commands import entry_to_commands

    base = next((aof_of(variant)).glob("*.base.aof"))
    with open_aof(base) as reader:
        records = [c for c in reader.iter_commands() if c.args[0].upper() != b"RESTORE"]
    commands = [c.args for c in records]
    server_forms: dict[bytes, list] = {}
    for args in commands:
        if args[0].upper() in (b"XADD", b"XSETID", b"XNACK", b"XCFGSET", b"XIDMPRECORD", b"XCLAIM",
                               b"ARMSET", b"ARSEEK", b"PEXPIREAT"):
            server_forms.setdefault(args[1], []).append(args)
        elif args[0].upper() == b"XGROUP":
            server_forms.setdefault(args[2], []).append(args)
    engine = Replayer(_profile(json.loads(variant.with_suffix(".json").read_text())))
    engine.feed(records)
    checked = 0
    for e in engine.iter_entries():
        if e.type in ("stream", "array"):
            assert list(entry_to_commands(e)) == server_forms[e.key], e.key
            checked += 1
            # for a server before Redis 8.6 / 8.8 the same state is a loss, never a silent drop
            losses = []
            older = [c[0] for c in entry_to_commands(e, rdb_version=12, losses=losses)]
            new_forms = {b"XCFGSET", b"XIDMPRECORD", b"XNACK", b"ARMSET", b"ARSEEK"}
            assert not new_forms & set(older)
            assert bool(losses) == any(c[0] in new_forms for c in server_forms[e.key]), e.key
            assert all(loss.dropped == (e.type == "array") for loss in losses)
            if losses:
                with pytest.raises(EncodeError, match="needs? Redis 8"):
                    list(entry_to_commands(e, rdb_version=12))
    assert checked



@pytest.mark.parametrize("name", ["redis-7.0.15", "redis-8.2.3", "valkey-8.1.8"])
def test_in_place_rewrite_refuses_a_live_servers_aof(tmp_path: Path, name: str):
    """The server appends to its incr file and rewrites its manifest itself: an offline rewrite
    in place would race it.  Refused, naming the process, advising BGREWRITEAOF."""
    from rdbtools.errors import LiveServerError

    spec = spec_by_name(name)
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    with RedisServer(spec, {"appendonly": "yes"}, workdir=tmp_path / "srv") as srv:
        for i in range(30):
            srv.execute("RPUSH", "l", i)
        aof = srv.dir / "appendonlydir"
        before = {p.name: p.read_bytes() for p in aof.iterdir()}
        with pytest.raises(LiveServerError, match=rf"pid {srv.pid} .*BGREWRITEAOF"):
            rewrite_aof(aof)
        assert {p.name: p.read_bytes() for p in aof.iterdir()} == before
        assert srv.execute("LLEN", "l") == 30


def test_rewrite_never_writes_through_a_planted_symlink(tmp_path: Path):
    """A symlink planted under the name the next incr file will get: the rewrite stops before
    writing anything, the link's target and the AOF stay as they were."""
    from rdbtools.errors import UnsafeOutputError

    aof = writable_copy(aof_of(CORPUS / "redis-7.0.15/aof/aof-nopreamble"), tmp_path / "a")
    manifest = read_manifest(next(aof.glob("*.manifest")))
    next_incr = f"appendonly.aof.{manifest.incr[-1].seq + 1}.incr.aof"
    victim = tmp_path / "victim"
    victim.write_bytes(b"precious")
    (aof / next_incr).symlink_to(victim)
    before = {p.name: (p.is_symlink(), p.read_bytes()) for p in aof.iterdir()}
    with pytest.raises(UnsafeOutputError, match="symlink"):
        rewrite_aof(aof)
    assert victim.read_bytes() == b"precious"
    assert {p.name: (p.is_symlink(), p.read_bytes()) for p in aof.iterdir()} == before
    (aof / next_incr).unlink()
    temp_manifest = aof / "temp-appendonly.aof.manifest"
    temp_manifest.symlink_to(victim)  # planted where the manifest is staged
    rewrite_aof(aof)
    assert victim.read_bytes() == b"precious" and not temp_manifest.exists()
    assert sorted(e.key for e in read_aof(aof)) == sorted(e.key for e in read_aof(
        aof_of(CORPUS / "redis-7.0.15/aof/aof-nopreamble")))
