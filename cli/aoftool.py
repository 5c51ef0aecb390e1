"""``aoftool``: inspect, replay, check, compact, cut and convert Redis / Valkey append-only files
(single files with or without an RDB preamble, and multi-part ``appendonlydir`` directories with
their manifest).

Thin commands over rdbtools.aof (reader, replay, rewrite, check, cut) and rdbtools.ops.convert;
output through rdbtools.output.dump / rdbtools.output.commands like ``rdbtool dump``; tables through render.py;
errors through errors.py.
"""

from __future__ import annotations

import json
import sys
from collections import Counter

import click

from rdbtools import __version__
from rdbtools.aof import open_aof
from rdbtools.aof.replay import ServerProfile, replay
from rdbtools.aof.rewrite import BASE_FORMS
from rdbtools.output.commands import write_resp
from rdbtools.output.dump import write_json, write_jsonl
from rdbtools.rdb.filters import KeyFilter
from rdbtools.model import Function

from .errors import EXIT_BAD_INPUT, ErrorHandlingGroup, run_tool, usage_errors
from .options import (filter_options, format_option, open_output, output_option,
                      target_option)

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def aof_argument(fn):
    """``PATH``: an AOF file, a manifest, an appendonlydir or the directory holding it."""
    return click.argument("path", type=click.Path(exists=True, file_okay=True, dir_okay=True),
                          metavar="PATH")(fn)


