"""Number ranges read from the case model: every score's number items have one, and a value
fits the range exactly when a case holding it at the same field is accepted."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from venapath.domain.case import Case
from venapath.domain.facts import FactType, catalogue
from venapath.domain.ranges import NumberRange, number_range
from venapath.scores import registry
from venapath.scores.base import ItemKind

SCORE_NUMBER_FACTS = sorted(
    {
        fact
        for definition in registry.SCORES.values()
        for item in definition.items
        for fact in item.facts
        if catalogue()[fact].type is FactType.NUMBER
    }
)
UNIT_FIELDS = {"/labs/creatinine", "/labs/haemoglobin", "/labs/platelets"}


def test_every_number_item_of_every_score_has_a_lower_bound() -> None:
    """A score item without a range would add up whatever it is sent."""
    assert SCORE_NUMBER_FACTS
    for fact in SCORE_NUMBER_FACTS:
        bounds = number_range(fact)
        assert bounds is not None, fact
        assert bounds.minimum is not None, fact


def test_graded_items_are_bounded_by_their_top_grade() -> None:
    """A Villalta item's range is its grade: whole numbers 0..weight, as the case says."""
    for definition in registry.SCORES.values():
        for item in definition.items:
            if item.kind is ItemKind.GRADED:
                expected = NumberRange(0.0, float(item.weight), whole=True)
                assert number_range(item.facts[0]) == expected, item.id


def test_facts_derived_from_dates_or_lists_have_no_range() -> None:
    assert number_range("days_since_onset") is None
    assert number_range("thrombosed_segment_count") is None
    assert number_range("active_cancer") is None  # not a number


def _case_with(pointer: str, value: float) -> dict[str, Any]:
    """The smallest case holding `value` at `pointer` (a unit measurement as its value)."""
    leaf: Any = {"value": value} if pointer in UNIT_FIELDS else value
    for part in reversed(pointer.strip("/").split("/")):
        leaf = {part: leaf}
    return {"case_id": "range-check", **leaf}


def _case_accepts(pointer: str, value: float, whole: bool) -> bool:
    sent: float | int = int(value) if whole and value.is_integer() else value
    try:
        Case.model_validate(_case_with(pointer, sent))
    except ValidationError:
        return False
    return True


@pytest.mark.parametrize("fact", SCORE_NUMBER_FACTS)
@given(value=st.floats(min_value=-1e6, max_value=1e6) | st.integers(-500, 500).map(float))
def test_a_value_fits_the_range_exactly_when_the_case_accepts_it(fact: str, value: float) -> None:
    bounds = number_range(fact)
    assert bounds is not None
    pointer = catalogue()[fact].settled_by[0]
    fits = bounds.problem(value) is None
    assert fits == _case_accepts(pointer, value, bounds.whole), (fact, value)
