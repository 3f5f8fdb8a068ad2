"""Clinical vignettes for issue 14 parts 3 and 5: red flags without a typed suspicion, the
endovascular option kept (provisional) when a safety fact is unknown, and the clinical
course read from the chart.

Sources: VIP-DVST-PAGE (seed 000: the symptoms of dural sinus thrombosis, "call 911"), ESO
2017 (MR or CT venography to confirm CVT, weak), AHA 2024 CVT statement and Siddiqui 2015
(endovascular therapy on deterioration despite anticoagulation); rules in
kb/data/rules/cvt_presentation.yaml and CVT-EVT-DETERIORATION-MT/-CDT in cvt.yaml.
"""

from __future__ import annotations

from typing import Any

import pytest
from vignette_support import (
    ACUTE_CVT,
    DELETE,
    LEG_DVT,
    SUSPECTED_LEG_DVT,
    VENOPLASTY_FOLLOW_UP,
    assess,
    build,
    in_favour,
    needs_facts,
    pathways,
    rec,
    rule_ids,
    urgency,
)

from fhir_fixtures import (
    ICD10,
    NOW,
    SNOMED,
    collection,
    condition,
    medication_request,
    observation,
    patient,
)
from venapath.services.fhir_evaluation import assess_fhir_data

AS_OF = "2026-03-10T12:00:00+00:00"
RED_FLAG_RULES = {"CVT-PRESENTATION-EMERGENCY", "CVT-PRESENTATION-IMAGING"}


def _presentation(symptoms: list[str], **patient_fields: Any) -> dict[str, Any]:
    """A woman with new symptoms and nothing diagnosed yet (an empty, closed list)."""
    return {
        "format_version": 1,
        "case_id": "vignette-red-flags",
        "as_of": AS_OF,
        "patient": {"age_years": 29, "sex": "female", **patient_fields},
        "diagnoses": [],
        "presentation": {
            "symptom_onset": "2026-03-10T06:00:00+00:00",
            "symptoms": [{"kind": kind} for kind in symptoms],
        },
        "risk_factors": {"recent_dural_puncture_or_epidural": False},
    }


@pytest.mark.parametrize(
    ("case", "label"),
    [
        (_presentation(["headache", "seizure"], pregnant=False, postpartum_days=9), "puerperium"),
        (_presentation(["seizure"], pregnant=True), "pregnancy, no headache"),
        (_presentation(["headache", "limb_weakness"], pregnant=False, postpartum=False), "deficit"),
        (
            build(
                _presentation(["headache_character_changed", "speech_difficulty"], pregnant=False),
                {"risk_factors": {"recent_dural_puncture_or_epidural": True}},
            ),
            "after a dural puncture",
        ),
    ],
)
def test_red_flags_bring_emergency_care_and_imaging_without_a_typed_suspicion(
    case: dict[str, Any], label: str
) -> None:
    """Source: VIP-DVST-PAGE (symptoms; seizures common around birth; "call 911") and ESO
    2017 (MRV or CTV to confirm); rules CVT-PRESENTATION-EMERGENCY, -IMAGING."""
    result = assess(case)

    assert pathways(result)["cvt_red_flags"] == "applies", label
    emergency = rec(result, "CVT-PRESENTATION-EMERGENCY")
    assert (emergency.action, emergency.strength, emergency.urgency) == (
        "emergency_care",
        "recommended",
        "emergency",
    )
    imaging = rec(result, "CVT-PRESENTATION-IMAGING")
    assert (imaging.action, imaging.strength) == ("cerebral_venous_imaging", "recommended")
    assert urgency(result) == "emergency"
    assert "cvt_suspected" not in pathways(result)  # nobody typed it


@pytest.mark.parametrize(
    "diagnoses",
    [
        [{"condition": "cerebral_venous_thrombosis", "status": "excluded"}],
        [{"condition": "cerebral_venous_thrombosis", "status": "confirmed"}],
    ],
    ids=["excluded", "confirmed"],
)
def test_a_recorded_cvt_answer_ends_the_red_flag_pathway(diagnoses: list[dict]) -> None:
    """Source: as above; once CVT is confirmed the acute pathway takes over, once excluded
    the red flags no longer point at CVT."""
    case = build(_presentation(["headache", "seizure"], pregnant=True), {"diagnoses": diagnoses})
    result = assess(case)

    assert "cvt_red_flags" not in pathways(result)
    assert not RED_FLAG_RULES & rule_ids(result)


def test_an_unknown_diagnosis_list_does_not_silence_the_red_flags() -> None:
    """Unknown is not false: without any diagnosis list the red flags still apply."""
    result = assess(
        build(_presentation(["headache", "seizure"], pregnant=True), {"diagnoses": DELETE})
    )

    assert rule_ids(result) >= RED_FLAG_RULES
    assert urgency(result) == "emergency"


