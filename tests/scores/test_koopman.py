"""Koopman CVT outcome score (J Neurol Sci 2009), vectors from evidence-verification.md 2."""

from __future__ import annotations

import math

import pytest

from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreResult, compute, output_facts
from venapath.scores.koopman import DEFINITION

NOTHING: dict[str, FactValue] = {
    "age_years": 30,
    "male_sex": False,
    "intracerebral_haemorrhage": False,
    "mental_status_disorder": False,
    "coma": False,
    "active_cancer": False,
    "deep_cerebral_venous_system_involved": False,
    "cns_infection": False,
}

# (fact, value that scores, published points, ISCVT hazard ratio)
PUBLISHED: list[tuple[str, FactValue, int, float]] = [
    ("age_years", 45, 7, 2.0),
    ("male_sex", True, 5, 1.6),
    ("intracerebral_haemorrhage", True, 6, 1.9),
    ("mental_status_disorder", True, 7, 2.0),
    ("coma", True, 10, 2.7),
    ("active_cancer", True, 11, 2.9),
    ("deep_cerebral_venous_system_involved", True, 11, 2.9),
    ("cns_infection", True, 12, 3.3),
]


def koopman(**facts: FactValue) -> ScoreResult:
    return compute(DEFINITION, {**NOTHING, **facts})


@pytest.mark.parametrize(("fact", "value", "points", "hazard_ratio"), PUBLISHED)
def test_each_item_alone_gives_its_points(
    fact: str, value: FactValue, points: int, hazard_ratio: float
) -> None:
    assert koopman(**{fact: value}).points == points
    # The paper's method: weight = round(10 x ln(HR)).
    assert round(10 * math.log(hazard_ratio)) == points


@pytest.mark.parametrize(("age", "points"), [(37, 0), (37.0, 0), (37.5, 7), (38, 7)])
def test_age_counts_only_above_37(age: float, points: int) -> None:
    assert koopman(age_years=age).points == points


def test_published_maximum_is_69() -> None:
    everything = {fact: value for fact, value, _points, _hr in PUBLISHED}
    assert koopman(**everything).points == 69
    assert koopman().points == 0


@pytest.mark.parametrize(
    ("facts", "points", "band"),
    [
        ({"age_years": 50, "intracerebral_haemorrhage": True}, 13, "good outcome likely"),
        ({"age_years": 50, "mental_status_disorder": True}, 14, "poor outcome likely"),
        ({"cns_infection": True}, 12, "good outcome likely"),
        ({"cns_infection": True, "male_sex": True}, 17, "poor outcome likely"),
    ],
)
def test_cut_off_at_14(facts: dict[str, FactValue], points: int, band: str) -> None:
    result = koopman(**facts)
    assert (result.points, result.band) == (points, band)
    expected = band == "poor outcome likely"
    assert output_facts(DEFINITION, result) == {"koopman_poor_outcome_likely": expected}


def test_worked_example_45_year_old_woman_with_ich_and_mental_status_disorder_scores_20() -> None:
    # cvt.md 5B: a 45-year-old woman with ICH and a mental status disorder scores
    # 7 + 6 + 7 = 20, which is >= 14, so poor outcome is likely.
    result = koopman(age_years=45, intracerebral_haemorrhage=True, mental_status_disorder=True)
    assert (result.points, result.band) == (20, "poor outcome likely")


def test_interpretations_state_the_predictive_values() -> None:
    text = {band.label: band.interpretation for band in DEFINITION.bands}
    assert "96%" in text["good outcome likely"]
    assert "39%" in text["poor outcome likely"]


def test_unknown_item_straddling_the_cut_off() -> None:
    result = koopman(age_years=50, coma=None)
    assert (result.points, result.min_points, result.max_points) == (None, 7, 17)
    assert result.band is None
    assert result.missing == ["coma"]
    assert output_facts(DEFINITION, result) == {"koopman_poor_outcome_likely": None}


def test_unknown_items_cannot_lower_a_score_already_at_14() -> None:
    result = koopman(age_years=50, mental_status_disorder=True, coma=None, cns_infection=None)
    assert (result.min_points, result.max_points) == (14, 36)
    assert result.band == "poor outcome likely"


def test_unknown_age_can_still_leave_the_band_settled() -> None:
    result = koopman(age_years=None)
    assert (result.min_points, result.max_points, result.band) == (0, 7, "good outcome likely")
    assert output_facts(DEFINITION, result) == {"koopman_poor_outcome_likely": False}
