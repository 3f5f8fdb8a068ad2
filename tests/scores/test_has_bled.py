"""HAS-BLED (Pisters et al. 2010), items per dvt-verification.md 8."""

from __future__ import annotations

import pytest

from venapath.domain.facts import FactValue
from venapath.scores.base import ScoreResult, compute, output_facts
from venapath.scores.has_bled import ABNORMAL_RENAL_FUNCTION, DEFINITION

NOTHING: dict[str, FactValue] = {
    "systolic_bp_mmhg": 120,
    "chronic_dialysis_or_renal_transplant": False,
    "creatinine_umol_l": 80.0,
    "chronic_liver_disease": False,
    "stroke_history": False,
    "previous_major_bleeding": False,
    "bleeding_disorder": False,
    "labile_inr": False,
    "age_years": 50,
    "antiplatelet_or_nsaid": False,
    "alcohol_8_or_more_units_per_week": False,
    # what the record says without numbers: nothing (these facts are False, never unknown)
    "blood_pressure_recorded_normal": False,
    "creatinine_recorded_normal": False,
}

# One vector per published item (1 point each).
PUBLISHED: list[tuple[str, dict[str, FactValue]]] = [
    ("H: uncontrolled hypertension", {"systolic_bp_mmhg": 170}),
    ("A: renal, dialysis or transplant", {"chronic_dialysis_or_renal_transplant": True}),
    ("A: renal, creatinine", {"creatinine_umol_l": 250.0}),
    ("A: liver", {"chronic_liver_disease": True}),
    ("S: stroke", {"stroke_history": True}),
    ("B: previous major bleeding", {"previous_major_bleeding": True}),
    ("B: bleeding predisposition", {"bleeding_disorder": True}),
    ("L: labile INR", {"labile_inr": True}),
    ("E: elderly", {"age_years": 70}),
    ("D: antiplatelet or NSAID", {"antiplatelet_or_nsaid": True}),
    ("D: alcohol", {"alcohol_8_or_more_units_per_week": True}),
]
MAXIMAL: dict[str, FactValue] = {k: v for _label, facts in PUBLISHED for k, v in facts.items()}


def has_bled(**facts: FactValue) -> ScoreResult:
    return compute(DEFINITION, {**NOTHING, **facts})


@pytest.mark.parametrize(("label", "facts"), PUBLISHED, ids=[p[0] for p in PUBLISHED])
def test_each_item_alone_gives_one_point(label: str, facts: dict[str, FactValue]) -> None:
    del label
    assert has_bled(**facts).points == 1


def test_published_maximum_is_9() -> None:
    # Both renal causes, or both bleeding causes, still give one point each.
    assert has_bled(**MAXIMAL).points == 9
    assert has_bled().points == 0


@pytest.mark.parametrize(
    ("fact", "below", "at_or_above"),
    [
        ("systolic_bp_mmhg", 160, 161),  # > 160
        ("creatinine_umol_l", 199.9, 200.0),  # >= 200 (corrected from "> 200")
        ("age_years", 65, 66),  # > 65
    ],
)
def test_numeric_boundaries(fact: str, below: float, at_or_above: float) -> None:
    assert has_bled(**{fact: below}).points == 0
    assert has_bled(**{fact: at_or_above}).points == 1


@pytest.mark.parametrize(
    ("dialysis", "creatinine", "points"),
    [
        (True, 80.0, 1),
        (True, None, 1),
        (False, 250.0, 1),
        (None, 250.0, 1),
        (False, 80.0, 0),
        (False, None, None),
        (None, 80.0, None),
        (None, None, None),
    ],
)
def test_renal_item_is_a_kleene_or(
    dialysis: bool | None, creatinine: float | None, points: int | None
) -> None:
    facts = {"chronic_dialysis_or_renal_transplant": dialysis, "creatinine_umol_l": creatinine}
    assert ABNORMAL_RENAL_FUNCTION.points(facts) == points


