"""Shared helpers for the score tests: the facts a score reads, and random values for them.

Random values are drawn by the catalogue's fact type, so a score item that reads a fact of
the wrong type shows up as a failing property rather than a silent zero.
"""

from __future__ import annotations

from hypothesis import strategies as st

from venapath.domain.facts import FactType, FactValue, catalogue
from venapath.scores.base import ScoreDefinition

# Values either side of every numeric item boundary, so random draws test the edges.
_BOUNDARY_NUMBERS: tuple[float, ...] = (
    0,
    2.9,
    3,
    3.1,
    6,
    6.01,
    7,
    7.9,
    8,
    37,
    37.5,
    38,
    65,
    65.5,
    66,
    160,
    160.5,
    161,
    199.9,
    200,
)


def read_facts(definition: ScoreDefinition) -> list[str]:
    """Every fact the score's points or band depend on, in item order, without repeats."""
    names: list[str] = []
    for item in definition.items:
        names.extend(name for name in item.facts if name not in names)
    if definition.override_fact is not None and definition.override_fact not in names:
        names.append(definition.override_fact)
    return names


def known_value(name: str) -> st.SearchStrategy[FactValue]:
    """A known (non-None) value of the right type for fact `name`."""
    fact = catalogue()[name]
    if fact.type is FactType.BOOLEAN:
        return st.booleans()
    if fact.type is FactType.CHOICE:
        return st.sampled_from(fact.choices)
    if name.startswith("villalta_"):
        return st.integers(min_value=0, max_value=3)
    return st.one_of(
        st.sampled_from(_BOUNDARY_NUMBERS),
        st.integers(min_value=0, max_value=400),
        st.floats(min_value=0, max_value=400, allow_nan=False, allow_infinity=False),
    )


def full_assignment(names: list[str]) -> st.SearchStrategy[dict[str, FactValue]]:
    """Every fact in `names` known."""
    return st.fixed_dictionaries({name: known_value(name) for name in names})


def theoretical_range(definition: ScoreDefinition) -> tuple[int, int]:
    """The lowest and highest total the items allow."""
    return (
        sum(item.min_points for item in definition.items),
        sum(item.max_points for item in definition.items),
    )
