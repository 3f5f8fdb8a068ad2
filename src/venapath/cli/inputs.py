"""Reading command-line options, once for every command: a bad value raises an
`ArgumentError` naming the option, which `cli/errors.py` prints before exiting 2."""

from __future__ import annotations

from datetime import date, datetime
from typing import NoReturn

from venapath.cli.console import LazyConsole
from venapath.errors import ArgumentError

errors = LazyConsole(stderr=True, soft_wrap=True)


def fail_input(message: str) -> NoReturn:
    """Refuse a bad option, argument or file; `message` starts with its name."""
    raise ArgumentError(message)


def parse_moment(option: str, value: str) -> datetime:
    """An ISO 8601 date-time with a time zone (a naive one would be read in local time)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        fail_input(f"{option}: {value!r} is not an ISO 8601 date-time")
    if moment.tzinfo is None:
        fail_input(f"{option}: {value!r} needs a time zone (e.g. 2026-01-01T08:00:00+00:00)")
    return moment


def parse_day(option: str, value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        fail_input(f"{option}: {value!r} is not a date (YYYY-MM-DD)")
