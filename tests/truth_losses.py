"""The ground truth of a converted file as a real server holds it after loading, past what
truth.expected_after_write() strips: Redis 8.6+ state an older target cannot hold (IDMP state,
NACK zones, NACKed PEL entries, whose loss the write reports), module key metadata (the test
servers have no such module: a class with ALLOW_IGNORE is dropped on load), and IDMP iids that
expired before the load: rdbLoadStreamIdmpEntries() skips them in 8.10.2; 8.6.2 loads them and
drops them in a cron (handleExpiredIdmpEntries(), t_stream.c), so whether they are gone when
the test saves depends on timing there.  Helpers of
tests/test_writer.py and tests/test_restore.py."""

from __future__ import annotations

import time

from truth import _note_ids, expected_after_write, truth_bytes

NACK_LOSS = "NACKed PEL entr"


def _sid(text: str) -> int:
    return int(text.split("-")[0])


def _live_idmp(idmp: dict, note: str | None, now_ms: int) -> dict:
    """The truth's IDMP state without the iids whose entry ms <= now - duration."""
    expire = now_ms - idmp["duration"] * 1000
    pids = [truth_bytes(p["pid"]) for p in idmp["producers"]]
    producers, tracked = [], 0
    for p, pid in zip(idmp["producers"], pids):
        if p["iids"] is None:  # IDMPAUTO: the note names its entries
            ids = [i for i in _note_ids(note, pid, pids) or [] if _sid(i) > expire]
            if ids:
                producers.append(p)
                tracked += len(ids)
            continue
        iids = [x for x in p["iids"] if _sid(x[1]) > expire]
        if iids:
            producers.append(dict(p, iids=iids))
            tracked += len(iids)
    return dict(idmp, producers=producers, pids_tracked=len(producers), iids_tracked=tracked)


def expected_after_losses(truth: dict, result, ours: dict, saved: dict, same_version: bool,
                          loaded: list | None = None) -> dict:
    """:func:`truth.expected_after_write`, then what the target server cannot hold or drops on
    load (see the module docstring); ``result.target`` is the server's target, ``loaded`` the
    entries it saved (on 8.6 they tell whether its cron already dropped expired iids)."""
    expected = expected_after_write(truth, result, ours, saved, same_version)
    target = result.target
    now_ms = int(time.time() * 1000)
    cron_kept = {(e.db, e.key) for e in loaded or () if e.type == "stream"
                 and e.value.idmp is not None and any(p.iids for p in e.value.idmp.producers)}
    nack_lost = {(loss.db, loss.key) for loss in result.losses
                 if loss.key is not None and NACK_LOSS in loss.what}
    dbs = {}
    for db, records in expected["dbs"].items():
        kept = []
        for record in records:
            record = {k: v for k, v in record.items() if k != "key_meta"}
            if record["type"] == "stream":
                value = dict(record["value"])
                if "idmp" in value:
                    ident = (int(db), truth_bytes(record["key"]))
                    if target.stream_idmp and (target.stream_nack or ident not in cron_kept):
                        value["idmp"] = _live_idmp(value["idmp"], value.get("idmp_note"), now_ms)
                    else:
                        del value["idmp"]
                lost = (int(db), truth_bytes(record["key"])) in nack_lost
                if not target.stream_nack and "info_full" in value:
                    info = dict(value["info_full"])
                    info["groups"] = [
                        dict({k: v for k, v in g.items() if k != "nacked"},
                             pending=[p for p in g["pending"] if not lost or p[1] != ""])
                        for g in info.get("groups") or []]
                    value["info_full"] = info
                record["value"] = value
            kept.append(record)
        dbs[db] = kept
    return dict(expected, dbs=dbs)


def unreported_losses(truth: dict, result) -> list[str]:
    """Truth keys holding state ``result.target`` cannot hold, whose loss ``result`` does not
    report (or reports without cause): key metadata before 8.6, a non-default IDMP state before
    8.6, NACKed PEL entries before 8.8."""
    target = result.target
    reported: dict[tuple[int, bytes], list[str]] = {}
    for loss in result.losses:
        if loss.key is not None:
            reported.setdefault((loss.db, loss.key), []).append(loss.what)
    problems = []
    for db, records in truth["dbs"].items():
        for record in records:
            ident = (int(db), truth_bytes(record["key"]))
            whats = " | ".join(reported.get(ident, []))
            idmp = record["value"].get("idmp") if record["type"] == "stream" else None
            groups = (record["value"].get("info_full") or {}).get("groups") or [] \
                if record["type"] == "stream" else []
            expected = {
                "key metadata": bool(record.get("key_meta")) and not target.key_meta,
                "stream IDMP state": idmp is not None and not target.stream_idmp and bool(
                    (idmp["duration"], idmp["max_size"]) != (100, 100) or idmp["producers"]
                    or idmp["iids_added"] or idmp["iids_duplicates"]),
                NACK_LOSS: not target.stream_nack and any(
                    p[1] == "" for g in groups for p in g["pending"]),
            }
            for kind, lost in expected.items():
                if lost != (kind in whats):
                    problems.append(f"db {ident[0]} key {ident[1]!r}: {kind} "
                                    f"{'not reported' if lost else 'reported'}: {whats!r}")
    return problems
