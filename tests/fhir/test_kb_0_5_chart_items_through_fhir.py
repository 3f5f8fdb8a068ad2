"""Issue 14 items whose facts are now read from a chart: FHIR resources -> case -> evaluate.

Each test names its source and asserts what the per-patient vignette asserts
(tests/engine/test_vignettes_kb_0_5.py, test_vignettes_case_format_gaps.py,
test_vignettes_follow_up.py). Codes: CMS ICD-10-CM tabular of April 1 2026.
"""

from __future__ import annotations

from typing import Any

from fhir_fixtures import (
    ICD10,
    SNOMED,
    assess_record,
    at,
    condition,
    cvt_record,
    medication_request,
    observation,
    patient,
)
from venapath.engine.assessment import Assessment
from venapath.kb.model import KnowledgeBase

APIXABAN = ("1364445", "apixaban 5 MG Oral Tablet")
LYSIS = ("catheter_directed_thrombolysis", "pharmacomechanical_thrombectomy")


def _iliofemoral_dvt_extending_on_apixaban() -> list[dict[str, Any]]:
    """Left iliac DVT four days ago, apixaban since, and a femoral thrombus charted since:
    iliofemoral DVT extending despite anticoagulation (DVT-IFDVT-ESCALATION-CDT/-PMT)."""
    return [
        patient(),
        condition(
            "dvt",
            ICD10,
            "I82.422",
            "Acute embolism and thrombosis of left iliac vein",
            onset_hours_ago=96,
        ),
        medication_request("apix", *APIXABAN, hours_ago=90),
        condition(
            "dvt-2",
            ICD10,
            "I82.412",
            "Acute embolism and thrombosis of left femoral vein",
            onset_hours_ago=10,
        ),
    ]


def _lysis(result: Assessment) -> dict[str, Any]:
    return {r.rule_id: r for r in result.recommendations if r.action in LYSIS}


# -------------------------------------------------------------------- HIT / VITT


def test_a_charted_suspected_hit_raises_the_vitt_hit_alert_with_platelets_over_100(
    kb: KnowledgeBase,
) -> None:
    """Source: SIEGLER-2021-VITT, CDC-2021-VITT (no heparin until HIT testing is negative;
    non-heparin anticoagulant, IVIG, haematology), ASH-EDU-2017-HIT-DIAGNOSIS; alert
    CVT-THROMBOCYTOPENIA-VITT-HIT, as in the per-patient vignette with
    `labs.hit_or_vitt_suspected`. The chart: a CVT with platelets 210 and a provisional
    heparin-induced thrombocytopenia Condition (ICD-10-CM D75.829) or a vaccine-induced
    thrombotic thrombocytopenia one (D75.84)."""
    assert "CVT-THROMBOCYTOPENIA-VITT-HIT" not in {
        a.id for a in assess_record(kb, cvt_record()).alerts
    }
    for code in ("D75.829", "D75.84"):
        record = [*cvt_record(), condition("hit", ICD10, code, "HIT", verification="provisional")]
        alert = next(
            a for a in assess_record(kb, record).alerts if a.id == "CVT-THROMBOCYTOPENIA-VITT-HIT"
        )
        assert alert.severity == "critical", code
        assert "do not give heparin" in alert.message, code


# ------------------------------------------------- SIR relative contraindication


def test_a_charted_eisenmenger_syndrome_is_the_sir_right_to_left_shunt(kb: KnowledgeBase) -> None:
    """Source: SIR 2014 quality-improvement guideline, Table 2 (relative contraindication:
    "right-to-left shunt or left heart thrombus"); rule CI-SIR-OTHER-RELATIVE caps
    catheter lysis and PCDT at "consider", as in the per-patient vignette with
    `bleeding_risk.right_to_left_shunt`. The chart: Eisenmenger syndrome (ICD-10-CM I27.83,
    "pulmonary hypertension with right to left shunt") beside an iliofemoral DVT extending
    on apixaban."""
    plain = assess_record(kb, _iliofemoral_dvt_extending_on_apixaban())
    assert "CI-SIR-OTHER-RELATIVE" not in {c.rule_id for c in plain.contraindications}
    assert set(_lysis(plain)) == {"DVT-IFDVT-ESCALATION-CDT", "DVT-IFDVT-ESCALATION-PMT"}

    record = [
        *_iliofemoral_dvt_extending_on_apixaban(),
        condition("eis", ICD10, "I27.83", "Eisenmenger's syndrome"),
    ]
    result = assess_record(kb, record)

    assert "CI-SIR-OTHER-RELATIVE" in {c.rule_id for c in result.contraindications}
    assert {r.strength for r in _lysis(result).values()} == {"consider"}


# ----------------------------------------------------- active internal bleeding


