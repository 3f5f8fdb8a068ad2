"""`Registry`: the one service every caller (REST, CLI, web, demo loader) reads and writes
patient records through. Each method names its permission and audit action and hands its
work to the door (`door.py`); the work itself lives in one module per record type.

Every public method takes the verified caller (`Principal`) and is one transaction: the
record, the follow-up tasks it schedules, its idempotency record and its audit entry commit
together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import func, select

from venapath.domain.access import Permission, Principal
from venapath.domain.case import Case
from venapath.domain.records import (
    AssessmentOut,
    CheckInIn,
    CheckInOut,
    EpisodeIn,
    EpisodeOut,
    EpisodeUpdate,
    OutcomeIn,
    OutcomeOut,
    PatientIn,
    PatientOut,
    PatientUpdate,
    ProcedureIn,
    ProcedureOut,
    TaskOut,
    TaskUpdate,
)
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditTrail
from venapath.persistence.database import Database
from venapath.persistence.tables import (
    AssessmentRow,
    AuditEventRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)
from venapath.services import followup
from venapath.services.registry import (
    aggregates,
    assessments,
    check_in_links,
    check_ins,
    episodes,
    imports,
    outcomes,
    overview,
    patients,
    procedures,
    tasks,
)
from venapath.services.registry.door import Call, Door, Idempotency, Operation, dump

M = TypeVar("M", bound=BaseModel)
READ = (Permission.PATIENT_READ,)
WRITE = (Permission.PATIENT_WRITE,)


def _op(name: str, permissions: tuple[Permission, ...], action: AuditAction) -> Operation:
    write = action not in (AuditAction.READ, AuditAction.QUERY, AuditAction.EXPORT)
    return Operation(name, permissions, action, write)


@dataclass(frozen=True)
class PatientRecord:
    """Everything recorded for one patient, read in one transaction (for the FHIR export)."""

    patient: PatientOut
    episodes: list[EpisodeOut]
    procedures: list[ProcedureOut]
    outcomes: list[OutcomeOut]
    check_ins: list[CheckInOut]
    tasks: list[TaskOut]
    assessments: list[AssessmentOut]


@dataclass
class Registry:
    database: Database
    kb: KnowledgeBase
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    audit: AuditTrail = field(init=False)
    door: Door = field(init=False)
    aggregates_cache: aggregates.AggregatesCache = field(
        init=False, default_factory=aggregates.AggregatesCache
    )

    def __post_init__(self) -> None:
        # Late-bound: tests and the demo loader set `registry.clock` after construction.
        self.audit = AuditTrail(self.database, clock=lambda: self.clock())
        self.door = Door(self.database, self.kb, lambda: self.clock(), self.audit)

    # ------------------------------------------------------------------------ plumbing

    def _write(
        self,
        principal: Principal,
        operation: Operation,
        work: Callable[[Call], M],
        out_type: type[M],
        idempotency: Idempotency | None,
    ) -> M:
        """A write that may carry an Idempotency-Key: a retry returns the first response."""
        return self.door.run(
            principal,
            operation,
            work,
            idempotency=idempotency,
            replay=out_type.model_validate,
            dump_result=lambda result: result.model_dump(mode="json"),
        )

    # ------------------------------------------------------------------------ patients

    def create_patient(
        self, data: PatientIn, principal: Principal, *, idempotency_key: str | None = None
    ) -> PatientOut:
        key = Idempotency.of(idempotency_key, "create_patient", dump(data))
        operation = _op("create_patient", WRITE, AuditAction.CREATE)
        return self._write(
            principal, operation, lambda c: patients.create(self.door, c, data), PatientOut, key
        )

    def get_patient(self, patient_id: str, principal: Principal) -> PatientOut:
        operation = _op("read_patient", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: patients.get(c, patient_id))

    def find_patient_by_mrn(self, mrn: str, principal: Principal) -> PatientOut:
        operation = _op("find_patient_by_mrn", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: patients.find_by_mrn(c, mrn))

    def list_patients(
        self, principal: Principal, *, limit: int = 100, offset: int = 0
    ) -> list[PatientOut]:
        operation = _op("list_patients", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: patients.page(c, limit, offset))

    def update_patient(
        self, patient_id: str, change: PatientUpdate, principal: Principal
    ) -> PatientOut:
        operation = _op("update_patient", WRITE, AuditAction.UPDATE)
        return self.door.run(
            principal, operation, lambda c: patients.update(self.door, c, patient_id, change)
        )

    def retract_patient(self, patient_id: str, version: int, principal: Principal) -> None:
        operation = _op("retract_patient", (Permission.PATIENT_RETRACT,), AuditAction.DELETE)
        self.door.run(
            principal, operation, lambda c: patients.retract(self.door, c, patient_id, version)
        )

    # ------------------------------------------------------------------------ episodes

    def create_episode(
        self, data: EpisodeIn, principal: Principal, *, idempotency_key: str | None = None
    ) -> EpisodeOut:
        episodes.check_new(self.door, data)
        key = Idempotency.of(idempotency_key, "create_episode", dump(data))
        operation = _op("create_episode", WRITE, AuditAction.CREATE)
        return self._write(
            principal, operation, lambda c: episodes.create(self.door, c, data), EpisodeOut, key
        )

    def get_episode(self, episode_id: str, principal: Principal) -> EpisodeOut:
        operation = _op("read_episode", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: episodes.get(c, episode_id))

    def episodes_of(self, patient_id: str, principal: Principal) -> list[EpisodeOut]:
        operation = _op("search_episodes", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: episodes.of_patient(c, patient_id))

    def update_episode(
        self, episode_id: str, change: EpisodeUpdate, principal: Principal
    ) -> EpisodeOut:
        operation = _op("update_episode", WRITE, AuditAction.UPDATE)
        return self.door.run(
            principal, operation, lambda c: episodes.update(self.door, c, episode_id, change)
        )

    # ---------------------------------------------------------------------- procedures

    def record_procedure(
        self, data: ProcedureIn, principal: Principal, *, idempotency_key: str | None = None
    ) -> ProcedureOut:
        key = Idempotency.of(idempotency_key, "record_procedure", dump(data))
        operation = _op("record_procedure", WRITE, AuditAction.CREATE)
        return self._write(
            principal,
            operation,
            lambda c: procedures.record(self.door, c, data),
            ProcedureOut,
            key,
        )

    def get_procedure(self, procedure_id: str, principal: Principal) -> ProcedureOut:
        operation = _op("read_procedure", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: procedures.get(c, procedure_id))

    def procedures_of(self, patient_id: str, principal: Principal) -> list[ProcedureOut]:
        operation = _op("search_procedures", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: procedures.of_patient(c, patient_id))

    # ----------------------------------------------------------------------- check-ins

    def record_check_in(
        self, data: CheckInIn, principal: Principal, *, idempotency_key: str | None = None
    ) -> CheckInOut:
        """A patient's own check-in (CHECK_IN_SUBMIT, confined to them) or one entered by
        staff (PATIENT_WRITE)."""
        key = Idempotency.of(idempotency_key, "record_check_in", dump(data))
        permissions = (Permission.CHECK_IN_SUBMIT, Permission.PATIENT_WRITE)
        operation = _op("record_check_in", permissions, AuditAction.CREATE)
        return self._write(
            principal, operation, lambda c: check_ins.record(self.door, c, data), CheckInOut, key
        )

    def issue_check_in_link(
        self, procedure_id: str, principal: Principal, *, days: int = 7
    ) -> check_in_links.IssuedLink:
        """A private, single-use, expiring link to this procedure's check-in, for the patient."""
        operation = _op("issue_check_in_link", (Permission.CHECK_IN_SEND,), AuditAction.CREATE)
        return self.door.run(
            principal, operation, lambda c: check_in_links.issue(self.door, c, procedure_id, days)
        )

    def submit_check_in_by_link(
        self, link_id: str, data: CheckInIn, principal: Principal
    ) -> CheckInOut:
        """The patient's own check-in through their link (spent in the same transaction)."""
        operation = _op(
            "submit_check_in_by_link", (Permission.CHECK_IN_SUBMIT,), AuditAction.CREATE
        )
        return self.door.run(
            principal, operation, lambda c: check_in_links.submit(self.door, c, link_id, data)
        )

    def check_in_review(self, check_in_id: str, principal: Principal) -> check_ins.CheckInReview:
        """One check-in for the care team's review page: read and audited like a record."""
        operation = _op("read_check_in", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: check_ins.review(c, check_in_id))

    def check_ins_of(self, patient_id: str, principal: Principal) -> list[CheckInOut]:
        operation = _op("search_check_ins", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: check_ins.of_patient(c, patient_id))

    # --------------------------------------------------------------------- assessments

    def record_assessment(
        self,
        patient_id: str,
        episode_id: str | None,
        case: Case,
        principal: Principal,
        *,
        idempotency_key: str | None = None,
    ) -> AssessmentOut:
        """Evaluate a case for a patient and keep inputs, result and knowledge version."""
        key = Idempotency.of(
            idempotency_key, "record_assessment", patient_id, episode_id, dump(case)
        )
        operation = _op("record_assessment", WRITE, AuditAction.CREATE)
        return self._write(
            principal,
            operation,
            lambda c: assessments.record(self.door, c, patient_id, episode_id, case),
            AssessmentOut,
            key,
        )

    def get_assessment(self, assessment_id: str, principal: Principal) -> AssessmentOut:
        operation = _op("read_assessment", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: assessments.get(c, assessment_id))

    def assessments_of(self, patient_id: str, principal: Principal) -> list[AssessmentOut]:
        operation = _op("search_assessments", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: assessments.of_patient(c, patient_id))

    # ------------------------------------------------------------------------ outcomes

    def record_outcome(
        self, data: OutcomeIn, principal: Principal, *, idempotency_key: str | None = None
    ) -> OutcomeOut:
        key = Idempotency.of(idempotency_key, "record_outcome", dump(data))
        operation = _op("record_outcome", WRITE, AuditAction.CREATE)
        return self._write(
            principal, operation, lambda c: outcomes.record(self.door, c, data), OutcomeOut, key
        )

    def outcomes_of(self, patient_id: str, principal: Principal) -> list[OutcomeOut]:
        operation = _op("search_outcomes", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: outcomes.of_patient(c, patient_id))

    # --------------------------------------------------------------------------- tasks

    def tasks_of(self, patient_id: str, principal: Principal) -> list[TaskOut]:
        operation = _op("search_tasks", READ, AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: tasks.of_patient(c, patient_id))

    def update_task(self, task_id: str, change: TaskUpdate, principal: Principal) -> TaskOut:
        operation = _op("update_task", (Permission.TASK_WRITE,), AuditAction.UPDATE)
        return self.door.run(
            principal, operation, lambda c: tasks.update(self.door, c, task_id, change)
        )

    def worklist(
        self, principal: Principal, as_of: date, *, days_ahead: int = 0, limit: int = 1000
    ) -> list[followup.WorklistItem]:
        operation = _op("worklist", (Permission.WORKLIST_READ,), AuditAction.QUERY)
        return self.door.run(
            principal, operation, lambda c: tasks.worklist(c, as_of, days_ahead, limit)
        )

    def active_episodes(
        self, principal: Principal, *, limit: int = 200
    ) -> list[overview.EpisodeSummary]:
        """Active episodes by the urgency of their latest assessment (the clinical worklist)."""
        operation = _op("active_episodes", (Permission.WORKLIST_READ,), AuditAction.QUERY)
        return self.door.run(principal, operation, lambda c: overview.active_episodes(c, limit))

    def worklist_board(
        self,
        principal: Principal,
        as_of: date,
        since: datetime,
        *,
        days_ahead: int,
        limit: int,
        offset: int = 0,
    ) -> overview.Board:
        """The worklist page: tasks, active episodes and check-ins, one read, one audit entry;
        `limit` rows of each list after its first `offset` (the page's paging)."""
        operation = _op("worklist_board", (Permission.WORKLIST_READ,), AuditAction.QUERY)
        return self.door.run(
            principal,
            operation,
            lambda c: overview.board(c, as_of, since, days_ahead, limit, offset),
        )

    def patient_chart(self, patient_id: str, principal: Principal) -> overview.PatientChart:
        """The patient page: the whole record of one patient, one read, one audit entry."""
        operation = _op("patient_chart", READ, AuditAction.READ)
        return self.door.run(principal, operation, lambda c: overview.patient_chart(c, patient_id))

    def recent_check_ins(
        self, principal: Principal, since: datetime, *, limit: int = 200
    ) -> list[overview.CheckInSummary]:
        """Check-ins since `since`, those asking for care first."""
        operation = _op("recent_check_ins", (Permission.WORKLIST_READ,), AuditAction.QUERY)
        return self.door.run(
            principal, operation, lambda c: overview.recent_check_ins(c, since, limit)
        )

    def outcome_aggregates(self, principal: Principal) -> aggregates.OutcomeAggregates:
        """De-identified outcome figures for the dashboards (no patient named; audited as one
        query)."""
        operation = _op("outcome_aggregates", (Permission.AGGREGATE_READ,), AuditAction.QUERY)
        return self.door.run(
            principal,
            operation,
            lambda c: self.aggregates_cache.read(c, self.door.committed_writes),
        )

    # ------------------------------------------------------------------ export, import

    def export_record(self, patient_id: str, principal: Principal) -> PatientRecord:
        """Everything recorded for one patient, audited as a disclosure (BALP export)."""
        operation = _op("export_record", (Permission.RECORD_EXPORT,), AuditAction.EXPORT)
        return self.door.run(principal, operation, lambda c: _whole_record(c, patient_id))

    def import_record(
        self, bundle: Any, principal: Principal, *, idempotency_key: str | None = None
    ) -> imports.ImportOutcome:
        key = Idempotency.of(idempotency_key, "import_record", bundle)
        operation = _op("import_record", (Permission.RECORD_IMPORT,), AuditAction.CREATE)
        return self._write(
            principal,
            operation,
            lambda c: imports.import_bundle(self.door, c, bundle),
            imports.ImportOutcome,
            key,
        )

    # --------------------------------------------------------------------------- audit

    def audit_of(self, entity: str, entity_id: str, principal: Principal) -> list[dict[str, Any]]:
        """The AuditEvents about one record; needs AUDIT_READ, and is itself audited."""
        return self.audit.events_of(principal, entity, entity_id)

    def counts(self) -> dict[str, int]:
        """Rows per table: no patient data, for the demo loader and operations."""
        with self.database.session() as session:
            tables = {
                "patients": PatientRow, "episodes": EpisodeRow, "procedures": ProcedureRow,
                "check_ins": CheckInRow, "outcomes": OutcomeRow, "assessments": AssessmentRow,
                "follow_up_tasks": TaskRow, "audit_events": AuditEventRow,
            }  # fmt: skip
            return {
                name: int(session.scalar(select(func.count()).select_from(table)) or 0)
                for name, table in tables.items()
            }


def _whole_record(call: Call, patient_id: str) -> PatientRecord:
    record = PatientRecord(
        patient=patients.get(call, patient_id),
        episodes=episodes.of_patient(call, patient_id),
        procedures=procedures.of_patient(call, patient_id),
        outcomes=outcomes.of_patient(call, patient_id),
        check_ins=check_ins.of_patient(call, patient_id),
        tasks=tasks.of_patient(call, patient_id),
        assessments=assessments.of_patient(call, patient_id),
    )
    call.query = None
    return record
