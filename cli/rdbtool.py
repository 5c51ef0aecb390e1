"""``rdbtool``: inspect, dump and check Redis / Valkey RDB files.

Each command is a thin layer over the library (rdbtools.analysis.info, rdbtools.output.dump, rdbtools.output.commands,
rdbtools.rdb.filters, rdbtools.ops.convert, rdbtools.rdb.writer, rdbtools.ops.shards); terminal output lives in
render.py, error handling in errors.py.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Collection, Iterable, Iterator

import click

from rdbtools import __version__, open_rdb
from rdbtools.output.commands import write_resp
from rdbtools.output.dump import write_json, write_jsonl, write_text
from rdbtools.errors import FormatError
from rdbtools.rdb.filters import KeyFilter
from rdbtools.analysis.info import summarize
from rdbtools.model import Entry, Function

from .errors import EXIT_BAD_INPUT, EXIT_UNSUPPORTED, ErrorHandlingGroup, run_tool, usage_errors
from .options import (filter_options, format_option, input_argument, open_output, open_source,
                      output_option, target_option, write_options)
from .render import print_check, progress_records, render_summary

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(cls=ErrorHandlingGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(version=__version__, message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show the Python traceback of an error.")
@click.pass_context
def rdbtool(ctx: click.Context, traceback: bool) -> None:
    """Inspect, dump and check Redis and Valkey RDB snapshot files.

    FILE may be "-" for standard input; gzip and lz4 compressed files are
    read transparently.  Exit status: 0 success, 1 bad input (message on
    stderr), 2 usage error.
    """
    ctx.obj = {"traceback": traceback}


def _selected(rdb, key_filter: KeyFilter, with_functions: bool,
              raw_types: Collection[int] | None = None) -> Iterator:
    records = progress_records(rdb, rdb.iter_records(raw_types=raw_types))
    for rec in records:
        if isinstance(rec, Entry):
            if key_filter.matches(rec):
                yield rec
        elif with_functions and isinstance(rec, Function):
            yield rec


def _entries(records: Iterable) -> Iterator[Entry]:
    return (r for r in records if isinstance(r, Entry))


@rdbtool.command()
@input_argument
@format_option(["jsonl", "json", "text", "resp", "restore"], "jsonl")
@output_option
@target_option("the file's own version; -f resp and -f restore only")
@click.option("--replace", is_flag=True,
              help="-f restore: RESTORE ... REPLACE and FUNCTION LOAD REPLACE (overwrite "
                   "what the server has).")
@write_options
@filter_options
def dump(file: str, fmt: str, output: str, target, replace, config, strict, unwritable, modules,
         reencode, key_filter: KeyFilter) -> None:
    """Write the keys of FILE as JSON Lines, a JSON array, text or Redis commands.

    jsonl/json follow docs/dump-format.md (lossless; binary-safe through
    {"b64": ...}); text is one human-readable line per key; resp is the
    commands that rebuild the keys, in AOF rewrite style; restore is one
    RESTORE command per key with a DUMP payload built for --target (absolute
    TTLs, LRU/LFU data).  Pipe resp and restore into redis-cli --pipe.
    Functions are included in resp and restore output when no filter is
    given.  --config, --strict, --unwritable, --module and --reencode apply
    to -f restore as to rdbtool convert.

    \b
    Example:
        rdbtool dump dump.rdb --key 'user:*' --type hash
        rdbtool dump dump.rdb -f resp | redis-cli --pipe
        rdbtool dump dump.rdb -f restore -t redis-6.2 | redis-cli -p 7000 --pipe
        gunzip -c backup.rdb.gz | rdbtool dump - -f json -o keys.json
    """
    if fmt != "restore" and (replace or config or strict or unwritable != "drop" or modules
                             or reencode):
        raise click.UsageError("--replace, --config, --strict, --unwritable, --module and "
                               "--reencode apply to -f restore only")
    if fmt not in ("resp", "restore") and target is not None:
        raise click.UsageError("--target applies to -f resp and -f restore only")
    if fmt == "restore":
        _dump_restore(file, output, target, replace, config, strict, unwritable, modules,
                      reencode, key_filter)
        return
    with open_rdb(open_source(file), values="full") as rdb, open_output(output, inputs=[file]) as out:
        records = _selected(rdb, key_filter, with_functions=fmt == "resp" and key_filter.is_empty)
        if fmt == "resp":
            rdb_version = rdb.version if target is None else _target(target).rdb_version
            write_resp(records, out, rdb_version=rdb_version)
        else:
            writer = {"jsonl": write_jsonl, "json": write_json, "text": write_text}[fmt]
            writer(_entries(records), out)


def _target(name: str, config=None):
    from rdbtools.rdb.targets import get_target

    with usage_errors():
        return get_target(name, config)


def _dump_restore(file, output, target, replace, config, strict, unwritable, modules, reencode,
                  key_filter: KeyFilter) -> None:
    from rdbtools.rdb.targets import target_for_file
    from rdbtools.rdb.writer import RestoreWriter

    from .render import render_losses

    with open_rdb(open_source(file), values="full") as rdb, open_output(output, inputs=[file]) as out:
        if target is None:
            with usage_errors():
                target = target_for_file(rdb.version, rdb.valkey)
        writer = RestoreWriter(out, _target(target, config), replace=replace, strict=strict,
                               unwritable=unwritable, modules=modules or None,
                               source=(rdb.version, rdb.valkey), reencode=reencode)
        records = _selected(rdb, key_filter, with_functions=key_filter.is_empty,
                            raw_types=writer.raw_types)
        result = writer.write_all(records)
    render_losses(result)


@rdbtool.command()
@input_argument
@format_option(["table", "json"], "table")
def info(file: str, fmt: str) -> None:
    """Summarise FILE: format version, AUX fields, keys and TTLs per database,
    types, on-disk encodings, functions, modules and checksum status.

    Values are not decoded, so this costs about one read of the file.

    \b
    Example:
        rdbtool info dump.rdb
        rdbtool info dump.rdb -f json | jq .keys
    """
    with open_rdb(open_source(file), values="sizes") as rdb:
        summary = summarize(rdb, progress_records(rdb, rdb.iter_records()))
    if fmt == "json":
        click.echo(json.dumps(summary.to_dict(), indent=2, ensure_ascii=False))
    else:
        render_summary(summary, name="" if file == "-" else file)


@rdbtool.command()
@input_argument
@format_option(["text", "json"], "text")
def check(file: str, fmt: str) -> None:
    """Decode every record and value of FILE and verify its CRC64 checksum.

    Exit status: 0 sound, 1 damaged (the message names the byte offset of
    the damage), 3 unsupported (a valid file of an RDB version or a
    compression this release does not read).  A checksum stored as 0
    (rdbchecksum no) is reported as "disabled", not as damage.  What is odd
    but loads (bytes after the end, implausible RESIZEDB hints, a database
    number the default 16 databases refuse) is listed as warnings.

    \b
    Example:
        rdbtool check dump.rdb
        rdbtool check dump.rdb -f json
    """
    from rdbtools.errors import UnsupportedVersionError

    result = {"file": file, "status": "sound", "ok": True, "magic": None, "version": None,
              "keys": 0, "checksum": None, "error": None, "offset": None, "warnings": []}  # fmt: skip
    with _collected_warnings(result["warnings"]):
        try:
            with open_rdb(open_source(file), values="full") as rdb:
                result.update(magic=rdb.magic, version=rdb.version)
                for rec in progress_records(rdb, rdb.iter_records()):
                    result["keys"] += isinstance(rec, Entry)
                result["checksum"] = rdb.checksum
        except FormatError as e:
            status = "unsupported" if isinstance(e, UnsupportedVersionError) else "damaged"
            result.update(status=status, ok=False, error=str(e), offset=e.offset)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        print_check(result)
    if result["status"] != "sound":
        raise SystemExit(EXIT_UNSUPPORTED if result["status"] == "unsupported" else EXIT_BAD_INPUT)


@contextmanager
def _collected_warnings(into: list[str]) -> Iterator[None]:
    """The library's warnings (logger ``rdbtools``) while the block runs, as text in ``into``."""
    import logging

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            into.append(record.getMessage())

    logger = logging.getLogger("rdbtools")
    handler = Collect(logging.WARNING)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False  # shown once, by print_check
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


