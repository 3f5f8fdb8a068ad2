"""Patients: register, read, list, change and retract (DELETE), inside the registry door.

Retraction (docs/registry.md, "What DELETE means") hides a patient entered in error: the
rows and their audit trail stay, every read of the patient or its records answers 410 Gone,
every write answers 409 Conflict, and its open follow-up tasks are cancelled.
"""

from __future__ import annotations

import uuid

from venapath.domain.records import PatientIn, PatientOut, PatientUpdate, TaskStatus
from venapath.errors import ConflictError, NotFoundError
from venapath.persistence import queries
from venapath.persistence.tables import PatientIdentifierRow, PatientRow
from venapath.services.registry.door import Call, Door, check_version
from venapath.services.registry.records import patient_out


def create(door: Door, call: Call, data: PatientIn) -> PatientOut:
    now = door.clock()
    session = call.session
    pseudonym = data.pseudonym or f"VP-{uuid.uuid4().hex[:10].upper()}"
    if queries.pseudonym_taken(session, pseudonym):
        raise ConflictError(f"pseudonym {pseudonym!r} is already used", pointer="/pseudonym")
    if data.mrn and queries.patient_with_mrn(session, data.mrn):
        raise ConflictError("this MRN is already registered", pointer="/mrn")
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
        # The MRN lives apart and is never written into the audit trail.
        session.add(
            PatientIdentifierRow(
                id=str(uuid.uuid4()),
                patient_id=row.id,
                system=queries.MRN_SYSTEM,
                value=data.mrn,
                created_at=now,
            )
        )
    call.patient_id = row.id
    call.touch("patient", row.id, primary=True)
    return patient_out(row)


def get(call: Call, patient_id: str) -> PatientOut:
    row = call.patient(patient_id)
    call.touch("patient", row.id, primary=True)
    return patient_out(row)


def find_by_mrn(call: Call, mrn: str) -> PatientOut:
    patient_id = queries.patient_with_mrn(call.session, mrn)
    if patient_id is None:
        raise NotFoundError("patient with MRN", "(withheld)")
    return get(call, patient_id)


def page(call: Call, limit: int, offset: int) -> list[PatientOut]:
    """A page of live patients; a caller bound to one patient sees only that one."""
    call.query = f"limit={limit}&offset={offset}"
    bound = call.principal.patient_id
    if bound is not None:
        row = call.session.get(PatientRow, bound)
        rows = [row] if row is not None and row.deleted_at is None and offset == 0 else []
    else:
        rows = list(queries.patients_page(call.session, limit, offset))
    for row in rows:
        call.touch("patient", row.id)
    return [patient_out(row) for row in rows]


def update(door: Door, call: Call, patient_id: str, change: PatientUpdate) -> PatientOut:
    row = call.patient(patient_id)
    check_version(row, change.version, "patient")
    row.sex = change.sex.value if change.sex else row.sex
    row.birth_year = change.birth_year if change.birth_year is not None else row.birth_year
    row.updated_at = door.clock()
    call.session.flush()
    call.touch("patient", row.id, primary=True)
    return patient_out(row)


def retract(door: Door, call: Call, patient_id: str, version: int) -> None:
    """Hide a patient entered in error; the rows and their history stay."""
    row = call.patient(patient_id)
    check_version(row, version, "patient")
    row.deleted_at = row.updated_at = door.clock()
    call.session.flush()
    for task in queries.scheduled_tasks_of(call.session, row.id):
        task.status = TaskStatus.CANCELLED.value
        task.note = "patient record retracted"
        task.updated_at = row.deleted_at
        call.touch("task", task.id)
    call.touch("patient", row.id, primary=True)
