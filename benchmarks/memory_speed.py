#!/usr/bin/env python
"""Time ``rdbtool memory`` and ``rdbtool bigkeys`` against the real server's own load of the same
RDB file (the method of benchmarks/run.py, whose helpers it uses).

    python benchmarks/memory_speed.py                    # benchmarks/data/bench-7.0.rdb, compiled and pure
    python benchmarks/memory_speed.py --keys 100000 --repeat 5 --no-pure

Operations, each in its own child process, whole-process wall time (interpreter start included),
rounds interleaving all of them so machine noise hits every operation alike; the median of
``--repeat`` rounds is divided by the server's median load time of the same invocation:

  server        Redis 7.0.15 loads the file (its log line "DB loaded from disk")
  memory-csv    ``rdbtool memory FILE --format csv > /dev/null``
  memory-jsonl  ``rdbtool memory FILE --format jsonl > /dev/null``
  bigkeys       ``rdbtool bigkeys FILE > /dev/null``

each with the compiled estimator and, unless ``--no-pure``, with ``RDBTOOLS_PUREPYTHON=1``.  The
table is printed (docs/memory.md, "Speed", holds the last published one).  No timing is judged.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from run import SERVER, child_env, fmt_s, machine, measure_server, rdbtool_command, run_child  # noqa: E402
from make_dataset import DEFAULT_KEYS, DEFAULT_SEED, build, default_output  # noqa: E402

OPS = {
    "memory-csv": (["memory", "{file}", "--format", "csv"], "`rdbtool memory FILE -f csv > /dev/null`"),
    "memory-jsonl": (["memory", "{file}", "--format", "jsonl"], "`rdbtool memory FILE -f jsonl > /dev/null`"),
    "bigkeys": (["bigkeys", "{file}"], "`rdbtool bigkeys FILE > /dev/null`"),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rdb", nargs="?", type=Path, help="RDB file (default benchmarks/data/bench-7.0.rdb)")
    ap.add_argument("--keys", type=int, default=DEFAULT_KEYS, help="without RDB: the dataset with this many keys")
    ap.add_argument("--repeat", type=int, default=3, help="rounds (median reported; default 3)")
    ap.add_argument("--no-pure", action="store_true", help="skip the RDBTOOLS_PUREPYTHON=1 runs")
    ap.add_argument("--timeout", type=float, default=1200)
    args = ap.parse_args(argv)

    path = args.rdb or default_output(SERVER, args.keys)
    if not path.exists():
        build(args.keys, DEFAULT_SEED, SERVER, path)
    path = path.resolve()
    with open(path, "rb") as f:  # warm the page cache once
        while f.read(1 << 24):
            pass
    paths = ["compiled"] + ([] if args.no_pure else ["pure"])
    times: dict[tuple[str, str], list[float]] = {("server", ""): []}
    for rnd in range(1, args.repeat + 1):
        seconds, _, _ = measure_server(path, args.timeout)
        times[("server", "")].append(seconds)
        print(f"round {rnd} server {seconds:.3f} s", flush=True)
        for op, (cmd, _) in OPS.items():
            for how in paths:
                argv_ = rdbtool_command() + [a.format(file=path) for a in cmd]
                wall, _, _ = run_child(argv_, timeout=args.timeout, env=child_env(pure=how == "pure"))
                times.setdefault((op, how), []).append(wall)
                print(f"round {rnd} {op} {how} {wall:.3f} s", flush=True)

    base = statistics.median(times[("server", "")])
    mach = machine()
    print()
    print(f"`{path.name}` ({path.stat().st_size / 1e6:.1f} MB); {mach['cpu']}, nproc {mach['nproc']}, "
          f"CPython {mach['python']}; {mach['date']}; median of {args.repeat} rounds")
    print()
    head = "| Operation | " + " | ".join(f"{h}: median (s) | × server" for h in paths) + " |"
    print(head)
    print("|---|" + "---:|---:|" * len(paths))
    print(f"| {SERVER} loads the file (its log line) | {fmt_s(base)} | 1.00× (baseline) |"
          + " | |" * (len(paths) - 1))
    for op, (_, label) in OPS.items():
        cells = []
        for how in paths:
            med = statistics.median(times[(op, how)])
            cells.append(f"{fmt_s(med)} | {med / base:.2f}×")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