def _profile(ctx, param, value):
    if value is None:
        return None
    try:
        return ServerProfile.parse(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def replay_options(fn):
    options = [
        click.option("--server", "profile", callback=_profile, metavar="NAME-VERSION",
                     help="Encodings as this server would choose them, e.g. redis-7.4.1 or "
                          "valkey-9.1.2 (default: from the RDB preamble, else redis-7.4)."),
        click.option("--skip-unknown", is_flag=True,
                     help="Skip commands the replay does not know (module commands...) and "
                          "report how many of each were skipped, instead of stopping."),
        click.option("--until-timestamp", type=int, metavar="UNIX_S", default=None,
                     help="Stop at the first #TS: annotation later than this."),
        click.option("--until-offset", type=int, metavar="BYTES", default=None,
                     help="Stop before the first command ending after this offset (counted "
                          "over the loaded files in load order)."),
        click.option("--strict", is_flag=True,
                     help="A truncated last file is an error instead of being loaded up to its "
                          "last complete command."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@click.group(cls=ErrorHandlingGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(version=__version__, message="%(prog)s %(version)s")
@click.option("--traceback", is_flag=True, help="Show the Python traceback of an error.")
@click.pass_context
def aoftool(ctx: click.Context, traceback: bool) -> None:
    """Inspect, replay, check, compact, cut and convert Redis and Valkey
    append-only files (AOF).

    PATH is an appendonly.aof file, a manifest, an appendonlydir or the
    directory that holds it.  Exit status: 0 success, 1 bad input (message
    on stderr), 2 usage error.
    """
    ctx.obj = {"traceback": traceback}


@aoftool.command()
@aof_argument
@format_option(["jsonl", "json", "resp"], "jsonl")
@output_option
@filter_options
@replay_options
def dump(path: str, fmt: str, output: str, key_filter: KeyFilter, profile, skip_unknown: bool,
         until_timestamp, until_offset, strict: bool) -> None:
    """Replay PATH and write the resulting keys as JSON Lines, a JSON array or
    Redis commands (the same formats and filters as ``rdbtool dump``).

    Expired keys are kept (the file decides nothing about "now").  Skipped
    commands (--skip-unknown) are counted on stderr.

    \b
    Example:
        aoftool dump appendonlydir --key 'user:*'
        aoftool dump appendonly.aof -f resp | redis-cli --pipe
        aoftool dump appendonlydir --until-timestamp 1700000000 -f json
    """
    from .render import err_console, escape

    with open_aof(path, strict=strict) as aof:
        engine = replay(aof, profile=profile, skip_unknown=skip_unknown,
                        upto_timestamp=until_timestamp, upto_offset=until_offset)
        truncation = aof.truncation
    entries = (e for e in engine.iter_entries() if key_filter.matches(e))
    with open_output(output, inputs=[path]) as out:
        if fmt == "resp":
            records: list = list(engine.iter_functions()) if key_filter.is_empty else []
            write_resp(records + list(entries), out, rdb_version=None)
        else:
            (write_json if fmt == "json" else write_jsonl)(entries, out)
    if engine.skipped:
        total = sum(engine.skipped.values())
        detail = ", ".join(f"{n} x{c}" for n, c in engine.skipped.most_common())
        err_console.print(f"[yellow]skipped {total} unknown command(s):[/] {escape(detail)}",
                          highlight=False)
    if truncation is not None:
        err_console.print(f"[yellow]truncated:[/] {escape(truncation.file)} loaded up to offset "
                          f"{truncation.offset} of {truncation.size} ({escape(truncation.reason)})",
                          highlight=False)


def aof_info(path: str, strict: bool = False) -> dict:
    """The ``aoftool info`` report as a plain dict (layout, manifest, parts, histogram,
    timestamp range, truncation)."""
    with open_aof(path, strict=strict) as aof:
        histogram: Counter = Counter()
        keys = functions = 0
        for rec in aof.iter_records():
            name = rec.__class__.__name__
            if name == "AofCommand":
                cmd = rec.name
                if cmd in (b"XGROUP", b"FUNCTION", b"OBJECT", b"SCRIPT") and len(rec.args) > 1:
                    cmd += b" " + rec.args[1].upper()
                histogram[cmd.decode("utf-8", "replace")] += 1
            elif name == "Entry":
                keys += 1
            elif isinstance(rec, Function):
                functions += 1
        stamps = [t for p in aof.parts for t in (p.first_ts, p.last_ts) if t is not None]
        parts = [{"file": p.name, "kind": p.kind, "seq": p.seq, "size": p.size,
                  "format": ("rdb+resp" if p.preamble else "resp"), "rdb_header": p.preamble,
                  "rdb_keys": p.rdb_keys, "commands": p.commands,
                  "first_timestamp": p.first_ts, "last_timestamp": p.last_ts,
                  "start_offset": p.start_offset, "end_offset": p.end_offset}
                 for p in aof.parts]
        return {
            "path": str(path),
            "layout": aof.layout,
            "manifest": (str(aof.manifest.path) if aof.manifest is not None else None),
            "manifest_text": (aof.manifest.text.decode("utf-8", "replace")
                              if aof.manifest is not None else None),
            "parts": parts,
            "history": [{"file": p.name, "seq": p.seq, "size": p.size} for p in aof.history],
            "server": (f"{aof.server_name}-{aof.server_version}" if aof.server_version else None),
            "rdb_preamble_keys": keys,
            "functions_in_rdb": functions,
            "commands": sum(histogram.values()),
            "histogram": dict(histogram.most_common()),
            "timestamps": ({"first": min(stamps), "last": max(stamps)} if stamps else None),
            "truncation": (None if aof.truncation is None else {
                "file": aof.truncation.file, "offset": aof.truncation.offset,
                "size": aof.truncation.size, "dropped_bytes": aof.truncation.dropped_bytes,
                "reason": aof.truncation.reason}),
        }


@aoftool.command()
@aof_argument
@format_option(["table", "json"], "table")
@click.option("--strict", is_flag=True, help="A truncated last file is an error.")
def info(path: str, fmt: str, strict: bool) -> None:
    """Summarise PATH: layout, manifest, parts with sizes, command histogram,
    timestamp range and truncation status (no replay).

    \b
    Example:
        aoftool info appendonlydir
        aoftool info appendonly.aof -f json | jq .histogram
    """
    report = aof_info(path, strict)
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
        return
    from .render import console, escape

    console.print(f"[bold]{escape(report['path'])}[/]: {report['layout']}"
                  + (f", written by {escape(report['server'])}" if report["server"] else ""),
                  highlight=False)
    if report["manifest"]:
        console.print(f"manifest {escape(report['manifest'])}", highlight=False)
    for p in report["parts"]:
        extra = (f", RDB {escape(p['rdb_header'])} with {p['rdb_keys']} keys"
                 if p["rdb_header"] else "")
        console.print(f"  {p['kind']:<7} {escape(p['file'])}  {p['size']} bytes, "
                      f"{p['commands']} commands{extra}", highlight=False)
    for h in report["history"]:
        console.print(f"  history {escape(h['file'])}  {h['size']} bytes (not loaded)", highlight=False)
    ts = report["timestamps"]
    if ts:
        console.print(f"timestamps {ts['first']} .. {ts['last']}", highlight=False)
    console.print(f"{report['commands']} commands:", highlight=False)
    for name, n in report["histogram"].items():
        console.print(f"  {escape(name):<24} {n}", highlight=False)
    t = report["truncation"]
    console.print("truncation: none" if t is None else
                  f"truncation: {escape(t['file'])} usable up to offset {t['offset']} of "
                  f"{t['size']} ({escape(t['reason'])})", highlight=False)


def aof_target_option(fn):
    return target_option("the server named by the AOF's RDB part, else the replay's --server")(fn)


@aoftool.command()
@aof_argument
@click.option("-o", "--output", type=click.Path(), default=None,
              help="Write the rewritten AOF here instead of in place: a new (or empty) directory "
                   "for a multi-part AOF, a file for a single-file AOF.")
@click.option("--base", type=click.Choice(BASE_FORMS), default=None,
              help="Base file form: an RDB (aof-use-rdb-preamble yes) or the rewrite's commands "
                   "(no).  Default: the form of the AOF's own base.")
@aof_target_option
@click.option("--keep-history", is_flag=True,
              help="Keep the old base and incr files, listed as history in the manifest "
                   "(aof-disable-auto-gc yes), instead of deleting them.")
@click.option("--server", "profile", callback=_profile, metavar="NAME-VERSION",
              help="Replay with this server's rules (default: from the RDB preamble, else "
                   "redis-7.4).")
@format_option(["table", "json"], "table")
def rewrite(path: str, output, base, target, keep_history: bool, profile, fmt: str) -> None:
    """Compact the AOF at PATH offline, as the server's BGREWRITEAOF does:
    replay it, write the dataset as a new base file, start a new empty incr
    file, swap the manifest atomically and retire the old files to history
    (deleted unless --keep-history).  A single-file AOF becomes one compact
    file.  A kill at any moment leaves an AOF that loads the same data.
    The server must not be running on PATH.

    \b
    Example:
        aoftool rewrite /var/lib/redis/appendonlydir
        aoftool rewrite appendonlydir --base aof --keep-history
        aoftool rewrite appendonlydir -o compacted/appendonlydir -f json
    """
    from rdbtools.aof.rewrite import rewrite_aof

    from .render import AofProgress, render_rewrite

    with open_aof(path) as aof:
        total = aof.total_size
    with AofProgress(total) as bar, usage_errors():
        result = rewrite_aof(path, output, base=base, target=target, keep_history=keep_history,
                             profile=profile, progress=bar.callback)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        render_rewrite(result.to_dict())


@aoftool.command()
@aof_argument
@click.option("--fix", is_flag=True,
              help="Truncate a damaged tail of the last incr file (or of a single-file AOF) at "
                   "its last complete command, after copying the file to a backup.")
@click.option("--backup", type=click.Path(dir_okay=False), default=None,
              help="Where --fix copies the file first (default: FILE.bak, FILE.bak.1, ...).")
@format_option(["table", "json"], "table")
def check(path: str, fix: bool, backup, fmt: str) -> None:
    """Check every file of the AOF at PATH as redis-check-aof does: the RDB
    part (records and CRC64), then the RESP commands and MULTI/EXEC blocks;
    report the first bad offset of each file.  Exit 0 when sound, 1 when
    damaged.

    --fix cuts a damaged tail off the last incr file (the loss the server
    itself accepts with aof-load-truncated), after writing a backup, and
    refuses anything else (damage in an earlier file or in an RDB part),
    changing nothing.

    \b
    Example:
        aoftool check appendonlydir
        aoftool check appendonlydir --fix
        aoftool check appendonly.aof -f json
    """
    from rdbtools.aof.check import check_aof, fix_aof
    from rdbtools.errors import AofFixRefusedError

    from .errors import fail
    from .render import render_aof_check, render_fix

    if not fix:
        report = check_aof(path).to_dict()
        if fmt == "json":
            click.echo(json.dumps(report, indent=2))
        else:
            render_aof_check(report)
        if not report["ok"]:
            sys.exit(EXIT_BAD_INPUT)
        return
    try:
        result = fix_aof(path, backup).to_dict()
    except AofFixRefusedError as e:
        report = check_aof(path).to_dict()
        if fmt == "json":
            click.echo(json.dumps({"fixed": None, "refused": str(e), "check": report}, indent=2))
        else:
            render_aof_check(report)
        fail(f"refused: {e}", e)
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        render_aof_check(result["check"])
        render_fix(result)


@aoftool.command()
@aof_argument
@click.option("--to-timestamp", type=int, metavar="UNIX_S", default=None,
              help="Keep what was written up to this time: stop at the first #TS: annotation "
                   "later than it.")
@click.option("--to-offset", type=click.IntRange(min=0), metavar="BYTES", default=None,
              help="Keep the commands that end at or before this offset (counted over the "
                   "loaded files in load order).")
@click.option("-o", "--output", type=click.Path(), required=True,
              help="Where to write: *.rdb, *.jsonl / *.json, *.resp, else an AOF (a directory "
                   "for a multi-part AOF, a file for a single file).")
@click.option("--to", "to", type=click.Choice(["aof", "rdb", "jsonl", "resp"]), default=None,
              help="Output format (default: from OUT's form).")
@aof_target_option
@click.option("--skip-unknown", is_flag=True,
              help="RDB/JSONL/RESP output: skip commands the replay does not know.")
@format_option(["text", "json"], "text")
def cut(path: str, to_timestamp, to_offset, output: str, to, target, skip_unknown: bool,
        fmt: str) -> None:
    """Point-in-time recovery: write the state of the AOF at PATH as it was
    at a #TS: timestamp or at a byte offset, as a new AOF, an RDB file or a
    JSONL dump.  PATH is never modified.

    \b
    Example:
        aoftool cut appendonlydir --to-timestamp 1700000000 -o before-incident
        aoftool cut appendonlydir --to-timestamp 1700000000 -o state.rdb -t redis-7.4
        aoftool cut appendonly.aof --to-offset 1048576 -o state.jsonl
    """
    from rdbtools.ops.cut import cut_aof

    from .render import render_cut

    if (to_timestamp is None) == (to_offset is None):
        raise click.UsageError("give exactly one of --to-timestamp and --to-offset")
    with usage_errors():
        result = cut_aof(path, output, to_timestamp=to_timestamp, to_offset=to_offset, to=to,
                         target=target, skip_unknown=skip_unknown).to_dict()
    if fmt == "json":
        click.echo(json.dumps(result, indent=2))
    else:
        render_cut(result)


@aoftool.command()
@aof_argument
@click.argument("dest", type=click.Path(dir_okay=False, allow_dash=True), metavar="OUT")
@aof_target_option
@click.option("--to", "to", type=click.Choice(["rdb", "jsonl", "resp"]), default=None,
              help="Output format (default: from OUT's extension: .jsonl/.json, .aof/.resp, "
                   "else rdb).")
@click.option("--skip-unknown", is_flag=True,
              help="Skip commands the replay does not know (module commands...).")
@click.option("--strict", is_flag=True, help="Fail on any loss instead of reporting it.")
@filter_options
def convert(path: str, dest: str, target, to, skip_unknown: bool, strict: bool,
            key_filter: KeyFilter) -> None:
    """Replay the AOF at PATH and write its dataset to OUT as an RDB file for
    any target server, a JSONL dump or Redis commands (the filters of
    ``aoftool dump`` apply).  OUT is written atomically; "-" is stdout.

    \b
    Example:
        aoftool convert appendonlydir dump.rdb
        aoftool convert appendonlydir dump.rdb --target redis-7.0
        aoftool convert appendonly.aof keys.jsonl --key 'user:*'
    """
    from rdbtools.ops.convert import convert as run_convert, output_format

    from .render import render_convert

    with usage_errors(), open_output(dest, inputs=[path]) as out:
        result = run_convert(path, out, to=output_format(dest, to), target=target,
                             key_filter=key_filter, strict=strict, skip_unknown=skip_unknown)
    render_convert(result, dest)


def main() -> None:
    """Entry point of the ``aoftool`` script."""
    run_tool(aoftool, "aoftool")


if __name__ == "__main__":  # pragma: no cover
    main()
