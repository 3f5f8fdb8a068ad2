"""Clinical vignettes: follow-up after venoplasty, venous stenting, and CCSVI.

Grounding: seed 003 (/work/shared/seeds/003_*.txt, the Hubbard Foundation "CCSVI Restenosis"
clinic protocol: a protocol, not a guideline), dvt.md section 8 (stent surveillance, Brave
Dreams, FDA 2012), and the rules in kb/data/rules/follow_up.yaml.
"""

from __future__ import annotations

import pytest
from vignette_support import (
    VENOPLASTY_FOLLOW_UP,
    alert_ids,
    assess,
    assess_example,
    build,
    disagreement,
    in_favour,
    needs_facts,
    pathways,
    rec,
    rule_ids,
    strengths,
    urgency,
)

RESTENOSIS = {
    "follow_up": {
        "symptom_response": "marked",
        "improvement_lasted_days": 35,
        "reverted_for_days": 16,
    }
}
"""Patch: noticeably better for five weeks, back to the pre-procedure level for 16 days."""

STENT_FOLLOW_UP = {
    "format_version": 1,
    "case_id": "vignette-venous-stent",
    "as_of": "2026-07-15T09:00:00+00:00",
    "patient": {"age_years": 44, "sex": "male"},
    "diagnoses": [],
    "follow_up": {
        "procedure_kind": "venous_stent",
        "procedure_date": "2026-06-03T09:00:00+00:00",
        "indication": "post_thrombotic_obstruction",
        "stent_occluded": False,
    },
    "bleeding_risk": {"anticoagulation_contraindicated": False},
}
"""Six weeks after a left iliac stent for post-thrombotic obstruction."""


def test_symptoms_back_within_hours_of_venoplasty_is_an_emergency() -> None:
    """Source: seed 003 clinic protocol ("If your pre-venoplasty symptoms return within hours
    ... you might be having a thrombosis. Call your IR immediately ... or go to the emergency
    room"); rule FU-VENOPLASTY-SYMPTOMS-WITHIN-HOURS."""
    same_evening = build(
        VENOPLASTY_FOLLOW_UP,
        {
            "as_of": "2026-09-01T20:00:00+00:00",
            "labs": {"metabolic_or_infection_screen_normal": None},
            "follow_up": {"symptoms_back_within_hours": True},
        },
    )
    result = assess(same_evening)

    assert pathways(result) == {"venoplasty_follow_up": "applies"}
    call_now = rec(result, "FU-VENOPLASTY-SYMPTOMS-WITHIN-HOURS")
    assert call_now.action == "emergency_care"
    assert call_now.strength == "recommended"
    assert call_now.urgency == "emergency"
    assert urgency(result) == "emergency"
    assert "FU-VENOPLASTY-EXCLUDE-INFECTION" not in rule_ids(result)


@pytest.mark.parametrize(
    "follow_up",
    [
        pytest.param({"symptom_response": "none"}, id="no-improvement"),
        pytest.param(
            {"symptom_response": "worsening", "worsening_for_days": 10}, id="worse-for-10-days"
        ),
        pytest.param({"fever_or_urinary_symptoms": True}, id="fever-or-urinary-symptoms"),
        pytest.param(
            {"symptom_response": "marked", "reverted_for_days": 5}, id="reverted-for-5-days"
        ),
    ],
)
def test_returning_symptoms_first_exclude_infection_or_metabolic_cause(follow_up: dict) -> None:
    """Source: seed 003 clinic protocol ("Otherwise, the first thing to do is make sure you
    don't have metabolic imbalance or an infection (ie UTI) ... a blood and urine test");
    rule FU-VENOPLASTY-EXCLUDE-INFECTION."""
    returning = build(
        VENOPLASTY_FOLLOW_UP,
        {"labs": {"metabolic_or_infection_screen_normal": None}, "follow_up": follow_up},
    )
    result = assess(returning)

    workup = rec(result, "FU-VENOPLASTY-EXCLUDE-INFECTION")
    assert workup.action == "laboratory_workup"
    assert workup.strength == "recommended"
    assert workup.urgency == "urgent"
    assert not in_favour(result, "retreatment")


