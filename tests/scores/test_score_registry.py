"""The score registry: order, lookup, which scores apply, and the facts they produce."""

from __future__ import annotations

import pytest

from venapath.domain.facts import FactValue
from venapath.scores import registry
from venapath.scores.base import compute, output_facts

ALL_OUTPUTS = {
    "wells_dvt_likely",
    "cvt_grading_scale_severe",
    "koopman_poor_outcome_likely",
    "villalta_pts",
    "villalta_severe_pts",
    "has_bled_high_risk",
}


def test_scores_in_display_order() -> None:
    assert list(registry.SCORES) == [
        "wells_dvt",
        "wells_dvt_three_level",
        "cvt_grading_scale",
        "koopman",
        "villalta",
        "has_bled",
    ]
    assert all(key == definition.id for key, definition in registry.SCORES.items())


def test_get_returns_the_definition() -> None:
    assert registry.get("koopman") is registry.SCORES["koopman"]


def test_get_unknown_lists_the_known_ids() -> None:
    with pytest.raises(KeyError) as raised:
        registry.get("ferro_cvt_risk_typo")
    message = str(raised.value)
    assert "ferro_cvt_risk_typo" in message
    assert all(score_id in message for score_id in registry.SCORES)


def test_nothing_known_applies_nothing() -> None:
    assert registry.applicable({}) == []
    assert registry.compute_applicable({}) == {}
    assert registry.score_facts({}) == dict.fromkeys(ALL_OUTPUTS)


@pytest.mark.parametrize(
    ("trigger", "expected"),
    [
        ("leg_dvt_suspected", ["wells_dvt", "wells_dvt_three_level"]),
        ("leg_dvt_confirmed", ["wells_dvt", "wells_dvt_three_level", "villalta", "has_bled"]),
        ("cvt_confirmed", ["cvt_grading_scale", "koopman", "has_bled"]),
        ("arm_dvt_confirmed", ["has_bled"]),
        ("on_anticoagulation", ["has_bled"]),
        ("previous_dvt", ["villalta"]),
        ("venous_ulcer", ["villalta"]),
    ],
)
def test_each_trigger_applies_its_scores(trigger: str, expected: list[str]) -> None:
    assert [d.id for d in registry.applicable({trigger: True})] == expected
    assert list(registry.compute_applicable({trigger: True})) == expected


def test_false_or_unknown_triggers_do_not_apply() -> None:
    assert registry.applicable({"cvt_confirmed": False, "leg_dvt_suspected": None}) == []


def test_compute_applicable_matches_compute() -> None:
    facts: dict[str, FactValue] = {
        "cvt_confirmed": True,
        "age_years": 45,
        "intracerebral_haemorrhage": True,
    }
    results = registry.compute_applicable(facts)
    assert results["koopman"] == compute(registry.SCORES["koopman"], facts)


def test_score_facts_for_an_applicable_score_and_none_for_the_rest() -> None:
    # cvt.md 5B worked example: 45-year-old woman, ICH, mental status disorder -> Koopman 20.
    facts: dict[str, FactValue] = {
        "cvt_confirmed": True,
        "age_years": 45,
        "male_sex": False,
        "intracerebral_haemorrhage": True,
        "mental_status_disorder": True,
    }
    values = registry.score_facts(facts)
    assert set(values) == ALL_OUTPUTS
    assert values["koopman_poor_outcome_likely"] is True
    assert values["wells_dvt_likely"] is None  # Wells does not apply to CVT
    assert values["villalta_pts"] is None
    # CVT-GS applies but lesion size, Babinski and consciousness are unknown: 4..13.
    assert values["cvt_grading_scale_severe"] is None
    # HAS-BLED applies (confirmed CVT); age 45 and unknown rest: could be 0..8.
    assert values["has_bled_high_risk"] is None


def test_score_facts_agree_with_output_facts() -> None:
    facts: dict[str, FactValue] = {
        "leg_dvt_suspected": True,
        "active_cancer": True,
        "previous_dvt": True,
    }
    values = registry.score_facts(facts)
    wells = registry.SCORES["wells_dvt"]
    assert (
        values["wells_dvt_likely"] == output_facts(wells, compute(wells, facts))["wells_dvt_likely"]
    )
    assert values["wells_dvt_likely"] is None  # 2 known, but the -2 item is unknown
    settled = registry.score_facts({**facts, "alternative_diagnosis_as_likely": False})
    assert settled["wells_dvt_likely"] is True