def test_a_charted_gi_bleed_rules_out_lysis_and_keeps_the_filter_question_open(
    kb: KnowledgeBase,
) -> None:
    """Source: SIR 2014 Table 2 (absolute contraindication: "active internal bleeding or
    DIC"; rule CI-SIR-ACTIVE-BLEEDING, as the per-patient phlegmasia vignette with
    `bleeding_risk.active_bleeding`); CHEST 2021 statement 13 (IVC filter when an acute
    proximal DVT has an absolute contraindication to anticoagulation, e.g. active major
    bleeding). The chart: a gastrointestinal haemorrhage (ICD-10-CM K92.2) beside an
    iliofemoral DVT extending on apixaban. Lysis and PCDT become contraindicated. No code
    says the bleed is major, so the absolute contraindication to anticoagulation is not
    assumed: the filter rule DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED waits for the
    clinician's answer (needs-data), never fires or is dropped silently."""
    record = [
        *_iliofemoral_dvt_extending_on_apixaban(),
        condition("gi", ICD10, "K92.2", "Gastrointestinal hemorrhage, unspecified"),
    ]
    result = assess_record(kb, record)

    assert "CI-SIR-ACTIVE-BLEEDING" in {c.rule_id for c in result.contraindications}
    lysis = _lysis(result)
    assert {r.strength for r in lysis.values()} == {"contraindicated"}
    assert all("CI-SIR-ACTIVE-BLEEDING" in r.capped_by for r in lysis.values())
    assert "DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED" not in {
        r.rule_id for r in result.recommendations
    }
    waiting = {rule for need in result.needs_data for rule in need.rules}
    assert "DVT-IVC-FILTER-ANTICOAGULATION-CONTRAINDICATED" in waiting


# ------------------------------------------------------ fever after venoplasty


def _venoplasty(hours_ago: float) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": "vp",
        "status": "completed",
        "code": {
            "coding": [
                {
                    "system": SNOMED,
                    "code": "276894001",
                    "display": "Percutaneous balloon angioplasty of inferior vena cava (procedure)",
                }
            ]
        },
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": at(hours_ago),
    }


def test_a_charted_fever_after_venoplasty_asks_for_blood_and_urine_tests(
    kb: KnowledgeBase,
) -> None:
    """Source: seed 003 clinic protocol ("the first thing to do is make sure you don't have
    metabolic imbalance or an infection (ie UTI) ... a blood and urine test"); rule
    FU-VENOPLASTY-EXCLUDE-INFECTION (recommended, urgent), as the per-patient vignette with
    `follow_up.fever_or_urinary_symptoms`. The chart: a venoplasty 20 days ago and a fever
    (ICD-10-CM R50.9) or dysuria (R30.0) from 2 days ago. A fever charted before the
    procedure says nothing about its course and does not fire the rule."""
    for code, display in (("R50.9", "Fever, unspecified"), ("R30.0", "Dysuria")):
        record = [
            patient(),
            _venoplasty(24 * 20),
            condition("sym", ICD10, code, display, onset_hours_ago=24 * 2),
        ]
        workup = next(
            r
            for r in assess_record(kb, record).recommendations
            if r.rule_id == "FU-VENOPLASTY-EXCLUDE-INFECTION"
        )
        assert (workup.action, workup.strength, workup.urgency) == (
            "laboratory_workup",
            "recommended",
            "urgent",
        ), code
        # The always-safe work-up does not wait on what the chart cannot say (issue 14 part
        # 3): it is given now, naming only whether the symptoms came back within hours (an
        # emergency instead), as the per-patient vignette in test_vignettes_course.py does.
        assert workup.unchecked_facts == ["symptoms_back_within_hours"], code

    earlier = [
        patient(),
        _venoplasty(24 * 20),
        condition("sym", ICD10, "R50.9", "Fever, unspecified", onset_hours_ago=24 * 30),
    ]
    fired = {r.rule_id for r in assess_record(kb, earlier).recommendations}
    assert "FU-VENOPLASTY-EXCLUDE-INFECTION" not in fired


# -------------------------------------------------------------- gestational age


def test_a_charted_gestational_age_is_a_pregnancy_with_cvt(kb: KnowledgeBase) -> None:
    """Source: AHA/ASA 2014 statement for women (full-dose LMWH through pregnancy, Class I,
    LOE C); rule CVT-PREGNANCY-LMWH, and CVT-DOAC-AFTER-LEAD-IN (pregnancy excluded) must not
    fire, as the per-patient vignettes with `patient.gestational_age_weeks` (a gestational
    age is a pregnancy). The chart: a CVT and a gestational age of 30 weeks (LOINC 11884-4)
    taken 10 days ago, read as 31 completed weeks."""
    without = {r.rule_id for r in assess_record(kb, cvt_record()).recommendations}
    assert "CVT-PREGNANCY-LMWH" not in without

    record = [
        *cvt_record(),
        observation("ga", "11884-4", "Gestational age Estimated", 30, "wk", hours_ago=240),
    ]
    result = assess_record(kb, record)

    lmwh = next(r for r in result.recommendations if r.rule_id == "CVT-PREGNANCY-LMWH")
    assert (lmwh.action, lmwh.strength) == ("anticoagulation", "recommended")
    assert "CVT-DOAC-AFTER-LEAD-IN" not in {r.rule_id for r in result.recommendations}
