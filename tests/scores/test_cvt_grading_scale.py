"""CVT Grading Scale (Barboza et al. 2018), vectors from evidence-verification.md 3."""

from __future__ import annotations

import pytest

from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreResult, compute, output_facts
from venapath.scores.cvt_grading_scale import DEFINITION

NOTHING: dict[str, FactValue] = {
    "largest_lesion_cm": 0.0,
    "bilateral_babinski": False,
    "male_sex": False,
    "intracerebral_haemorrhage": False,
    "consciousness": "alert",
}
MAXIMAL: dict[str, FactValue] = {
    "largest_lesion_cm": 7.0,
    "bilateral_babinski": True,
    "male_sex": True,
    "intracerebral_haemorrhage": True,
    "consciousness": "coma",
}


def cvtgs(**facts: FactValue) -> ScoreResult:
    return compute(DEFINITION, {**NOTHING, **facts})


@pytest.mark.parametrize(
    ("fact", "value", "points"),
    [
        ("largest_lesion_cm", 6.5, 3),
        ("bilateral_babinski", True, 3),
        ("male_sex", True, 2),
        ("intracerebral_haemorrhage", True, 2),
        ("consciousness", "coma", 3),
        ("consciousness", "stupor", 2),
        ("consciousness", "somnolent", 1),
        ("consciousness", "alert", 0),
    ],
)
def test_each_item_alone_gives_its_points(fact: str, value: FactValue, points: int) -> None:
    assert cvtgs(**{fact: value}).points == points


@pytest.mark.parametrize(("cm", "points"), [(5.9, 0), (6.0, 0), (6.01, 3), (9.0, 3)])
def test_lesion_counts_only_above_6_cm(cm: float, points: int) -> None:
    assert cvtgs(largest_lesion_cm=cm).points == points


def test_published_maximum_is_13() -> None:
    assert cvtgs(**MAXIMAL).points == 13
    assert cvtgs().points == 0


@pytest.mark.parametrize(
    ("facts", "points", "band"),
    [
        ({"male_sex": True}, 2, "mild"),
        ({"bilateral_babinski": True}, 3, "moderate"),
        (
            {"bilateral_babinski": True, "largest_lesion_cm": 8.0, "consciousness": "somnolent"},
            7,
            "moderate",
        ),
        (
            {"bilateral_babinski": True, "largest_lesion_cm": 8.0, "consciousness": "stupor"},
            8,
            "severe",
        ),
    ],
)
def test_band_boundaries(facts: dict[str, FactValue], points: int, band: str) -> None:
    result = cvtgs(**facts)
    assert (result.points, result.band) == (points, band)
    assert output_facts(DEFINITION, result) == {"cvt_grading_scale_severe": band == "severe"}


def test_interpretations_give_the_abstracts_fatality_rates() -> None:
    text = {band.label: band.interpretation for band in DEFINITION.bands}
    assert "0.4%" in text["mild"]
    assert "9.9%" in text["moderate"]
    assert "61.4%" in text["severe"]
    assert not any("19.6%" in t or "1.1%" in t for t in text.values())


def test_worked_example_stuporous_woman_with_large_haemorrhagic_lesion_scores_7() -> None:
    # cvt.md 5C: a woman, stuporous, with a haemorrhagic lesion over 6 cm and no Babinski
    # signs scores 2 + 2 + 3 = 7, moderate (about 10% 30-day fatality).
    result = cvtgs(consciousness="stupor", intracerebral_haemorrhage=True, largest_lesion_cm=6.5)
    assert (result.points, result.band) == (7, "moderate")


def test_unknown_consciousness_straddling_mild_and_moderate() -> None:
    result = cvtgs(consciousness=None)
    assert (result.points, result.min_points, result.max_points) == (None, 0, 3)
    assert result.band is None
    assert result.possible_bands == ["mild", "moderate"]
    assert result.missing == ["consciousness"]
    assert output_facts(DEFINITION, result) == {"cvt_grading_scale_severe": False}


def test_unknown_consciousness_when_already_severe() -> None:
    result = cvtgs(
        bilateral_babinski=True, largest_lesion_cm=7.0, male_sex=True, consciousness=None
    )
    assert (result.min_points, result.max_points, result.band) == (8, 11, "severe")
    assert output_facts(DEFINITION, result) == {"cvt_grading_scale_severe": True}


def test_unknown_items_that_could_reach_severe_leave_the_output_unknown() -> None:
    result = cvtgs(bilateral_babinski=True, male_sex=True, largest_lesion_cm=None)
    assert (result.min_points, result.max_points) == (5, 8)
    assert output_facts(DEFINITION, result) == {"cvt_grading_scale_severe": None}
