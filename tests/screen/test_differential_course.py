"""Differential test for the clinical course read from the chart (issue 14 part 5).

Imaging reports (`REPORTS`): the screen reads their coded conclusion through the
DiagnosticReport view exactly as the mapping does (`to_case._read_diagnostic_report`).

The synthetic cohorts chart one platelet count per patient, so they never show a platelet
fall on heparin. These hand-built records do, beside records that must not read as one; the
screen must give every patient what the per-patient engine gives (`test_differential`).
Source of the fall criterion: ASH-EDU-2017-HIT-DIAGNOSIS (4Ts typical fall > 50%).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from export_support import write_export
from test_differential import _compare, _expected, _screened

from fhir_fixtures import (
    ICD10,
    NOW,
    SNOMED,
    condition,
    diagnostic_report,
    medication_administration,
    medication_request,
    observation,
    patient,
)
from venapath.kb.model import KnowledgeBase

ENOXAPARIN = ("854235", "0.4 ML enoxaparin sodium 100 MG/ML Prefilled Syringe")
APIXABAN = ("1364445", "apixaban 5 MG Oral Tablet")
VITT_HIT = "CVT-THROMBOCYTOPENIA-VITT-HIT"

COURSES: dict[str, tuple[tuple[str, str], list[tuple[float, float]]]] = {
    "fall-on-enoxaparin": (ENOXAPARIN, [(240, 172), (230, 120), (110, 3)]),
    "small-fall": (ENOXAPARIN, [(240, 172), (150, 3)]),
    "fall-on-apixaban": (APIXABAN, [(240, 172), (110, 3)]),
    "fall-before-heparin": (ENOXAPARIN, [(240, 400), (110, 300), (115, 3)]),
    "rise": (ENOXAPARIN, [(110, 172), (240, 3)]),
    "fall-in-other-units": (ENOXAPARIN, [(240000, 172), (100000, 3)]),
}
"""Patient id -> (anticoagulant ordered 168 h ago, platelet counts as (value, hours ago))."""

SEIZURES: dict[str, tuple[float, str]] = {
    "seizure-on-enoxaparin": (6, "confirmed"),
    "seizure-at-presentation": (180, "confirmed"),
    "seizure-long-ago": (24 * 400, "confirmed"),
    "seizure-suspected": (6, "provisional"),
}
"""Patient id -> a seizure Condition (hours ago, verification), CVT 192 h ago, LMWH 168 h ago.
Source: AHA 2024 CVT statement, Siddiqui 2015 (CVT-EVT-DETERIORATION-MT/-CDT)."""

COURSES_GIVEN: dict[str, tuple[list[tuple[float, float | None]], float | None]] = {
    "seizure-after-infusion-began": ([(100, 60)], 60),
    "seizure-before-a-gap": ([(300, 299)], 40),
    "administrations-ended": ([(72, None)], None),
    "infusion-running": ([(50, -1)], None),
}
"""Patient id -> (heparin administrations as (hours ago, ended hours ago; -1 still running),
enoxaparin order hours ago or none); CVT 192 h ago, a seizure 80 h ago. The course of
anticoagulation starts at the first record of the run that reaches now (gaps over 24 h
break it): only "seizure-after-infusion-began" is deterioration despite anticoagulation. No
rate is charted: the screen does not read doses and leaves `therapeutic` unknown, which the
per-patient mapping also does without a dose."""
HEPARIN_BAG = ("1658717", "250 ML heparin sodium, porcine 100 UNT/ML Injection")

LEFT_FEMORAL = ("I82.412", "Acute embolism and thrombosis of left femoral vein")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")
LEFT_TIBIAL = ("I82.442", "Acute embolism and thrombosis of left tibial vein")
CORTICAL_VEIN = (
    SNOMED,
    "433971000124107",
    "Cerebral venous thrombosis of cortical vein with infarction",
)
PROPAGATION: dict[str, tuple[tuple[str, str, str], tuple[tuple[str, str, str], float | None]]] = {
    "iliac-on-enoxaparin": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), 20)),
    "iliac-before-enoxaparin": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), 115)),
    "iliac-recorded-only": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), None)),
    "other-leg": (
        (ICD10, *LEFT_FEMORAL),
        ((ICD10, "I82.421", "Acute embolism and thrombosis of right iliac vein"), 20),
    ),
    "iliac-no-side": (
        (ICD10, *LEFT_FEMORAL),
        ((ICD10, "I82.429", "Acute embolism and thrombosis of unspecified iliac vein"), 20),
    ),
    "same-vein-again": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_FEMORAL), 20)),
    "calf-to-popliteal": (
        (ICD10, *LEFT_TIBIAL),
        ((ICD10, "I82.432", "Acute embolism and thrombosis of left popliteal vein"), 20),
    ),
    "calf-to-peroneal": (
        (ICD10, *LEFT_TIBIAL),
        ((ICD10, "I82.452", "Acute embolism and thrombosis of left peroneal vein"), 20),
    ),
    "cvt-to-cortical-veins": (
        (ICD10, "I67.6", "Nonpyogenic thrombosis of intracranial venous system"),
        (CORTICAL_VEIN, 12),
    ),
    "later-refuted": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), 20)),
    "later-entered-in-error": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), 20)),
    "earlier-resolved": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), 20)),
    "later-in-the-future": ((ICD10, *LEFT_FEMORAL), ((ICD10, *LEFT_ILIAC), -48)),
}
ROUGH: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "later-refuted": ({}, {"verification": "refuted"}),
    "later-entered-in-error": ({}, {"verification": "entered-in-error"}),
    "earlier-resolved": ({"clinical": "resolved"}, {}),
}
"""Statuses on the first or the later Condition, as real exports carry them."""
"""Patient id -> (first thrombosis Condition, onset 120 h ago; a later one and its onset in
hours ago, or none: only a recorded date); enoxaparin ordered 110 h ago. Sources: AHA-2011-VTE
(iliofemoral DVT extending despite anticoagulation), CHEST-2021 statement 2 (distal DVT
extending), SIDDIQUI-2015 (CVT propagating despite anticoagulation)."""


LEFT_FEMORAL_SCT = (SNOMED, "285391000119101", "Acute deep venous thrombosis of left femoral vein")
LEFT_POPLITEAL_SCT = (
    SNOMED,
    "285571000119108",
    "Acute deep venous thrombosis of popliteal vein of left leg",
)
ILIAC_FIRST = (ICD10, *LEFT_ILIAC)
CVT_FIRST = (ICD10, "I67.6", "Nonpyogenic thrombosis of intracranial venous system")
REPORTS: dict[
    str, tuple[tuple[str, str, str] | None, dict[str, Any], tuple[str, str, str] | None]
] = {
    "report-femoral-on-enoxaparin": (ILIAC_FIRST, {"conclusion": [LEFT_FEMORAL_SCT]}, None),
    "report-amended": (ILIAC_FIRST, {"conclusion": [LEFT_FEMORAL_SCT], "status": "amended"}, None),
    "report-period-start": (ILIAC_FIRST, {"conclusion": [LEFT_FEMORAL_SCT], "period": True}, None),
    "report-preliminary": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "status": "preliminary"},
        None,
    ),
    "report-entered-in-error": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "status": "entered-in-error"},
        None,
    ),
    "report-cancelled": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "status": "cancelled"},
        None,
    ),
    "report-without-conclusion-code": (ILIAC_FIRST, {"conclusion": None}, None),
    "report-imaged-before-the-order": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "imaged_hours_ago": 115, "issued_hours_ago": 20},
        None,
    ),
    "report-without-a-time": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "imaged_hours_ago": None},
        None,
    ),
    "report-in-the-future": (
        ILIAC_FIRST,
        {"conclusion": [LEFT_FEMORAL_SCT], "imaged_hours_ago": -48},
        None,
    ),
    "report-same-vein": (ILIAC_FIRST, {"conclusion": [ILIAC_FIRST]}, None),
    "report-first-then-condition": (
        None,
        {"conclusion": [LEFT_FEMORAL_SCT], "imaged_hours_ago": 118},
        ILIAC_FIRST,
    ),
    "report-calf-to-popliteal": (
        (ICD10, *LEFT_TIBIAL),
        {"conclusion": [LEFT_POPLITEAL_SCT], "imaged_hours_ago": 30},
        None,
    ),
    "report-cvt-to-cortical-veins": (CVT_FIRST, {"conclusion": [CORTICAL_VEIN]}, None),
    "report-iliac-from-femoral": ((ICD10, *LEFT_FEMORAL), {"conclusion": [ILIAC_FIRST]}, None),
    "report-only": (None, {"conclusion": [LEFT_FEMORAL_SCT]}, None),
}
"""Patient id -> (a first thrombosis Condition, onset 120 h ago, or none; an imaging report:
`fhir_fixtures.diagnostic_report` options, imaged 20 h ago unless given; a later Condition,
onset 20 h ago, or none); enoxaparin ordered 110 h ago. A final report coding a thrombosis is
a finding record like a confirmed Condition; preliminary, cancelled, entered-in-error or
uncoded reports, and a time not known or in the future, say nothing. Sources: AHA-2011-VTE
(iliofemoral DVT extending despite anticoagulation), CHEST-2021 statement 2 (distal DVT
extending on serial imaging), SIDDIQUI-2015 (CVT propagating despite anticoagulation)."""


def _report_record(patient_id: str) -> list[dict[str, Any]]:
    first, options, later = REPORTS[patient_id]
    options = {"imaged_hours_ago": 20, **options}
    conclusion = options.pop("conclusion")
    record = [
        patient(patient_id, birth="1975-03-09"),
        medication_request(f"{patient_id}-ac", *ENOXAPARIN, hours_ago=110, patient_id=patient_id),
        diagnostic_report(f"{patient_id}-us", conclusion, patient_id=patient_id, **options),
        observation(
            f"{patient_id}-plt", "777-3", "Platelets", 230, "10*3/uL", patient_id=patient_id
        ),
    ]
    if first is not None:
        record.append(
            condition(f"{patient_id}-first", *first, patient_id=patient_id, onset_hours_ago=120)
        )
    if later is not None:
        record.append(
            condition(f"{patient_id}-later", *later, patient_id=patient_id, onset_hours_ago=20)
        )
    return record


def _record(patient_id: str) -> list[dict[str, Any]]:
    if patient_id in REPORTS:
        return _report_record(patient_id)
    if patient_id in PROPAGATION:
        return _propagation_record(patient_id)
    if patient_id in SEIZURES:
        return _seizure_record(patient_id)
    if patient_id in COURSES_GIVEN:
        return _course_record(patient_id)
    drug, counts = COURSES[patient_id]
    unit = "/uL" if counts[0][0] > 1000 else "10*3/uL"
    record = [
        patient(patient_id, birth="1979-06-01"),
        condition(
            f"{patient_id}-cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            patient_id=patient_id,
            onset_hours_ago=192,
        ),
        medication_request(f"{patient_id}-ac", *drug, hours_ago=168, patient_id=patient_id),
    ]
    record += [
        observation(
            f"{patient_id}-plt-{index}",
            "777-3",
            "Platelets",
            value,
            unit,
            hours_ago=hours_ago,
            patient_id=patient_id,
        )
        for index, (value, hours_ago) in enumerate(counts)
    ]
    return record


def _seizure_record(patient_id: str) -> list[dict[str, Any]]:
    hours_ago, verification = SEIZURES[patient_id]
    platelets = observation(
        f"{patient_id}-plt", "777-3", "Platelets", 230, "10*3/uL", patient_id=patient_id
    )
    seizure = condition(
        f"{patient_id}-seizure",
        ICD10,
        "R56.9",
        "Unspecified convulsions",
        patient_id=patient_id,
        onset_hours_ago=hours_ago,
        verification=verification,
    )
    return [*_cvt_on(patient_id, ENOXAPARIN), seizure, platelets]


def _course_record(patient_id: str) -> list[dict[str, Any]]:
    given, ordered = COURSES_GIVEN[patient_id]
    record = _cvt_on(patient_id, ENOXAPARIN)[:2]
    if ordered is not None:
        record.append(
            medication_request(
                f"{patient_id}-ac", *ENOXAPARIN, hours_ago=ordered, patient_id=patient_id
            )
        )
    for index, (hours_ago, ended) in enumerate(given):
        record.append(
            medication_administration(
                f"{patient_id}-given-{index}",
                *HEPARIN_BAG,
                hours_ago=hours_ago,
                until_hours_ago=None if ended is None or ended < 0 else ended,
                status="in-progress" if ended == -1 else "completed",
                patient_id=patient_id,
            )
        )
    record.append(
        condition(
            f"{patient_id}-seizure",
            ICD10,
            "R56.9",
            "Unspecified convulsions",
            patient_id=patient_id,
            onset_hours_ago=80,
        )
    )
    record.append(
        observation(
            f"{patient_id}-plt", "777-3", "Platelets", 230, "10*3/uL", patient_id=patient_id
        )
    )
    return record


def _propagation_record(patient_id: str) -> list[dict[str, Any]]:
    first, (later, onset_hours_ago) = PROPAGATION[patient_id]
    first_status, later_status = ROUGH.get(patient_id, ({}, {}))
    return [
        patient(patient_id, birth="1975-03-09"),
        condition(
            f"{patient_id}-first",
            *first,
            patient_id=patient_id,
            onset_hours_ago=120,
            **first_status,
        ),
        medication_request(f"{patient_id}-ac", *ENOXAPARIN, hours_ago=110, patient_id=patient_id),
        condition(
            f"{patient_id}-later",
            *later,
            patient_id=patient_id,
            onset_hours_ago=onset_hours_ago,
            **later_status,
        ),
        observation(
            f"{patient_id}-plt", "777-3", "Platelets", 230, "10*3/uL", patient_id=patient_id
        ),
    ]


def _cvt_on(patient_id: str, drug: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        patient(patient_id, birth="1979-06-01"),
        condition(
            f"{patient_id}-cvt",
            ICD10,
            "I67.6",
            "Nonpyogenic thrombosis of intracranial venous system",
            patient_id=patient_id,
            onset_hours_ago=192,
        ),
        medication_request(f"{patient_id}-ac", *drug, hours_ago=168, patient_id=patient_id),
    ]


def _write_export(target: Path) -> Path:
    records = [*COURSES, *SEIZURES, *COURSES_GIVEN, *PROPAGATION, *REPORTS]
    resources = (r for patient_id in records for r in _record(patient_id))
    return write_export(target, resources, NOW)


def test_the_screen_reads_platelet_falls_seizures_and_propagation_as_the_engine_does(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    export = _write_export(tmp_path / "export")
    expected = _expected(export, kb, NOW)
    screened = _screened(export, tmp_path / "out", "duckdb", kb, NOW)

    assert _compare(expected, screened) == []
    alerted = {pid for pid, row in expected.items() if VITT_HIT in row.get("alerts", [])}
    assert alerted == {"fall-on-enoxaparin", "fall-in-other-units"}
    offered = {
        pid
        for pid, row in expected.items()
        if any(r["rule_id"] == "CVT-EVT-DETERIORATION-MT" for r in row.get("recommendations", []))
    }
    assert offered == {
        "seizure-on-enoxaparin",
        "seizure-after-infusion-began",
        "cvt-to-cortical-veins",
        "report-cvt-to-cortical-veins",
    }
    assert _offered(expected, "DVT-IFDVT-ESCALATION-CDT") == {
        "iliac-on-enoxaparin",
        "report-femoral-on-enoxaparin",
        "report-amended",
        "report-period-start",
        "report-first-then-condition",
        "report-iliac-from-femoral",
    }
    assert _offered(expected, "DVT-DISTAL-EXTENDED-PROXIMALLY") == {
        "calf-to-popliteal",
        "report-calf-to-popliteal",
    }


def _offered(expected: dict[str, Any], rule_id: str) -> set[str]:
    return {
        pid
        for pid, row in expected.items()
        if any(r["rule_id"] == rule_id for r in row.get("recommendations", []))
    }
