"""The clinical course read from the chart (issue 14 part 5): a platelet fall on heparin.

Source: ASH-EDU-2017-HIT-DIAGNOSIS (consider HIT whenever a patient exposed to heparin has a
significant fall in platelet count; the 4Ts score's typical fall is more than 50%), and the
VITT/HIT treatment advice of SIEGLER-2021-VITT and CDC-2021-VITT; alert
CVT-THROMBOCYTOPENIA-VITT-HIT. The chart holds every platelet count; only their course on
heparin shows the fall, and the newest count alone (110 x 10^9/L here) would not.
"""

from __future__ import annotations

from typing import Any

import pytest

from fhir_fixtures import (
    ICD10,
    condition,
    map_record,
    medication_request,
    observation,
    patient,
)
from venapath.fhir.to_case import PLATELET_FALL_FIELD
from venapath.kb.model import KnowledgeBase
from venapath.services.evaluation import assess_case

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
APIXABAN = ("1364445", "apixaban 5 MG Oral Tablet")
VITT_HIT = "CVT-THROMBOCYTOPENIA-VITT-HIT"


def cvt_on(drug: tuple[str, str], counts: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """CVT diagnosed 8 days ago, an anticoagulant ordered 7 days ago (168 h), and platelet
    counts as (value x10^9/L, hours ago)."""
    record = [
        patient(birth="1979-06-01"),
        condition(
            "cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            onset_hours_ago=192,
        ),
        medication_request("ac", *drug, hours_ago=168),
    ]
    for index, (value, hours_ago) in enumerate(counts):
        record.append(
            observation(f"plt-{index}", "777-3", "Platelets", value, "10*3/uL", hours_ago=hours_ago)
        )
    return record


def test_a_halved_platelet_count_on_enoxaparin_is_suspected_hit_with_provenance(
    kb: KnowledgeBase,
) -> None:
    # baseline 240 the day heparin started (a few hours before), 110 today: a 54% fall
    mapped = map_record(kb, cvt_on(ENOXAPARIN, [(240, 172), (230, 120), (110, 3)]))

    assert mapped.case.course is not None
    assert mapped.case.course.platelet_fall_on_heparin is True
    assert sorted(mapped.report.provenance[PLATELET_FALL_FIELD]) == [
        "MedicationRequest/ac",
        "Observation/plt-0",
        "Observation/plt-2",
    ]
    assert any("read as suspected HIT" in note for note in mapped.report.notes)
    result = assess_case(mapped.case, kb=kb, trace=False)
    assert VITT_HIT in {a.id for a in result.alerts}


@pytest.mark.parametrize(
    ("drug", "counts", "why"),
    [
        (ENOXAPARIN, [(240, 172), (150, 3)], "a 37% fall is not the typical fall"),
        (APIXABAN, [(240, 172), (110, 3)], "apixaban is not heparin"),
        (ENOXAPARIN, [(240, 400), (110, 300), (115, 3)], "the fall came before heparin"),
        (ENOXAPARIN, [(110, 172), (240, 3)], "a rise is not a fall"),
        (ENOXAPARIN, [(110, 3)], "one count shows no course"),
    ],
)
def test_no_fall_on_heparin_is_not_read_as_one(
    kb: KnowledgeBase, drug: tuple[str, str], counts: list[tuple[float, float]], why: str
) -> None:
    mapped = map_record(kb, cvt_on(drug, counts))
    course = mapped.case.course
    assert course is None or course.platelet_fall_on_heparin is None, why
    assert PLATELET_FALL_FIELD not in mapped.report.provenance, why
    result = assess_case(mapped.case, kb=kb, trace=False)
    assert VITT_HIT not in {a.id for a in result.alerts}, why
