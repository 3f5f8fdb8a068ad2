"""The clinical course read from the chart (issue 14 part 5): days on therapeutic anticoagulation.

Sources of the treatment-dose floors (value sets `anticoagulant-*-rxnorm`, `treatment_dose`):
HEPARIN-USPI (full-dose continuous infusion 20,000-40,000 U/24 h), ENOXAPARIN-DOSAGE
(1 mg/kg every 12 h or 1.5 mg/kg once daily; prophylaxis 40 mg daily), DOAC-VTE-DOSING-2016
(apixaban 5 mg twice daily, rivaroxaban 20 mg daily, dabigatran 150 mg twice daily, edoxaban
60 mg daily). Rules that read the result: CVT-EVT-DETERIORATION-MT/-CDT ("deterioration
despite anticoagulation", `on_therapeutic_anticoagulation` checked before acting) and the
RE-SPECT CVT lead-in window (`days_on_anticoagulation`).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fhir_fixtures import (
    ICD10,
    NOW,
    WHOLE,
    collection,
    condition,
    dose_every,
    medication_administration,
    medication_request,
    observation,
    patient,
)
from hypothesis_profiles import examples
from venapath.domain.facts import catalogue
from venapath.fhir.parse import read_resources
from venapath.fhir.to_case import (
    DETERIORATION_FIELD,
    STARTED_FIELD,
    THERAPEUTIC_FIELD,
    Mapped,
    case_from_fhir,
)
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
HEPARIN_BAG = ("1658717", "250 ML heparin sodium, porcine 100 UNT/ML Injection")
APIXABAN_5 = ("1364445", "apixaban 5 MG Oral Tablet")


def _map(kb: KnowledgeBase, *resources: dict[str, Any]) -> Mapped:
    record = [patient(birth="1990-01-15"), *resources]
    return case_from_fhir(read_resources(collection(*record)), kb.codes, NOW, complete=WHOLE)


def _weight(kg: float) -> dict[str, Any]:
    return observation("weight", "29463-7", "Body weight", kg, "kg", hours_ago=20)


def _anticoagulation(mapped: Mapped) -> Any:
    assert mapped.case.treatment is not None
    return mapped.case.treatment.anticoagulation


def _days(mapped: Mapped) -> Any:
    derive = catalogue()["days_on_anticoagulation"].derive
    assert derive is not None
    return derive(mapped.case, NOW)


def test_enoxaparin_1_mg_per_kg_twice_daily_is_therapeutic_from_its_order(
    kb: KnowledgeBase,
) -> None:
    order = medication_request("enox", *ENOXAPARIN, hours_ago=50, dosage=[dose_every(70, 12)])
    mapped = _map(kb, _weight(70), order)

    anticoagulation = _anticoagulation(mapped)
    assert anticoagulation.therapeutic is True
    assert anticoagulation.started_at == NOW - timedelta(hours=50)
    assert mapped.report.provenance[THERAPEUTIC_FIELD] == ["MedicationRequest/enox"]
    assert mapped.report.provenance[STARTED_FIELD] == ["MedicationRequest/enox"]


def test_a_prophylactic_or_unreadable_dose_leaves_therapeutic_unknown_never_false(
    kb: KnowledgeBase,
) -> None:
    prophylaxis = medication_request("enox", *ENOXAPARIN, dosage=[dose_every(40, 24)])
    no_dose = medication_request("enox", *ENOXAPARIN)
    per_kg_without_weight = medication_request("enox", *ENOXAPARIN, dosage=[dose_every(70, 12)])

    for record in ([_weight(70), prophylaxis], [no_dose], [per_kg_without_weight]):
        anticoagulation = _anticoagulation(_map(kb, *record))
        assert anticoagulation.agent == "lmwh"
        assert anticoagulation.therapeutic is None


def test_apixaban_5_mg_twice_daily_by_timing_code_is_a_treatment_dose(kb: KnowledgeBase) -> None:
    twice = {
        "timing": {"code": {"coding": [{"code": "BID"}]}},
        "doseAndRate": [{"doseQuantity": {"value": 5, "unit": "mg"}}],
    }
    half = {**twice, "doseAndRate": [{"doseQuantity": {"value": 2.5, "unit": "mg"}}]}

    treated = _map(kb, medication_request("apx", *APIXABAN_5, dosage=[twice]))
    prevented = _map(kb, medication_request("apx", *APIXABAN_5, dosage=[half]))

    assert _anticoagulation(treated).therapeutic is True
    assert _anticoagulation(prevented).therapeutic is None
    assert any("below its treatment dose" in note for note in prevented.report.notes)


def test_a_running_heparin_infusion_then_enoxaparin_is_one_course_from_the_infusion(
    kb: KnowledgeBase,
) -> None:
    """Heparin infused from 80 h to 30 h ago, enoxaparin ordered 30 h ago: one course of 80 h.
    The newest record, the enoxaparin order, gives no dose: the earlier full-dose infusion
    does not make it therapeutic."""
    drip = medication_administration(
        "ufh", *HEPARIN_BAG, hours_ago=80, until_hours_ago=30, units_per_hour=1250
    )
    order = medication_request("enox", *ENOXAPARIN, hours_ago=30)
    mapped = _map(kb, drip, order)

    anticoagulation = _anticoagulation(mapped)
    assert anticoagulation.started_at == NOW - timedelta(hours=80)
    assert anticoagulation.agent == "lmwh"
    assert sorted(mapped.report.provenance[STARTED_FIELD]) == [
        "MedicationAdministration/ufh",
        "MedicationRequest/enox",
    ]
    assert _days(mapped) == pytest.approx(80 / 24, abs=0.01)
    assert anticoagulation.therapeutic is None

    running = medication_administration(
        "ufh", *HEPARIN_BAG, hours_ago=80, status="in-progress", units_per_hour=1250
    )
    on_drip = _map(kb, running)
    assert _anticoagulation(on_drip).therapeutic is True
    assert on_drip.report.provenance[THERAPEUTIC_FIELD] == ["MedicationAdministration/ufh"]


def test_a_heparin_infusion_below_full_dose_or_a_line_flush_is_not_read_as_therapeutic(
    kb: KnowledgeBase,
) -> None:
    flush = medication_administration(
        "ufh", *HEPARIN_BAG, hours_ago=10, status="in-progress", units_per_hour=3
    )
    mapped = _map(kb, flush)

    assert _anticoagulation(mapped).therapeutic is None
    assert _anticoagulation(mapped).started_at == NOW - timedelta(hours=10)


def test_a_gap_of_more_than_a_day_starts_a_new_course(kb: KnowledgeBase) -> None:
    old = medication_administration("old", *ENOXAPARIN, hours_ago=300, mg=80)
    order = medication_request("enox", *ENOXAPARIN, hours_ago=40)
    mapped = _map(kb, old, order)

    assert _anticoagulation(mapped).started_at == NOW - timedelta(hours=40)
    assert mapped.report.provenance[STARTED_FIELD] == ["MedicationRequest/enox"]
    assert _days(mapped) == pytest.approx(40 / 24, abs=0.01)


def test_administrations_that_ended_days_ago_are_not_current_anticoagulation(
    kb: KnowledgeBase,
) -> None:
    mapped = _map(kb, medication_administration("old", *ENOXAPARIN, hours_ago=72, mg=80))

    assert mapped.case.treatment is None or mapped.case.treatment.anticoagulation is None
    assert any("not read as current anticoagulation" in n for n in mapped.report.notes)


def test_enoxaparin_doses_given_within_a_day_are_summed_per_kg(kb: KnowledgeBase) -> None:
    first = medication_administration("e1", *ENOXAPARIN, hours_ago=14, mg=70)
    second = medication_administration("e2", *ENOXAPARIN, hours_ago=2, mg=70)

    both = _map(kb, _weight(70), first, second)
    one = _map(kb, _weight(70), second)

    assert _anticoagulation(both).therapeutic is True
    assert _anticoagulation(both).started_at == NOW - timedelta(hours=14)
    assert _anticoagulation(one).therapeutic is None  # 1 mg/kg so far: not yet a daily dose


def test_a_seizure_after_the_course_began_is_deterioration_despite_therapeutic_treatment(
    kb: KnowledgeBase,
) -> None:
    """The infusion began before the seizure, the enoxaparin order after it: the course
    start, not the newest order, decides that the seizure came despite anticoagulation."""
    record = [
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=100,
        ),
        medication_administration(
            "ufh", *HEPARIN_BAG, hours_ago=90, status="in-progress", units_per_hour=1250
        ),
        condition("seiz", ICD10, "R56.9", "Unspecified convulsions", onset_hours_ago=20),
        _weight(70),
        medication_request("enox", *ENOXAPARIN, hours_ago=6, dosage=[dose_every(70, 12)]),
    ]
    mapped = _map(kb, *record)

    assert mapped.case.course is not None
    assert mapped.case.course.neurological_deterioration is True
    assert "MedicationAdministration/ufh" in mapped.report.provenance[DETERIORATION_FIELD]
    result = assess_case(mapped.case, kb=kb, trace=False)
    thrombectomy = next(
        r for r in result.recommendations if r.rule_id == "CVT-EVT-DETERIORATION-MT"
    )
    assert "on_therapeutic_anticoagulation" not in thrombectomy.unchecked_facts


@settings(max_examples=examples(60), deadline=None)
@given(
    mg=st.floats(min_value=0.1, max_value=500),
    hours=st.sampled_from([6, 8, 12, 24, 48]),
    weight=st.one_of(st.none(), st.floats(min_value=30, max_value=250)),
)
def test_the_mapping_never_says_anticoagulation_is_not_therapeutic(
    kb: KnowledgeBase, mg: float, hours: int, weight: float | None
) -> None:
    """Unknown is not false: whatever dose is charted, `therapeutic` is true or unknown."""
    order = medication_request("enox", *ENOXAPARIN, hours_ago=30, dosage=[dose_every(mg, hours)])
    record = [order] if weight is None else [_weight(weight), order]
    therapeutic = _anticoagulation(_map(kb, *record)).therapeutic
    assert therapeutic in (True, None)
    expected = weight is not None and mg * 24 / hours / weight >= 1.5
    assert (therapeutic is True) == expected
