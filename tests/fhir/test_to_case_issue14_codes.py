"""The chart codes added for issue 14's items: what each sets, and what stays unknown.

Codes: CMS ICD-10-CM tabular of April 1 2026 (kb/data/value_sets/conditions.yaml, the
value sets added in 0.5.0 at the end of the file).
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures import (
    ICD10,
    NOW,
    SNOMED,
    WHOLE,
    at,
    collection,
    condition,
    cvt_record,
    observation,
    patient,
)
from venapath.cdshooks.prefetch import prefetch_templates
from venapath.fhir.errors import FhirInputError
from venapath.fhir.parse import read_resources
from venapath.fhir.requirements import feed_for_pointers, feed_for_rules
from venapath.fhir.to_case import Mapped, case_from_fhir
from venapath.kb.model import KnowledgeBase

VENOPLASTY = ("276894001", "Percutaneous balloon angioplasty of inferior vena cava (procedure)")
FEVER = ("R50.9", "Fever, unspecified")


def _map(kb: KnowledgeBase, *resources: dict[str, Any]) -> Mapped:
    return case_from_fhir(read_resources(collection(*resources)), kb.codes, NOW, complete=WHOLE)


def procedure(resource_id: str, code: str, display: str, *, hours_ago: float) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": resource_id,
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": at(hours_ago),
    }


# ------------------------------------------------------------------ HIT / VITT


@pytest.mark.parametrize(
    ("code", "display"),
    [
        ("D75.822", "Immune-mediated heparin-induced thrombocytopenia"),
        ("D75.829", "Heparin-induced thrombocytopenia, unspecified"),
        ("D75.84", "Other platelet-activating anti-PF4 disorders"),
    ],
)
@pytest.mark.parametrize("verification", ["confirmed", "provisional", "differential"])
def test_a_hit_or_vitt_condition_records_the_suspicion(
    kb: KnowledgeBase, code: str, display: str, verification: str
) -> None:
    record = [*cvt_record(), condition("hit", ICD10, code, display, verification=verification)]
    mapped = _map(kb, *record)

    assert mapped.case.labs is not None
    assert mapped.case.labs.hit_or_vitt_suspected is True
    assert mapped.report.provenance["/labs/hit_or_vitt_suspected"] == ["Condition/hit"]


@pytest.mark.parametrize(
    ("code", "verification", "clinical"),
    [
        ("D75.821", "confirmed", "active"),  # non-immune (type 1) HIT: not the anti-PF4 disorder
        ("D75.822", "refuted", "active"),
        ("D75.822", "confirmed", "resolved"),
    ],
)
def test_no_hit_suspicion_from_type_1_hit_refuted_or_resolved(
    kb: KnowledgeBase, code: str, verification: str, clinical: str
) -> None:
    record = [
        *cvt_record(),
        condition("hit", ICD10, code, "HIT", verification=verification, clinical=clinical),
    ]
    labs = _map(kb, *record).case.labs

    assert labs is not None
    assert labs.hit_or_vitt_suspected is None


def test_no_hit_condition_leaves_the_suspicion_unknown(kb: KnowledgeBase) -> None:
    labs = _map(kb, *cvt_record()).case.labs
    assert labs is not None
    assert labs.hit_or_vitt_suspected is None


# ------------------------------------------------- shunt and active internal bleeding


def test_eisenmenger_syndrome_is_a_right_to_left_shunt(kb: KnowledgeBase) -> None:
    mapped = _map(kb, patient(), condition("eis", ICD10, "I27.83", "Eisenmenger's syndrome"))

    assert mapped.case.bleeding_risk is not None
    assert mapped.case.bleeding_risk.right_to_left_shunt is True
    assert mapped.report.provenance["/bleeding_risk/right_to_left_shunt"] == ["Condition/eis"]


@pytest.mark.parametrize(
    ("code", "display"),
    [
        ("Q21.12", "Patent foramen ovale"),
        ("Q21.10", "Atrial septal defect, unspecified"),
        ("I51.3", "Intracardiac thrombosis, not elsewhere classified"),
    ],
)
def test_a_septal_defect_or_a_sideless_heart_thrombus_is_not_read(
    kb: KnowledgeBase, code: str, display: str
) -> None:
    """A PFO or ASD does not say the shunt runs right to left; I51.3 does not say the left
    heart (and its inclusion terms are old thrombi): both stay unknown and are reported."""
    mapped = _map(kb, patient(), condition("c", ICD10, code, display))

    assert mapped.case.bleeding_risk is None
    assert code in {u.code for u in mapped.report.unmapped_codes}


@pytest.mark.parametrize(
    "code", ["K92.0", "K92.1", "K92.2", "K66.1", "K68.3", "I31.2", "J94.2", "D65"]
)
def test_an_active_internal_bleed_sets_active_bleeding_only(kb: KnowledgeBase, code: str) -> None:
    """Active internal bleeding is SIR's absolute contraindication to lysis; the absolute
    contraindication to anticoagulation stays the clinician's to record (unknown)."""
    mapped = _map(kb, patient(), condition("bleed", ICD10, code, "bleeding"))

    risk = mapped.case.bleeding_risk
    assert risk is not None
    assert risk.active_bleeding is True
    assert risk.anticoagulation_contraindicated is None