def test_marked_improvement_then_reverted_for_two_weeks_is_retested_and_retreated() -> None:
    """Source: seed 003 clinic protocol ("noticeably improved for a month or more and then
    have reverted ... for two weeks you should be retested and re-treated"), shown as that
    protocol's steps (KB 0.5.0: a clinic protocol carries "consider" at most), with the
    Brave Dreams / FDA evidence against CCSVI venoplasty beside the retreatment step; rules
    FU-VENOPLASTY-RESTENOSIS-RETEST, FU-VENOPLASTY-RESTENOSIS-RETREAT."""
    result = assess(build(VENOPLASTY_FOLLOW_UP, RESTENOSIS))

    retest = rec(result, "FU-VENOPLASTY-RESTENOSIS-RETEST")
    assert retest.action == "repeat_imaging"
    assert retest.strength == "consider"
    assert "Clinic protocol step" in retest.detail["protocol_step"]
    retreat = rec(result, "FU-VENOPLASTY-RESTENOSIS-RETREAT")
    assert retreat.action == "retreatment"
    assert retreat.strength == "consider"
    assert retreat.urgency == "urgent"
    assert "Clinic protocol step" in retreat.detail["protocol_step"]
    assert "Brave Dreams" in retreat.detail["ccsvi_evidence"]
    kinds = {c.id: c.kind for c in retreat.citations}
    assert kinds["HUBBARD-CCSVI-RESTENOSIS"] == "clinic_protocol"
    assert kinds["BRAVE-DREAMS-2018"] == "randomised_trial"
    assert "ccsvi" not in pathways(result)


@pytest.mark.parametrize(
    ("improvement_lasted_days", "reverted_for_days", "retreat"),
    [
        pytest.param(30, 14, True, id="month-then-two-weeks"),
        pytest.param(29, 14, False, id="improved-under-a-month"),
        pytest.param(30, 13, False, id="reverted-under-two-weeks"),
    ],
)
def test_restenosis_criteria_boundaries(
    improvement_lasted_days: int, reverted_for_days: int, retreat: bool
) -> None:
    """Source: seed 003 clinic protocol ("a month or more", "for two weeks"; "give it 4-6
    weeks before considering another procedure"); rule FU-VENOPLASTY-RESTENOSIS-RETREAT."""
    case = build(
        VENOPLASTY_FOLLOW_UP,
        {
            "follow_up": {
                "symptom_response": "marked",
                "improvement_lasted_days": improvement_lasted_days,
                "reverted_for_days": reverted_for_days,
            }
        },
    )
    result = assess(case)

    assert ("FU-VENOPLASTY-RESTENOSIS-RETREAT" in rule_ids(result)) is retreat
    assert in_favour(result, "retreatment") is retreat


def test_restenosis_is_not_retreated_before_infection_is_excluded() -> None:
    """Source: seed 003 clinic protocol (the blood and urine test comes first); rules
    FU-VENOPLASTY-EXCLUDE-INFECTION (fires), FU-VENOPLASTY-RESTENOSIS-RETREAT (waits for the
    screen)."""
    unscreened = build(
        VENOPLASTY_FOLLOW_UP, RESTENOSIS, {"labs": {"metabolic_or_infection_screen_normal": None}}
    )
    result = assess(unscreened)

    assert rec(result, "FU-VENOPLASTY-EXCLUDE-INFECTION").strength == "recommended"
    assert not in_favour(result, "retreatment")
    assert "metabolic_or_infection_screen_normal" in needs_facts(result)


def test_slight_brief_improvement_waits_three_months_before_a_tune_up() -> None:
    """Source: seed 003 clinic protocol ("improved only slightly and only for a brief period,
    you should wait at least 3-4 months before considering a 'tune-up'"); rules
    FU-VENOPLASTY-SLIGHT-WAIT, FU-VENOPLASTY-SLIGHT-NO-EARLY-RETREAT."""
    slight = build(
        VENOPLASTY_FOLLOW_UP,
        {"follow_up": {"symptom_response": "slight", "improvement_lasted_days": 7}},
    )
    result = assess(slight)

    wait = rec(result, "FU-VENOPLASTY-SLIGHT-WAIT")
    assert wait.action == "watchful_waiting"
    assert wait.strength == "consider"  # a clinic protocol's step (KB 0.5.0)
    early = rec(result, "FU-VENOPLASTY-SLIGHT-NO-EARLY-RETREAT")
    assert early.action == "retreatment"
    assert early.strength == "not_recommended"
    assert strengths(result, "retreatment") == {"not_recommended"}


