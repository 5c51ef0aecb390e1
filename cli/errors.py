"""Turning exceptions into exit codes for the command-line tools.

``RdbToolsError`` (bad input) and ``OSError`` -> one red line on stderr, exit 1; a valid file
of a version or compression this release cannot read (``UnsupportedVersionError``) -> exit 3;
click usage errors -> exit 2 (click's own handling); ``--traceback`` prints the traceback too; a closed
output pipe (``rdbtool dump big.rdb | head``) ends the program quietly with exit 1, the same in
both tools.

:func:`run_tool` makes standard output lose nothing silently: under ``PYTHONUNBUFFERED`` (or
``python -u``) Python writes stdout straight to the file descriptor and ignores short writes, so
``rdbtool dump big.rdb > /full-disk/out`` used to exit 0 with a truncated file.
"""

from __future__ import annotations

import io
import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

import click

from rdbtools.errors import RdbToolsError, UnsupportedVersionError
from rdbtools.files import CheckedWriter

EXIT_OK = 0
EXIT_BAD_INPUT = 1
EXIT_USAGE = 2
EXIT_UNSUPPORTED = 3  # a valid file of a format version or compression this version cannot read


def fail(message: str, error: BaseException | None = None, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print ``message`` as one red line on stderr (plus the traceback under ``--traceback``)
    and exit with ``code`` (1: bad input)."""
    from .render import err_console, escape

    ctx = click.get_current_context(silent=True)
    if error is not None and ctx is not None and (ctx.find_root().obj or {}).get("traceback"):
        err_console.print_exception()
    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    sys.exit(code)


def _silence_stdout() -> None:
    # Python's recipe for SIGPIPE: point stdout at devnull so the flush at exit cannot fail again
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def _guard_stdout() -> None:
    """Put a buffered writer that writes every byte or raises (ENOSPC, EIO, EPIPE) under
    ``sys.stdout``, whatever buffering Python was started with."""
    try:
        fd = sys.stdout.fileno()
        sys.stdout.flush()
    except (AttributeError, OSError, ValueError):  # no real stdout (embedded, tests)
        return
    text = sys.stdout
    binary = io.BufferedWriter(CheckedWriter(io.FileIO(fd, "wb", closefd=False)))
    sys.stdout = io.TextIOWrapper(binary, encoding=text.encoding, errors=text.errors,
                                  line_buffering=text.isatty())


def run_tool(group: click.Group, prog_name: str) -> NoReturn:
    """Run a command-line tool with a guarded stdout, and make a failure to write its last
    buffered bytes an error (exit 1) rather than a success or Python's exit code 120."""
    _guard_stdout()
    code: Any = EXIT_OK
    try:
        group(prog_name=prog_name)
    except SystemExit as done:
        code = done.code
    try:
        sys.stdout.flush()
    except OSError as e:
        _silence_stdout()  # so the interpreter's own flush at exit has nowhere to fail
        if code in (None, EXIT_OK):  # else the failure was reported already
            if not isinstance(e, BrokenPipeError):
                from .render import err_console

                err_console.print(f"[bold red]error:[/] standard output: {e.strerror or e}",
                                  highlight=False)
            code = EXIT_BAD_INPUT
    sys.exit(code)


class ErrorHandlingGroup(click.Group):
    """A click group whose subcommands report library errors as described in the module
    docstring instead of dumping a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(EXIT_BAD_INPUT)
        except UnsupportedVersionError as e:
            fail(str(e), e, EXIT_UNSUPPORTED)
        except RdbToolsError as e:
            fail(str(e), e)
        except OSError as e:
            where = f"{e.filename}: " if getattr(e, "filename", None) else ""
            fail(f"{where}{e.strerror or e}", e)


@contextmanager
def usage_errors() -> Iterator[None]:
    """A plain ValueError of the library (bad option values) is a usage error (exit 2); its
    RdbToolsError subclasses are bad input (exit 1)."""
    try:
        yield
    except ValueError as e:
        if isinstance(e, RdbToolsError):
            raise
        raise click.UsageError(str(e)) from None
