"""Wells DVT score: 2003 two-level (wells_dvt) and 1997 three-level (wells_dvt_three_level).

Vectors follow the NICE NG158 table 1 reproduction of Wells 2003 (dvt-verification.md 7)
and the 1997 three-level bands (evidence-verification.md 6a).
"""

from __future__ import annotations

import pytest

from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreDefinition, ScoreResult, compute, output_facts
from venapath.scores.wells_dvt import DEFINITION as WELLS
from venapath.scores.wells_dvt_three_level import DEFINITION as WELLS_1997

NOTHING: dict[str, FactValue] = {
    "active_cancer": False,
    "immobilisation": False,
    "bedridden_3_days_or_major_surgery_12_weeks": False,
    "deep_vein_tenderness": False,
    "entire_leg_swollen": False,
    "calf_difference_cm": 0.0,
    "pitting_oedema": False,
    "collateral_superficial_veins": False,
    "previous_dvt": False,
    "alternative_diagnosis_as_likely": False,
}
"""Every 2003 item known and absent: 0 points."""

# (fact, value that scores, published points) -- Wells 2003 / NICE NG158 table 1.
PUBLISHED_2003: list[tuple[str, FactValue, int]] = [
    ("active_cancer", True, 1),
    ("immobilisation", True, 1),
    ("bedridden_3_days_or_major_surgery_12_weeks", True, 1),
    ("deep_vein_tenderness", True, 1),
    ("entire_leg_swollen", True, 1),
    ("calf_difference_cm", 3.0, 1),
    ("pitting_oedema", True, 1),
    ("collateral_superficial_veins", True, 1),
    ("previous_dvt", True, 1),
    ("alternative_diagnosis_as_likely", True, -2),
]
MAXIMAL: dict[str, FactValue] = {
    **{fact: value for fact, value, points in PUBLISHED_2003 if points > 0},
    "alternative_diagnosis_as_likely": False,
}


def wells(definition: ScoreDefinition = WELLS, /, **facts: FactValue) -> ScoreResult:
    return compute(definition, {**NOTHING, **facts})


@pytest.mark.parametrize(("fact", "value", "points"), PUBLISHED_2003)
def test_each_item_alone_gives_its_points(fact: str, value: FactValue, points: int) -> None:
    assert wells(**{fact: value}).points == points


def test_no_items_scores_zero_unlikely() -> None:
    result = wells()
    assert (result.points, result.band) == (0, "DVT unlikely")


@pytest.mark.parametrize(("cm", "points"), [(2.9, 0), (3.0, 1), (3.1, 1), (6.0, 1)])
def test_calf_swelling_counts_from_3_cm(cm: float, points: int) -> None:
    # NICE's reproduction: "at least 3 cm" larger than the asymptomatic side.
    assert wells(calf_difference_cm=cm).points == points


def test_published_range_is_minus_2_to_9() -> None:
    assert wells(**MAXIMAL).points == 9
    assert wells(alternative_diagnosis_as_likely=True).points == -2
    assert wells(**{**MAXIMAL, "alternative_diagnosis_as_likely": True}).points == 7


def test_band_boundary_between_1_and_2() -> None:
    one = wells(active_cancer=True)
    two = wells(active_cancer=True, previous_dvt=True)
    assert (one.points, one.band) == (1, "DVT unlikely")
    assert (two.points, two.band) == (2, "DVT likely")
    assert output_facts(WELLS, one) == {"wells_dvt_likely": False}
    assert output_facts(WELLS, two) == {"wells_dvt_likely": True}


def test_example_a_cancer_swollen_leg_scores_4_likely() -> None:
    # dvt.md 5, constructed example (a): 60-year-old on chemotherapy, whole leg swollen,
    # pitting oedema, calf +4 cm, no better explanation -> 4, DVT likely.
    result = wells(
        active_cancer=True, entire_leg_swollen=True, pitting_oedema=True, calf_difference_cm=4.0
    )
    assert (result.points, result.band) == (4, "DVT likely")


def test_example_b_cellulitis_more_likely_scores_0_unlikely() -> None:
    # dvt.md 5, constructed example (b): cellulitis more likely (-2), calf tenderness (+1),
    # pitting oedema (+1) -> 0, DVT unlikely.
    result = wells(
        alternative_diagnosis_as_likely=True, deep_vein_tenderness=True, pitting_oedema=True
    )
    assert (result.points, result.band) == (0, "DVT unlikely")


