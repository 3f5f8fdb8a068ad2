"""Import a record export (a FHIR Bundle) under new ids, in one transaction, inside the door.

Every record of the Bundle is stored under a new id (ids are remapped consistently, so
references still hold), or none is. Records keep what they were: assessments keep the
knowledge version and result they had, tasks keep their status, and nothing is
re-evaluated or re-scheduled on the way in.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

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
from venapath.errors import ConflictError, InputError
from venapath.fhir import records as fhir_records
from venapath.persistence import queries
from venapath.persistence.tables import (
    AssessmentRow,
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientRow,
    ProcedureRow,
    TaskRow,
)
from venapath.services.registry.door import Call, Door


class ImportOutcome(BaseModel):
    """What an import created: the new patient id and a count per table."""

    patient_id: str
    created: dict[str, int]


_EXTRA_OUT_FIELDS = {
    "episode": {"id", "status", "version", "created_at", "updated_at", "schedule_needs"},
    "procedure": {
        "id", "patient_id", "repeat_number", "lysis_success", "warnings", "version", "created_at",
    },
    "outcome": {"id", "patient_id", "created_at"},
    "check_in": {"id", "patient_id", "advice", "advice_text", "assessment_id", "urgent_task_id"},
}  # fmt: skip


def import_bundle(door: Door, call: Call, bundle: Any) -> ImportOutcome:
    """Store a record export under new ids, in the caller's transaction; refuse anything else."""
    try:
        return _import(door, call, bundle)
    except ValidationError as invalid:
        first = invalid.errors()[0]
        where = "/".join(str(part) for part in first.get("loc", ()))
        raise InputError.at(
            "/entry", f"a carried record is not valid ({where}: {first.get('msg', 'invalid')})"
        ) from None


def _import(door: Door, call: Call, bundle: Any) -> ImportOutcome:
    records = _records_of(bundle)
    patients = records.get("patient", [])
    if len(patients) != 1:
        raise InputError.at(
            "/entry", f"expected one VenaPath patient record, found {len(patients)}"
        )
    now = door.clock()
    new_id: dict[str, str] = defaultdict(lambda: str(uuid.uuid4()))
    counts: dict[str, int] = {}
    session = call.session
    patient = PatientOut.model_validate(patients[0])
    if queries.pseudonym_taken(session, patient.pseudonym):
        raise ConflictError(
            f"pseudonym {patient.pseudonym!r} is already used", pointer="/pseudonym"
        )
    rows: list[Any] = [
        PatientRow(
            id=new_id[patient.id], pseudonym=patient.pseudonym,
            sex=patient.sex.value if patient.sex else None, birth_year=patient.birth_year,
            version=1, created_at=now, updated_at=now,
        )
    ]  # fmt: skip
    rows += _dependent_rows(records, new_id, now)
    for row in rows:
        session.add(row)
        session.flush()
        kind = row.__tablename__
        counts[kind] = counts.get(kind, 0) + 1
        call.touch(_KIND_OF_TABLE[kind], row.id, primary=kind == "patients")
    call.patient_id = new_id[patient.id]
    call.query = f"from_patient={patient.id}"
    return ImportOutcome(patient_id=new_id[patient.id], created=counts)


_KIND_OF_TABLE = {
    "patients": "patient", "episodes": "episode", "procedures": "procedure",
    "assessments": "assessment", "outcomes": "outcome", "check_ins": "check_in",
    "follow_up_tasks": "task",
}  # fmt: skip


def _dependent_rows(
    records: dict[str, list[dict[str, Any]]], new_id: dict[str, str], now: datetime
) -> list[Any]:
    rows: list[Any] = [
        _episode_row(EpisodeOut.model_validate(r), new_id, now) for r in records.get("episode", [])
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
        _outcome_row(OutcomeOut.model_validate(r), new_id, now) for r in records.get("outcome", [])
    ]
    rows += [
        _check_in_row(CheckInOut.model_validate(r), new_id, now)
        for r in records.get("check_in", [])
    ]
    rows += [_task_row(TaskOut.model_validate(r), new_id, now) for r in records.get("task", [])]
    return rows


def _records_of(bundle: Any) -> dict[str, list[dict[str, Any]]]:
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise InputError.at("/resourceType", "expected a FHIR Bundle")
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for index, entry in enumerate(bundle.get("entry") or []):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict):
            raise InputError.at(f"/entry/{index}/resource", "missing")
        if resource.get("resourceType") == "CarePlan":
            continue  # rebuilt from the tasks
        carried = fhir_records.read_record(resource)
        if carried is None:
            raise InputError.at(
                f"/entry/{index}/resource",
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
