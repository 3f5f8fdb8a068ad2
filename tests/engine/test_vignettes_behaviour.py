"""Behaviour that must change (issue 14 part 3): the per-patient vignettes.

Each test names the source that grounds it and the rule or engine step it exercises. The
same items reached through a FHIR record are in tests/fhir/test_behaviour_through_fhir.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    DISTAL_SEGMENTS,
    LEG_DVT,
    PHLEGMASIA,
    VENOPLASTY_FOLLOW_UP,
    alert,
    alert_ids,
    assess,
    build,
    contraindication_ids,
    in_favour,
    needs_facts,
    rec,
    rule_ids,
    strengths,
)

from venapath.engine.assessment import Assessment
from venapath.engine.evaluate import evaluate
from venapath.kb.loader import load_knowledge_base

RECENT_HAEMORRHAGIC_STROKE = {"bleeding_risk": {"recent_intracranial_haemorrhage": True}}
"""A haemorrhagic stroke (spontaneous intracerebral haemorrhage) five weeks ago."""

CALF_DVT = build(
    LEG_DVT,
    {
        "imaging": {"thrombosed_segments": DISTAL_SEGMENTS},
        "exam": {"leg": {"severe_symptoms": False, "entire_leg_swollen": False}},
        "risk_factors": {"distal_extension_risk": False},
    },
)
"""Isolated left peroneal-vein DVT, mild symptoms, judged without risk of extension."""


def _contradictions(result: Assessment) -> list[tuple[str, str, str]]:
    """(action, in favour, against) pairs that a reader of action and strength would see."""
    declared = {a.id for a in result.alerts if a.id.startswith("ENGINE-DISAGREE-")}
    pairs = []
    for advised in result.recommendations:
        for against in result.recommendations:
            if (
                advised.action is against.action
                and advised.strength.value in ("recommended", "consider")
                and against.rule_strength.value in ("not_recommended", "contraindicated")
            ):
                first, second = sorted((advised.rule_id, against.rule_id))
                if f"ENGINE-DISAGREE-{first}-{second}" not in declared:
                    pairs.append((advised.action.value, advised.rule_id, against.rule_id))
    return pairs


# ------------------------------------------- 1. recent intracranial haemorrhage


def test_proximal_dvt_weeks_after_a_haemorrhagic_stroke_weighs_anticoagulation() -> None:
    """Source: AHA/ASA 2022 spontaneous ICH guideline (delaying UFH/LMWH 1-2 weeks after the
    haemorrhage "might be considered"; a retrievable filter as a bridge "is reasonable");
    contraindication CI-RECENT-ICH-ANTICOAGULATION. Anticoagulation is weighed, shown as
    "consider" and capped by the rule that names the haemorrhage, never silently
    "recommended"."""
    result = assess(build(LEG_DVT, RECENT_HAEMORRHAGIC_STROKE))

    assert "CI-RECENT-ICH-ANTICOAGULATION" in contraindication_ids(result)
    anticoagulate = rec(result, "DVT-ANTICOAGULATION-PROXIMAL")
    assert (anticoagulate.rule_strength.value, anticoagulate.strength.value) == (
        "recommended",
        "consider",
    )
    assert anticoagulate.capped_by == ["CI-RECENT-ICH-ANTICOAGULATION"]
    assert strengths(result, "anticoagulation") <= {"consider"}
    cap = next(c for c in result.contraindications if c.rule_id == "CI-RECENT-ICH-ANTICOAGULATION")
    assert "haemorrhagic stroke" in cap.rationale
    assert {c.id for c in cap.citations} >= {"AHA-ASA-2022-ICH"}
    assert all(c.quote and c.locator for c in cap.citations)
    bridge = rec(result, "DVT-ICH-RETRIEVABLE-FILTER")  # AHA/ASA 2022: "is reasonable"
    assert (bridge.action.value, bridge.strength.value) == ("ivc_filter", "consider")
    assert "DVT-NO-IVC-FILTER-WITH-ANTICOAGULATION" not in rule_ids(result)
    assert not _contradictions(result)


def test_cvt_with_its_own_haemorrhage_is_still_anticoagulated_firmly() -> None:
    """Source: CHEST 2021 guidance statement 5 (anticoagulation for CVT "applies both to
    patients who have and have not experienced intracranial hemorrhage as a complication of
    CVT"); EFNS 2010; ESO 2017. The haemorrhage caused by the CVT is recorded as recent, and
    as the CVT's: the cap must not fire."""
    cvt_haemorrhage = build(
        ACUTE_CVT,
        RECENT_HAEMORRHAGIC_STROKE,
        {"imaging": {"intracerebral_haemorrhage": True, "haemorrhage_due_to_cvt": True}},
    )
    result = assess(cvt_haemorrhage)

    assert "CI-RECENT-ICH-ANTICOAGULATION" not in contraindication_ids(result)
    parenteral = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert (parenteral.strength.value, parenteral.certainty.value) == ("recommended", "firm")
    assert "CVT-ICH-NOT-CONTRAINDICATION" in alert_ids(result)


def test_cvt_weeks_after_an_unrelated_haemorrhagic_stroke_weighs_anticoagulation() -> None:
    """Source: AHA/ASA 2022 spontaneous ICH guideline (as above); CHEST 2021 statement 5 is
    about haemorrhage *caused by* the CVT, which this is not; rule
    CI-RECENT-ICH-ANTICOAGULATION."""
    unrelated = build(
        ACUTE_CVT,
        RECENT_HAEMORRHAGIC_STROKE,
        {"imaging": {"intracerebral_haemorrhage": True, "haemorrhage_due_to_cvt": False}},
    )
    result = assess(unrelated)

    parenteral = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert parenteral.strength.value == "consider"
    assert parenteral.capped_by == ["CI-RECENT-ICH-ANTICOAGULATION"]
    assert "CVT-ICH-NOT-CONTRAINDICATION" not in alert_ids(result)


def test_cvt_with_a_haemorrhage_of_unstated_cause_keeps_anticoagulation_and_asks() -> None:
    """Source: CHEST 2021 statement 5 (a CVT's own haemorrhage never counts against
    anticoagulation); unknown is not false: the recommendation stays "recommended",
    provisional, and needs_data asks whether the CVT caused the haemorrhage."""
    unstated = build(
        ACUTE_CVT, RECENT_HAEMORRHAGIC_STROKE, {"imaging": {"intracerebral_haemorrhage": True}}
    )
    result = assess(unstated)

    parenteral = rec(result, "CVT-ANTICOAGULATION-PARENTERAL")
    assert (parenteral.strength.value, parenteral.certainty.value) == (
        "recommended",
        "provisional",
    )
    assert "CI-RECENT-ICH-ANTICOAGULATION" in parenteral.pending_contraindications
    assert "recent_intracranial_haemorrhage_not_from_venous_thrombosis" in needs_facts(result)


# --------------------------------------------- 2. judgement box against a known fact


def test_no_risk_of_extension_beside_active_cancer_raises_an_alert() -> None:
    """Source: CHEST 2021 guidance statement 1 (serial imaging only without risk factors for
    extension) and statement 16 (cancer-associated thrombosis: an oral Xa inhibitor); alert
    DVT-DISTAL-JUDGEMENT-CONTRADICTED; DVT-DISTAL-SERIAL-IMAGING checks active cancer first.
    The clinician ticked "no risk of extension" for a calf DVT in a patient with active
    cancer: the program says so and does not offer serial imaging alone."""
    result = assess(build(CALF_DVT, {"risk_factors": {"active_cancer": True}}))

    contradiction = alert(result, "DVT-DISTAL-JUDGEMENT-CONTRADICTED")
    assert contradiction.severity == "warning"
    assert "active cancer" in contradiction.message
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(result)
    assert in_favour(result, "anticoagulation")
    assert not _contradictions(result)


def test_without_cancer_the_calf_dvt_gets_serial_imaging_and_no_alert() -> None:
    """Source: CHEST 2021 guidance statement 1 (i) (serial imaging for 2 weeks over
    anticoagulation, weak, moderate certainty); rule DVT-DISTAL-SERIAL-IMAGING."""
    result = assess(CALF_DVT)

    serial = rec(result, "DVT-DISTAL-SERIAL-IMAGING")
    assert serial.strength.value == "consider"
    assert "DVT-DISTAL-JUDGEMENT-CONTRADICTED" not in alert_ids(result)
    assert not in_favour(result, "anticoagulation")


@pytest.mark.parametrize(
    "as_of",
    [
        pytest.param("2026-06-10T11:00:00+00:00", id="day-1"),
        pytest.param("2026-06-25T11:00:00+00:00", id="day-16-scans-without-extension"),
    ],
)
def test_unknown_cancer_beside_no_risk_of_extension_neither_alerts_nor_stops(as_of: str) -> None:
    """Source: CHEST 2021 guidance statement 1 (serial imaging only without risk factors for
    extension) and statement 2 (i) (no anticoagulation if the thrombus does not extend,
    strong); alert DVT-DISTAL-JUDGEMENT-CONTRADICTED, rules DVT-DISTAL-SERIAL-IMAGING and
    DVT-DISTAL-NO-EXTENSION. Unknown is not false: with the cancer status unrecorded there is
    no known fact to contradict the judgement, so no alert is raised; serial imaging stays
    provisional, naming active cancer; and "no anticoagulation" is never said, even after
    two weeks of scans without extension."""
    result = assess(build(CALF_DVT, {"as_of": as_of, "risk_factors": {"active_cancer": DELETE}}))

    assert "DVT-DISTAL-JUDGEMENT-CONTRADICTED" not in alert_ids(result)
    judgement = next(t for t in result.trace if t.rule_id == "DVT-DISTAL-JUDGEMENT-CONTRADICTED")
    assert (judgement.outcome.value, judgement.reasons) == ("unknown", ["unknown: active_cancer"])
    serial = rec(result, "DVT-DISTAL-SERIAL-IMAGING")
    assert (serial.certainty.value, serial.unchecked_facts) == ("provisional", ["active_cancer"])
    assert "active_cancer" in needs_facts(result)
    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)
    assert "not_recommended" not in strengths(result, "anticoagulation")


