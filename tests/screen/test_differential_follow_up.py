"""Differential test for the indication of a charted venoplasty (issue 14, CCSVI).

The synthetic cohorts chart no reason for a procedure. These hand-built records do: a
venoplasty done for multiple sclerosis (reasonCode, or reasonReference to an MS Condition)
is CCSVI treatment, and every other record must leave the indication unknown. The screen
must give every patient what the per-patient engine gives (`test_differential`).
Sources: Brave Dreams 2018 and FDA 2012 (rules CCSVI-*-NOT-RECOMMENDED).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from export_support import write_export
from test_differential import _compare, _expected, _screened

from fhir_fixtures import ICD10, NOW, at, condition, patient
from venapath.kb.model import KnowledgeBase

PCS = "http://www.cms.gov/Medicare/Coding/ICD10"
MS = ("G35", "Multiple sclerosis")
VEIN_COMPRESSION = ("I87.1", "Compression of vein")


def _venoplasty(
    patient_id: str,
    suffix: str,
    days_ago: float,
    *,
    reason_code: tuple[str, str] | None = None,
    reason_reference: str | None = None,
) -> dict[str, Any]:
    """A completed left internal jugular venoplasty (ICD-10-PCS 057N3ZZ)."""
    resource: dict[str, Any] = {
        "resourceType": "Procedure",
        "id": f"{patient_id}-{suffix}",
        "status": "completed",
        "code": {"coding": [{"system": PCS, "code": "057N3ZZ"}]},
        "subject": {"reference": f"Patient/{patient_id}"},
        "performedDateTime": at(24 * days_ago),
    }
    if reason_code is not None:
        code, display = reason_code
        resource["reasonCode"] = [{"coding": [{"system": ICD10, "code": code, "display": display}]}]
    if reason_reference is not None:
        resource["reasonReference"] = [{"reference": f"Condition/{reason_reference}"}]
    return resource


def _ms_condition(patient_id: str, verification: str = "confirmed") -> dict[str, Any]:
    return condition(
        f"{patient_id}-ms", ICD10, *MS, patient_id=patient_id, verification=verification
    )


RECORDS: dict[str, Any] = {
    "reason-code-ms": lambda p: [_venoplasty(p, "v", 45, reason_code=MS)],
    "reason-reference-ms": lambda p: [
        _ms_condition(p),
        _venoplasty(p, "v", 45, reason_reference=f"{p}-ms"),
    ],
    "reason-reference-refuted": lambda p: [
        _ms_condition(p, "refuted"),
        _venoplasty(p, "v", 45, reason_reference=f"{p}-ms"),
    ],
    "reason-reference-missing": lambda p: [
        _venoplasty(p, "v", 45, reason_reference=f"{p}-nowhere"),
    ],
    "reason-vein-compression": lambda p: [_venoplasty(p, "v", 45, reason_code=VEIN_COMPRESSION)],
    "no-reason": lambda p: [_venoplasty(p, "v", 45)],
    "ms-on-the-problem-list-only": lambda p: [_ms_condition(p), _venoplasty(p, "v", 45)],
    "ms-then-a-later-plain-one": lambda p: [
        _venoplasty(p, "old", 200, reason_code=MS),
        _venoplasty(p, "new", 45),
    ],
    "same-day-second-for-ms": lambda p: [
        _venoplasty(p, "a", 45),
        _venoplasty(p, "b", 45, reason_code=MS),
    ],
}
"""Patient id -> the record's Conditions and Procedures (a Patient is added)."""
CCSVI = {"reason-code-ms", "reason-reference-ms", "same-day-second-for-ms"}


def _write_export(target: Path) -> Path:
    resources = (
        r
        for patient_id, build in RECORDS.items()
        for r in [patient(patient_id), *build(patient_id)]
    )
    return write_export(target, resources, NOW)


def _check(expected: dict[str, Any], screened: dict[str, Any]) -> None:
    assert _compare(expected, screened) == []
    applies = {pid for pid, row in expected.items() if "ccsvi" in row.get("pathways", [])}
    assert applies == CCSVI
    possible = {pid for pid, row in expected.items() if "ccsvi" in row.get("possible_pathways", [])}
    assert possible == set(RECORDS) - CCSVI


def test_the_screen_reads_a_venoplasty_done_for_ms_as_the_engine_does(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    export = _write_export(tmp_path / "export")
    _check(_expected(export, kb, NOW), _screened(export, tmp_path / "out", "duckdb", kb, NOW))


@pytest.mark.usefixtures("spark_session")
def test_spark_reads_a_venoplasty_done_for_ms_as_the_engine_does(
    kb: KnowledgeBase, tmp_path: Path
) -> None:
    export = _write_export(tmp_path / "export")
    _check(_expected(export, kb, NOW), _screened(export, tmp_path / "out", "spark", kb, NOW))
