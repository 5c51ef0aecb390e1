"""Replay speed: rdbtools' AOF replay against the server's own AOF load time of the same file.

    python benchmarks/aof_replay.py --mb 200 --server redis-7.0.15

Builds an AOF of about ``--mb`` megabytes by pipelining writes (strings, INCR, lists, hashes,
sets, zsets, XADD) into a real server with ``appendonly yes`` and ``aof-use-rdb-preamble no``,
restarts a server on that AOF and measures its load time (INFO persistence ``loading`` and the
log's "DB loaded from append only file" time), then times ``rdbtools.aof.replay`` on the same
directory.  Goal: within 3x of the server.  ``--keep DIR`` keeps the AOF (and reuses it on the
next run), ``--repeat N`` reports the best of N timings; the output also has our CPU time and
peak RSS.  Results: docs/aof.md, "Performance".
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from servers import RedisServer, spec_by_name  # noqa: E402

from rdbtools.aof import open_aof  # noqa: E402
from rdbtools.aof.replay import ServerProfile, replay  # noqa: E402


def build(srv, megabytes: int) -> None:
    conn = srv.client
    i = 0
    target = megabytes << 20
    aof_dir = srv.dir / "appendonlydir"
    while True:
        pipe = conn.pipeline(transaction=False)
        for _ in range(2000):
            i += 1
            k = i % 50000
            pipe.set(b"s:%d" % k, b"v" * (i % 40))
            pipe.incr(b"c:%d" % (k % 1000))
            pipe.rpush(b"l:%d" % (k % 500), b"e%d" % i)
            pipe.hset(b"h:%d" % (k % 500), b"f%d" % (i % 300), b"%d" % i)
            pipe.sadd(b"set:%d" % (k % 300), b"%d" % (i % 700))
            pipe.zadd(b"z:%d" % (k % 300), {b"m%d" % (i % 200): i * 0.5})
            pipe.xadd(b"x:%d" % (k % 50), {b"f": b"%d" % i}, id=b"%d-0" % i)
        pipe.execute()
        size = sum(p.stat().st_size for p in aof_dir.glob("*.aof")) if aof_dir.is_dir() else \
            (srv.dir / "appendonly.aof").stat().st_size
        if size >= target:
            return


def server_load_seconds(spec, src_dir: Path) -> float:
    work = Path(tempfile.mkdtemp(prefix="aofbench-load-"))
    for p in src_dir.iterdir():
        (shutil.copytree if p.is_dir() else shutil.copy)(p, work / p.name)
    t0 = time.perf_counter()
    with RedisServer(spec, config={"appendonly": "yes", "aof-use-rdb-preamble": "no"},
                     workdir=work) as srv:
        while srv.info("persistence").get("loading") == "1":
            time.sleep(0.01)
        wall = time.perf_counter() - t0
        log = srv.log_path.read_text(errors="replace")
    shutil.rmtree(work, ignore_errors=True)
    m = re.search(r"DB loaded from (?:append only|incr) file: ([0-9.]+) seconds", log)
    return float(m.group(1)) if m else wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=200)
    ap.add_argument("--server", default="redis-7.0.15")
    ap.add_argument("--keep", metavar="DIR", type=Path,
                    help="build the AOF in DIR and keep it; if DIR/srv already holds an AOF, "
                         "reuse it instead of building")
    ap.add_argument("--repeat", type=int, default=1,
                    help="time the server load and our replay this many times; report the best")
    args = ap.parse_args()
    spec = spec_by_name(args.server)
    work = args.keep or Path(tempfile.mkdtemp(prefix="aofbench-"))
    src = work / "srv"
    if not (src / "appendonlydir").is_dir() and not (src / "appendonly.aof").is_file():
        with RedisServer(spec, config={"appendonly": "yes", "aof-use-rdb-preamble": "no",
                                       "appendfsync": "no"}, workdir=src) as srv:
            build(srv, args.mb)
    aof_path = src / "appendonlydir" if (src / "appendonlydir").is_dir() else src / "appendonly.aof"
    size = sum(p.stat().st_size for p in Path(aof_path).glob("*")) if Path(aof_path).is_dir() \
        else Path(aof_path).stat().st_size
    server_times, our_times, our_cpu = [], [], []
    profile = ServerProfile.for_version("valkey" if spec.is_valkey else "redis", spec.version)
    for _ in range(max(1, args.repeat)):
        server_times.append(server_load_seconds(spec, src))
        t0, c0 = time.perf_counter(), time.process_time()
        with open_aof(aof_path) as aof:
            engine = replay(aof, profile=profile)
        our_times.append(time.perf_counter() - t0)
        our_cpu.append(time.process_time() - c0)
        commands = engine.commands
        del engine  # free the keyspace before the next run (peak RSS is one replay's)
    server_s, ours_s = min(server_times), min(our_times)
    result = {"server": spec.name, "aof_bytes": size, "commands": commands,
              "server_load_s": round(server_s, 3), "rdbtools_replay_s": round(ours_s, 3),
              "ratio": round(ours_s / server_s, 2) if server_s else None,
              "server_load_runs_s": [round(t, 3) for t in server_times],
              "rdbtools_replay_runs_s": [round(t, 3) for t in our_times],
              "rdbtools_replay_cpu_runs_s": [round(t, 3) for t in our_cpu],
              "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
              "python": platform.python_version(), "machine": platform.machine(),
              "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))
    if args.keep is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
