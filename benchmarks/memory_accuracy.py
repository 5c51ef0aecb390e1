#!/usr/bin/env python
"""Accuracy of rdbtools' memory estimator against real servers' ``MEMORY USAGE key SAMPLES 0``.

For every server the test extra installs (tests/servers.py), build a random dataset of every
type and encoding with real commands, ``DEBUG RELOAD`` it (so the server holds what loading the
RDB builds), read ``MEMORY USAGE key SAMPLES 0`` for every key, then estimate every key of the
saved RDB with :func:`rdbtools.analysis.memory.estimate_file` and compare.  The shared corpus
(``../shared/corpus/*/rdb/dump.rdb`` with its ground-truth JSON) is compared too.

    python benchmarks/memory_accuracy.py                 # 20 000 keys per server + the corpus
    python benchmarks/memory_accuracy.py --keys 2000 --no-docs
    python benchmarks/memory_accuracy.py --servers redis-7.0.15,valkey-8.1.8

Prints a per-version, per-type table (median and p90 of the absolute relative error, sum error)
and, unless ``--no-docs``, rewrites the table between the markers in docs/memory.md.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

CORPUS = ROOT.parent / "shared" / "corpus"
DOC = ROOT / "docs" / "memory.md"
BEGIN, END = "<!-- accuracy-table:begin -->", "<!-- accuracy-table:end -->"
TYPES = ("string", "list", "set", "zset", "hash", "stream", "array")


# -- the dataset ----------------------------------------------------------------------------------

def _word(rng: random.Random, n: int) -> bytes:
    return bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789:_-") for _ in range(n))


def _blob(rng: random.Random, n: int) -> bytes:
    if rng.random() < 0.5:
        return _word(rng, n)
    return rng.randbytes(n)


def _length(rng: random.Random) -> int:
    """Element lengths around the interesting boundaries (embstr 44, listpack 64, sds types)."""
    r = rng.random()
    if r < 0.45:
        return rng.randint(0, 20)
    if r < 0.75:
        return rng.randint(20, 70)
    if r < 0.95:
        return rng.randint(70, 300)
    return rng.randint(300, 3000)


def _element(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.2:
        return b"%d" % rng.randint(-(10 ** rng.randint(1, 18)), 10 ** rng.randint(1, 18))
    if r < 0.25:
        return b"%d" % rng.randint(0, 200)
    return _blob(rng, _length(rng))


def _count(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.55:
        return rng.randint(1, 20)
    if r < 0.8:
        return rng.randint(20, 140)
    if r < 0.95:
        return rng.randint(100, 600)
    return rng.randint(600, 3000)


def _key(rng: random.Random, i: int) -> bytes:
    prefix = rng.choice([b"user", b"session", b"cache", b"order", b"q", b"metrics:daily", b"x"])
    tail = _word(rng, rng.choice([0, 0, 3, 10, 40, 90]))
    return b"%s:%d:%s" % (prefix, i, tail)


def _array_element(rng: random.Random) -> bytes:
    """An array value of every tagged-pointer kind (sparsearray.c arEncode): 62-bit integers,
    integers beyond them, floats that round-trip, strings up to 7 bytes inline, longer ones
    allocated (a few above the 32,767-byte short header)."""
    r = rng.random()
    if r < 0.25:
        return b"%d" % rng.randint(-(10 ** rng.randint(1, 18)), 10 ** rng.randint(1, 18))
    if r < 0.28:
        return b"%d" % rng.randint(1 << 61, (1 << 63) - 1)
    if r < 0.38:
        return b"%d.%s" % (rng.randint(-999, 999), rng.choice([b"5", b"25", b"125", b"0", b"1"]))
    if r < 0.55:
        return _blob(rng, rng.randint(0, 7))
    if r < 0.995:
        return _blob(rng, _length(rng))
    return _word(rng, rng.randint(32000, 34000))


def _array_indexes(rng: random.Random) -> list[int]:
    """Index sets that exercise every slice layout: runs (dense slices), scattered indexes
    within one slice or across many (sparse slices, promoted ones), indexes past the flat
    directory (slice id 2048+: the super-directory) up to 2^63."""
    n = _count(rng)
    shape = rng.choice(["run", "run", "slice", "scatter", "huge"])
    if shape == "run":
        start = rng.choice([0, rng.randint(0, 10 ** 5), rng.randint(0, 10 ** 9)])
        return list(range(start, start + n))
    if shape == "slice":
        base = rng.randint(0, 5000) * 4096
        return rng.sample(range(base, base + 4096), min(n, 4096))
    top = 10 ** rng.randint(4, 8) if shape == "scatter" else 1 << 63
    return sorted({rng.randrange(top - 1) for _ in range(min(n, 300))})


def build_dataset(client, n_keys: int, seed: int = 1, *, field_ttls: bool = False, idmp: bool = False,
                  nack: bool = False, arrays: bool = False, templates: bool = False) -> None:
    """Create ``n_keys`` random keys of every type and encoding with real commands; ``idmp``
    (Redis 8.6+): some streams are written with XADD IDMP / IDMPAUTO; ``nack`` (8.8+): some
    delivered entries are put back with XNACK; ``arrays`` (8.8+): arrays (ARMSET) of every
    slice layout; ``templates`` (8.10+): some hashes are template hashes (HIMPORT SET with a
    few shared field sets, so keys share their templates)."""
    rng = random.Random(seed)
    pipe = client.pipeline(transaction=False)
    pending = 0
    kinds = ["string"] * 30 + ["list"] * 14 + ["set"] * 14 + ["zset"] * 14 + ["hash"] * 20 + ["stream"] * 8
    if arrays:
        kinds += ["array"] * 8
    fieldsets = []
    if templates:  # HIMPORT PREPARE is per connection: one pipeline, one connection
        for j in range(12):
            nf = rng.choice([1, 2, 3, 5, 10, 40, 200, 600])
            fieldsets.append(sorted({_word(rng, rng.randint(1, 40)) for _ in range(nf)}))
            pipe.execute_command("HIMPORT", "PREPARE", b"fs%d" % j, *fieldsets[-1])
    for i in range(n_keys):
        kind = rng.choice(kinds)
        key = _key(rng, i)
        if kind == "string":
            r = rng.random()
            if r < 0.25:
                pipe.set(key, b"%d" % rng.randint(-(10 ** rng.randint(1, 19)), 10 ** rng.randint(1, 18)))
            elif r < 0.35:
                pipe.set(key, b"%d" % rng.randint(0, 12000))
            elif r < 0.98:
                pipe.set(key, _blob(rng, _length(rng)))
            else:
                pipe.set(key, _blob(rng, rng.randint(3000, 70000)))
        elif kind == "list":
            n = _count(rng)
            big = rng.random() < 0.03
            elems = [(_blob(rng, rng.randint(8000, 20000)) if big and rng.random() < 0.3 else _element(rng))
                     for _ in range(n)]
            for j in range(0, n, 500):
                pipe.rpush(key, *elems[j:j + 500])
        elif kind == "set":
            n = _count(rng)
            if rng.random() < 0.4:
                members = [b"%d" % rng.randint(-(10 ** rng.randint(1, 18)), 10 ** rng.randint(1, 18)) for _ in range(n)]
            else:
                members = [_element(rng) for _ in range(n)]
            for j in range(0, n, 500):
                pipe.sadd(key, *members[j:j + 500])
        elif kind == "zset":
            n = _count(rng)
            mapping = {}
            for _ in range(n):
                score = rng.choice([rng.randint(-1000, 1000), rng.random() * 1e6, rng.randint(0, 1 << 40)])
                mapping[_element(rng)] = score
            items = list(mapping.items())
            for j in range(0, len(items), 500):
                pipe.zadd(key, dict(items[j:j + 500]))
        elif kind == "hash" and fieldsets and rng.random() < 0.3:
            j = rng.randrange(len(fieldsets))
            pipe.execute_command("HIMPORT", "SET", key, b"fs%d" % j, *[_element(rng) for _ in fieldsets[j]])
        elif kind == "array":
            args = [x for idx in _array_indexes(rng) for x in (idx, _array_element(rng))]
            for j in range(0, len(args), 1000):
                pipe.execute_command("ARMSET", key, *args[j:j + 1000])
        elif kind == "hash":
            n = _count(rng)
            mapping = {_blob(rng, rng.randint(1, 30)): _element(rng) for _ in range(n)}
            items = list(mapping.items())
            for j in range(0, len(items), 500):
                pipe.hset(key, mapping=dict(items[j:j + 500]))
            if field_ttls and rng.random() < 0.3:
                fields = [f for f, _ in items[: max(1, len(items) // 3)]]
                pipe.execute_command("HPEXPIREAT", key, 4102444800000 + rng.randint(0, 10 ** 6),
                                     "FIELDS", len(fields), *fields)
        else:
            n = rng.choice([1, 3, 10, 50, 120, 300, 1200])
            nf = rng.randint(1, 4)
            same = rng.random() < 0.6
            names = [_word(rng, rng.randint(1, 10)) for _ in range(nf)]
            ms = 1700000000000 + rng.randint(0, 1000)
            pids = [_word(rng, rng.randint(1, 12)) for _ in range(rng.randint(1, 4))] \
                if idmp and rng.random() < 0.3 else []
            ids = []
            for j in range(n):
                ms += rng.randint(0, 3)
                fields = {}
                for f in (names if same else [_word(rng, rng.randint(1, 10)) for _ in range(nf)]):
                    fields[f] = _element(rng) if rng.random() < 0.8 else b"%d" % rng.randint(0, 10 ** 6)
                ids.append(f"{ms}-{j}")
                if pids:  # idempotency ids are recorded with the stream's own clock: IDs are "*"
                    mode = ["IDMPAUTO", rng.choice(pids)] if rng.random() < 0.3 else \
                        ["IDMP", rng.choice(pids), _word(rng, rng.randint(1, 40))]
                    pipe.execute_command("XADD", key, *mode, "*", *[x for kv in fields.items() for x in kv])
                else:
                    pipe.xadd(key, fields, id=ids[-1])
            if rng.random() < 0.4:
                for g in range(rng.randint(1, 3)):
                    pipe.xgroup_create(key, b"g%d" % g, id="0")
                    delivered = 0
                    for c in range(rng.randint(0, 3)):
                        count = rng.randint(1, 40)
                        pipe.xreadgroup(b"g%d" % g, b"consumer-%d" % c, {key: ">"}, count=count)
                        delivered = min(n, delivered + count)
                    if nack and not pids and delivered and rng.random() < 0.5:
                        back = rng.sample(ids[:delivered], rng.randint(1, delivered))
                        pipe.execute_command("XNACK", key, b"g%d" % g, rng.choice(["SILENT", "FAIL", "FATAL"]),
                                             "IDS", len(back), *back)
            if rng.random() < 0.2:
                pipe.xdel(key, f"{ms}-{n - 1}")
        if rng.random() < 0.2:
            pipe.pexpireat(key, 4102444800000 + rng.randint(0, 10 ** 9))
        pending += 1
        if pending >= 200:
            pipe.execute()
            pending = 0
    pipe.execute()


def measure_server(spec_name: str, n_keys: int, seed: int, workdir: Path,
                   config: dict | None = None) -> tuple[Path, dict]:
    """Build the dataset on a live server (started with ``config``), reload it, and return
    (rdb path, key -> (MEMORY USAGE, OBJECT ENCODING)).  With hash templates (Redis 8.10+)
    the truth is read from a second server started on the saved file: DEBUG RELOAD keeps the
    templates' runtime ids (a template-listpack's first entry), a fresh load numbers them
    from 0 in file order, as the estimate assumes."""
    from servers import RedisServer, spec_by_name

    spec = spec_by_name(spec_name)
    workdir.mkdir(parents=True, exist_ok=True)
    redis = not spec.is_valkey
    templates = redis and spec.version >= (8, 10, 0)
    with RedisServer(spec, config, workdir=workdir) as srv:
        field_ttls = (not spec.is_valkey and spec.version >= (7, 4, 0)) or (spec.is_valkey and spec.version >= (9, 0, 0))
        build_dataset(srv.client, n_keys, seed, field_ttls=field_ttls, idmp=redis and spec.version >= (8, 6, 0),
                      nack=redis and spec.version >= (8, 8, 0), arrays=redis and spec.version >= (8, 8, 0),
                      templates=templates)
        srv.execute("DEBUG", "RELOAD")
        rdb = srv.rdb_path
        if not templates:
            return rdb, _memory_usage(srv.client)
    with RedisServer(spec, config, load_rdb=rdb, workdir=workdir / "loaded") as srv:
        return rdb, _memory_usage(srv.client)


def _memory_usage(client) -> dict:
    """(0, key) -> (MEMORY USAGE key SAMPLES 0, OBJECT ENCODING) of every key of db 0."""
    keys = list(client.scan_iter(count=1000))
    pipe = client.pipeline(transaction=False)
    for k in keys:
        pipe.execute_command("MEMORY", "USAGE", k, "SAMPLES", "0")
        pipe.execute_command("OBJECT", "ENCODING", k)
    replies = pipe.execute()
    return {(0, k): (replies[2 * i], replies[2 * i + 1].decode()) for i, k in enumerate(keys)}


# -- comparison -----------------------------------------------------------------------------------

def compare(rows: list[tuple[str, int, int]]) -> dict:
    """rows of (type, estimate, truth) -> per type {keys, median, p90, sum_error} (fractions)."""
    out = {}
    by_type: dict[str, list] = {}
    for t, est, truth in rows:
        by_type.setdefault(t, []).append((est, truth))
    by_type["all"] = [(e, t) for _, e, t in rows]
    for t, pairs in by_type.items():
        errs = sorted(abs(e - tr) / tr for e, tr in pairs if tr)
        if not errs:
            continue
        sum_e = sum(e for e, _ in pairs)
        sum_t = sum(tr for _, tr in pairs)
        out[t] = {
            "keys": len(pairs),
            "median": statistics.median(errs),
            "p90": errs[min(len(errs) - 1, int(0.9 * len(errs)))],
            "sum_error": (sum_e - sum_t) / sum_t if sum_t else 0.0,
            "exact": sum(1 for e, tr in pairs if e == tr) / len(pairs),
        }
    return out


def estimate_rows(rdb_path, truth: dict, server: str | None = None,
                  config: dict | None = None) -> list[tuple[str, int, int]]:
    from rdbtools.analysis.memory import estimate_file

    rows = []
    for est in estimate_file(rdb_path, server=server, config=config):
        t = truth.get((est.db, est.key))
        if t is None:
            continue
        rows.append((est.type, est.memory_usage, t[0] if isinstance(t, tuple) else t))
    return rows


def load_corpus_truth(json_path: Path) -> dict:
    """(db, key) -> (memory_usage, encoding) from a corpus ground-truth JSON (corpus/README.md)."""
    import base64

    doc = json.loads(json_path.read_text())
    truth = {}
    for db, records in doc["dbs"].items():
        for rec in records:
            key = rec["key"]
            key = base64.b64decode(key["b64"]) if isinstance(key, dict) else key.encode()
            if rec.get("memory_usage") is not None:
                truth[(int(db), key)] = (rec["memory_usage"], rec.get("encoding"))
    return truth


def format_table(results: dict[str, dict]) -> str:
    lines = ["| server | dataset | type | keys | median error | p90 error | sum error | exact |",
             "|---|---|---|---:|---:|---:|---:|---:|"]
    for (server, dataset), per_type in results.items():
        for t in TYPES + ("all",):
            r = per_type.get(t)
            if r is None:
                continue
            lines.append(f"| {server} | {dataset} | {t} | {r['keys']} | {r['median'] * 100:.2f} % | "
                         f"{r['p90'] * 100:.2f} % | {r['sum_error'] * 100:+.2f} % | {r['exact'] * 100:.0f} % |")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--keys", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--servers", default=None, help="comma-separated server names (default: all that start)")
    ap.add_argument("--no-corpus", action="store_true")
    ap.add_argument("--no-docs", action="store_true")
    ap.add_argument("--workdir", default=str(ROOT / "benchmarks" / "data" / "memory"))
    args = ap.parse_args(argv)

    from servers import SERVER_SPECS, probe_server

    names = args.servers.split(",") if args.servers else [s.name for s in SERVER_SPECS]
    results: dict = {}
    for name in names:
        reason = probe_server(name)
        if reason is not None:
            print(f"skip {name}: {reason}", file=sys.stderr)
            continue
        rdb, truth = measure_server(name, args.keys, args.seed, Path(args.workdir) / name)
        results[(name, f"random {args.keys}")] = compare(estimate_rows(rdb, truth))
        print(f"{name}: {len(truth)} keys measured", file=sys.stderr)
    if not args.no_corpus and CORPUS.is_dir():
        for folder in sorted(CORPUS.iterdir()):
            rows = []
            for rdb in sorted((folder / "rdb").glob("*.rdb")) if (folder / "rdb").is_dir() else []:
                js = rdb.with_suffix(".json")
                if js.is_file():
                    rows += estimate_rows(rdb, load_corpus_truth(js))
            if rows:
                results[(folder.name, "corpus")] = compare(rows)
    table = format_table(results)
    print(table)
    if not args.no_docs and DOC.is_file():
        text = DOC.read_text()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            DOC.write_text(f"{head}{BEGIN}\n{table}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
