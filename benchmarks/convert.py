#!/usr/bin/env python
"""Time ``rdbtool convert`` against the real server's own load and SAVE of the same RDB file.

    python benchmarks/convert.py                      # benchmarks/data/bench-7.0.rdb (built if missing)
    python benchmarks/convert.py --keys 100000 --no-docs

Operations, each run ``--repeat`` times (rounds interleave all of them, as benchmarks/run.py
does); the median is reported:

  server   Redis 7.0.15 starts on a copy of the file: its own log line "DB loaded from disk"
  save     the same server then runs SAVE of that dataset (client wall time of the command)
  same     ``rdbtool convert FILE out.rdb --target redis-7.0``: same version, values copied raw
  downgrade ``rdbtool convert FILE out.rdb --target redis-6.2``: listpacks rewritten as
           ziplists, quicklist v2 as v1, streams as v1; the rest copied raw
  reencode ``rdbtool convert FILE out.rdb --target redis-7.0 --reencode``: every value decoded
           and encoded again

CLI times are whole processes from spawn to exit; the output goes to a temporary directory on
the same disk and is deleted after each run.  Ratios divide by the server's median load time
(and its SAVE time) of the same invocation.  The table is printed and written into
docs/performance.md ("Writing and converting"; ``--no-docs`` to skip).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from make_dataset import DEFAULT_KEYS, DEFAULT_SEED, build, default_output  # noqa: E402
from run import (DOC, ROOT, SERVER, OpFailed, child_env, fmt_s, machine, rdbtool_command,  # noqa: E402
                 read_path, run_child)
from tests.servers import RedisServer, spec_by_name  # noqa: E402

OPS = ("server", "save", "same", "downgrade", "reencode")
LABELS = {
    "server": "Redis 7.0.15 loads the file (its log)",
    "save": "Redis 7.0.15 `SAVE`s the same dataset",
    "same": "`rdbtool convert FILE out.rdb --target redis-7.0` (same version: raw copies)",
    "downgrade": "`rdbtool convert FILE out.rdb --target redis-6.2` (downgrade)",
    "reencode": "`rdbtool convert FILE out.rdb --target redis-7.0 --reencode`",
}
ARGS = {"same": ["--target", "redis-7.0"], "downgrade": ["--target", "redis-6.2"],
        "reencode": ["--target", "redis-7.0", "--reencode"]}


def measure_server(path: Path, timeout: float) -> tuple[float, float, int]:
    """(load seconds from the log, SAVE seconds, peak RSS KiB)."""
    srv = RedisServer(spec_by_name(SERVER), load_rdb=path)
    srv.start_timeout = timeout
    with srv:
        log = srv.log_path.read_text(errors="replace")
        m = re.search(r"DB loaded from disk: ([0-9.]+) seconds", log)
        if not m:
            raise OpFailed(f"no 'DB loaded from disk' line in {srv.log_path}")
        started = time.perf_counter()
        srv.client.execute_command("SAVE")
        save = time.perf_counter() - started
        hwm = 0
        for line in Path(f"/proc/{srv.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                hwm = int(line.split()[1])
    return float(m.group(1)), save, hwm


def measure_convert(op: str, path: Path, timeout: float, pure: bool | None) -> tuple[float, int]:
    with tempfile.TemporaryDirectory(prefix="convert-bench-", dir=HERE / "data") as tmp:
        cmd = rdbtool_command() + ["convert", str(path), str(Path(tmp) / "out.rdb"), *ARGS[op]]
        wall, rss, _ = run_child(cmd, timeout=timeout, env=child_env(pure))
    return wall, rss


def results_block(path: Path, size: int, repeat: int, res: dict, mach: dict, argv: list[str],
                  read_path_text: str) -> str:
    load = statistics.median(res["server"]["times"])
    save = statistics.median(res["save"]["times"])
    lines = [
        "<!-- convert -->",
        f"### `{path.name}`: {size / 1e6:.1f} MB",
        "",
        f"- Date: {mach['date']}; command: `python benchmarks/convert.py {' '.join(argv)}`".rstrip(),
        f"- Machine: {mach['cpu']}, `nproc` {mach['nproc']}, {mach['memory']}, Linux {mach['kernel']} "
        "(a shared machine: other jobs were running)",
        f"- {mach['implementation']} {mach['python']}, {read_path_text}; server {SERVER}",
        f"- Median of {repeat} runs per operation; whole processes for `rdbtool`",
        "",
        "| Operation | Median (s) | × server load | × server SAVE | Range (s) | Peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for op in OPS:
        r = res[op]
        if r.get("error"):
            lines.append(f"| {LABELS[op]} | {r['error']} | | | | |")
            continue
        times = r["times"]
        med = statistics.median(times)
        lines.append(f"| {LABELS[op]} | {fmt_s(med)} | {med / load:.2f}× | {med / save:.2f}× | "
                     f"{fmt_s(min(times))}–{fmt_s(max(times))} | {max(r['rss']) / 1024:,.0f} |")
    lines += ["", "<!-- /convert -->"]
    return "\n".join(lines)


def write_doc(block: str) -> None:
    text = DOC.read_text()
    pattern = re.compile(r"<!-- convert -->.*?<!-- /convert -->", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{DOC} has no <!-- convert --> block to replace")
    DOC.write_text(pattern.sub(lambda _m: block, text))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rdb", nargs="?", type=Path, help="RDB file (default benchmarks/data/bench-7.0.rdb)")
    ap.add_argument("--keys", type=int, default=DEFAULT_KEYS,
                    help="without RDB: use (building if missing) the dataset with this many keys")
    ap.add_argument("--repeat", type=int, default=3, help="runs per operation (median reported; default 3)")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds before one run is killed")
    ap.add_argument("--pure", action="store_true", help="rdbtool with RDBTOOLS_PUREPYTHON=1")
    ap.add_argument("--no-docs", action="store_true", help="do not update docs/performance.md")
    args = ap.parse_args(argv)

    path = args.rdb or default_output(SERVER, args.keys)
    if not path.exists():
        if args.rdb is not None:
            ap.error(f"{path} does not exist")
        build(args.keys, DEFAULT_SEED, SERVER, path)
    path = path.resolve()
    with open(path, "rb") as f:  # warm the page cache once
        while f.read(1 << 24):
            pass
    pure = True if args.pure else None
    mach = machine()
    res: dict[str, dict] = {op: {"times": [], "rss": []} for op in OPS}
    print(f"{path}: {path.stat().st_size:,} bytes; {args.repeat} rounds", flush=True)
    for rnd in range(1, args.repeat + 1):
        load, save, rss = measure_server(path, args.timeout)
        for op, seconds in (("server", load), ("save", save)):
            res[op]["times"].append(seconds)
            res[op]["rss"].append(rss)
            print(f"  round {rnd} {op:<9} {seconds:9.3f} s", flush=True)
        for op in OPS[2:]:
            if res[op].get("error"):
                continue
            try:
                seconds, rss = measure_convert(op, path, args.timeout, pure)
            except OpFailed as e:
                res[op]["error"] = f"failed: {e}"
                continue
            res[op]["times"].append(seconds)
            res[op]["rss"].append(rss)
            print(f"  round {rnd} {op:<9} {seconds:9.3f} s  peak RSS {rss / 1024:8.1f} MB", flush=True)
    block = results_block(path, path.stat().st_size, args.repeat, res, mach, argv, read_path(pure))
    print()
    print(block)
    raw = HERE / "data" / f"results-convert-{path.stem}.json"
    raw.write_text(json.dumps({"file": str(path), "machine": mach, "results": res}, indent=1))
    if not args.no_docs:
        write_doc(block)
        print(f"\nwrote the results into {DOC.relative_to(ROOT)}; raw numbers in {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
