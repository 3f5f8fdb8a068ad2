"""FHIR resources to a case: what is read, what stays unknown, what is reported."""

from __future__ import annotations

from datetime import timedelta
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
    dvt_record,
    medication_request,
    observation,
    patient,
)
from venapath.domain.case import Case
from venapath.fhir.errors import FhirInputError
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import Mapped, case_from_fhir
from venapath.kb.model import KnowledgeBase


def _map(kb: KnowledgeBase, *resources: dict[str, Any], complete: frozenset[str] = WHOLE) -> Mapped:
    return case_from_fhir(read_resources(collection(*resources)), kb.codes, NOW, complete=complete)


def _case(kb: KnowledgeBase, *resources: dict[str, Any]) -> Case:
    return _map(kb, *resources).case


def test_a_coded_dvt_gives_diagnosis_segment_side_and_onset(kb: KnowledgeBase) -> None:
    case = _case(kb, *dvt_record())
    assert case.diagnoses is not None
    assert [(d.condition.value, d.status.value) for d in case.diagnoses] == [
        ("leg_dvt", "confirmed")
    ]
    assert case.imaging is not None
    assert case.imaging.thrombosed_segments is not None
    segment = case.imaging.thrombosed_segments[0]
    assert (segment.segment, segment.side.value if segment.side else None) == (
        "femoral_vein",
        "left",
    )
    assert case.presentation is not None
    assert case.presentation.symptom_onset == NOW - timedelta(hours=48)


def test_labs_are_read_with_their_units(kb: KnowledgeBase) -> None:
    case = _case(kb, *dvt_record(platelets=87))
    assert case.labs is not None
    assert case.labs.platelets is not None
    assert case.labs.platelets.per_nanolitre() == 87
    assert case.exam is not None
    assert case.exam.systolic_bp_mmhg == 128


def test_the_latest_result_wins(kb: KnowledgeBase) -> None:
    old = observation("old", "777-3", "Platelets", 50, "10*3/uL", hours_ago=72)
    new = observation("new", "777-3", "Platelets", 210, "10*3/uL", hours_ago=2)
    mapped = _map(kb, patient(), new, old)
    assert mapped.case.labs is not None
    assert mapped.case.labs.platelets is not None
    assert mapped.case.labs.platelets.value == 210
    assert mapped.report.provenance["/labs/platelets"] == ["Observation/new"]


@pytest.mark.parametrize(
    ("verification", "status"),
    [("provisional", "suspected"), ("differential", "suspected"), ("refuted", "excluded")],
)
def test_verification_status_sets_the_diagnosis_status(
    kb: KnowledgeBase, verification: str, status: str
) -> None:
    cvt = condition("c", ICD10, "I67.6", "CVT", verification=verification)
    case = _case(kb, patient(), cvt)
    assert case.diagnoses is not None
    assert case.diagnoses[0].status.value == status


def test_an_inactive_condition_is_reported_not_read(kb: KnowledgeBase) -> None:
    old = condition("c", ICD10, "I67.6", "CVT", clinical="resolved")
    mapped = _map(kb, patient(), old)
    assert mapped.case.diagnoses == ()
    assert any("resolved" in note for note in mapped.report.notes)


def test_an_unknown_code_is_reported_and_not_guessed(kb: KnowledgeBase) -> None:
    hypertension = condition("h", SNOMED, "38341003", "Deep vein thrombosis (made-up display)")
    mapped = _map(kb, patient(), hypertension)
    assert mapped.case.diagnoses == ()
    assert [(u.code, u.count) for u in mapped.report.unmapped_codes] == [("38341003", 1)]


def test_without_a_complete_condition_list_diagnoses_stay_unknown(kb: KnowledgeBase) -> None:
    mapped = _map(kb, patient(), complete=frozenset())
    assert mapped.case.diagnoses is None
    assert mapped.case.treatment is None


def test_an_active_anticoagulant_sets_the_agent_and_start(kb: KnowledgeBase) -> None:
    apixaban = medication_request("m", "1364430", "apixaban", hours_ago=20)
    case = _case(kb, patient(), apixaban)
    assert case.treatment is not None
    assert case.treatment.anticoagulation is not None
    assert case.treatment.anticoagulation.agent is not None
    assert case.treatment.anticoagulation.agent.value == "apixaban"
    assert case.treatment.anticoagulation.started_at == NOW - timedelta(hours=20)


def test_a_draft_or_stopped_order_is_not_current_treatment(kb: KnowledgeBase) -> None:
    for status in ("draft", "stopped", "cancelled"):
        order = medication_request("m", "1364430", "apixaban", status=status)
        case = _case(kb, patient(), order)
        assert case.treatment is None or case.treatment.anticoagulation is None


