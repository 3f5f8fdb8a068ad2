"""The clinical course read from the chart (issue 14 part 5): new seizures.

Source: AHA 2024 CVT statement and Siddiqui 2015 (endovascular therapy may be considered for
deterioration despite anticoagulation; rules CVT-EVT-DETERIORATION-MT/-CDT), VIP-DVST-PAGE
and ESO 2017 (seizures are a presenting sign of CVT). The course field
`neurological_deterioration` means "falling consciousness, new deficit or new seizures since
treatment began" (docs/case-format.md): a seizure Condition dated after the anticoagulant
order is such a new seizure; one since the onset is a seizure of this episode; an older one
is neither.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures import (
    ICD10,
    condition,
    map_record,
    medication_request,
    patient,
)
from venapath.fhir.to_case import DETERIORATION_FIELD, SEIZURE_FIELD
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")


def cvt_with_seizure(hours_ago: float, verification: str = "confirmed") -> list[dict[str, Any]]:
    """CVT with onset 100 h ago, enoxaparin ordered 90 h ago, a seizure `hours_ago`."""
    return [
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
            "seiz",
            ICD10,
            "R56.9",
            "Unspecified convulsions",
            onset_hours_ago=hours_ago,
            verification=verification,
        ),
    ]


def test_a_seizure_on_enoxaparin_is_deterioration_and_keeps_the_endovascular_option(
    kb: KnowledgeBase,
) -> None:
    mapped = map_record(kb, cvt_with_seizure(hours_ago=6))

    assert mapped.case.exam is not None
    assert mapped.case.exam.seizure is True
    assert mapped.case.course is not None
    assert mapped.case.course.neurological_deterioration is True
    assert mapped.report.provenance[SEIZURE_FIELD] == ["Condition/seiz"]
    assert sorted(mapped.report.provenance[DETERIORATION_FIELD]) == [
        "Condition/seiz",
        "MedicationRequest/enox",
    ]
    result = assess_case(mapped.case, kb=kb, trace=False)
    thrombectomy = next(
        r for r in result.recommendations if r.rule_id == "CVT-EVT-DETERIORATION-MT"
    )
    assert thrombectomy.strength == "consider"


def test_a_seizure_before_treatment_is_a_presenting_seizure_not_deterioration(
    kb: KnowledgeBase,
) -> None:
    mapped = map_record(kb, cvt_with_seizure(hours_ago=95))

    assert mapped.case.exam is not None
    assert mapped.case.exam.seizure is True
    course = mapped.case.course
    assert course is None or course.neurological_deterioration is None
    result = assess_case(mapped.case, kb=kb, trace=False)
    assert "CVT-EVT-DETERIORATION-MT" not in {r.rule_id for r in result.recommendations}


@pytest.mark.parametrize(
    ("hours_ago", "verification", "why"),
    [
        (24 * 400, "confirmed", "a seizure a year before this episode"),
        (6, "provisional", "a suspected seizure"),
        (6, "refuted", "a refuted seizure"),
    ],
)
def test_old_or_unconfirmed_seizures_are_not_read_as_new(
    kb: KnowledgeBase, hours_ago: float, verification: str, why: str
) -> None:
    mapped = map_record(kb, cvt_with_seizure(hours_ago, verification))

    exam, course = mapped.case.exam, mapped.case.course
    assert exam is None or exam.seizure is None, why  # unknown, never "no seizure"
    assert course is None or course.neurological_deterioration is None, why


def test_a_seizure_without_an_episode_onset_is_not_placed(kb: KnowledgeBase) -> None:
    record = [r for r in cvt_with_seizure(hours_ago=6) if r["id"] != "cvt"]
    mapped = map_record(kb, record)

    assert mapped.case.exam is None or mapped.case.exam.seizure is None
    assert any("seizure not placed in a CVT episode" in note for note in mapped.report.notes)
