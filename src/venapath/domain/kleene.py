"""Three-valued (Kleene) logic: True, False and None for unknown.

SQL NULL follows the same truth tables, which is what lets the population screen compile
the same conditions to SQL and get the same answers.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable
from typing import Any

Truth = bool | None

COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
    "eq": operator.eq,
    "ne": operator.ne,
}
"""The comparison names conditions and score items use; here so both layers share one list."""


def k_and(values: Iterable[Truth]) -> Truth:
    """False if any is False; else unknown if any is unknown; else True."""
    unknown = False
    for value in values:
        if value is False:
            return False
        if value is None:
            unknown = True
    return None if unknown else True


def k_or(values: Iterable[Truth]) -> Truth:
    """True if any is True; else unknown if any is unknown; else False."""
    unknown = False
    for value in values:
        if value is True:
            return True
        if value is None:
            unknown = True
    return None if unknown else False


def k_not(value: Truth) -> Truth:
    return None if value is None else not value
