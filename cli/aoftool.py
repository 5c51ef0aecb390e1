"""``aoftool``: inspect and replay Redis / Valkey append-only files (single files with or without
an RDB preamble, and multi-part ``appendonlydir`` directories with their manifest).

Thin commands over rdbtools.aof (reader, replay); output through rdbtools.dump /
rdbtools.commands like ``rdbtool dump``; errors through errors.py.
"""

from __future__ import annotations

import json
from collections import Counter

import click

from rdbtools import __version__
from rdbtools.aof import open_aof
from rdbtools.aof.replay import ServerProfile, replay
from rdbtools.commands import write_resp
from rdbtools.dump import write_json, write_jsonl
from rdbtools.filters import KeyFilter
from rdbtools.model import Function

from .errors import ErrorHandlingGroup
from .options import filter_options, format_option, open_output, output_option

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
    """Inspect and replay Redis and Valkey append-only files (AOF).

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
    with open_output(output) as out:
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
                  + (f", written by {report['server']}" if report["server"] else ""), highlight=False)
    if report["manifest"]:
        console.print(f"manifest {escape(report['manifest'])}", highlight=False)
    for p in report["parts"]:
        extra = f", RDB {p['rdb_header']} with {p['rdb_keys']} keys" if p["rdb_header"] else ""
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


def main() -> None:
    """Entry point of the ``aoftool`` script."""
    aoftool(prog_name="aoftool")


if __name__ == "__main__":  # pragma: no cover
    main()