def test_slight_improvement_after_four_months_no_longer_rules_out_a_tune_up() -> None:
    """Source: seed 003 clinic protocol (the wait is 3-4 months); rule
    FU-VENOPLASTY-SLIGHT-NO-EARLY-RETREAT applies only before day 90."""
    later = build(
        VENOPLASTY_FOLLOW_UP,
        {
            "as_of": "2027-01-05T09:00:00+00:00",
            "follow_up": {"symptom_response": "slight", "improvement_lasted_days": 7},
        },
    )
    result = assess(later)

    assert "FU-VENOPLASTY-SLIGHT-NO-EARLY-RETREAT" not in rule_ids(result)


@pytest.mark.parametrize(
    ("worsening_for_days", "retreat"),
    [
        pytest.param(28, True, id="still-worse-after-4-weeks"),
        pytest.param(20, False, id="worse-for-under-4-weeks"),
    ],
)
def test_worsening_for_four_weeks_is_retested_and_retreatment_considered(
    worsening_for_days: int, retreat: bool
) -> None:
    """Source: seed 003 clinic protocol ("get worse after the venoplasty and continue to
    worsen over the next 4 weeks, you should be retested and re-treated, although ... only a
    few cases"); rules FU-VENOPLASTY-WORSENING-RETEST, FU-VENOPLASTY-WORSENING-RETREAT."""
    worse = build(
        VENOPLASTY_FOLLOW_UP,
        {"follow_up": {"symptom_response": "worsening", "worsening_for_days": worsening_for_days}},
    )
    result = assess(worse)

    assert ("FU-VENOPLASTY-WORSENING-RETREAT" in rule_ids(result)) is retreat
    if retreat:
        assert rec(result, "FU-VENOPLASTY-WORSENING-RETEST").strength == "consider"
        retreatment = rec(result, "FU-VENOPLASTY-WORSENING-RETREAT")
        assert retreatment.strength == "consider"
        assert retreatment.urgency == "urgent"
    else:
        assert not in_favour(result, "retreatment")
        assert "FU-VENOPLASTY-WORSENING-RETEST" not in rule_ids(result)


@pytest.mark.parametrize(
    ("earlier_repeats", "stent"),
    [
        pytest.param(3, True, id="three-earlier-repeats"),
        pytest.param(2, False, id="two-earlier-repeats"),
    ],
)
def test_after_three_repeat_venoplasties_a_stent_is_considered(
    earlier_repeats: int, stent: bool
) -> None:
    """Source: seed 003 clinic protocol ("you can only have 3-4 repeat venoplasties before
    considering a stent that has increased risks"); rule FU-VENOPLASTY-STENT-AFTER-REPEATS."""
    repeat = build(
        VENOPLASTY_FOLLOW_UP,
        RESTENOSIS,
        {"follow_up": {"earlier_repeat_procedures": earlier_repeats}},
    )
    result = assess(repeat)

    assert in_favour(result, "venous_stenting") is stent
    if stent:
        stenting = rec(result, "FU-VENOPLASTY-STENT-AFTER-REPEATS")
        assert stenting.strength == "consider"
        assert "risk" in stenting.detail["risks"]