def test_unknown_judgement_beside_active_cancer_raises_no_alert_and_anticoagulates() -> None:
    """Source: CHEST 2021 guidance statement 16 (cancer-associated thrombosis: an oral Xa
    inhibitor over LMWH, strong); alert DVT-DISTAL-JUDGEMENT-CONTRADICTED, rules
    DVT-DURATION-CANCER and DVT-DISTAL-SERIAL-IMAGING. With no judgement recorded there is
    nothing to contradict: no alert, and the recorded cancer still leads to anticoagulation
    rather than serial imaging."""
    result = assess(
        build(
            CALF_DVT,
            {"risk_factors": {"active_cancer": True, "distal_extension_risk": DELETE}},
        )
    )

    assert "DVT-DISTAL-JUDGEMENT-CONTRADICTED" not in alert_ids(result)
    judgement = next(t for t in result.trace if t.rule_id == "DVT-DISTAL-JUDGEMENT-CONTRADICTED")
    assert (judgement.outcome.value, judgement.reasons) == (
        "unknown",
        ["unknown: distal_extension_risk"],
    )
    assert rec(result, "DVT-DURATION-CANCER").strength.value == "recommended"
    assert in_favour(result, "anticoagulation")
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(result)


def test_serial_imaging_is_not_offered_beside_anticoagulation_for_a_cvt() -> None:
    """Source: CHEST 2021 statement 1 (serial imaging is offered *instead of*
    anticoagulation) and statement 5 (anticoagulate CVT); rule DVT-DISTAL-SERIAL-IMAGING
    (`unless` a CVT is confirmed). Mutually exclusive plans are never both offered."""
    calf_and_cvt = build(
        CALF_DVT,
        {
            "diagnoses": [
                *CALF_DVT["diagnoses"],
                {"condition": "cerebral_venous_thrombosis", "status": "confirmed"},
            ]
        },
    )
    result = assess(calf_and_cvt)

    assert in_favour(result, "anticoagulation")
    assert "DVT-DISTAL-SERIAL-IMAGING" not in rule_ids(result)
    trace = next(t for t in result.trace if t.rule_id == "DVT-DISTAL-SERIAL-IMAGING")
    assert trace.outcome.value == "not_fired"
    assert any(reason.startswith("unless: cvt_confirmed") for reason in trace.reasons)