@rdbtool.command()
@click.argument("source", type=click.Path(exists=True, allow_dash=True), metavar="IN")
@click.argument("dest", type=click.Path(dir_okay=False, allow_dash=True), metavar="OUT")
@target_option("the RDB input's own version")
@click.option("--to", "to", type=click.Choice(["rdb", "jsonl", "resp"]), default=None,
              help="Output format (default: from OUT's extension: .jsonl/.json, .aof/.resp, "
                   "else rdb).")
@write_options
@filter_options
def convert(source, dest, target, to, config, strict, unwritable, modules, reencode,
            key_filter: KeyFilter) -> None:
    """Convert IN (an RDB file, a JSON/JSONL dump, or an AOF: appendonly.aof,
    a manifest or an appendonlydir, replayed) into OUT: an RDB file for any
    target server (downgrade, upgrade, Redis <-> Valkey), a JSONL dump or
    Redis commands.  The dump filters apply, so convert also extracts keys.

    Values are written in the encoding the target itself would choose; values
    already in such an encoding are copied without decoding.  What the target
    cannot hold (field TTLs before Redis 7.4, functions before 7.0, module
    values, newer stream metadata) is listed on stderr.  OUT is written
    atomically; "-" is stdout (IN "-" is stdin).

    \b
    Example:
        rdbtool convert dump.rdb old.rdb --target redis-6.2
        rdbtool convert dump.rdb valkey.rdb -t valkey-9.1 --key 'user:*'
        rdbtool convert keys.jsonl dump.rdb --target redis-7.4
        rdbtool convert dump.rdb - --to resp | redis-cli --pipe
        rdbtool convert appendonlydir dump.rdb
    """
    from rdbtools.ops.convert import convert as run_convert, output_format

    from .render import render_convert

    with usage_errors(), open_output(dest, inputs=[source]) as out:
        result = run_convert(open_source(source), out, to=output_format(dest, to),
                             target=target, config=config, key_filter=key_filter,
                             strict=strict, unwritable=unwritable,
                             modules=modules or None, reencode=reencode)
    render_convert(result, dest)


