"""Rows to the records the registry answers with: one mapper per record type."""

from __future__ import annotations

from venapath.domain.case import Sex
from venapath.domain.records import (
    AssessmentOut,
    CheckInOut,
    EpisodeOut,
    OutcomeOut,
    PatientOut,
    ProcedureIn,
    ProcedureOut,
)
from venapath.persistence.tables import (
    AssessmentRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientRow,
    ProcedureRow,
)


def patient_out(row: PatientRow) -> PatientOut:
    return PatientOut(
        id=row.id,
        pseudonym=row.pseudonym,
        sex=Sex(row.sex) if row.sex else None,
        birth_year=row.birth_year,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def episode_out(row: EpisodeRow, schedule_needs: list[str] | None = None) -> EpisodeOut:
    return EpisodeOut.model_validate(
        {
            **row.record,
            "schedule_needs": schedule_needs or [],
            "id": row.id,
            "status": row.status,
            "version": row.version,
            "created_at": row.created_at,
            "updated_at": row.updated_at,
        }
    )


def procedure_out(row: ProcedureRow, warnings: list[str]) -> ProcedureOut:
    report = ProcedureIn.model_validate(row.report)
    return ProcedureOut.model_validate(
        {
            **row.report,
            "id": row.id,
            "patient_id": row.patient_id,
            "repeat_number": row.repeat_number,
            "lysis_success": report.lysis_at_least_half,
            "warnings": warnings,
            "version": row.version,
            "created_at": row.created_at,
        }
    )


def check_in_out(row: CheckInRow) -> CheckInOut:
    return CheckInOut.model_validate(
        {
            **row.answers,
            "id": row.id,
            "patient_id": row.patient_id,
            "advice": row.advice,
            "advice_text": row.advice_text,
            "assessment_id": row.assessment_id,
            "urgent_task_id": row.urgent_task_id,
        }
    )


def outcome_out(row: OutcomeRow) -> OutcomeOut:
    return OutcomeOut.model_validate(
        {**row.record, "id": row.id, "patient_id": row.patient_id, "created_at": row.created_at}
    )


def assessment_out(row: AssessmentRow) -> AssessmentOut:
    return AssessmentOut(
        id=row.id,
        patient_id=row.patient_id,
        episode_id=row.episode_id,
        case=row.case,
        result=row.result,
        knowledge_version=row.knowledge_version,
        evaluated_at=row.evaluated_at,
        created_by=row.created_by,
    )
