"""Procedure reports: recorded with their follow-up schedule, repeat numbering and warnings."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from venapath.domain.records import EpisodeIn, ProcedureIn, ProcedureOut, TaskStatus
from venapath.errors import InputError
from venapath.kb.model import KnowledgeBase
from venapath.persistence import queries
from venapath.persistence.tables import ProcedureRow
from venapath.services import followup
from venapath.services.registry.door import Call, Door, dump
from venapath.services.registry.records import procedure_out


def record(door: Door, call: Call, data: ProcedureIn) -> ProcedureOut:
    door.not_in_future(data.performed_at, "/performed_at")
    now = door.clock()
    session = call.session
    episode = call.episode(data.episode_id, pointer="/episode_id")
    onset = EpisodeIn.model_validate(episode.record).onset_at
    if onset is not None and data.performed_at < onset:
        raise InputError.at("/performed_at", "is before the episode's onset_at")
    queries.lock_episode(session, episode.id)
    earlier = queries.procedures_of_kind(session, episode.id, data.kind.value)
    repeat_number = 1 + sum(1 for p in earlier if p.performed_at <= data.performed_at)
    row = ProcedureRow(
        id=str(uuid.uuid4()),
        patient_id=episode.patient_id,
        episode_id=episode.id,
        kind=data.kind.value,
        performed_at=data.performed_at,
        repeat_number=repeat_number,
        report=dump(data),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    _supersede_earlier_tasks(call, row, earlier, now)
    followup.store_planned(
        session,
        followup.plan_for_procedure(door.kb, row),
        patient_id=row.patient_id,
        episode_id=episode.id,
        procedure_id=row.id,
        now=now,
    )
    call.touch("procedure", row.id, primary=True)
    return procedure_out(row, repeat_warnings(door.kb, row, earlier))


def _supersede_earlier_tasks(
    call: Call, row: ProcedureRow, earlier: Sequence[ProcedureRow], now: datetime
) -> None:
    """A repeat procedure restarts its follow-up: open tasks of the earlier one end.

    Reports for one episode queue on the episode's row lock (`record`), so they do not race
    here; should a versioned UPDATE still match nothing, the door answers 409, never 500."""
    before = [p.id for p in earlier if p.performed_at < row.performed_at]
    if not before:
        return
    for task in queries.open_routine_tasks_of_procedures(call.session, before):
        task.status = TaskStatus.CANCELLED.value
        task.note = f"superseded by the {row.kind} of {row.performed_at.date()}"
        task.updated_at = now


def repeat_warnings(
    kb: KnowledgeBase, row: ProcedureRow, earlier: Sequence[ProcedureRow]
) -> list[str]:
    """Seed 003: wait 4-6 weeks between venoplasties; consider a stent after 3-4 repeats."""
    warnings: list[str] = []
    before = [p for p in earlier if p.performed_at < row.performed_at]
    for protocol in kb.follow_up_protocols:
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


def get(call: Call, procedure_id: str) -> ProcedureOut:
    row = call.procedure(procedure_id)
    call.touch("procedure", row.id, primary=True)
    return procedure_out(row, [])


def of_patient(call: Call, patient_id: str) -> list[ProcedureOut]:
    call.patient(patient_id)
    rows = queries.procedures_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("procedure", row.id)
    return [procedure_out(row, []) for row in rows]