@rdbtool.command()
@input_argument
@click.option("-o", "--output-dir", "out_dir", required=True,
              type=click.Path(file_okay=False), metavar="DIR",
              help="Directory for the files (created if missing).")
@click.option("--slots", "n", type=click.IntRange(1, 16384), default=None, metavar="N",
              help="N files of contiguous slot ranges, as redis-cli --cluster create divides "
                   "the slots among N masters.")
@click.option("--ranges", default=None, metavar="RANGES",
              help="One file per comma-separated item: 0-5460,5461-10922,10923-16383; join "
                   "ranges of one file with + (0-100+200-300).")
@click.option("--nodes-conf", "nodes_conf", type=click.Path(exists=True, dir_okay=False),
              default=None, metavar="FILE",
              help="One file per master of this cluster config file, with the slots it owns.")
@target_option("the input's own version")
@click.option("--other-dbs", type=click.Choice(["fail", "db0", "keep"]), default="fail",
              show_default=True,
              help="Keys outside database 0 (a cluster has only db 0): stop with an error, "
                   "write them into db 0, or keep their db (Valkey 9 cluster-databases).")
@click.option("--replace-stale", is_flag=True,
              help="Delete shard files of an earlier split left in the output directory once "
                   "the new ones are written (refused by default: they would load keys twice).")
@click.option("--unassigned", type=click.Choice(["fail", "drop"]), default="fail",
              show_default=True,
              help="Keys whose slot is in none of the ranges: stop with an error, or leave "
                   "them out.")
@write_options
@filter_options
def split(file, out_dir, n, ranges, nodes_conf, target, other_dbs, replace_stale, unassigned, config,
          strict, unwritable, modules, reencode, key_filter: KeyFilter) -> None:
    """Split FILE into one RDB file per cluster slot range, each key into the
    file whose range holds its slot (CRC16 of the key or of its {hash tag},
    as CLUSTER KEYSLOT).  Give exactly one of --slots, --ranges, --nodes-conf.

    Files are named after their ranges (slots-00000-05460.rdb) and written
    atomically, all or none.  Function libraries go to every file.  Values are
    copied without decoding where the target stores them the same way.

    \b
    Example:
        rdbtool split dump.rdb --slots 3 -o shards/
        rdbtool split dump.rdb --ranges 0-8191,8192-16383 -o shards/ -t redis-7.0
        rdbtool split dump.rdb --nodes-conf nodes.conf -o shards/ --other-dbs db0
    """
    from rdbtools.ops.shards import even_slot_ranges, parse_slot_ranges, read_nodes_conf, split_rdb

    from .render import render_split

    if sum(x is not None for x in (n, ranges, nodes_conf)) != 1:
        raise click.UsageError("give exactly one of --slots, --ranges and --nodes-conf")
    with usage_errors():
        if n is not None:
            shards = even_slot_ranges(n)
        elif ranges is not None:
            shards = parse_slot_ranges(ranges)
        else:
            with open(nodes_conf, encoding="utf-8", errors="replace") as f:
                shards = read_nodes_conf(f.read())
        result = split_rdb(open_source(file), out_dir, shards, target=target, config=config,
                           key_filter=key_filter, other_dbs=other_dbs, unassigned=unassigned,
                           strict=strict, unwritable=unwritable, modules=modules or None,
                           reencode=reencode, progress=progress_records,
                           replace_stale=replace_stale)
    render_split(result)