def test_headache_alone_is_not_a_red_flag_presentation() -> None:
    """A headache without a focal deficit, seizure or falling consciousness is left to the
    suspected-CVT pathway (ESO: D-dimer and imaging when CVT is suspected)."""
    case = build(
        _presentation(["headache"], pregnant=False, postpartum=False),
        {
            "exam": {
                "focal_deficit": False,
                "seizure": False,
                "consciousness": "alert",
                "mental_status_disorder": False,
            },
            "course": {"neurological_deterioration": False},
        },
    )
    result = assess(case)

    assert "cvt_red_flags" not in pathways(result)
    assert urgency(result) is None


def test_a_seizure_with_headache_and_pregnancy_unknown_asks_for_them() -> None:
    """The pathway may apply: needs-data names the facts that decide it."""
    case = _presentation(["seizure"])
    del case["risk_factors"]
    result = assess(case)

    assert pathways(result)["cvt_red_flags"] == "possible"
    assert "cvt_red_flag_presentation" in needs_facts(result)


# ----------------------------------------------- unknown safety facts keep the option


def test_deterioration_with_unknown_dose_and_herniation_keeps_the_endovascular_option() -> None:
    """Source: AHA 2024 statement and Siddiqui 2015 (EVT for deterioration despite
    anticoagulation). Unknown is not false: the option stays, provisional, naming the
    facts to check (issue 14, part 3)."""
    case = build(
        ACUTE_CVT,
        {
            "treatment": {"anticoagulation": {"therapeutic": DELETE}},
            "imaging": {"herniation": DELETE},
            "course": {"neurological_deterioration": True},
            "exam": {"gcs": 11, "consciousness": "somnolent"},
        },
    )
    result = assess(case)

    for rule_id in ("CVT-EVT-DETERIORATION-MT", "CVT-EVT-DETERIORATION-CDT"):
        option = rec(result, rule_id)
        assert option.strength == "consider"
        assert option.urgency == "emergency"
        assert option.certainty == "provisional"
        assert set(option.unchecked_facts) == {"on_therapeutic_anticoagulation", "herniation"}
    assert {"on_therapeutic_anticoagulation", "herniation"} <= needs_facts(result)
    assert urgency(result) == "emergency"


def test_known_herniation_still_removes_the_endovascular_option() -> None:
    """A checked safety fact that is false drops the option (decompressive surgery first)."""
    case = build(
        ACUTE_CVT,
        {
            "imaging": {"herniation": True, "mass_effect": True},
            "course": {"neurological_deterioration": True},
            "exam": {"gcs": 7, "consciousness": "coma"},
        },
    )
    result = assess(case)

    assert "CVT-EVT-DETERIORATION-MT" not in rule_ids(result)
    assert rec(result, "CVT-DECOMPRESSIVE-SURGERY").strength == "recommended"


def test_checked_safety_facts_leave_the_option_firm() -> None:
    case = build(ACUTE_CVT, {"course": {"neurological_deterioration": True}})
    result = assess(case)

    option = rec(result, "CVT-EVT-DETERIORATION-MT")
    assert option.unchecked_facts == []


# ---------------------------------------------------------- the course, through FHIR


def test_fhir_gcs_fall_after_a_dural_puncture_is_a_red_flag_presentation() -> None:
    """Through FHIR: a spinal-puncture reaction (G97.1) and GCS 15 then 10 two days later,
    no CVT on the problem list: the fall is neurological deterioration (both observations
    as provenance) and the red flags bring emergency care and imaging."""
    record = [
        patient(gender="female", birth="1995-05-05"),
        condition("pdph", ICD10, "G97.1", "Other reaction to spinal and lumbar puncture"),
        observation("gcs-a", "9269-2", "Glasgow coma score total", 15, "{score}", hours_ago=50),
        observation("gcs-b", "9269-2", "Glasgow coma score total", 10, "{score}", hours_ago=2),
    ]
    result = assess_fhir_data(collection(*record))

    assert result.case.course is not None
    assert result.case.course.neurological_deterioration is True
    provenance = result.report.provenance["/course/neurological_deterioration"]
    assert provenance == ["Observation/gcs-a", "Observation/gcs-b"]
    assert result.case.exam is not None
    assert result.case.exam.gcs_before == 15
    assert rule_ids(result.assessment) >= RED_FLAG_RULES
    assert result.assessment.urgency == "emergency"


