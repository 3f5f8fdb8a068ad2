"""Villalta PTS scale: 11 items graded 0-3, ulcer forces severe (dvt-verification.md 6)."""

from __future__ import annotations

import pytest

from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreResult, compute, output_facts
from venapath.scores.villalta import DEFINITION

ITEMS = (
    "pain",
    "cramps",
    "heaviness",
    "paraesthesia",
    "pruritus",  # patient-rated symptoms
    "pretibial_oedema",
    "skin_induration",
    "hyperpigmentation",
    "redness",
    "venous_ectasia",
    "pain_on_calf_compression",  # clinician-rated signs
)
NOTHING: dict[str, FactValue] = {
    **{f"villalta_{item}": 0 for item in ITEMS},
    "venous_ulcer": False,
}


def villalta(total: int = 0, /, **facts: FactValue) -> ScoreResult:
    """Spread `total` points over the items in order (3 each), then apply `facts`."""
    spread: dict[str, FactValue] = {}
    for item in ITEMS:
        spread[f"villalta_{item}"] = min(3, total)
        total -= min(3, total)
    assert total == 0
    return compute(DEFINITION, {**NOTHING, **spread, **facts})


def outputs(result: ScoreResult) -> tuple[bool | None, bool | None]:
    facts = output_facts(DEFINITION, result)
    return facts["villalta_pts"], facts["villalta_severe_pts"]


def test_eleven_items_five_symptoms_six_signs() -> None:
    assert [item.facts[0] for item in DEFINITION.items] == [f"villalta_{i}" for i in ITEMS]
    assert len(DEFINITION.items) == 11


@pytest.mark.parametrize("item", ITEMS)
@pytest.mark.parametrize("grade", [0, 1, 2, 3])
def test_each_item_alone_scores_its_grade(item: str, grade: int) -> None:
    assert villalta(**{f"villalta_{item}": grade}).points == grade


def test_published_maximum_is_33() -> None:
    result = villalta(33)
    assert (result.points, result.band) == (33, "severe")


@pytest.mark.parametrize(
    ("points", "band", "pts", "severe"),
    [
        (0, "none", False, False),
        (4, "none", False, False),
        (5, "mild", True, False),
        (9, "mild", True, False),
        (10, "moderate", True, False),
        (14, "moderate", True, False),
        (15, "severe", True, True),
    ],
)
def test_band_boundaries(points: int, band: str, pts: bool, severe: bool) -> None:
    result = villalta(points)
    assert (result.points, result.band) == (points, band)
    assert outputs(result) == (pts, severe)


def test_venous_ulcer_makes_it_severe_whatever_the_points() -> None:
    result = villalta(0, venous_ulcer=True)
    assert (result.points, result.band) == (0, "severe")
    assert outputs(result) == (True, True)


def test_unknown_ulcer_with_low_points_leaves_the_band_open() -> None:
    result = villalta(3, venous_ulcer=None)
    # Points are reported only when everything the band depends on is known.
    assert (result.points, result.min_points, result.max_points) == (None, 3, 3)
    assert result.band is None
    assert result.possible_bands == ["none", "severe"]
    assert result.missing == ["venous_ulcer"]
    assert outputs(result) == (None, None)


def test_unknown_ulcer_with_severe_points_is_severe() -> None:
    result = villalta(16, venous_ulcer=None)
    assert result.band == "severe"
    assert outputs(result) == (True, True)


def test_unknown_ulcer_with_mild_points_is_pts_but_severity_unknown() -> None:
    result = villalta(6, venous_ulcer=None)
    assert result.possible_bands == ["mild", "severe"]
    assert outputs(result) == (True, None)


def test_unknown_item_straddling_none_and_mild() -> None:
    result = villalta(4, villalta_pain_on_calf_compression=None)
    assert (result.points, result.min_points, result.max_points) == (None, 4, 7)
    assert result.possible_bands == ["none", "mild"]
    assert result.band is None
    assert result.missing == ["villalta_pain_on_calf_compression"]


def test_unknown_item_within_one_band() -> None:
    result = villalta(10, villalta_pain_on_calf_compression=None)
    assert (result.min_points, result.max_points, result.band) == (10, 13, "moderate")
    assert outputs(result) == (True, False)