@rdbtool.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...",
                type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, allow_dash=True),
              help="The merged RDB file (written atomically; - for stdout).")
@click.option("--on-conflict", type=click.Choice(["error", "first", "last"]), default="error",
              show_default=True,
              help="The same key in several inputs: stop with an error naming it and the "
                   "files, or keep the copy of the first / last input holding it.")
@target_option("the inputs' version, when they all have the same")
@write_options
@filter_options
def merge(files, output, on_conflict, target, config, strict, unwritable, modules, reencode,
          key_filter: KeyFilter) -> None:
    """Merge several RDB files (the shards of a cluster, or snapshots of
    different datasets) into one.  Each input is read twice, so they must be
    files.  A key (db and name) present in several inputs, or a function
    library with different code, is decided by --on-conflict; with "error"
    (the default) nothing is written.

    \b
    Example:
        rdbtool merge shard1.rdb shard2.rdb shard3.rdb -o all.rdb
        rdbtool merge old.rdb new.rdb -o out.rdb --on-conflict last -t redis-7.2
    """
    from rdbtools.ops.shards import merge_rdb

    from .render import render_merge

    with usage_errors(), open_output(output, inputs=files) as out:
        result = merge_rdb(list(files), out, on_conflict=on_conflict, target=target,
                           config=config, key_filter=key_filter, strict=strict,
                           unwritable=unwritable, modules=modules or None, reencode=reencode,
                           progress=progress_records)
    render_merge(result, output)


# -- memory analysis: memory, bigkeys, report ----------------------------------------------------------

def _files_argument(fn):
    return click.argument("files", nargs=-1, required=True, metavar="FILE...",
                          type=click.Path(exists=True, dir_okay=False, allow_dash=True))(fn)


def _parse_config(ctx, param, values: tuple[str, ...]) -> dict:
    from rdbtools.analysis.memory import normalise_config

    out = {}
    for v in values:
        name, sep, value = v.partition("=")
        if not sep:
            raise click.BadParameter(f"{v!r}: expected NAME=VALUE")
        try:
            int(value)
            normalise_config({name: value})
        except ValueError as e:
            raise click.BadParameter(str(e)) from None
        out[name] = int(value)
    return out


