"""Follow-up tasks: a patient's list, completing or cancelling one, and the worklist."""

from __future__ import annotations

from datetime import date

from venapath.domain.records import TaskOut, TaskStatus, TaskUpdate
from venapath.errors import ConflictError, RefusedError
from venapath.persistence import queries
from venapath.services import followup
from venapath.services.registry.door import Call, Door, check_version


def of_patient(call: Call, patient_id: str) -> list[TaskOut]:
    patient = call.patient(patient_id)
    rows = queries.tasks_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("task", row.id)
    return [followup.task_out(row, patient.pseudonym) for row in rows]


def update(door: Door, call: Call, task_id: str, change: TaskUpdate) -> TaskOut:
    """Complete or cancel a task; completing a repeating step schedules the next one."""
    now = door.clock()
    row = call.task(task_id)
    patient = call.patient(row.patient_id)
    check_version(row, change.version, "task")
    if row.status != TaskStatus.SCHEDULED.value:
        raise ConflictError(f"task {task_id} is already {row.status}", pointer="/status")
    row.status = change.status.value
    if change.status is TaskStatus.DONE:
        completed = change.completed_at or now
        door.not_in_future(completed, "/completed_at")
        row.completed_at = completed
    row.note = change.note
    row.updated_at = now
    call.session.flush()
    repeat = followup.next_occurrence(door.kb, row)
    if repeat is not None and change.status is TaskStatus.DONE:
        followup.store_planned(
            call.session,
            [repeat],
            patient_id=row.patient_id,
            episode_id=row.episode_id,
            procedure_id=row.procedure_id,
            now=now,
        )
    call.touch("task", row.id, primary=True)
    return followup.task_out(row, patient.pseudonym)


def worklist(
    call: Call, as_of: date, days_ahead: int, limit: int, offset: int = 0
) -> list[followup.WorklistItem]:
    """Open tasks across patients (a search): every patient listed is named in the audit.
    A caller bound to one patient has no worklist."""
    if call.principal.patient_id is not None:
        raise RefusedError("the worklist spans patients; this sign-in is limited to one")
    call.query = f"as_of={as_of.isoformat()}&days_ahead={days_ahead}&limit={limit}&offset={offset}"
    items = followup.worklist(
        call.session, as_of, days_ahead=days_ahead, limit=limit, offset=offset
    )
    for patient_id in dict.fromkeys(item.task.patient_id for item in items):
        call.touch("patient", patient_id)
    return items