def test_renal_item_ignores_a_non_numeric_creatinine() -> None:
    facts: dict[str, FactValue] = {
        "chronic_dialysis_or_renal_transplant": False,
        "creatinine_umol_l": True,
    }
    assert ABNORMAL_RENAL_FUNCTION.points(facts) is None


def test_band_boundary_between_2_and_3() -> None:
    two = has_bled(age_years=70, antiplatelet_or_nsaid=True)
    three = has_bled(age_years=70, antiplatelet_or_nsaid=True, systolic_bp_mmhg=170)
    assert (two.points, two.band) == (2, "low")
    assert (three.points, three.band) == (3, "high")
    assert output_facts(DEFINITION, two) == {"has_bled_high_risk": False}
    assert output_facts(DEFINITION, three) == {"has_bled_high_risk": True}


def test_constructed_example_elderly_drinker_with_previous_bleed() -> None:
    # Constructed for this test (no worked example in the notes): 72-year-old, 10 units a
    # week, previous major bleed, on an NSAID -> E + D + D + B = 4, high.
    result = has_bled(
        age_years=72,
        alcohol_8_or_more_units_per_week=True,  # 10 units a week: the number decides
        previous_major_bleeding=True,
        antiplatelet_or_nsaid=True,
    )
    assert (result.points, result.band) == (4, "high")


def test_interpretations_quote_rates_for_0_to_4_only() -> None:
    text = " ".join(band.interpretation for band in DEFINITION.bands)
    for rate in ("1.13", "1.02", "1.88", "3.74", "8.70"):
        assert rate in text
    assert "12.5" not in text
    assert any("atrial fibrillation" in note for note in DEFINITION.notes)


def test_unknown_item_straddling_the_cut_off() -> None:
    result = has_bled(age_years=70, antiplatelet_or_nsaid=True, labile_inr=None)
    assert (result.points, result.min_points, result.max_points) == (None, 2, 3)
    assert result.band is None
    assert result.missing == ["labile_inr"]
    assert output_facts(DEFINITION, result) == {"has_bled_high_risk": None}


def test_unknown_renal_facts_are_both_listed_as_missing() -> None:
    result = has_bled(chronic_dialysis_or_renal_transplant=None, creatinine_umol_l=None)
    assert result.missing == ["chronic_dialysis_or_renal_transplant", "creatinine_umol_l"]
    assert result.band == "low"


def test_one_known_bleeding_cause_settles_the_item() -> None:
    result = has_bled(previous_major_bleeding=True, bleeding_disorder=None)
    assert result.points == 1
    assert result.missing == []


def test_a_record_saying_normal_scores_zero_without_a_number() -> None:
    # "Normal blood pressure" and "normal creatinine" without numbers settle their items;
    # nothing recorded leaves them unknown (a range, not 0).
    unknown = has_bled(systolic_bp_mmhg=None, creatinine_umol_l=None)
    assert unknown.points is None
    stated = has_bled(
        systolic_bp_mmhg=None,
        creatinine_umol_l=None,
        blood_pressure_recorded_normal=True,
        creatinine_recorded_normal=True,
    )
    assert stated.points == 0


def test_a_recorded_normal_never_hides_dialysis() -> None:
    result = has_bled(
        creatinine_umol_l=None,
        creatinine_recorded_normal=True,
        chronic_dialysis_or_renal_transplant=True,
    )
    assert result.points == 1


def test_a_measured_value_outweighs_a_note_saying_normal() -> None:
    # The number is the more specific record: a "normal" note beside a systolic of 170 or a
    # creatinine of 200 umol/L must not lower the bleeding-risk score (found by the property
    # that forgetting a fact only widens the answer).
    noted = has_bled(
        systolic_bp_mmhg=170,
        creatinine_umol_l=200,
        blood_pressure_recorded_normal=True,
        creatinine_recorded_normal=True,
    )
    measured_only = has_bled(systolic_bp_mmhg=170, creatinine_umol_l=200)
    assert noted.points == measured_only.points
    assert {i.id: i.points for i in noted.items}["abnormal_renal_function"] == 1
    assert {i.id: i.points for i in noted.items}["hypertension"] == 1
