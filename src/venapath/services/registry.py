"""The registry service: every write to the registry goes through here, from REST, CLI or web.

Each public method is one transaction: the record, the follow-up tasks it schedules and its
audit entries are committed together or not at all. Updates carry the version the caller
read; a stale version is refused with a conflict and nothing is overwritten. Records are
never hard-deleted: a retraction sets `deleted_at` and is audited like any other change.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from venapath.domain.case import Case, FollowUp, ProcedureKind, Sex
from venapath.domain.records import (
    AssessmentOut,
    AuditEntry,
    CheckInIn,
    CheckInOut,
    EpisodeIn,
    EpisodeOut,
    EpisodeStatus,
    EpisodeUpdate,
    OutcomeIn,
    OutcomeOut,
    PatientAdvice,
    PatientIn,
    PatientOut,
    PatientUpdate,
    ProcedureIn,
    ProcedureOut,
    TaskOut,
    TaskStatus,
    TaskUpdate,
)
from venapath.domain.vocabulary import Strength, Urgency
from venapath.engine.assessment import Assessment
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.persistence.tables import (
    AssessmentRow,
    AuditRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientIdentifierRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)
from venapath.services import followup
from venapath.services.evaluation import assess_case

RowT = TypeVar("RowT")
MRN_SYSTEM = "mrn"
CLOCK_SKEW = timedelta(minutes=5)
"""A record may be stamped this far in the future (clocks disagree); later is refused."""


class RegistryError(Exception):
    """Base of the errors the registry raises on purpose."""


class NotFoundError(RegistryError):
    def __init__(self, entity: str, record_id: str) -> None:
        super().__init__(f"{entity} {record_id!r} does not exist")
        self.entity = entity
        self.record_id = record_id


class ConflictError(RegistryError):
    """Someone changed the record since the caller read it, or a unique value is taken."""

    def __init__(self, message: str, field: str = "version") -> None:
        super().__init__(message)
        self.field = field


class InvalidRecordError(RegistryError):
    """The record is well formed but does not fit the others (names the field)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json", exclude_none=True)