# ------------------------------------------------ 3. action and strength never contradict


def test_inconsistent_calf_and_proximal_input_never_says_anticoagulate_and_do_not() -> None:
    """Source: CHEST 2021 statement 2 (no anticoagulation when a distal DVT managed with
    serial imaging does not extend) and statement 21 (3 months of anticoagulation for acute
    VTE). The known hypothesis counterexample: isolated_distal_dvt and
    proximal_leg_veins_involved both true, 14 days on, no extension. DVT-DISTAL-NO-EXTENSION
    is withdrawn beside the proximal DVT."""
    facts: dict[str, Any] = {
        "leg_dvt_confirmed": True,
        "isolated_distal_dvt": True,
        "proximal_leg_veins_involved": True,
        "severe_symptoms": False,
        "distal_extension_risk": False,
        "active_cancer": False,
        "distal_thrombus_extension": False,
        "thrombus_extension_to_proximal_veins": False,
        "days_since_diagnosis": 20,
    }
    result = evaluate(load_knowledge_base(), facts, datetime(2026, 1, 1, tzinfo=UTC))

    assert "DVT-ANTICOAGULATION-PROXIMAL" in rule_ids(result)
    assert "DVT-DISTAL-NO-EXTENSION" not in rule_ids(result)
    assert not _contradictions(result)


