"""Conformance: every AOF variant of the shared corpus replays to exactly the dataset of its
ground truth (../shared/corpus/README.md, "AOF variants"), compared with truth.compare_entries.

What an AOF cannot carry, and how this test treats it (each one checked, none silenced):

* stream consumer ``seen-time`` / ``active-time`` are the live server's wall clock when the
  consumer last acted; the rewrite writes only PEL delivery times, so the replay estimates them
  (docs/aof.md).  They are compared within 5 s, like the approximate expiries of 6.x truth.
* the known server behaviours listed in :data:`EXPECTED`: a real server replaying the same
  AOF diverges from the live state the same way (see the corpus README and docs/aof.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rdbtools.aof import open_aof
from rdbtools.aof.replay import ServerProfile, replay
from rdbtools.errors import UnknownCommandError
from truth import compare_entries, truth_bytes

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"corpus not found at {CORPUS}")

VARIANTS = sorted({p for p in CORPUS.glob("**/aof/*") if p.is_dir()}) if CORPUS.is_dir() else []
SEEN_TIME_TOLERANCE_MS = 5000

NOACK = "group b'g3' consumers [] != [[b'dave',"
# Redis 8.6+: a RESP rewrite writes a stream's IIDs (XIDMPRECORD), not its all-time counters, so
# a server loading it counts only those and the later XADD ... IDMPs (FORMATS-RDB13-15.md §9)
IDMP_COUNTERS = [("key b'stream:idmp': stream IDMP iids_duplicates 0 != 2", "RESP rewrite"),
                 ("key b'stream:idmp-maxsize': stream IDMP iids_added 3 != 6", "RESP rewrite")]
# (variant path suffix, substring of the one expected problem, why)
EXPECTED = {
    "redis-6.0.9/aof/aof-nopreamble": [(NOACK, "6.0 does not log an idle NOACK consumer")],
    "redis-6.0.9/aof/aof-norewrite": [(NOACK, "6.0 does not log an idle NOACK consumer")],
    # Redis 7.x propagates XREADGROUP as XCLAIM ... LASTID without ENTRIESREAD: a server
    # replaying the AOF also reports entries-read null (checked in test_replay_quirks_*).
    "redis-7.0.15/aof/aof-multi-incr": [("group b'gbig' entries-read None != 120", "XCLAIM LASTID")],
    "redis-7.2.4/aof/aof-multi-incr": [("group b'gbig' entries-read None != 120", "XCLAIM LASTID")],
    # A hash whose field TTLs were all removed keeps its listpackex / hashtable encoding in the
    # live server; the rewrite writes a plain HMSET, so every replay builds a listpack hash.
    "redis-8.2.3/aof/aof-nopreamble": [("key b'hfe:persisted': rdb_type 16 != 25", "rewrite")],
    "valkey-9.1.2/aof/aof-nopreamble": [("key b'hfe:persisted': rdb_type 16 != 4", "rewrite")],
    "redis-8.6.2/aof/aof-nopreamble": [("key b'hfe:persisted': rdb_type 16 != 25", "rewrite"),
                                       *IDMP_COUNTERS],
    "redis-8.10.2/aof/aof-nopreamble": [("key b'hfe:persisted': rdb_type 16 != 25", "rewrite"),
                                        *IDMP_COUNTERS],
}
MODULE_TYPES = {"ReJSON-RL", "TSDB-TYPE", "MBbloom--", "MBbloomCF", "CMSk-TYPE", "TopK-TYPE",
                "TDIS-TYPE", "trietype0", "vectorset"}


def _id(p: Path) -> str:
    return str(p.relative_to(CORPUS))


def _profile(truth: dict) -> ServerProfile:
    s = truth["server"]
    if s.get("valkey_version"):
        return ServerProfile.parse("valkey-" + s["valkey_version"])
    return ServerProfile.parse("redis-" + s["redis_version"])


def _align_consumer_times(entries, truth) -> list[str]:
    """Copy the truth's consumer seen/active times onto ours when within the tolerance; return
    the consumers that are further off."""
    records = {(int(db), truth_bytes(r["key"])): r for db, rs in truth["dbs"].items() for r in rs}
    off = []
    for e in entries:
        rec = records.get((e.db, e.key))
        if e.type != "stream" or rec is None or rec["type"] != "stream":
            continue
        tgroups = {truth_bytes(g["name"]): g for g in rec["value"]["info_full"].get("groups", [])}
        for g in e.value.groups:
            tc = {truth_bytes(c["name"]): c for c in tgroups.get(g.name, {}).get("consumers", [])}
            for c in g.consumers:
                t = tc.get(c.name)
                if t is None:
                    continue
                if abs(c.seen_time_ms - t["seen-time"]) > SEEN_TIME_TOLERANCE_MS:
                    off.append(f"{e.key!r} {g.name!r} {c.name!r} seen {c.seen_time_ms} vs {t['seen-time']}")
                c.seen_time_ms = t["seen-time"]
                if "active-time" in t and c.active_time_ms is not None:
                    if t["active-time"] == -1 or c.active_time_ms == -1:
                        if t["active-time"] != c.active_time_ms:
                            off.append(f"{c.name!r} active {c.active_time_ms} vs {t['active-time']}")
                    elif abs(c.active_time_ms - t["active-time"]) > SEEN_TIME_TOLERANCE_MS:
                        off.append(f"{c.name!r} active {c.active_time_ms} vs {t['active-time']}")
                    c.active_time_ms = t["active-time"]
    return off


@pytest.mark.parametrize("variant", VARIANTS, ids=_id)
def test_aof_variant_replays_to_ground_truth(variant: Path) -> None:
    truth = json.loads(variant.with_suffix(".json").read_text())
    modules = "with-modules" in _id(variant)  # module commands in the AOF (vector sets: RDB only)
    with open_aof(variant) as aof:
        engine = replay(aof, profile=_profile(truth), skip_unknown=modules)
        assert aof.truncation is None
    assert engine.profile.label() == _profile(truth).label()
    entries = list(engine.iter_entries())
    assert _align_consumer_times(entries, truth) == []
    problems = compare_entries(entries, truth)
    expected = EXPECTED.get(_id(variant), [])
    for needle, _why in expected:
        hits = [p for p in problems if needle in p]
        assert len(hits) == 1, (needle, problems)
        problems.remove(hits[0])
    if modules:
        # module commands are not replayed: the keys they create or change cannot match
        assert engine.skipped, "module commands were expected in this AOF"
        module_keys = {truth_bytes(r["key"]) for rs in truth["dbs"].values() for r in rs
                       if r["type"] in MODULE_TYPES}
        problems = [p for p in problems if not any(repr(k) in p for k in module_keys)]
    assert problems == []
    if "functions" in truth:
        assert sorted(f.code for f in engine.iter_functions()) == sorted(
            f["library_code"].encode() for f in truth["functions"])


@pytest.mark.parametrize("variant", [v for v in VARIANTS if "modules" in str(v)], ids=_id)
def test_module_commands_stop_the_replay_by_default(variant: Path) -> None:
    with open_aof(variant) as aof, pytest.raises(UnknownCommandError) as info:
        replay(aof)
    err = info.value
    assert b"." in err.command  # BF.ADD, JSON.SET, TS.ADD ...
    assert err.file and err.file.endswith(".aof") and err.offset is not None
    assert err.command.decode() in str(err)


def test_preamble_names_the_profile() -> None:
    with open_aof(CORPUS / "valkey-9.1.2/aof/aof-preamble") as aof:
        engine = replay(aof)
    assert engine.profile.label() == "valkey-9.1.2"
    assert aof.rdb_magic == "VALKEY" and aof.rdb_version == 80