def test_example_c_prior_dvt_only() -> None:
    # dvt.md 5, constructed example (c): prior DVT only scores 1, DVT unlikely (2003).
    # dvt.md reads it as "moderate" on three levels, but that applies the 1997 bands to the
    # 2003 items; the 1997 score has no prior-DVT item (evidence-verification.md 6a), so on
    # it this patient scores 0, low.
    assert (wells(previous_dvt=True).points, wells(previous_dvt=True).band) == (1, "DVT unlikely")
    old = wells(WELLS_1997, previous_dvt=True)
    assert (old.points, old.band) == (0, "low")


def test_unknown_item_that_straddles_gives_range_and_no_band() -> None:
    result = wells(active_cancer=True, previous_dvt=None)
    assert (result.points, result.min_points, result.max_points) == (None, 1, 2)
    assert result.band is None
    assert result.possible_bands == ["DVT unlikely", "DVT likely"]
    assert result.missing == ["previous_dvt"]
    assert output_facts(WELLS, result) == {"wells_dvt_likely": None}


def test_unknown_item_that_cannot_change_the_band_keeps_it() -> None:
    likely = wells(
        active_cancer=True,
        entire_leg_swollen=True,
        pitting_oedema=True,
        collateral_superficial_veins=None,
    )
    assert (likely.min_points, likely.max_points, likely.band) == (3, 4, "DVT likely")
    assert output_facts(WELLS, likely) == {"wells_dvt_likely": True}


def test_unknown_negative_item_widens_downwards() -> None:
    result = wells(active_cancer=True, previous_dvt=True, alternative_diagnosis_as_likely=None)
    assert (result.min_points, result.max_points) == (0, 2)
    assert result.band is None
    unlikely = wells(alternative_diagnosis_as_likely=None)
    assert (unlikely.min_points, unlikely.max_points, unlikely.band) == (-2, 0, "DVT unlikely")


def test_unknown_calf_measurement_is_missing() -> None:
    result = wells(calf_difference_cm=None)
    assert result.missing == ["calf_difference_cm"]
    assert (result.min_points, result.max_points, result.band) == (0, 1, "DVT unlikely")


# --------------------------------------------------------------------- 1997, three levels


def test_1997_score_has_the_2003_items_except_previous_dvt() -> None:
    assert [i.id for i in WELLS_1997.items] == [i.id for i in WELLS.items if i.id != "previous_dvt"]
    assert "previous_dvt" not in {f for item in WELLS_1997.items for f in item.facts}
    assert WELLS_1997.outputs == ()
    assert WELLS_1997.applies_when == WELLS.applies_when


@pytest.mark.parametrize(
    ("fact", "value", "points"), [v for v in PUBLISHED_2003 if v[0] != "previous_dvt"]
)
def test_1997_each_item_alone_gives_its_points(fact: str, value: FactValue, points: int) -> None:
    assert wells(WELLS_1997, **{fact: value}).points == points


def test_1997_range_is_minus_2_to_8() -> None:
    assert wells(WELLS_1997, **MAXIMAL).points == 8


@pytest.mark.parametrize(
    ("facts", "points", "band"),
    [
        ({"alternative_diagnosis_as_likely": True}, -2, "low"),
        ({}, 0, "low"),
        ({"active_cancer": True}, 1, "moderate"),
        ({"active_cancer": True, "pitting_oedema": True}, 2, "moderate"),
        ({"active_cancer": True, "pitting_oedema": True, "entire_leg_swollen": True}, 3, "high"),
    ],
)
def test_1997_band_boundaries(facts: dict[str, FactValue], points: int, band: str) -> None:
    result = wells(WELLS_1997, **facts)
    assert (result.points, result.band) == (points, band)


def test_1997_interpretations_give_the_prevalences_of_the_1997_paper() -> None:
    """Wells, Lancet 1997 abstract: "3%, 17%, and 75% ... had deep-vein thrombosis"."""
    text = {band.label: band.interpretation for band in WELLS_1997.bands}
    assert "3%" in text["low"]
    assert "17%" in text["moderate"]
    assert "75%" in text["high"]
    assert "5%" not in text["low"]
    assert "53%" not in text["high"]


def test_1997_unknown_straddling_two_levels() -> None:
    result = wells(WELLS_1997, active_cancer=True, pitting_oedema=True, entire_leg_swollen=None)
    assert result.band is None
    assert result.possible_bands == ["moderate", "high"]