def test_cvt_with_a_limb_threatening_leg_dvt_names_each_vessel() -> None:
    """Source: TO-ACT 2020 and ESO 2017 (no routine endovascular therapy for CVT); AHA 2011 and
    CHEST 2021 (thrombus removal for limb-threatening DVT). One patient, two vessels: the
    sinus advice is `cerebral_venous_thrombectomy: not_recommended`, the leg advice
    `mechanical_thrombectomy`, so no reader of action and strength sees "thrombectomy:
    consider" beside "thrombectomy: not recommended"."""
    both = build(
        PHLEGMASIA,
        {
            "diagnoses": [
                *PHLEGMASIA["diagnoses"],
                {"condition": "cerebral_venous_thrombosis", "status": "confirmed"},
            ],
            "course": {"neurological_deterioration": False, "thrombus_propagation": False},
            "bleeding_risk": {"active_bleeding": True},
        },
    )
    result = assess(both)

    assert rec(result, "CVT-EVT-NOT-ROUTINE-MT").action.value == "cerebral_venous_thrombectomy"
    assert rec(result, "DVT-PHLEGMASIA-MECHANICAL").action.value == "mechanical_thrombectomy"
    assert in_favour(result, "mechanical_thrombectomy")
    assert not _contradictions(result)


# ----------------------------------------------------------------- 4. needs_data


def test_a_sparse_venoplasty_follow_up_asks_what_decides_its_pathways_first() -> None:
    """Source: issue 14 part 3 (needs-data lists only facts that could change an answer in a
    pathway that applies or may apply, ranked by what they would change). A follow-up
    visit recorded without its diagnoses list used to ask for 73 facts, most of them about
    CVT and leg-DVT treatment; now the CVT and DVT pathways only ask whether they apply."""
    sparse = {
        key: value
        for key, value in VENOPLASTY_FOLLOW_UP.items()
        if key in ("format_version", "case_id", "as_of")
    }
    sparse["follow_up"] = {
        "procedure_kind": "venoplasty",
        "procedure_date": VENOPLASTY_FOLLOW_UP["follow_up"]["procedure_date"],
    }
    result = assess(sparse)
    asked = [n.fact for n in result.needs_data]

    assert len(asked) <= 20, asked
    assert {"cvt_confirmed", "leg_dvt_confirmed"} <= set(asked)
    for treatment_fact in ("thrombus_propagation", "iliofemoral_involved", "herniation"):
        assert treatment_fact not in asked  # inside pathways that only may apply
    # An emergency the clinic protocol names is asked before routine protocol steps.
    assert asked.index("symptoms_back_within_hours") < asked.index("improvement_lasted_days")


def test_needs_data_puts_facts_gating_urgent_options_first() -> None:
    """Source: issue 14 part 3 (ranked by how much they would change). In an iliofemoral DVT
    with no bleeding history recorded, a fact that could cap urgent anticoagulation or
    thrombolysis comes before one that only decides a routine duration."""
    unrecorded = build(LEG_DVT, {"bleeding_risk": {"anticoagulation_contraindicated": None}})
    unrecorded["risk_factors"] = {"distal_extension_risk": False}
    result = assess(unrecorded)
    asked = [n.fact for n in result.needs_data]

    assert asked.index("anticoagulation_contraindicated") < asked.index("provocation")