def test_a_thrombolytic_counts_only_within_seven_days(kb: KnowledgeBase) -> None:
    recent = medication_request("t", "8410", "alteplase", status="completed", hours_ago=24)
    old = medication_request("t", "8410", "alteplase", status="completed", hours_ago=24 * 10)
    recent_case = _case(kb, patient(), recent)
    assert recent_case.treatment is not None
    assert recent_case.treatment.thrombolysis_within_7_days is True
    old_case = _case(kb, patient(), old)
    assert old_case.treatment is None or old_case.treatment.thrombolysis_within_7_days is None


def test_a_venous_stent_makes_a_follow_up_case(kb: KnowledgeBase) -> None:
    stent = {
        "resourceType": "Procedure",
        "id": "s",
        "status": "completed",
        "code": {"coding": [{"system": SNOMED, "code": "232997003"}]},
        "subject": {"reference": "Patient/p1"},
        "performedDateTime": at(24 * 90),
    }
    case = _case(kb, patient(), stent)
    assert case.follow_up is not None
    assert case.follow_up.procedure_kind is not None
    assert case.follow_up.procedure_kind.value in ("venous_stent", "venoplasty")


def test_future_times_are_ignored_and_reported(kb: KnowledgeBase) -> None:
    future = observation("f", "777-3", "Platelets", 99, "10*3/uL", hours_ago=-48)
    mapped = _map(kb, patient(), future)
    assert any("in the future" in note for note in mapped.report.notes)


def test_age_and_sex_from_the_patient(kb: KnowledgeBase) -> None:
    case = _case(kb, patient(gender="male", birth="1960-11-21"))
    assert case.patient is not None
    assert case.patient.age_years == 65  # the day before the 66th birthday
    assert case.patient.sex is not None
    assert case.patient.sex.value == "male"


def test_an_impossible_value_blames_the_resource(kb: KnowledgeBase) -> None:
    gcs = observation("g", "9269-2", "GCS", 22, "{score}")
    with pytest.raises(FhirInputError) as caught:
        _map(kb, patient(), gcs)
    assert caught.value.problems[0].location == "Observation/g"


def test_two_patients_in_one_bundle_are_refused(kb: KnowledgeBase) -> None:
    with pytest.raises(FhirInputError, match="2 Patient resources"):
        _map(kb, patient("a"), patient("b"))


def test_codes_are_matched_with_or_without_the_icd_dot(kb: KnowledgeBase) -> None:
    dotless = condition("c", ICD10, "I82412", "DVT left femoral")
    case = _case(kb, patient(), dotless)
    assert case.diagnoses is not None
    assert case.diagnoses[0].condition.value == "leg_dvt"


def test_reading_only_the_latest_results_gives_the_same_case(kb: KnowledgeBase) -> None:
    history = [
        observation(f"plt-{day}", "777-3", "Platelets", 100 + day, "10*3/uL", hours_ago=24 * day)
        for day in range(1, 10)
    ]
    record = collection(*dvt_record(), *history)
    everything = read_resources(record)
    latest = read_resources(record, latest_results_only=True)
    assert len(latest.of("Observation")) < len(everything.of("Observation"))
    assert latest.not_read["Observation (superseded result)"] == 9
    full_case = case_from_fhir(everything, kb.codes, NOW, complete=WHOLE).case
    assert case_from_fhir(latest, kb.codes, NOW, complete=WHOLE).case == full_case


def test_a_cancelled_newer_result_does_not_hide_the_valid_older_one(kb: KnowledgeBase) -> None:
    valid = observation("ok", "777-3", "Platelets", 80, "10*3/uL", hours_ago=10)
    cancelled = observation("x", "777-3", "Platelets", 300, "10*3/uL", hours_ago=1)
    cancelled["status"] = "cancelled"
    parsed = read_resources(collection(patient(), valid, cancelled), latest_results_only=True)
    case = case_from_fhir(parsed, kb.codes, NOW, complete=WHOLE).case
    assert case.labs is not None
    assert case.labs.platelets is not None
    assert case.labs.platelets.value == 80


def test_a_future_dated_result_does_not_hide_the_latest_real_one(kb: KnowledgeBase) -> None:
    real = observation("ok", "777-3", "Platelets", 80, "10*3/uL", hours_ago=10)
    future = observation("f", "777-3", "Platelets", 300, "10*3/uL", hours_ago=-24 * 400)
    parsed = read_resources(collection(patient(), real, future), latest_results_only=True)
    mapped = case_from_fhir(parsed, kb.codes, NOW, complete=WHOLE)
    assert mapped.case.labs is not None
    assert mapped.case.labs.platelets is not None
    assert mapped.case.labs.platelets.value == 80
    assert any("in the future" in note for note in mapped.report.notes)
