"""Episodes (one thrombosis, one stenosis): record, read, change; they schedule follow-up."""

from __future__ import annotations

import uuid
from datetime import datetime

from venapath.domain.records import EpisodeIn, EpisodeOut, EpisodeStatus, EpisodeUpdate, TaskStatus
from venapath.errors import InputError
from venapath.persistence import queries
from venapath.persistence.tables import EpisodeRow
from venapath.services import followup
from venapath.services.registry.door import Call, Door, check_version, dump
from venapath.services.registry.records import episode_out


def check_new(door: Door, data: EpisodeIn) -> None:
    """What can be checked before the transaction opens (no database needed)."""
    if data.pathway is not None and data.pathway not in {p.id for p in door.kb.pathways}:
        raise InputError.at("/pathway", f"{data.pathway!r} is not a pathway of the knowledge base")
    for pointer, moment in (("/onset_at", data.onset_at), ("/diagnosed_at", data.diagnosed_at)):
        if moment is not None:
            door.not_in_future(moment, pointer)


def create(door: Door, call: Call, data: EpisodeIn) -> EpisodeOut:
    now = door.clock()
    session = call.session
    call.patient(data.patient_id, pointer="/patient_id")
    row = EpisodeRow(
        id=str(uuid.uuid4()),
        patient_id=data.patient_id,
        condition=data.condition.value,
        status=EpisodeStatus.ACTIVE.value,
        diagnosed_at=data.diagnosed_at,
        anticoagulation_planned_end=data.anticoagulation_planned_end,
        record=dump(data),
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    followup.store_planned(
        session,
        followup.plan_for_episode(door.kb, row),
        patient_id=row.patient_id,
        episode_id=row.id,
        procedure_id=None,
        now=now,
    )
    call.touch("episode", row.id, primary=True)
    return episode_out(row, followup.unscheduled_for_episode(door.kb, row))


def get(call: Call, episode_id: str) -> EpisodeOut:
    row = call.episode(episode_id)
    call.touch("episode", row.id, primary=True)
    return episode_out(row)


def of_patient(call: Call, patient_id: str) -> list[EpisodeOut]:
    call.patient(patient_id)
    rows = queries.episodes_of(call.session, patient_id)
    call.query = f"patient={patient_id}"
    for row in rows:
        call.touch("episode", row.id)
    return [episode_out(row) for row in rows]


def update(door: Door, call: Call, episode_id: str, change: EpisodeUpdate) -> EpisodeOut:
    now = door.clock()
    row = call.episode(episode_id)
    check_version(row, change.version, "episode")
    record = dict(row.record)
    updates = change.model_dump(mode="json", exclude_none=True, exclude={"version"})
    if "status" in updates:
        row.status = updates.pop("status")
    record.update(updates)
    try:
        merged = EpisodeIn.model_validate(record)
    except ValueError as error:
        raise InputError.at("", f"the changed episode is not valid: {error}") from None
    row.record = dump(merged)
    row.anticoagulation_planned_end = merged.anticoagulation_planned_end
    row.updated_at = now
    call.session.flush()
    if change.anticoagulation_planned_end is not None:
        _reschedule_anticoagulation_review(door, call, row, now)
    call.touch("episode", row.id, primary=True)
    return episode_out(row, followup.unscheduled_for_episode(door.kb, row))


def _reschedule_anticoagulation_review(
    door: Door, call: Call, episode: EpisodeRow, now: datetime
) -> None:
    """A new planned end replaces the open review for the old one."""
    planned = followup.plan_for_episode(door.kb, episode)
    keys = {p.schedule_key for p in planned}
    for task in queries.open_anticoagulation_reviews(call.session, episode.id):
        if task.schedule_key not in keys:
            task.status = TaskStatus.CANCELLED.value
            task.note = "planned end of anticoagulation changed"
            task.updated_at = now
    followup.store_planned(
        call.session,
        planned,
        patient_id=episode.patient_id,
        episode_id=episode.id,
        procedure_id=None,
        now=now,
    )