def test_fhir_steady_or_old_gcs_is_no_deterioration() -> None:
    """A higher GCS more than 14 days before the latest belongs to another episode."""
    record = [
        patient(gender="female", birth="1995-05-05"),
        condition("pdph", ICD10, "G97.1", "Other reaction to spinal and lumbar puncture"),
        observation(
            "gcs-old", "9269-2", "Glasgow coma score total", 15, "{score}", hours_ago=24 * 30
        ),
        observation("gcs-a", "9269-2", "Glasgow coma score total", 13, "{score}", hours_ago=50),
        observation("gcs-b", "9269-2", "Glasgow coma score total", 14, "{score}", hours_ago=2),
    ]
    result = assess_fhir_data(collection(*record))

    assert result.case.course is None or result.case.course.neurological_deterioration is None
    assert not RED_FLAG_RULES & rule_ids(result.assessment)


# ------------------------------------------------------------ thrombus propagation

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")


def test_iliofemoral_thrombus_propagating_on_anticoagulation_is_escalated() -> None:
    """Source: AHA-2011-VTE, Class IIa (LOE C): CDT or PCDT is reasonable for iliofemoral
    DVT with rapid thrombus extension despite anticoagulation; Class III (LOE A): no routine
    systemic fibrinolysis; Class I: transfer to a centre with the expertise. Rules
    DVT-IFDVT-ESCALATION-CDT/-PMT and DVT-IFDVT-TRANSFER, read from thrombus propagation
    alone (the leg is not said to be worse)."""
    result = assess(
        build(
            LEG_DVT,
            {"course": {"thrombus_propagation": True, "leg_symptoms_worsening": False}},
        )
    )

    escalate = rec(result, "DVT-IFDVT-ESCALATION-CDT")
    assert (escalate.action, escalate.strength) == ("catheter_directed_thrombolysis", "consider")
    assert "AHA-2011-VTE" in {c.id for c in escalate.citations}
    assert rec(result, "DVT-IFDVT-ESCALATION-PMT").strength == "consider"
    assert rec(result, "DVT-IFDVT-TRANSFER").strength == "recommended"


def test_fhir_iliac_vein_thrombus_after_enoxaparin_started_is_escalated() -> None:
    """Through FHIR, the same source (AHA-2011-VTE Class IIa): a left femoral DVT, enoxaparin,
    and later a left iliac vein thrombosis whose onset follows the order. Both Conditions and
    the order are the provenance of the propagation."""
    record = [
        patient(birth="1975-03-09"),
        condition(
            "dvt",
            ICD10,
            "I82.412",
            "Acute embolism and thrombosis of left femoral vein",
            onset_hours_ago=120,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=110),
        condition(
            "iliac",
            ICD10,
            "I82.422",
            "Acute embolism and thrombosis of left iliac vein",
            onset_hours_ago=20,
        ),
    ]
    result = assess_fhir_data(collection(*record), now=NOW)

    assert result.case.course is not None
    assert result.case.course.thrombus_propagation is True
    assert result.report.provenance["/course/thrombus_propagation"] == [
        "Condition/dvt",
        "Condition/iliac",
        "MedicationRequest/enox",
    ]
    escalate = rec(result.assessment, "DVT-IFDVT-ESCALATION-CDT")
    assert escalate.strength == "consider"
    assert "DVT-IFDVT-TRANSFER" in rule_ids(result.assessment)


def test_fhir_calf_dvt_reaching_the_popliteal_vein_is_anticoagulated() -> None:
    """Source: CHEST-2021 guidance statement 2 (iii): in isolated distal DVT followed with
    serial imaging, recommend anticoagulation if the thrombus extends into the proximal
    veins (strong, moderate certainty); rule DVT-DISTAL-EXTENDED-PROXIMALLY. Through FHIR: a
    left tibial DVT, no anticoagulant, and later a left popliteal vein thrombosis."""
    record = [
        patient(birth="1981-10-21"),
        condition(
            "calf",
            ICD10,
            "I82.442",
            "Acute embolism and thrombosis of left tibial vein",
            onset_hours_ago=200,
        ),
        condition(
            "popliteal",
            ICD10,
            "I82.432",
            "Acute embolism and thrombosis of left popliteal vein",
            onset_hours_ago=30,
        ),
    ]
    result = assess_fhir_data(collection(*record), now=NOW)

    assert result.case.imaging is not None
    assert result.case.imaging.thrombus_extension_to_proximal_veins is True
    assert result.case.course is None or result.case.course.thrombus_propagation is None
    extended = rec(result.assessment, "DVT-DISTAL-EXTENDED-PROXIMALLY")
    assert (extended.action, extended.strength) == ("anticoagulation", "recommended")
    assert "CHEST-2021" in {c.id for c in extended.citations}


