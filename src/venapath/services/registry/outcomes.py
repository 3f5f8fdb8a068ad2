"""Outcomes (Villalta, mRS, death, recurrence) recorded against an episode."""

from __future__ import annotations

import uuid

from venapath.domain.records import OutcomeIn, OutcomeOut
from venapath.errors import InputError
from venapath.persistence import queries
from venapath.persistence.tables import OutcomeRow
from venapath.services.registry.door import Call, Door, dump
from venapath.services.registry.records import outcome_out


def record(door: Door, call: Call, data: OutcomeIn) -> OutcomeOut:
    door.not_in_future(data.assessed_at, "/assessed_at")
    now = door.clock()
    episode = call.episode(data.episode_id, pointer="/episode_id")
    diagnosed = episode.diagnosed_at
    if diagnosed is not None and data.assessed_at < diagnosed:
        raise InputError.at("/assessed_at", "is before the episode's diagnosis")
    row = OutcomeRow(
        id=str(uuid.uuid4()),
        patient_id=episode.patient_id,
        episode_id=episode.id,
        measure=data.measure.value,
        assessed_at=data.assessed_at,
        record=dump(data),
        created_at=now,
    )
    call.session.add(row)
    call.session.flush()
    call.touch("outcome", row.id, primary=True)
    return outcome_out(row)


def of_patient(call: Call, patient_id: str) -> list[OutcomeOut]:
    call.patient(patient_id)
    rows = queries.outcomes_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("outcome", row.id)
    return [outcome_out(row) for row in rows]
