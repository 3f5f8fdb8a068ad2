"""Export one patient's record as a FHIR R4 Bundle, and import such a Bundle.

The import is one transaction: every record of the Bundle is stored under a new id (ids are
remapped consistently, so references still hold), or none is. Records keep what they were:
assessments keep the knowledge version and result they had, tasks keep their status, and
nothing is re-evaluated or re-scheduled on the way in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from typing import Any

from sqlalchemy import select

from venapath.domain.records import (
    AssessmentOut,
    CheckInIn,
    CheckInOut,
    EpisodeIn,
    EpisodeOut,
    OutcomeIn,
    OutcomeOut,
    PatientOut,
    ProcedureIn,
    ProcedureOut,
    TaskOut,
)
from venapath.engine.assessment import Assessment
from venapath.fhir import records as fhir_records
from venapath.fhir.guidance import guidance_response
from venapath.persistence.tables import (
    AssessmentRow,
    AuditRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)
from venapath.services.registry import ConflictError, InvalidRecordError, Registry, check_in_out

_EXTRA_OUT_FIELDS = {
    "episode": {"id", "status", "version", "created_at", "updated_at", "schedule_needs"},
    "procedure": {
        "id", "patient_id", "repeat_number", "lysis_success", "warnings", "version", "created_at",
    },
    "outcome": {"id", "patient_id", "created_at"},
    "check_in": {"id", "patient_id", "advice", "advice_text", "assessment_id", "urgent_task_id"},
}  # fmt: skip


def export_patient(registry: Registry, patient_id: str) -> dict[str, Any]:
    """A FHIR R4 `collection` Bundle of everything recorded for one patient (no MRN)."""
    patient = registry.get_patient(patient_id)
    episodes = registry.episodes_of(patient_id)
    procedures = registry.procedures_of(patient_id)
    episode_of = {p.id: p.episode_id for p in procedures}
    resources: list[dict[str, Any]] = [fhir_records.patient_resource(patient)]
    resources += [fhir_records.condition_resource(e) for e in episodes]
    resources += [fhir_records.procedure_resource(p, episode_of[p.id]) for p in procedures]
    resources += [fhir_records.outcome_resource(o) for o in registry.outcomes_of(patient_id)]
    resources += [fhir_records.check_in_resource(c) for c in check_ins_of(registry, patient_id)]
    resources += _care_plans_and_tasks(registry.tasks_of(patient_id), patient_id)
    resources += [_guidance(registry, a) for a in registry.assessments_of(patient_id)]
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": registry.clock().isoformat(),
        "meta": {
            "tag": [{"system": "urn:venapath:knowledge-version", "code": registry.kb.version}]
        },
        "entry": [
            {"fullUrl": f"urn:uuid:{r['id']}", "resource": r} for r in resources if "id" in r
        ],
    }


def check_ins_of(registry: Registry, patient_id: str) -> list[CheckInOut]:
    with registry.database.session() as session:
        rows = session.scalars(
            select(CheckInRow)
            .where(CheckInRow.patient_id == patient_id)
            .order_by(CheckInRow.submitted_at)
        )
        return [check_in_out(row) for row in rows]


def _care_plans_and_tasks(tasks: list[TaskOut], patient_id: str) -> list[dict[str, Any]]:
    plans: dict[tuple[str, str], list[TaskOut]] = defaultdict(list)
    for task in tasks:
        if task.protocol_id:
            anchor = task.procedure_id or task.episode_id or patient_id
            plans[(f"{task.protocol_id} v{task.protocol_version}", anchor)].append(task)
    plan_ids = {key: str(uuid.uuid5(uuid.NAMESPACE_URL, ":".join(key))) for key in plans}
    resources = [
        fhir_records.care_plan_resource(plan_ids[key], patient_id, key[0], members)
        for key, members in plans.items()
    ]
    for task in tasks:
        key = (
            (
                f"{task.protocol_id} v{task.protocol_version}",
                task.procedure_id or task.episode_id or patient_id,
            )
            if task.protocol_id
            else None
        )
        resources.append(fhir_records.task_resource(task, plan_ids.get(key) if key else None))
    return resources


def _guidance(registry: Registry, assessment: AssessmentOut) -> dict[str, Any]:
    result = Assessment.model_validate(assessment.result)
    resource = guidance_response(result, registry.kb, assessment.patient_id)
    resource["id"] = assessment.id
    resource["extension"] = [fhir_records.assessment_extension(assessment)]
    return resource


# ----------------------------------------------------------------------------- import


def import_bundle(registry: Registry, bundle: Any, actor: str) -> tuple[str, dict[str, int]]:
    """Store a record export under new ids, in one transaction; refuse anything else."""
    records = _records_of(bundle)
    patients = records.get("patient", [])
    if len(patients) != 1:
        raise InvalidRecordError(
            "entry", f"expected one VenaPath patient record, found {len(patients)}"
        )
    now = registry.clock()
    new_id: dict[str, str] = defaultdict(lambda: str(uuid.uuid4()))
    counts: dict[str, int] = {}
    with registry.database.session() as session:
        patient = PatientOut.model_validate(patients[0])
        if session.scalar(select(PatientRow.id).where(PatientRow.pseudonym == patient.pseudonym)):
            raise ConflictError(
                f"pseudonym {patient.pseudonym!r} is already used", field="pseudonym"
            )
        rows: list[Any] = [
            PatientRow(
                id=new_id[patient.id], pseudonym=patient.pseudonym,
                sex=patient.sex.value if patient.sex else None, birth_year=patient.birth_year,
                version=1, created_at=now, updated_at=now,
            )
        ]  # fmt: skip
        rows += [
            _episode_row(EpisodeOut.model_validate(r), new_id, now)
            for r in records.get("episode", [])
        ]
        rows += [
            _procedure_row(ProcedureOut.model_validate(r), new_id, now)
            for r in records.get("procedure", [])
        ]
        rows += [
            _assessment_row(AssessmentOut.model_validate(r), new_id, now)
            for r in records.get("assessment", [])
        ]
        rows += [
            _outcome_row(OutcomeOut.model_validate(r), new_id, now)
            for r in records.get("outcome", [])
        ]
        rows += [
            _check_in_row(CheckInOut.model_validate(r), new_id, now)
            for r in records.get("check_in", [])
        ]
        rows += [_task_row(TaskOut.model_validate(r), new_id, now) for r in records.get("task", [])]
        for row in rows:
            session.add(row)
            session.flush()
            kind = row.__tablename__
            counts[kind] = counts.get(kind, 0) + 1
        session.add(
            AuditRow(
                at=now, actor=actor, action="import", entity="patient",
                entity_id=new_id[patient.id], before=None,
                after={"from_patient_id": patient.id, "records": counts},
            )
        )  # fmt: skip
    return new_id[patient.id], counts


def _records_of(bundle: Any) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InvalidRecordError("resourceType", "expected a FHIR Bundle")
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InvalidRecordError(f"entry[{index}].resource", "missing")
        if resource.get("resourceType") == "CarePlan":
            continue  # rebuilt from the tasks
        carried = fhir_records.read_record(resource)
        if carried is None:
            raise InvalidRecordError(
                f"entry[{index}].resource",
                f"{resource.get('resourceType')} carries no VenaPath record extension; only "
                "record exports can be imported",
            )
        kind, record = carried
        found[kind].append(record)
    return found


def _strip(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in _EXTRA_OUT_FIELDS[kind]}


def _episode_row(episode: EpisodeOut, new_id: dict[str, str], now: Any) -> EpisodeRow:
    record = _strip("episode", episode.model_dump(mode="json", exclude_none=True))
    record["patient_id"] = new_id[episode.patient_id]
    return EpisodeRow(
        id=new_id[episode.id], patient_id=new_id[episode.patient_id],
        condition=episode.condition.value, status=episode.status.value,
        diagnosed_at=episode.diagnosed_at,
        anticoagulation_planned_end=episode.anticoagulation_planned_end,
        record=EpisodeIn.model_validate(record).model_dump(mode="json", exclude_none=True),
        version=1, created_at=now, updated_at=now,
    )  # fmt: skip


def _procedure_row(procedure: ProcedureOut, new_id: dict[str, str], now: Any) -> ProcedureRow:
    report = _strip("procedure", procedure.model_dump(mode="json", exclude_none=True))
    report["episode_id"] = new_id[procedure.episode_id]
    return ProcedureRow(
        id=new_id[procedure.id], patient_id=new_id[procedure.patient_id],
        episode_id=new_id[procedure.episode_id], kind=procedure.kind.value,
        performed_at=procedure.performed_at, repeat_number=procedure.repeat_number,
        report=ProcedureIn.model_validate(report).model_dump(mode="json", exclude_none=True),
        version=1, created_at=now, updated_at=now,
    )  # fmt: skip


def _assessment_row(assessment: AssessmentOut, new_id: dict[str, str], now: Any) -> AssessmentRow:
    return AssessmentRow(
        id=new_id[assessment.id], patient_id=new_id[assessment.patient_id],
        episode_id=new_id[assessment.episode_id] if assessment.episode_id else None,
        case=assessment.case, result=assessment.result,
        knowledge_version=assessment.knowledge_version, evaluated_at=assessment.evaluated_at,
        created_by=assessment.created_by, created_at=now,
    )  # fmt: skip


def _outcome_row(outcome: OutcomeOut, new_id: dict[str, str], now: Any) -> OutcomeRow:
    record = _strip("outcome", outcome.model_dump(mode="json", exclude_none=True))
    record["episode_id"] = new_id[outcome.episode_id]
    return OutcomeRow(
        id=new_id[outcome.id], patient_id=new_id[outcome.patient_id],
        episode_id=new_id[outcome.episode_id], measure=outcome.measure.value,
        assessed_at=outcome.assessed_at,
        record=OutcomeIn.model_validate(record).model_dump(mode="json", exclude_none=True),
        created_at=now,
    )  # fmt: skip


def _check_in_row(check_in: CheckInOut, new_id: dict[str, str], now: Any) -> CheckInRow:
    answers = _strip("check_in", check_in.model_dump(mode="json", exclude_none=True))
    answers["procedure_id"] = new_id[check_in.procedure_id]
    return CheckInRow(
        id=new_id[check_in.id], patient_id=new_id[check_in.patient_id],
        procedure_id=new_id[check_in.procedure_id], submitted_at=check_in.submitted_at,
        answers=CheckInIn.model_validate(answers).model_dump(mode="json", exclude_none=True),
        advice=check_in.advice.value, advice_text=check_in.advice_text,
        assessment_id=new_id[check_in.assessment_id],
        urgent_task_id=new_id[check_in.urgent_task_id] if check_in.urgent_task_id else None,
        created_at=now,
    )  # fmt: skip


def _task_row(task: TaskOut, new_id: dict[str, str], now: Any) -> TaskRow:
    procedure_id = new_id[task.procedure_id] if task.procedure_id else None
    episode_id = new_id[task.episode_id] if task.episode_id else None
    anchor = procedure_id or episode_id or new_id[task.patient_id]
    key = (
        f"{task.protocol_id}:{anchor}:{task.step_id}:{task.due_from}" if task.protocol_id else None
    )
    return TaskRow(
        id=new_id[task.id], patient_id=new_id[task.patient_id], episode_id=episode_id,
        procedure_id=procedure_id, protocol_id=task.protocol_id,
        protocol_version=task.protocol_version, step_id=task.step_id, schedule_key=key,
        kind=task.kind, title=task.title, due_from=task.due_from, due_by=task.due_by,
        urgent=task.urgent, reason=task.reason, status=task.status.value,
        completed_at=task.completed_at, version=1, created_at=now, updated_at=now,
    )  # fmt: skip