def test_fhir_cvt_reaching_the_cortical_veins_on_enoxaparin_keeps_the_endovascular_option() -> None:
    """Source: SIDDIQUI-2015 (185 cases; 12% died, 10% new or larger haemorrhage) and
    TO-ACT-2020 (perforation 9%): endovascular therapy is an option ("consider") for CVT
    propagating despite anticoagulation; rules CVT-EVT-DETERIORATION-MT/-CDT. Through FHIR:
    CVT, enoxaparin, then a cortical vein thrombosis whose onset follows the order."""
    record = [
        patient(birth="1990-01-15"),
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=100,
        ),
        medication_request("enox", *ENOXAPARIN, hours_ago=90),
        condition(
            "cortical",
            SNOMED,
            "433971000124107",
            "Cerebral venous thrombosis of cortical vein with infarction",
            onset_hours_ago=12,
        ),
    ]
    result = assess_fhir_data(collection(*record), now=NOW)

    assert result.case.course is not None
    assert result.case.course.thrombus_propagation is True
    thrombectomy = rec(result.assessment, "CVT-EVT-DETERIORATION-MT")
    assert (thrombectomy.strength, thrombectomy.urgency) == ("consider", "emergency")
    assert "harms" in thrombectomy.detail
    assert "CVT-EVT-DETERIORATION-CDT" in rule_ids(result.assessment)


# ------------------------------------------- image first, and safe work-up never waits


def test_a_suspected_blue_leg_is_imaged_now_and_heparinised_but_not_lysed_blind() -> None:
    """Source: AHA 2011 (Jaff et al.) Class I, LOE C: CDT or PCDT for *iliofemoral* DVT with
    limb-threatening compromise, so the thrombus is shown first; rules
    DVT-PHLEGMASIA-IMAGE-NOW, DVT-PHLEGMASIA-ANTICOAGULATION, DVT-PHLEGMASIA-CDT/-PMT."""
    blue_leg = build(
        SUSPECTED_LEG_DVT,
        {
            "risk_factors": DELETE,  # no Wells item is known: the imaging must not wait
            "exam": {"leg": {"phlegmasia": "cerulea_dolens", "entire_leg_swollen": DELETE}},
        },
    )
    result = assess(blue_leg)

    image = rec(result, "DVT-PHLEGMASIA-IMAGE-NOW")
    assert (image.action, image.strength, image.urgency) == (
        "diagnostic_imaging",
        "recommended",
        "emergency",
    )
    assert rec(result, "DVT-PHLEGMASIA-ANTICOAGULATION").strength == "recommended"
    assert not in_favour(result, "catheter_directed_thrombolysis")
    assert not in_favour(result, "pharmacomechanical_thrombectomy")
    assert urgency(result) == "emergency"


def test_the_infection_work_up_does_not_wait_on_when_the_symptoms_came_back() -> None:
    """Source: seed 003 clinic protocol (blood and urine tests first); rule
    FU-VENOPLASTY-EXCLUDE-INFECTION: an always-safe work-up that an unrelated unknown must
    not hold back. It is shown, provisional, asking whether symptoms came back within hours
    (which would make it an emergency instead)."""
    returning = build(
        VENOPLASTY_FOLLOW_UP,
        {
            "labs": {"metabolic_or_infection_screen_normal": DELETE},
            "follow_up": {"symptom_response": "none", "symptoms_back_within_hours": DELETE},
        },
    )
    result = assess(returning)

    workup = rec(result, "FU-VENOPLASTY-EXCLUDE-INFECTION")
    assert workup.strength == "recommended"
    assert workup.unchecked_facts == ["symptoms_back_within_hours"]
    assert "symptoms_back_within_hours" in needs_facts(result)


# ------------------------------------------------------------------ case-format gaps


def test_no_recent_surgery_counts_for_wells_without_an_invented_number() -> None:
    """Source: Wells 2003 item (bedridden 3 days or major surgery within 12 weeks), as
    scored by the project's Wells DVT score; case format: `major_surgery_within_12_weeks:
    false` and `bedridden_3_days_or_more: false` settle the item without day counts."""
    answered = build(
        SUSPECTED_LEG_DVT,
        {
            "risk_factors": {
                "bedridden_days": DELETE,
                "days_since_major_surgery": DELETE,
                "major_surgery_within_12_weeks": False,
                "bedridden_3_days_or_more": False,
            }
        },
    )
    unanswered = build(
        SUSPECTED_LEG_DVT,
        {"risk_factors": {"bedridden_days": DELETE, "days_since_major_surgery": DELETE}},
    )

    item = "bedridden_3_days_or_major_surgery_12_weeks"
    settled = assess(answered).scores["wells_dvt"]
    assert item not in settled.missing
    assert settled.points == settled.min_points == settled.max_points
    assert item in assess(unanswered).scores["wells_dvt"].missing
