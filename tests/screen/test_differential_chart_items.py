"""Differential test for the chart codes added for issue 14 (HIT/VITT, right-to-left shunt,
active internal bleeding, pregnancy and gestational age, fever or urinary symptoms after a
venoplasty).

The synthetic cohorts chart none of these (apart from a gastrointestinal bleed), so these
hand-built records do, beside records that must not read as them; the screen must give
every patient what the per-patient engine gives (`test_differential`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from export_support import write_export
from test_differential import _compare, _expected, _screened

from fhir_fixtures import ICD10, NOW, SNOMED, at, condition, observation, patient
from venapath.kb.model import KnowledgeBase

CVT = ("I67.6", "Nonpyogenic thrombosis of intracranial venous system")
LEFT_ILIAC = ("I82.422", "Acute embolism and thrombosis of left iliac vein")
FEVER = ("R50.9", "Fever, unspecified")
GESTATION = ("11884-4", "Gestational age Estimated")

CONDITIONS: dict[str, tuple[tuple[str, str], tuple[str, str, str, dict[str, Any]]]] = {
    "hit-provisional": (CVT, (ICD10, "D75.829", "HIT", {"verification": "provisional"})),
    "vitt": (CVT, (ICD10, "D75.84", "Anti-PF4 disorder", {})),
    "hit-type-1": (CVT, (ICD10, "D75.821", "Non-immune HIT", {})),
    "hit-refuted": (CVT, (ICD10, "D75.822", "HIT", {"verification": "refuted"})),
    "eisenmenger": (LEFT_ILIAC, (ICD10, "I27.83", "Eisenmenger's syndrome", {})),
    "pfo": (LEFT_ILIAC, (ICD10, "Q21.12", "Patent foramen ovale", {})),
    "gi-bleed": (LEFT_ILIAC, (ICD10, "K92.2", "GI hemorrhage", {})),
    "bleed-resolved": (LEFT_ILIAC, (ICD10, "K92.2", "GI hemorrhage", {"clinical": "resolved"})),
    "pregnancy": (CVT, (SNOMED, "77386006", "Pregnancy", {})),
}
"""Patient id -> (venous thrombosis Condition 48 h ago, another Condition)."""

GESTATIONS: dict[str, list[tuple[float, str, float | None]]] = {
    "ga-weeks": [(30, "wk", 240)],
    "ga-days": [(216, "d", 24)],
    "ga-newest": [(20, "wk", 24 * 70), (28, "wk", 24 * 14)],
    "ga-ended": [(38, "wk", 24 * 56)],
    "ga-unit": [(30, "mo", 24)],
    "ga-undated": [(30, "wk", None)],
}
"""Patient id -> gestational age Observations (value, unit, hours ago or undated); CVT."""

SYMPTOMS: dict[str, tuple[str, str, float | None]] = {
    "fever-after": (*FEVER, 48),
    "dysuria-after": ("R30.0", "Dysuria", 48),
    "fever-before": (*FEVER, 24 * 30),
    "fever-undated": (*FEVER, None),
    "fever-no-procedure": (*FEVER, 48),
}
"""Patient id -> a symptom Condition (onset hours ago, or no date at all); a venoplasty 20
days ago (none for "fever-no-procedure")."""


def _thrombosis(patient_id: str, code: tuple[str, str]) -> dict[str, Any]:
    return condition(f"{patient_id}-vt", ICD10, *code, patient_id=patient_id, onset_hours_ago=48)


def _venoplasty(patient_id: str) -> dict[str, Any]:
    return {
        "resourceType": "Procedure",
        "id": f"{patient_id}-vp",
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
        "subject": {"reference": f"Patient/{patient_id}"},
        "performedDateTime": at(24 * 20),
    }


def _record(patient_id: str) -> list[dict[str, Any]]:
    record = [patient(patient_id, birth="1986-02-11")]
    if patient_id in CONDITIONS:
        thrombosis, (system, code, display, status) = CONDITIONS[patient_id]
        other = condition(f"{patient_id}-c", system, code, display, patient_id=patient_id, **status)
        return [*record, _thrombosis(patient_id, thrombosis), other]
    if patient_id in GESTATIONS:
        record.append(_thrombosis(patient_id, CVT))
        for index, (value, unit, hours_ago) in enumerate(GESTATIONS[patient_id]):
            reading = observation(
                f"{patient_id}-ga-{index}",
                *GESTATION,
                value,
                unit,
                hours_ago=hours_ago or 0,
                patient_id=patient_id,
            )
            if hours_ago is None:
                reading.pop("effectiveDateTime")
            record.append(reading)
        return record
    code, display, onset = SYMPTOMS[patient_id]
    symptom = condition(
        f"{patient_id}-sym", ICD10, code, display, patient_id=patient_id, onset_hours_ago=onset
    )
    if onset is None:
        symptom.pop("recordedDate")
    if patient_id != "fever-no-procedure":
        record.append(_venoplasty(patient_id))
    return [*record, symptom]


def _write_export(target: Path) -> Path:
    records = [*CONDITIONS, *GESTATIONS, *SYMPTOMS]
    resources = (r for patient_id in records for r in _record(patient_id))
    return write_export(target, resources, NOW)


def _with(expected: dict[str, Any], key: str, item: str) -> set[str]:
    return {pid for pid, row in expected.items() if item in row.get(key, [])}


def _offered(expected: dict[str, Any], rule_id: str) -> set[str]:
    return {
        pid
        for pid, row in expected.items()
        if any(r["rule_id"] == rule_id for r in row.get("recommendations", []))
    }


def test_the_screen_reads_the_issue_14_chart_codes_as_the_engine_does(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    """Sources: SIEGLER-2021-VITT/CDC-2021-VITT (CVT-THROMBOCYTOPENIA-VITT-HIT), SIR 2014
    Table 2 (CI-SIR-ACTIVE-BLEEDING, CI-SIR-OTHER-RELATIVE), AHA-ASA-2014-WOMEN
    (CVT-PREGNANCY-LMWH), seed 003 clinic protocol (FU-VENOPLASTY-EXCLUDE-INFECTION)."""
    export = _write_export(tmp_path / "export")
    expected = _expected(export, kb, NOW)
    screened = _screened(export, tmp_path / "out", "duckdb", kb, NOW)

    assert _compare(expected, screened) == []
    assert _with(expected, "alerts", "CVT-THROMBOCYTOPENIA-VITT-HIT") == {
        "hit-provisional",
        "vitt",
    }
    assert _with(expected, "contraindications", "CI-SIR-OTHER-RELATIVE") == {"eisenmenger"}
    assert _with(expected, "contraindications", "CI-SIR-ACTIVE-BLEEDING") == {"gi-bleed"}
    assert _offered(expected, "CVT-PREGNANCY-LMWH") == {
        "pregnancy",
        "ga-weeks",
        "ga-days",
        "ga-newest",
    }
    assert _offered(expected, "FU-VENOPLASTY-EXCLUDE-INFECTION") == {
        "fever-after",
        "dysuria-after",
    }