def _server_check(ctx, param, value):
    if value is None:
        return None
    from rdbtools.analysis.memory import profile_for

    try:
        profile_for(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    return value


def memory_options(fn):
    """--server / --config / --allocator: the target whose MEMORY USAGE is estimated."""
    fn = click.option("--allocator", type=click.Choice(["jemalloc", "jemalloc16", "libc"]), default=None,
                      help="Override the target's allocator (jemalloc16: distribution jemalloc with a 16-byte quantum).")(fn)
    fn = click.option("--config", "config", multiple=True, metavar="NAME=VALUE", callback=_parse_config,
                      help="Encoding threshold of the target, e.g. hash-max-listpack-entries=1024 (repeatable).")(fn)
    fn = click.option("--server", default=None, metavar="NAME", callback=_server_check,
                      help="Estimate for this server (redis-6.2, redis-7.0, redis-7.2, redis-7.4, redis-8.2, "
                           "valkey-8.1, valkey-9.1, ...); default: the one that wrote the file.")(fn)
    return fn


def _estimates(files, server, config, allocator, key_filter=None):
    """(FileEstimates, name) per input file, each open while it is iterated."""
    from rdbtools.analysis.memory import FileEstimates

    for file in files:
        with open_rdb(open_source(file), values="full") as rdb:
            est = FileEstimates(rdb, None if file == "-" else file, server, config or None, allocator,
                                key_filter=key_filter)
            yield est, ("<stdin>" if file == "-" else file)


@rdbtool.command()
@_files_argument
@format_option(["csv", "jsonl", "parquet"], "csv")
@output_option
@memory_options
@filter_options
def memory(files, fmt, output, server, config, allocator, key_filter: KeyFilter) -> None:
    """Estimate the memory of every key: one row per key with db, key, type,
    predicted encoding, elements, memory_usage (bytes, as MEMORY USAGE key
    SAMPLES 0 would answer once the server has loaded the file), largest
    element (bytes) and expire_at_ms.

    The target server is the one that wrote the file unless --server names
    another; see docs/memory.md for the measured accuracy.  Parquet output
    needs pyarrow (pip install 'rdbtools-suite[parquet]').

    \b
    Example:
        rdbtool memory dump.rdb > memory.csv
        rdbtool memory dump.rdb --server valkey-8.1 -f jsonl
        rdbtool memory shard*.rdb -f parquet -o memory.parquet
    """
    from rdbtools.analysis.export import write_memory

    if fmt == "parquet":
        if output == "-":
            raise click.UsageError("parquet output needs -o FILE")
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise click.ClickException("parquet output needs pyarrow: pip install 'rdbtools-suite[parquet]'") from None
    with open_output(output, inputs=files) as out:
        rows = (k for est, _ in _estimates(files, server, config, allocator, key_filter) for k in est)
        write_memory(rows, out, fmt)


@rdbtool.command()
@_files_argument
@click.option("-n", "--top", "top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Keys per list.")
@format_option(["table", "json"], "table")
@memory_options
def bigkeys(files, top, fmt, server, config, allocator) -> None:
    """The biggest keys, offline redis-cli --bigkeys and --memkeys: the top N
    keys by estimated memory (overall and per type) and by element count
    (per type), kept in bounded memory (heaps).

    \b
    Example:
        rdbtool bigkeys dump.rdb -n 20
        rdbtool bigkeys shard1.rdb shard2.rdb -f json
    """
    from rdbtools.analysis.report import TopKeys

    tops = TopKeys(top)
    for est, _ in _estimates(files, server, config, allocator):
        for k in est:
            tops.add(k)
    data = tops.to_dict()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from .render import render_bigkeys

        render_bigkeys(data)


@rdbtool.command()
@_files_argument
@format_option(["table", "json"], "table")
@click.option("--html", "html", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="Also write a self-contained HTML page (treemap of prefixes, charts, top keys).")
@click.option("--separators", default=":", show_default=True,
              help="Characters that split key names into prefix parts.")
@click.option("--depth", type=click.IntRange(min=1), default=3, show_default=True, help="Prefix tree depth.")
@click.option("-n", "--top", "top", type=click.IntRange(min=1), default=10, show_default=True,
              help="Keys per top list.")
@memory_options
def report(files, fmt, html, separators, depth, top, server, config, allocator) -> None:
    """Summarise where the memory goes: by database, type, encoding, key
    prefix (ids and digits normalised: user:123:cart counts as user:*:cart),
    expiry bucket, LFU/LRU hot and cold keys, with advice and estimated
    savings.  Several files (all shards of a cluster) make one report.

    \b
    Example:
        rdbtool report dump.rdb
        rdbtool report shard*.rdb --html report.html
        rdbtool report dump.rdb -f json --separators ':/' --depth 2
    """
    from rdbtools.analysis.report import Report

    rep = None
    for est, name in _estimates(files, server, config, allocator):
        if rep is None:
            rep = Report(separators=separators.encode(), depth=depth, top=top,
                         now_ms=est.snapshot_ms, profile=est.profile)
        rep.add_file(name, est.server, est.snapshot_ms)
        for k in est:
            rep.add(k)
    data = rep.to_dict()  # type: ignore[union-attr]
    if html:
        from .report_html import write_html

        write_html(data, html)
    if fmt == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    else:
        from .render import render_report

        render_report(data)


def main() -> None:
    """Entry point of the ``rdbtool`` script."""
    run_tool(rdbtool, "rdbtool")


if __name__ == "__main__":  # pragma: no cover
    main()
