"""Turning exceptions into exit codes for the command-line tools.

``RdbToolsError`` (bad input) and ``OSError`` -> one red line on stderr, exit 1; a valid file
of a version or compression this release cannot read (``UnsupportedVersionError``) -> exit 3;
click usage errors -> exit 2 (click's own handling); ``--traceback`` prints the traceback too; a closed
output pipe (``rdbtool dump big.rdb | head``) ends the program quietly with exit 1.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Any, Iterator, NoReturn

import click

from rdbtools.errors import RdbToolsError, UnsupportedVersionError

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
