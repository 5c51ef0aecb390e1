#!/usr/bin/env python
"""Build the benchmark RDB with a real server: ~1M keys, ~250 MB, deterministic from a seed.

    python benchmarks/make_dataset.py                        # benchmarks/data/bench-7.0.rdb
    python benchmarks/make_dataset.py --keys 100000          # benchmarks/data/bench-7.0-100k.rdb
    python benchmarks/make_dataset.py --server redis-6.2.5   # benchmarks/data/bench-6.2.rdb (RDB 9)
    python benchmarks/make_dataset.py --small-strings 2000000  # data/small-strings-2000000.rdb (DEBUG POPULATE)
    python benchmarks/make_dataset.py --big-list 1000000       # data/big-list-1000000.rdb: 1 list, ~1 GB

The data (keys, values, TTLs, stream IDs) depends only on ``--seed`` and ``--keys``; the RDB bytes
also carry the server's AUX fields (ctime, used-mem) and its hash-table iteration order, so two runs
give the same keyspace, not the same file.  Every key category scales with ``--keys``; the rare
"big" categories keep at least one key so a small file still has every encoding.

Encodings produced on Redis 7.0 (on 6.2 the small ones are ziplists instead of listpacks):

  strings   int-encoded counters, short tokens, 100 B - 4 KB values (60 % compressible JSON-ish
            text, LZF-compressed in the file; 40 % random bytes), a few 16 - 512 KB blobs
  hashes    listpack (small), hashtable (> 128 fields or a field value > 64 bytes)
  lists     quicklist with one listpack node (small), multi-node quicklists (big)
  sets      intset, small string sets (hashtable on 7.0: listpack sets arrived in 7.2), big hashtable
  zsets     listpack (small), skiplist (> 128 members)
  streams   small ones, a few big ones; a quarter have consumer groups with pending entries
  TTLs      20 % of all keys, absolute millisecond times in the 2100s
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = HERE / "data"
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, spec_by_name  # noqa: E402

DEFAULT_KEYS = 1_000_000
DEFAULT_SEED = 20240601
BATCH = 1000          # commands per pipeline round trip
CHUNK = 1000          # elements per command for big collections
TTL_FRACTION = 0.20
TTL_BASE_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
STREAM_BASE_MS = 1_700_000_000_000

WORDS = (b"alpha beta gamma delta epsilon zeta theta lambda sigma omega user session cart item "
         b"price currency EUR USD status active pending shipped created updated name email "
         b"address city country tags true false null id count total region eu-west us-east "
         b"product category books music video garden kitchen premium standard").split()

SHORT_VALUE_SIZES = (5, 40)


def default_output(server: str, keys: int) -> Path:
    major_minor = ".".join(server.split("-")[1].split(".")[:2])
    suffix = "" if keys == DEFAULT_KEYS else f"-{keys // 1000}k" if keys % 1000 == 0 else f"-{keys}"
    return DATA / f"bench-{major_minor}{suffix}.rdb"


class Writer:
    """Pipelines commands in batches of BATCH and counts keys."""

    def __init__(self, client):
        self.pipe = client.pipeline(transaction=False)
        self.pending = 0
        self.commands = 0

    def __call__(self, *args) -> None:
        self.pipe.execute_command(*args)
        self.pending += 1
        if self.pending >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.pipe.execute()
            self.commands += self.pending
            self.pending = 0


class Generator:
    def __init__(self, seed: int, keys: int, write: Writer):
        self.rng = random.Random(seed)
        self.keys = keys
        self.w = write
        self.expiring = 0

    # -- value helpers ---------------------------------------------------------------------------

    def token(self, lo: int, hi: int) -> bytes:
        return self.rng.randbytes((self.rng.randint(lo, hi) + 1) // 2).hex().encode()

    def text(self, n: int) -> bytes:
        """Compressible JSON-ish text of exactly n bytes."""
        rng = self.rng
        parts, size = [], 0
        while size < n:
            part = b'"%s":"%s-%d",' % (rng.choice(WORDS[:24]), rng.choice(WORDS), rng.randrange(100))
            parts.append(part)
            size += len(part)
        return (b"{" + b"".join(parts))[:n]

    def json(self, n: int) -> bytes:
        """A JSON-ish array of records, n bytes; LZF gets it to ~65 % at 300 B, ~35 % at 3 KB."""
        rng = self.rng
        parts, size = [], 0
        while size < n:
            part = b'{"id":%d,"status":"%s","region":"%s","price":%d.%02d,"tags":["%s","%s"]},' % (
                rng.randrange(10 ** 6), rng.choice(WORDS[20:24]), rng.choice(WORDS[36:38]),
                rng.randrange(500), rng.randrange(100), rng.choice(WORDS[40:48]), rng.choice(WORDS[40:48]))
            parts.append(part)
            size += len(part)
        return (b"[" + b"".join(parts))[:n]

    def log_size(self, lo: int, hi: int, skew: float = 1.0) -> int:
        """Between lo and hi, log-uniform for skew 1; skew > 1 favours the small end."""
        return int(round(lo * (hi / lo) ** (self.rng.random() ** skew)))

    def maybe_ttl(self, key: bytes) -> None:
        if self.rng.random() < TTL_FRACTION:
            self.expiring += 1
            self.w(b"PEXPIREAT", key, TTL_BASE_MS + self.rng.randrange(3_000_000_000_000))

    def set_string(self, key: bytes, value) -> None:
        if self.rng.random() < TTL_FRACTION:
            self.expiring += 1
            self.w(b"SET", key, value, b"PXAT", TTL_BASE_MS + self.rng.randrange(3_000_000_000_000))
        else:
            self.w(b"SET", key, value)

    def chunked(self, command: bytes, key: bytes, items: list, width: int) -> None:
        """Send a big collection as several commands of CHUNK elements (width args each)."""
        for i in range(0, len(items), CHUNK * width):
            self.w(command, key, *items[i:i + CHUNK * width])

    # -- categories: (name, share of keys, minimum count, function) ------------------------------

    def categories(self):
        return [
            ("counter: int strings", 0.175, 1, self.counters),
            ("session: short strings", 0.20395, 1, self.sessions),
            ("cache: 100 B-4 KB strings", 0.22, 1, self.caches),
            ("blob: 16-512 KB strings", 0.00004, 2, self.blobs),
            ("user: small hashes", 0.15, 1, self.small_hashes),
            ("profile: big hashes", 0.0003, 3, self.big_hashes),
            ("queue: small lists", 0.08, 1, self.small_lists),
            ("log: big lists", 0.00005, 3, self.big_lists),
            ("tags: int sets", 0.04, 1, self.int_sets),
            ("members: small string sets", 0.04, 1, self.small_sets),
            ("group: big sets", 0.0003, 3, self.big_sets),
            ("idx: small zsets", 0.07, 1, self.small_zsets),
            ("rank: big zsets", 0.0003, 3, self.big_zsets),
            ("events: streams", 0.02, 3, self.streams),
            ("audit: big streams", 0.000003, 1, self.big_streams),
        ]

    def run(self, log=print) -> dict[str, int]:
        counts = {}
        plan = [(name, max(minimum, round(self.keys * share)), fn)
                for name, share, minimum, fn in self.categories()]
        # rounding leftovers go to the first (largest, cheapest) category: exactly --keys keys
        plan[0] = (plan[0][0], plan[0][1] + self.keys - sum(n for _, n, _ in plan), plan[0][2])
        for name, n, fn in plan:
            started = time.monotonic()
            for i in range(n):
                fn(i)
            self.w.flush()
            counts[name] = n
            log(f"  {name:<30} {n:>9,} keys  {time.monotonic() - started:6.1f} s")
        return counts

    # strings
    def counters(self, i):
        rng = self.rng
        value = rng.randrange(-1000, 1000) if rng.random() < 0.5 else rng.randrange(1 << 40)
        self.set_string(b"counter:%d" % i, value)

    def sessions(self, i):
        self.set_string(b"session:%s" % self.token(16, 16), self.token(8, 60))

    def caches(self, i):
        n = self.log_size(100, 4096, skew=2.5)  # median ~200 B, 8 % over 2 KB
        value = self.json(n) if self.rng.random() < 0.6 else self.rng.randbytes(n)
        self.set_string(b"cache:page:%d" % i, value)

    def blobs(self, i):
        n = self.log_size(16 << 10, 512 << 10)
        value = self.json(n) if i % 2 else self.rng.randbytes(n)
        self.set_string(b"blob:%d" % i, value)

    # hashes
    def small_hashes(self, i):
        rng, key = self.rng, b"user:%d" % i
        args = []
        for f in range(rng.randint(2, 12)):
            args += [rng.choice(WORDS) + b"_%d" % f,
                     self.token(*SHORT_VALUE_SIZES) if rng.random() < 0.7 else rng.randrange(100000)]
        self.w(b"HSET", key, *args)
        self.maybe_ttl(key)

    def big_hashes(self, i):
        rng, key = self.rng, b"profile:%d" % i
        args = []
        for f in range(rng.randint(200, 1500)):
            args += [b"field:%d" % f, self.token(8, 40) if f % 10 else self.token(65, 100)]
        self.chunked(b"HSET", key, args, 2)
        self.maybe_ttl(key)

    # lists
    def small_lists(self, i):
        rng, key = self.rng, b"queue:%d" % i
        items = [self.token(8, 40) if rng.random() < 0.8 else rng.randrange(1 << 20)
                 for _ in range(rng.randint(1, 12))]
        self.w(b"RPUSH", key, *items)
        self.maybe_ttl(key)

    def big_lists(self, i):
        rng, key = self.rng, b"log:%d" % i
        items = [self.text(rng.randint(20, 120)) for _ in range(rng.randint(2000, 20000))]
        self.chunked(b"RPUSH", key, items, 1)
        self.maybe_ttl(key)

    # sets
    def int_sets(self, i):
        rng, key = self.rng, b"tags:%d" % i
        self.w(b"SADD", key, *rng.sample(range(1 << 30), rng.randint(1, 60)))
        self.maybe_ttl(key)

    def small_sets(self, i):
        rng, key = self.rng, b"members:%d" % i
        self.w(b"SADD", key, *[self.token(6, 24) for _ in range(rng.randint(1, 20))])
        self.maybe_ttl(key)

    def big_sets(self, i):
        rng, key = self.rng, b"group:%d" % i
        n = rng.randint(600, 3000)
        members = [self.token(8, 32) for _ in range(n)] if i % 3 else rng.sample(range(1 << 40), n)
        self.chunked(b"SADD", key, members, 1)
        self.maybe_ttl(key)

    # zsets
    def small_zsets(self, i):
        rng, key = self.rng, b"idx:%d" % i
        args = []
        for _ in range(rng.randint(1, 20)):
            score = rng.randrange(1 << 20) if rng.random() < 0.5 else round(rng.uniform(-1e6, 1e6), 3)
            args += [score, self.token(4, 30)]
        self.w(b"ZADD", key, *args)
        self.maybe_ttl(key)

    def big_zsets(self, i):
        rng, key = self.rng, b"rank:%d" % i
        args = []
        for _ in range(rng.randint(200, 2000)):
            args += [rng.uniform(0, 1e9), self.token(8, 40)]
        self.chunked(b"ZADD", key, args, 2)
        self.maybe_ttl(key)

    # streams
    def _stream(self, key: bytes, entries: int, fields: tuple[int, int]) -> None:
        rng = self.rng
        ms = STREAM_BASE_MS + rng.randrange(10 ** 9)
        ids = []
        for n in range(entries):
            ms += rng.randrange(0, 5000)
            ids.append(b"%d-%d" % (ms, n))
            args = []
            for f in range(rng.randint(*fields)):
                args += [b"f%d" % f, self.token(4, 40) if f % 2 else rng.randrange(10 ** 6)]
            self.w(b"XADD", key, ids[-1], *args)
        if rng.random() < 0.25 or entries > 1000:
            for g in range(rng.randint(1, 2)):
                group = b"g%d" % g
                self.w(b"XGROUP", b"CREATE", key, group, b"0")
                for c in range(rng.randint(1, 3)):
                    count = rng.randint(1, max(1, entries // 3))
                    self.w(b"XREADGROUP", b"GROUP", group, b"consumer-%d" % c, b"COUNT", count,
                           b"STREAMS", key, b">")
        if entries > 2 and rng.random() < 0.1:
            self.w(b"XDEL", key, ids[entries // 2])  # a deleted entry inside a listpack node
        self.maybe_ttl(key)

    def streams(self, i):
        self._stream(b"events:%d" % i, self.rng.randint(1, 20), (1, 5))

    def big_streams(self, i):
        self._stream(b"audit:%d" % i, 20000, (2, 6))


def build(keys: int, seed: int, server: str, output: Path, log=print) -> tuple[Path, int]:
    spec = spec_by_name(server)
    output.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {output} with {spec.name}: {keys:,} keys requested, seed {seed}")
    started = time.monotonic()
    with RedisServer(spec, config={"dbfilename": "bench.rdb"}) as srv:
        srv.client.socket_timeout = 600
        writer = Writer(srv.client)
        gen = Generator(seed, keys, writer)
        gen.run(log)
        dbsize = srv.client.dbsize()
        log(f"  loaded in {time.monotonic() - started:.1f} s; DBSIZE {dbsize:,}, "
            f"{gen.expiring:,} with TTL; used_memory {srv.info('memory')['used_memory_human']}; SAVE ...")
        t = time.monotonic()
        path = srv.save()
        log(f"  SAVE {time.monotonic() - t:.1f} s")
        tmp = output.with_name(output.name + ".tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, output)
    size = output.stat().st_size
    print(f"{output}: {size:,} bytes ({size / 1e6:.1f} MB), {dbsize:,} keys, "
          f"{spec.name} (RDB {spec.rdb_version}), {time.monotonic() - started:.0f} s")
    return output, dbsize


def build_small_strings(keys: int, server: str, output: Path, log=print) -> tuple[Path, int]:
    """``keys`` small string keys (``key:0`` ... with 10-byte values) from the server's own
    ``DEBUG POPULATE``: the per-key overhead case (no TTLs, nothing compressed)."""
    spec = spec_by_name(server)
    output.parent.mkdir(parents=True, exist_ok=True)
    log(f"building {output} with {spec.name}: DEBUG POPULATE {keys:,} key 10")
    started = time.monotonic()
    with RedisServer(spec, config={"dbfilename": "bench.rdb"}) as srv:
        srv.client.socket_timeout = 600
        srv.execute("DEBUG", "POPULATE", keys, "key", 10)
        dbsize = srv.client.dbsize()
        path = srv.save()
        tmp = output.with_name(output.name + ".tmp")
        shutil.copyfile(path, tmp)
        os.replace(tmp, output)
    size = output.stat().st_size
    log(f"{output}: {size:,} bytes ({size / 1e6:.1f} MB), {dbsize:,} keys, {time.monotonic() - started:.0f} s")
    return output, dbsize


def build_big_list(elements: int, element_size: int, server: str, output: Path, seed: int = DEFAULT_SEED,
                   log=print) -> tuple[Path, int]:
    """One list key, ``biglist``, of ``elements`` random (incompressible) elements of
    ``element_size`` bytes, pushed with RPUSH in pipelines (100 elements a command, 100 commands
    a round trip).  1,000,000 x 1 KB is a ~1 GB file: one quicklist of ~8 KB listpack nodes."""
    spec = spec_by_name(server)
    output.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(output.parent).free
    need = elements * element_size * 2.2  # the server's copy, ours, and the server's memory is not disk
    if free < need:
        raise SystemExit(f"{output.parent}: {free / 1e9:.1f} GB free, {need / 1e9:.1f} GB needed")
    log(f"building {output} with {spec.name}: 1 list of {elements:,} x {element_size:,} B")
    started = time.monotonic()
    rng = random.Random(seed)
    per_command = 100
    with RedisServer(spec, config={"dbfilename": "bench.rdb"}) as srv:
        srv.client.socket_timeout = 600
        pipe = srv.client.pipeline(transaction=False)
        pending = 0
        for i in range(0, elements, per_command):
            n = min(per_command, elements - i)
            pipe.execute_command(b"RPUSH", b"biglist", *[rng.randbytes(element_size) for _ in range(n)])
            pending += 1
            if pending >= 100:
                pipe.execute()
                pending = 0
        if pending:
            pipe.execute()
        length = srv.client.llen(b"biglist")
        log(f"  pushed in {time.monotonic() - started:.1f} s; LLEN {length:,}; "
            f"used_memory {srv.info('memory')['used_memory_human']}; SAVE ...")
        path = srv.save()
        tmp = output.with_name(output.name + ".tmp")
        try:
            shutil.copyfile(path, tmp)
            os.replace(tmp, output)
        finally:
            tmp.unlink(missing_ok=True)
    size = output.stat().st_size
    log(f"{output}: {size:,} bytes ({size / 1e6:.1f} MB), {time.monotonic() - started:.0f} s")
    return output, length


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keys", type=int, default=DEFAULT_KEYS, help=f"number of keys (default {DEFAULT_KEYS:,})")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--server", default="redis-7.0.15",
                    help="server that writes the file: redis-7.0.15 (RDB 10, default) or redis-6.2.5 (RDB 9)")
    ap.add_argument("-o", "--output", type=Path,
                    help="output file (default benchmarks/data/bench-<major.minor>[-<N>k].rdb)")
    ap.add_argument("--small-strings", type=int, metavar="N",
                    help="instead: N small string keys from DEBUG POPULATE (default output "
                         "data/small-strings-<N>.rdb)")
    ap.add_argument("--big-list", type=int, metavar="ELEMENTS",
                    help="instead: one list of ELEMENTS random elements of --element-size bytes "
                         "(default output data/big-list-<ELEMENTS>.rdb)")
    ap.add_argument("--element-size", type=int, default=1024, help="bytes per --big-list element (1024)")
    args = ap.parse_args(argv)
    if args.small_strings:
        build_small_strings(args.small_strings, args.server,
                            args.output or DATA / f"small-strings-{args.small_strings}.rdb")
        return 0
    if args.big_list:
        build_big_list(args.big_list, args.element_size, args.server,
                       args.output or DATA / f"big-list-{args.big_list}.rdb", args.seed)
        return 0
    if args.keys < 100:
        ap.error("--keys must be at least 100")
    build(args.keys, args.seed, args.server, args.output or default_output(args.server, args.keys))
    return 0


if __name__ == "__main__":
    sys.exit(main())
