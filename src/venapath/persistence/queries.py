"""The registry's read queries in one place: services orchestrate, the SQL stays here.

Each takes the caller's session (so it runs in the caller's transaction) and returns rows;
none checks permissions or retraction, which is the registry door's job.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from venapath.persistence.tables import (
    AssessmentRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientIdentifierRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)

MRN_SYSTEM = "mrn"


def pseudonym_taken(session: Session, pseudonym: str) -> bool:
    return (
        session.scalar(select(PatientRow.id).where(PatientRow.pseudonym == pseudonym)) is not None
    )


def patient_with_mrn(session: Session, mrn: str) -> str | None:
    return session.scalar(
        select(PatientIdentifierRow.patient_id).where(
            PatientIdentifierRow.system == MRN_SYSTEM, PatientIdentifierRow.value == mrn
        )
    )


def patients_page(session: Session, limit: int, offset: int) -> Sequence[PatientRow]:
    return session.scalars(
        select(PatientRow)
        .where(PatientRow.deleted_at.is_(None))
        .order_by(PatientRow.created_at, PatientRow.id)
        .limit(limit)
        .offset(offset)
    ).all()


def episodes_of(session: Session, patient_id: str) -> Sequence[EpisodeRow]:
    return session.scalars(
        select(EpisodeRow)
        .where(EpisodeRow.patient_id == patient_id, EpisodeRow.deleted_at.is_(None))
        .order_by(EpisodeRow.created_at)
    ).all()


def procedures_of(session: Session, patient_id: str) -> Sequence[ProcedureRow]:
    return session.scalars(
        select(ProcedureRow)
        .where(ProcedureRow.patient_id == patient_id, ProcedureRow.deleted_at.is_(None))
        .order_by(ProcedureRow.performed_at)
    ).all()


def lock_episode(session: Session, episode_id: str) -> None:
    """Hold the episode's row until commit (PostgreSQL; SQLite already has one writer), so
    reports for one episode queue instead of racing on its repeat numbers and tasks."""
    session.execute(select(EpisodeRow.id).where(EpisodeRow.id == episode_id).with_for_update())


def procedures_of_kind(session: Session, episode_id: str, kind: str) -> Sequence[ProcedureRow]:
    """The episode's live procedures of one kind, oldest first (repeat numbering)."""
    return session.scalars(
        select(ProcedureRow)
        .where(
            ProcedureRow.episode_id == episode_id,
            ProcedureRow.kind == kind,
            ProcedureRow.deleted_at.is_(None),
        )
        .order_by(ProcedureRow.performed_at)
    ).all()


def outcomes_of(session: Session, patient_id: str) -> Sequence[OutcomeRow]:
    return session.scalars(
        select(OutcomeRow)
        .where(OutcomeRow.patient_id == patient_id, OutcomeRow.deleted_at.is_(None))
        .order_by(OutcomeRow.assessed_at)
    ).all()


def assessments_of(session: Session, patient_id: str) -> Sequence[AssessmentRow]:
    return session.scalars(
        select(AssessmentRow)
        .where(AssessmentRow.patient_id == patient_id)
        .order_by(AssessmentRow.evaluated_at)
    ).all()


def check_ins_of(session: Session, patient_id: str) -> Sequence[CheckInRow]:
    return session.scalars(
        select(CheckInRow)
        .where(CheckInRow.patient_id == patient_id)
        .order_by(CheckInRow.submitted_at)
    ).all()


def tasks_of(session: Session, patient_id: str) -> Sequence[TaskRow]:
    return session.scalars(
        select(TaskRow).where(TaskRow.patient_id == patient_id).order_by(TaskRow.due_from)
    ).all()


def scheduled_tasks_of(session: Session, patient_id: str) -> Sequence[TaskRow]:
    return session.scalars(
        select(TaskRow).where(TaskRow.patient_id == patient_id, TaskRow.status == "scheduled")
    ).all()


def open_routine_tasks_of_procedures(
    session: Session, procedure_ids: Sequence[str]
) -> Sequence[TaskRow]:
    return session.scalars(
        select(TaskRow).where(
            TaskRow.procedure_id.in_(procedure_ids),
            TaskRow.status == "scheduled",
            TaskRow.urgent.is_(False),
        )
    ).all()


def open_anticoagulation_reviews(session: Session, episode_id: str) -> Sequence[TaskRow]:
    return session.scalars(
        select(TaskRow).where(
            TaskRow.episode_id == episode_id,
            TaskRow.procedure_id.is_(None),
            TaskRow.protocol_id == "anticoagulation-review",
            TaskRow.status == "scheduled",
        )
    ).all()