def test_a_resolved_bleed_or_none_leaves_active_bleeding_unknown(kb: KnowledgeBase) -> None:
    resolved = condition("bleed", ICD10, "K92.2", "GI bleed", clinical="resolved")
    assert _map(kb, patient(), resolved).case.bleeding_risk is None
    assert _map(kb, patient()).case.bleeding_risk is None


# ------------------------------------------------- symptoms after a venoplasty


@pytest.mark.parametrize(
    ("code", "display"),
    [
        FEVER,
        ("R50.82", "Postprocedural fever"),
        ("R30.0", "Dysuria"),
        ("R35.0", "Frequency of micturition"),
        ("R39.15", "Urgency of urination"),
    ],
)
def test_fever_or_a_urinary_symptom_after_the_venoplasty_is_read(
    kb: KnowledgeBase, code: str, display: str
) -> None:
    mapped = _map(
        kb,
        patient(),
        procedure("vp", *VENOPLASTY, hours_ago=24 * 20),
        condition("sym", ICD10, code, display, onset_hours_ago=24 * 2),
    )

    follow_up = mapped.case.follow_up
    assert follow_up is not None
    assert follow_up.fever_or_urinary_symptoms is True
    assert mapped.report.provenance["/follow_up/fever_or_urinary_symptoms"] == [
        "Condition/sym",
        "Procedure/vp",
    ]


def test_a_symptom_on_the_procedure_day_counts_from_its_time(kb: KnowledgeBase) -> None:
    """Onset 1 h after the procedure counts; 1 h before does not (it is not after it)."""
    after = condition("sym", ICD10, *FEVER, onset_hours_ago=9)
    before = condition("sym", ICD10, *FEVER, onset_hours_ago=11)
    venoplasty = procedure("vp", *VENOPLASTY, hours_ago=10)

    follow_up = _map(kb, patient(), venoplasty, after).case.follow_up
    assert follow_up is not None
    assert follow_up.fever_or_urinary_symptoms is True
    mapped = _map(kb, patient(), venoplasty, before)
    assert mapped.case.follow_up is not None
    assert mapped.case.follow_up.fever_or_urinary_symptoms is None
    assert any("not placed after the procedure" in note for note in mapped.report.notes)


def test_a_fever_without_a_venoplasty_makes_no_follow_up_case(kb: KnowledgeBase) -> None:
    mapped = _map(kb, patient(), condition("sym", ICD10, *FEVER, onset_hours_ago=5))
    assert mapped.case.follow_up is None


def test_a_refuted_or_undated_symptom_or_none_leaves_the_field_unknown(kb: KnowledgeBase) -> None:
    venoplasty = procedure("vp", *VENOPLASTY, hours_ago=24 * 20)
    refuted = condition("sym", ICD10, *FEVER, onset_hours_ago=5, verification="refuted")
    undated = condition("sym", ICD10, *FEVER)
    undated.pop("recordedDate")
    for extra in ([refuted], [undated], []):
        follow_up = _map(kb, patient(), venoplasty, *extra).case.follow_up
        assert follow_up is not None
        assert follow_up.fever_or_urinary_symptoms is None, extra


# ------------------------------------------------------------ gestational age


def _gestation(value: float, unit: str, *, days_ago: float, rid: str = "ga") -> dict[str, Any]:
    return observation(
        rid, "11884-4", "Gestational age Estimated", value, unit, hours_ago=24 * days_ago
    )