@pytest.mark.parametrize(
    ("follow_up", "reintervene"),
    [
        pytest.param({"in_stent_stenosis_percent": 60}, True, id="60-percent-in-stent-stenosis"),
        pytest.param(
            {"in_stent_stenosis_percent": 100, "stent_occluded": True}, True, id="occluded-stent"
        ),
        pytest.param({"in_stent_stenosis_percent": 40}, False, id="40-percent-in-stent-stenosis"),
    ],
)
def test_in_stent_stenosis_over_half_the_diameter_is_reintervened(
    follow_up: dict, reintervene: bool
) -> None:
    """Source: GSTT 2019 stent surveillance cohort (reintervention for > 50% diameter loss;
    87% found by surveillance), a single centre's protocol shown as such ("consider" since
    KB 0.5.0); SIR 2023 (close follow-up, no schedule); rules FU-STENT-STENOSIS-OVER-50,
    FU-STENT-SURVEILLANCE."""
    result = assess(build(STENT_FOLLOW_UP, {"follow_up": follow_up}))

    assert pathways(result) == {"venous_stent_follow_up": "applies"}
    assert in_favour(result, "retreatment") is reintervene
    if reintervene:
        retreat = rec(result, "FU-STENT-STENOSIS-OVER-50")
        assert retreat.strength == "consider"
        assert retreat.urgency == "urgent"
        assert "Single-centre" in retreat.detail["protocol_step"]
    assert rec(result, "FU-STENT-SURVEILLANCE").strength == "consider"


def test_worked_example_in_stent_stenosis() -> None:
    """Source: GSTT 2019 surveillance protocol; worked example
    venous-stent-in-stent-stenosis.yaml; rule FU-STENT-STENOSIS-OVER-50."""
    result = assess_example("venous-stent-in-stent-stenosis")

    assert rec(result, "FU-STENT-STENOSIS-OVER-50").strength == "consider"
    assert urgency(result) == "urgent"


def test_ccsvi_venoplasty_is_not_recommended_against_the_clinic_protocol() -> None:
    """Source: Brave Dreams 2018 (sham-controlled RCT, no benefit) and FDA 2012 safety
    communication, against seed 003's clinic protocol; rules CCSVI-VENOPLASTY-NOT-RECOMMENDED,
    CCSVI-RETREATMENT-NOT-RECOMMENDED, CCSVI-STENT-NOT-RECOMMENDED and the disagreements."""
    ccsvi = build(
        VENOPLASTY_FOLLOW_UP,
        RESTENOSIS,
        {
            "risk_factors": {"multiple_sclerosis": True},
            "follow_up": {"indication": "ccsvi_multiple_sclerosis", "earlier_repeat_procedures": 3},
            "proposed_procedures": [
                {"action": "retreatment", "indication": "ccsvi_multiple_sclerosis"}
            ],
        },
    )
    result = assess(ccsvi)

    assert pathways(result)["ccsvi"] == "applies"
    for rule_id, action in (
        ("CCSVI-VENOPLASTY-NOT-RECOMMENDED", "angioplasty"),
        ("CCSVI-RETREATMENT-NOT-RECOMMENDED", "retreatment"),
        ("CCSVI-STENT-NOT-RECOMMENDED", "venous_stenting"),
    ):
        advice = rec(result, rule_id)
        assert advice.action == action
        assert advice.strength == "not_recommended"
    assert disagreement(
        result, "CCSVI-RETREATMENT-NOT-RECOMMENDED", "FU-VENOPLASTY-RESTENOSIS-RETREAT"
    )
    assert disagreement(result, "CCSVI-STENT-NOT-RECOMMENDED", "FU-VENOPLASTY-STENT-AFTER-REPEATS")


def test_new_request_for_ccsvi_angioplasty_is_not_recommended() -> None:
    """Source: Brave Dreams 2018, FDA 2012; fact ccsvi_indication from proposed_procedures;
    rule CCSVI-VENOPLASTY-NOT-RECOMMENDED (no earlier procedure, not a follow-up)."""
    request = {
        "format_version": 1,
        "case_id": "vignette-ccsvi-request",
        "as_of": "2026-11-02T09:00:00+00:00",
        "patient": {"age_years": 39, "sex": "female"},
        "risk_factors": {"multiple_sclerosis": True},
        "diagnoses": [],
        "proposed_procedures": [
            {"action": "angioplasty", "indication": "ccsvi_multiple_sclerosis"}
        ],
    }
    result = assess(request)

    assert pathways(result) == {"ccsvi": "applies"}
    assert strengths(result, "angioplasty") == {"not_recommended"}
    assert "ENGINE-NO-PATHWAY" not in alert_ids(result)
