"""Every error the command line can report, mapped to a message and an exit code in one place.

    0  success
    1  an internal failure (one line, no traceback unless VENAPATH_DEBUG is set)
    2  the input, an option, a file or the settings were refused; not found; conflict; refused
    3  a dependency (the database) is unavailable or its schema is out of date: retry later

`VenaPathGroup` is the root command group of `venapath`: every command runs inside it, so a
command raises the tree of `venapath/errors.py` and never catches it itself. It imports only
the tree, so a command that does not touch the database never loads SQLAlchemy for it.
"""

from __future__ import annotations

import os
from typing import Any

import typer
from typer._click.core import Context
from typer.core import TyperGroup

from venapath.cli.console import LazyConsole
from venapath.errors import InputError, UnavailableError, VenaPathError

EXIT_INTERNAL = 1
EXIT_REFUSED = 2
EXIT_UNAVAILABLE = 3

stderr = LazyConsole(stderr=True, soft_wrap=True)  # Rich is imported only to report an error


def exit_code_of(error: VenaPathError) -> int:
    """3 when retrying later may succeed, 2 for everything the caller has to change."""
    return EXIT_UNAVAILABLE if isinstance(error, UnavailableError) else EXIT_REFUSED


def lines_of(error: VenaPathError) -> list[str]:
    """One line per problem (prefixed with the file it was found in), else the message."""
    if isinstance(error, InputError):
        source = getattr(error, "source", "")
        only_message = len(error.problems) == 1 and not error.problems[0].pointer
        if source or not only_message:
            prefix = f"{source}: " if source else ""
            return [f"{prefix}{problem}" for problem in error.problems]
    reason = getattr(error, "reason", None)  # an operator's detail (DatabaseUnavailableError)
    return [f"{error.message} ({reason})" if reason else error.message]


def report(error: VenaPathError) -> int:
    """Print `error` to standard error, one line per problem; return its exit code."""
    label = "unavailable" if isinstance(error, UnavailableError) else "error"
    for line in lines_of(error):
        stderr.print(f"[bold red]{label}:[/] {_escape(line)}", highlight=False)
    return exit_code_of(error)


def report_internal(error: BaseException) -> int:
    """The last line of defence: the error's type and text on one line, exit 1."""
    text = _escape(f"{type(error).__name__}: {error}")
    stderr.print(f"[bold red]internal error:[/] {text}", highlight=False)
    return EXIT_INTERNAL


class VenaPathGroup(TyperGroup):
    """The root group: runs a command and maps the tree of `venapath/errors.py` to exit codes.

    Mapping here (not only in `main()`) means the same answer in tests that invoke the Typer
    app directly and from the installed `venapath` command."""

    def invoke(self, ctx: Context) -> Any:
        try:
            return super().invoke(ctx)
        except VenaPathError as error:
            if os.environ.get("VENAPATH_DEBUG"):
                raise
            raise typer.Exit(code=report(error)) from None


def _escape(text: str) -> str:
    """Rich markup escaped (imported here, on the error path only)."""
    from rich.markup import escape

    return escape(text)