@dataclass
class Registry:
    database: Database
    kb: KnowledgeBase
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    # ----------------------------------------------------------------------- plumbing

    def _audit(
        self,
        session: Session,
        actor: str,
        action: str,
        entity: str,
        entity_id: str,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        session.add(
            AuditRow(
                at=self.clock(),
                actor=actor,
                action=action,
                entity=entity,
                entity_id=entity_id,
                before=before,
                after=after,
            )
        )

    def _not_in_future(self, moment: datetime, field: str) -> None:
        if moment > self.clock() + CLOCK_SKEW:
            raise InvalidRecordError(field, f"{moment.isoformat()} is in the future")

    @staticmethod
    def _check_version(row: PatientRow | EpisodeRow | TaskRow, version: int, entity: str) -> None:
        if row.version != version:
            raise ConflictError(
                f"{entity} {row.id} is at version {row.version}, not {version}: "
                "it was changed since you read it; reload and apply your change again"
            )

    @staticmethod
    def _referenced(
        load: Callable[[Session, str], RowT], session: Session, field: str, record_id: str
    ) -> RowT:
        """A record the new one points to; its absence is the new record's fault (422)."""
        try:
            return load(session, record_id)
        except NotFoundError as missing:
            raise InvalidRecordError(
                field, f"{missing.entity} {record_id!r} does not exist"
            ) from None

    @staticmethod
    def _flush_or_conflict(session: Session, entity: str) -> None:
        try:
            session.flush()
        except StaleDataError:
            raise ConflictError(
                f"{entity} was changed by someone else at the same moment"
            ) from None

    # ----------------------------------------------------------------------- patients

    def _patient_row(self, session: Session, patient_id: str) -> PatientRow:
        row = session.get(PatientRow, patient_id)
        if row is None or row.deleted_at is not None:
            raise NotFoundError("patient", patient_id)
        return row

    def create_patient(self, data: PatientIn, actor: str) -> PatientOut:
        now = self.clock()
        with self.database.session() as session:
            pseudonym = data.pseudonym or f"VP-{uuid.uuid4().hex[:10].upper()}"
            if session.scalar(select(PatientRow.id).where(PatientRow.pseudonym == pseudonym)):
                raise ConflictError(f"pseudonym {pseudonym!r} is already used", field="pseudonym")
            if data.mrn and session.scalar(
                select(PatientIdentifierRow.id).where(
                    PatientIdentifierRow.system == MRN_SYSTEM,
                    PatientIdentifierRow.value == data.mrn,
                )
            ):
                raise ConflictError("this MRN is already registered", field="mrn")
            row = PatientRow(
                id=str(uuid.uuid4()),
                pseudonym=pseudonym,
                sex=data.sex.value if data.sex else None,
                birth_year=data.birth_year,
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            if data.mrn:
                session.add(
                    PatientIdentifierRow(
                        id=str(uuid.uuid4()),
                        patient_id=row.id,
                        system=MRN_SYSTEM,
                        value=data.mrn,
                        created_at=now,
                    )
                )
            out = patient_out(row)
            # The MRN is never written into the audit trail; only that one was recorded.
            self._audit(
                session,
                actor,
                "create",
                "patient",
                row.id,
                None,
                {**_dump(out), "mrn_recorded": data.mrn is not None},
            )
        return out

    def get_patient(self, patient_id: str) -> PatientOut:
        with self.database.session() as session:
            return patient_out(self._patient_row(session, patient_id))

    def find_patient_by_mrn(self, mrn: str) -> PatientOut:
        with self.database.session() as session:
            patient_id = session.scalar(
                select(PatientIdentifierRow.patient_id).where(
                    PatientIdentifierRow.system == MRN_SYSTEM, PatientIdentifierRow.value == mrn
                )
            )
            if patient_id is None:
                raise NotFoundError("patient with MRN", "(withheld)")
            return patient_out(self._patient_row(session, patient_id))

    def list_patients(self, *, limit: int = 100, offset: int = 0) -> list[PatientOut]:
        with self.database.session() as session:
            rows = session.scalars(
                select(PatientRow)
                .where(PatientRow.deleted_at.is_(None))
                .order_by(PatientRow.created_at, PatientRow.id)
                .limit(limit)
                .offset(offset)
            )
            return [patient_out(row) for row in rows]

    def update_patient(self, patient_id: str, change: PatientUpdate, actor: str) -> PatientOut:
        with self.database.session() as session:
            row = self._patient_row(session, patient_id)
            self._check_version(row, change.version, "patient")
            before = _dump(patient_out(row))
            row.sex = change.sex.value if change.sex else row.sex
            row.birth_year = change.birth_year if change.birth_year is not None else row.birth_year
            row.updated_at = self.clock()
            self._flush_or_conflict(session, "patient")
            out = patient_out(row)
            self._audit(session, actor, "update", "patient", row.id, before, _dump(out))
        return out

    def retract_patient(self, patient_id: str, version: int, actor: str) -> None:
        """Hide a patient (entered in error); the rows and their history stay."""
        with self.database.session() as session:
            row = self._patient_row(session, patient_id)
            self._check_version(row, version, "patient")
            before = _dump(patient_out(row))
            row.deleted_at = row.updated_at = self.clock()
            self._flush_or_conflict(session, "patient")
            cancelled = session.scalars(
                select(TaskRow).where(
                    TaskRow.patient_id == row.id, TaskRow.status == TaskStatus.SCHEDULED.value
                )
            ).all()
            for task in cancelled:
                task.status = TaskStatus.CANCELLED.value
                task.note = "patient record retracted"
                task.updated_at = row.deleted_at
            self._audit(session, actor, "retract", "patient", row.id, before, None)

    # ----------------------------------------------------------------------- episodes

    def _episode_row(self, session: Session, episode_id: str) -> EpisodeRow:
        row = session.get(EpisodeRow, episode_id)
        if row is None or row.deleted_at is not None:
            raise NotFoundError("episode", episode_id)
        return row

    def create_episode(self, data: EpisodeIn, actor: str) -> EpisodeOut:
        if data.pathway is not None and data.pathway not in {p.id for p in self.kb.pathways}:
            raise InvalidRecordError(
                "pathway", f"{data.pathway!r} is not a pathway of the knowledge base"
            )
        for field, moment in (("onset_at", data.onset_at), ("diagnosed_at", data.diagnosed_at)):
            if moment is not None:
                self._not_in_future(moment, field)
        now = self.clock()
        with self.database.session() as session:
            self._referenced(self._patient_row, session, "patient_id", data.patient_id)
            row = EpisodeRow(
                id=str(uuid.uuid4()),
                patient_id=data.patient_id,
                condition=data.condition.value,
                status=EpisodeStatus.ACTIVE.value,
                diagnosed_at=data.diagnosed_at,
                anticoagulation_planned_end=data.anticoagulation_planned_end,
                record=_dump(data),
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            followup.store_planned(
                session,
                followup.plan_for_episode(self.kb, row),
                patient_id=row.patient_id,
                episode_id=row.id,
                procedure_id=None,
                now=now,
            )
            out = episode_out(row, followup.unscheduled_for_episode(self.kb, row))
            self._audit(session, actor, "create", "episode", row.id, None, _dump(out))
        return out

    def get_episode(self, episode_id: str) -> EpisodeOut:
        with self.database.session() as session:
            return episode_out(self._episode_row(session, episode_id))

    def episodes_of(self, patient_id: str) -> list[EpisodeOut]:
        with self.database.session() as session:
            self._patient_row(session, patient_id)
            rows = session.scalars(
                select(EpisodeRow)
                .where(EpisodeRow.patient_id == patient_id, EpisodeRow.deleted_at.is_(None))
                .order_by(EpisodeRow.created_at)
            )
            return [episode_out(row) for row in rows]

    def update_episode(self, episode_id: str, change: EpisodeUpdate, actor: str) -> EpisodeOut:
        now = self.clock()
        with self.database.session() as session:
            row = self._episode_row(session, episode_id)
            self._check_version(row, change.version, "episode")
            before = _dump(episode_out(row))
            record = dict(row.record)
            updates = change.model_dump(mode="json", exclude_none=True, exclude={"version"})
            if "status" in updates:
                row.status = updates.pop("status")
            record.update(updates)
            try:
                merged = EpisodeIn.model_validate(record)
            except ValueError as error:
                raise InvalidRecordError("episode", str(error)) from None
            row.record = _dump(merged)
            row.anticoagulation_planned_end = merged.anticoagulation_planned_end
            row.updated_at = now
            self._flush_or_conflict(session, "episode")
            if change.anticoagulation_planned_end is not None:
                self._reschedule_anticoagulation_review(session, row, now)
            out = episode_out(row, followup.unscheduled_for_episode(self.kb, row))
            self._audit(session, actor, "update", "episode", row.id, before, _dump(out))
        return out

    def _reschedule_anticoagulation_review(
        self, session: Session, episode: EpisodeRow, now: datetime
    ) -> None:
        """A new planned end replaces the open review for the old one."""
        planned = followup.plan_for_episode(self.kb, episode)
        keys = {p.schedule_key for p in planned}
        stale = session.scalars(
            select(TaskRow).where(
                TaskRow.episode_id == episode.id,
                TaskRow.procedure_id.is_(None),
                TaskRow.protocol_id == "anticoagulation-review",
                TaskRow.status == TaskStatus.SCHEDULED.value,
            )
        ).all()
        for task in stale:
            if task.schedule_key not in keys:
                task.status = TaskStatus.CANCELLED.value
                task.note = "planned end of anticoagulation changed"
                task.updated_at = now
        followup.store_planned(
            session,
            planned,
            patient_id=episode.patient_id,
            episode_id=episode.id,
            procedure_id=None,
            now=now,
        )

    # --------------------------------------------------------------------- procedures

    def record_procedure(self, data: ProcedureIn, actor: str) -> ProcedureOut:
        self._not_in_future(data.performed_at, "performed_at")
        now = self.clock()
        with self.database.session() as session:
            episode = self._referenced(self._episode_row, session, "episode_id", data.episode_id)
            onset = EpisodeIn.model_validate(episode.record).onset_at
            if onset is not None and data.performed_at < onset:
                raise InvalidRecordError("performed_at", "is before the episode's onset_at")
            earlier = session.scalars(
                select(ProcedureRow)
                .where(
                    ProcedureRow.episode_id == episode.id,
                    ProcedureRow.kind == data.kind.value,
                    ProcedureRow.deleted_at.is_(None),
                )
                .order_by(ProcedureRow.performed_at)
            ).all()
            repeat_number = 1 + sum(1 for p in earlier if p.performed_at <= data.performed_at)
            row = ProcedureRow(
                id=str(uuid.uuid4()),
                patient_id=episode.patient_id,
                episode_id=episode.id,
                kind=data.kind.value,
                performed_at=data.performed_at,
                repeat_number=repeat_number,
                report=_dump(data),
                version=1,
                created_at=now,
                updated_at=now,
            )
            session.add(row)
            session.flush()
            self._supersede_earlier_tasks(session, row, earlier, now)
            followup.store_planned(
                session,
                followup.plan_for_procedure(self.kb, row),
                patient_id=row.patient_id,
                episode_id=episode.id,
                procedure_id=row.id,
                now=now,
            )
            out = procedure_out(row, self._repeat_warnings(row, earlier))
            self._audit(session, actor, "create", "procedure", row.id, None, _dump(out))
        return out

    @staticmethod
    def _supersede_earlier_tasks(
        session: Session, row: ProcedureRow, earlier: Sequence[ProcedureRow], now: datetime
    ) -> None:
        """A repeat procedure restarts its follow-up: open tasks of the earlier one end."""
        before = [p.id for p in earlier if p.performed_at < row.performed_at]
        if not before:
            return
        open_tasks = session.scalars(
            select(TaskRow).where(
                TaskRow.procedure_id.in_(before),
                TaskRow.status == TaskStatus.SCHEDULED.value,
                TaskRow.urgent.is_(False),
            )
        ).all()
        for task in open_tasks:
            task.status = TaskStatus.CANCELLED.value
            task.note = f"superseded by the {row.kind} of {row.performed_at.date()}"
            task.updated_at = now

    def _repeat_warnings(self, row: ProcedureRow, earlier: Sequence[ProcedureRow]) -> list[str]:
        """Seed 003: wait 4-6 weeks between venoplasties; consider a stent after 3-4 repeats."""
        warnings: list[str] = []
        before = [p for p in earlier if p.performed_at < row.performed_at]
        for protocol in self.kb.follow_up_protocols:
            if row.kind not in protocol.applies_to.procedure_kinds:
                continue
            if protocol.earliest_repeat and before:
                last = before[-1].performed_at.date()
                earliest = protocol.earliest_repeat.after(last)
                if row.performed_at.date() < earliest:
                    warnings.append(
                        f"{protocol.label}: repeat {row.kind} {(row.performed_at.date() - last).days} "
                        f"days after the last one; the protocol waits until {earliest}"
                    )
            limit = protocol.repeats_before_stent
            if limit is not None and row.repeat_number - 1 >= limit:
                warnings.append(
                    f"{protocol.label}: this is repeat {row.repeat_number - 1}; the protocol "
                    f"considers a stent after {limit} repeats"
                )
        return warnings

    def get_procedure(self, procedure_id: str) -> ProcedureOut:
        with self.database.session() as session:
            return procedure_out(self._procedure_row(session, procedure_id), [])

    def _procedure_row(self, session: Session, procedure_id: str) -> ProcedureRow:
        row = session.get(ProcedureRow, procedure_id)
        if row is None or row.deleted_at is not None:
            raise NotFoundError("procedure", procedure_id)
        return row

    def procedures_of(self, patient_id: str) -> list[ProcedureOut]:
        with self.database.session() as session:
            self._patient_row(session, patient_id)
            rows = session.scalars(
                select(ProcedureRow)
                .where(ProcedureRow.patient_id == patient_id, ProcedureRow.deleted_at.is_(None))
                .order_by(ProcedureRow.performed_at)
            )
            return [procedure_out(row, []) for row in rows]

    # ---------------------------------------------------------------------- check-ins

    def record_check_in(self, data: CheckInIn, actor: str) -> CheckInOut:
        """Evaluate what the patient reports with the follow-up rules; urgent answers make a
        task to call the patient today."""
        self._not_in_future(data.submitted_at, "submitted_at")
        now = self.clock()
        with self.database.session() as session:
            procedure = self._referenced(
                self._procedure_row, session, "procedure_id", data.procedure_id
            )
            if data.submitted_at < procedure.performed_at:
                raise InvalidRecordError("submitted_at", "is before the procedure it follows up")
            episode = session.get(EpisodeRow, procedure.episode_id)
            case = _check_in_case(data, procedure, episode)
            assessment = assess_case(case, kb=self.kb, trace=False)
            advice, text = patient_advice(assessment, self.kb)
            assessment_row = self._store_assessment(
                session, procedure.patient_id, procedure.episode_id, case, assessment, actor, now
            )
            urgent_id = None
            if advice is not PatientAdvice.ROUTINE:
                task = followup.urgent_task(
                    patient_id=procedure.patient_id,
                    episode_id=procedure.episode_id,
                    procedure_id=procedure.id,
                    reason=text,
                    now=now,
                )
                session.add(task)
                urgent_id = task.id
            row = CheckInRow(
                id=str(uuid.uuid4()),
                patient_id=procedure.patient_id,
                procedure_id=procedure.id,
                submitted_at=data.submitted_at,
                answers=_dump(data),
                advice=advice.value,
                advice_text=text,
                assessment_id=assessment_row.id,
                urgent_task_id=urgent_id,
                created_at=now,
            )
            session.add(row)
            session.flush()
            out = check_in_out(row)
            self._audit(session, actor, "create", "check_in", row.id, None, _dump(out))
        return out

    # -------------------------------------------------------------------- assessments

    def _store_assessment(
        self,
        session: Session,
        patient_id: str,
        episode_id: str | None,
        case: Case,
        assessment: Assessment,
        actor: str,
        now: datetime,
    ) -> AssessmentRow:
        row = AssessmentRow(
            id=str(uuid.uuid4()),
            patient_id=patient_id,
            episode_id=episode_id,
            case=_dump(case),
            result=assessment.model_dump(mode="json"),
            knowledge_version=assessment.knowledge_version,
            evaluated_at=assessment.evaluated_at,
            created_by=actor,
            created_at=now,
        )
        session.add(row)
        session.flush()
        self._audit(
            session,
            actor,
            "create",
            "assessment",
            row.id,
            None,
            {"knowledge_version": row.knowledge_version, "case_id": case.case_id},
        )
        return row

    def record_assessment(
        self, patient_id: str, episode_id: str | None, case: Case, actor: str
    ) -> AssessmentOut:
        """Evaluate a case for a patient and keep inputs, result and knowledge version."""
        now = self.clock()
        with self.database.session() as session:
            self._patient_row(session, patient_id)
            if episode_id is not None:
                episode = self._episode_row(session, episode_id)
                if episode.patient_id != patient_id:
                    raise InvalidRecordError("episode_id", "belongs to another patient")
            assessment = assess_case(case, now=now, kb=self.kb, trace=False)
            # The evaluation moment becomes part of the stored inputs, so that re-evaluating
            # the stored case reproduces the stored result exactly.
            pinned = (
                case if case.as_of else case.model_copy(update={"as_of": assessment.evaluated_at})
            )
            row = self._store_assessment(
                session, patient_id, episode_id, pinned, assessment, actor, now
            )
            return assessment_out(row)

    def get_assessment(self, assessment_id: str) -> AssessmentOut:
        with self.database.session() as session:
            row = session.get(AssessmentRow, assessment_id)
            if row is None:
                raise NotFoundError("assessment", assessment_id)
            return assessment_out(row)

    def assessments_of(self, patient_id: str) -> list[AssessmentOut]:
        with self.database.session() as session:
            self._patient_row(session, patient_id)
            rows = session.scalars(
                select(AssessmentRow)
                .where(AssessmentRow.patient_id == patient_id)
                .order_by(AssessmentRow.evaluated_at)
            )
            return [assessment_out(row) for row in rows]

    # ----------------------------------------------------------------------- outcomes

    def record_outcome(self, data: OutcomeIn, actor: str) -> OutcomeOut:
        self._not_in_future(data.assessed_at, "assessed_at")
        now = self.clock()
        with self.database.session() as session:
            episode = self._referenced(self._episode_row, session, "episode_id", data.episode_id)
            diagnosed = episode.diagnosed_at
            if diagnosed is not None and data.assessed_at < diagnosed:
                raise InvalidRecordError("assessed_at", "is before the episode's diagnosis")
            row = OutcomeRow(
                id=str(uuid.uuid4()),
                patient_id=episode.patient_id,
                episode_id=episode.id,
                measure=data.measure.value,
                assessed_at=data.assessed_at,
                record=_dump(data),
                created_at=now,
            )
            session.add(row)
            session.flush()
            out = outcome_out(row)
            self._audit(session, actor, "create", "outcome", row.id, None, _dump(out))
        return out

    def outcomes_of(self, patient_id: str) -> list[OutcomeOut]:
        with self.database.session() as session:
            self._patient_row(session, patient_id)
            rows = session.scalars(
                select(OutcomeRow)
                .where(OutcomeRow.patient_id == patient_id, OutcomeRow.deleted_at.is_(None))
                .order_by(OutcomeRow.assessed_at)
            )
            return [outcome_out(row) for row in rows]

    # -------------------------------------------------------------------------- tasks

    def tasks_of(self, patient_id: str) -> list[TaskOut]:
        with self.database.session() as session:
            patient = self._patient_row(session, patient_id)
            rows = session.scalars(
                select(TaskRow).where(TaskRow.patient_id == patient_id).order_by(TaskRow.due_from)
            )
            return [followup.task_out(row, patient.pseudonym) for row in rows]

    def update_task(self, task_id: str, change: TaskUpdate, actor: str) -> TaskOut:
        """Complete or cancel a task; completing a repeating step schedules the next one."""
        now = self.clock()
        with self.database.session() as session:
            row = session.get(TaskRow, task_id)
            if row is None:
                raise NotFoundError("task", task_id)
            self._check_version(row, change.version, "task")
            if row.status != TaskStatus.SCHEDULED.value:
                raise ConflictError(f"task {task_id} is already {row.status}", field="status")
            patient = self._patient_row(session, row.patient_id)
            before = _dump(followup.task_out(row, patient.pseudonym))
            row.status = change.status.value
            if change.status is TaskStatus.DONE:
                completed = change.completed_at or now
                self._not_in_future(completed, "completed_at")
                row.completed_at = completed
            row.note = change.note
            row.updated_at = now
            self._flush_or_conflict(session, "task")
            repeat = followup.next_occurrence(self.kb, row)
            if repeat is not None and change.status is TaskStatus.DONE:
                followup.store_planned(
                    session,
                    [repeat],
                    patient_id=row.patient_id,
                    episode_id=row.episode_id,
                    procedure_id=row.procedure_id,
                    now=now,
                )
            out = followup.task_out(row, patient.pseudonym)
            self._audit(session, actor, "update", "task", row.id, before, _dump(out))
        return out

    def worklist(
        self, as_of: date, *, days_ahead: int = 0, limit: int = 1000
    ) -> list[followup.WorklistItem]:
        with self.database.session() as session:
            return followup.worklist(session, as_of, days_ahead=days_ahead, limit=limit)

    # -------------------------------------------------------------------------- audit

    def audit_of(self, entity: str, entity_id: str) -> list[AuditEntry]:
        with self.database.session() as session:
            rows = session.scalars(
                select(AuditRow)
                .where(AuditRow.entity == entity, AuditRow.entity_id == entity_id)
                .order_by(AuditRow.id)
            )
            return [audit_out(row) for row in rows]

    def counts(self) -> dict[str, int]:
        with self.database.session() as session:
            tables = {
                "patients": PatientRow, "episodes": EpisodeRow, "procedures": ProcedureRow,
                "check_ins": CheckInRow, "outcomes": OutcomeRow, "assessments": AssessmentRow,
                "follow_up_tasks": TaskRow, "audit_log": AuditRow,
            }  # fmt: skip
            return {
                name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in tables.items()
            }


# ------------------------------------------------------------------------- check-in → case


def _check_in_case(data: CheckInIn, procedure: ProcedureRow, episode: EpisodeRow | None) -> Case:
    indication = EpisodeIn.model_validate(episode.record).indication if episode else None
    return Case(
        case_id=f"check-in-{procedure.id[:8]}",
        as_of=data.submitted_at,
        follow_up=FollowUp(
            procedure_kind=ProcedureKind(procedure.kind),
            procedure_date=procedure.performed_at,
            indication=indication,
            earlier_repeat_procedures=procedure.repeat_number - 1,
            symptom_response=data.symptom_response,
            improvement_lasted_days=data.improvement_lasted_days,
            reverted_for_days=data.reverted_for_days,
            worsening_for_days=data.worsening_for_days,
            symptoms_back_within_hours=data.symptoms_back_within_hours,
            fever_or_urinary_symptoms=data.fever_or_urinary_symptoms,
        ),
    )


SAFETY_NET = (
    "If your symptoms come back within hours of the procedure, or you feel much worse, call "
    "your interventional radiologist at once; if they cannot be reached, call your doctor or "
    "go to the emergency department."
)


FOLLOW_UP_PATHWAYS = frozenset({"venoplasty_follow_up", "venous_stent_follow_up"})
"""The pathways whose rules read what a patient reports after a procedure."""
CHECK_IN_POINTERS = frozenset(
    f"/follow_up/{name}"
    for name in CheckInIn.model_fields
    if name not in ("procedure_id", "submitted_at", "comment")
)
"""The case fields a check-in answers: only these can be asked of the patient on a call."""


def patient_advice(assessment: Assessment, kb: KnowledgeBase) -> tuple[PatientAdvice, str]:
    """Plain advice from the follow-up rules, and the safety net always.

    The most urgent follow-up recommendation in favour decides. When none fires but an
    urgent follow-up rule is unknown for want of an answer (unknown is not "no"), the care
    team calls today to settle it. Other pathways are not judged from a symptom check-in.
    """
    in_favour = [
        r
        for r in assessment.recommendations
        if r.pathway in FOLLOW_UP_PATHWAYS and r.strength.rank >= Strength.CONSIDER.rank
    ]
    if in_favour:
        top = max(in_favour, key=lambda r: r.urgency.rank)
        if top.urgency is Urgency.EMERGENCY:
            return (
                PatientAdvice.EMERGENCY,
                f"Seek care now. {top.title} ({top.rule_id}). {SAFETY_NET}",
            )
        if top.urgency is Urgency.URGENT:
            lead = "Your care team will call you today."
            return PatientAdvice.CALL_TODAY, f"{lead} {top.title} ({top.rule_id}). {SAFETY_NET}"
    pending = _urgent_rules_waiting_for_data(assessment, kb)
    if pending:
        facts = "; ".join(dict.fromkeys(f for found in pending.values() for f in found))
        return (
            PatientAdvice.CALL_TODAY,
            f"Your care team will call you today to ask about: {facts} "
            f"({', '.join(sorted(pending))}). {SAFETY_NET}",
        )
    if in_favour:
        top = max(in_favour, key=lambda r: r.urgency.rank)
        return (
            PatientAdvice.ROUTINE,
            f"Nothing you reported needs care now; keep to your plan: {top.title} "
            f"({top.rule_id}). {SAFETY_NET}",
        )
    return PatientAdvice.ROUTINE, "Nothing you reported needs care now. " + SAFETY_NET


def _urgent_rules_waiting_for_data(
    assessment: Assessment, kb: KnowledgeBase
) -> dict[str, list[str]]:
    """Urgent follow-up rules that could fire once a check-in question is answered: rule →
    the questions."""
    waiting: dict[str, list[str]] = {}
    urgent_follow_up = {
        rule.id: rule
        for pathway in FOLLOW_UP_PATHWAYS
        for rule in kb.rules_by_pathway.get(pathway, ())
    }
    for need in assessment.needs_data:
        if not CHECK_IN_POINTERS.intersection(need.settled_by):
            continue  # not something the patient can answer (a scan, a lab result)
        for rule_id in need.rules:
            rule = urgent_follow_up.get(rule_id)  # entries may also name pathways
            if rule is None:
                continue
            spec = rule.recommend
            if (
                rule.pathway in FOLLOW_UP_PATHWAYS
                and spec
                and spec.urgency.rank >= Urgency.URGENT.rank
            ):
                waiting.setdefault(rule_id, []).append(need.description.lower())
    return waiting


# ---------------------------------------------------------------------------- row → out


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


def audit_out(row: AuditRow) -> AuditEntry:
    return AuditEntry(
        id=row.id,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity=row.entity,
        entity_id=row.entity_id,
        before=row.before,
        after=row.after,
    )