@pytest.mark.parametrize(
    ("value", "unit", "days_ago", "weeks"),
    [
        (30, "wk", 10, 31),  # 210 + 10 days = 31 weeks 3 days
        (30, "wk", 3, 30),
        (213, "d", 0.1, 30),  # 30 weeks 3 days
        (216, "d", 1, 31),  # 217 days: exactly 31 weeks
    ],
)
def test_a_gestational_age_is_advanced_to_now_in_completed_weeks(
    kb: KnowledgeBase, value: float, unit: str, days_ago: float, weeks: int
) -> None:
    mapped = _map(kb, patient(), _gestation(value, unit, days_ago=days_ago))

    assert mapped.case.patient is not None
    assert mapped.case.patient.gestational_age_weeks == weeks
    assert mapped.case.patient.pregnant is True
    assert mapped.report.provenance["/patient/gestational_age_weeks"] == ["Observation/ga"]
    assert mapped.report.provenance["/patient/pregnant"] == ["Observation/ga"]


def test_the_newest_gestational_age_decides(kb: KnowledgeBase) -> None:
    older = _gestation(20, "wk", days_ago=70, rid="ga-old")
    newer = _gestation(28, "wk", days_ago=14, rid="ga-new")
    mapped = _map(kb, patient(), newer, older)

    assert mapped.case.patient is not None
    assert mapped.case.patient.gestational_age_weeks == 30
    assert mapped.report.provenance["/patient/gestational_age_weeks"] == ["Observation/ga-new"]


@pytest.mark.parametrize(
    "record",
    [
        [_gestation(38, "wk", days_ago=8 * 7)],  # 46 weeks now: the pregnancy has ended
        [_gestation(30, "mo", days_ago=1)],  # a unit that is not read
        [],
    ],
    ids=["ended", "unit", "none"],
)
def test_an_ended_unreadable_or_missing_gestational_age_stays_unknown(
    kb: KnowledgeBase, record: list[dict[str, Any]]
) -> None:
    mapped = _map(kb, patient(), *record)

    assert mapped.case.patient is not None
    assert mapped.case.patient.gestational_age_weeks is None
    assert mapped.case.patient.pregnant is None


def test_an_undated_gestational_age_is_not_read(kb: KnowledgeBase) -> None:
    undated = _gestation(30, "wk", days_ago=1)
    undated.pop("effectiveDateTime")
    mapped = _map(kb, patient(), undated)

    assert mapped.case.patient is not None
    assert mapped.case.patient.gestational_age_weeks is None
    assert any("gestational age without a date" in note for note in mapped.report.notes)


def test_a_gestational_age_for_a_man_is_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(FhirInputError) as caught:
        _map(kb, patient(gender="male"), _gestation(30, "wk", days_ago=1))
    assert "pregnant is set for a male patient" in str(caught.value)


@pytest.mark.parametrize(
    ("system", "code"), [(ICD10, "Z33.1"), (ICD10, "Z33.3"), (SNOMED, "77386006")]
)
def test_a_pregnant_state_condition_is_a_pregnancy(
    kb: KnowledgeBase, system: str, code: str
) -> None:
    patient_part = _map(kb, patient(), condition("preg", system, code, "Pregnancy")).case.patient
    assert patient_part is not None
    assert patient_part.pregnant is True
    assert patient_part.gestational_age_weeks is None


# ------------------------------------------------------------------ CDS prefetch


def test_the_prefetch_asks_for_the_new_codes_because_the_rules_read_their_facts(
    kb: KnowledgeBase,
) -> None:
    """Derived, not listed: each fact below is read by a rule, and the value sets that
    settle it name the codes the prefetch (Conditions in full, Observations by LOINC)
    asks for."""
    feed = feed_for_rules(kb)
    condition_codes = {c.code for c in feed.codes["Condition"]}
    assert {"D75.829", "D75.84", "I27.83", "K92.2", "R50", "R30.0", "Z33.1"} <= condition_codes
    assert "D75.821" not in condition_codes
    observations = prefetch_templates(kb)["observations"]
    for loinc in ("11884-4", "11885-1", "18185-9", "49051-6"):
        assert f"http://loinc.org|{loinc}" in observations
    pregnancy = feed_for_pointers(kb, {"/patient/pregnant"})
    assert {c.code for c in pregnancy.codes["Observation"]} == {
        "11884-4",
        "11885-1",
        "18185-9",
        "49051-6",
    }
