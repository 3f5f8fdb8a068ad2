"""Follow-up scheduling from the knowledge base's protocols, and the coordinator's worklist.

A recorded procedure or episode creates one task per protocol step; each task remembers the
protocol version and step, and a `schedule_key` makes scheduling idempotent (recording the
same thing twice, or a retried request, never doubles a task). A task's state on a given day
(due, overdue, upcoming) is derived from its window, never stored, so the worklist for any
date is one indexed query.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from venapath.domain.records import TaskOut, TaskState, TaskStatus
from venapath.kb.model import KnowledgeBase
from venapath.kb.protocols import Anchor, FollowUpProtocol, Step
from venapath.persistence.tables import EpisodeRow, PatientRow, ProcedureRow, TaskRow


@dataclass(frozen=True)
class PlannedTask:
    """A task a protocol asks for, before it is stored."""

    protocol: FollowUpProtocol
    step: Step
    anchor_record: str
    due_from: date
    due_by: date

    @property
    def schedule_key(self) -> str:
        return f"{self.protocol.id}:{self.anchor_record}:{self.step.id}:{self.due_from}"


def _steps(protocol: FollowUpProtocol, record_id: str, anchor: date) -> Iterator[PlannedTask]:
    for step in protocol.steps:
        yield PlannedTask(
            protocol, step, record_id, step.opens.after(anchor), step.closes.after(anchor)
        )


def plan_for_procedure(kb: KnowledgeBase, procedure: ProcedureRow) -> list[PlannedTask]:
    anchor = procedure.performed_at.date()
    return [
        planned
        for protocol in kb.follow_up_protocols
        if procedure.kind in protocol.applies_to.procedure_kinds
        for planned in _steps(protocol, procedure.id, anchor)
    ]


def plan_for_episode(kb: KnowledgeBase, episode: EpisodeRow) -> list[PlannedTask]:
    """Condition protocols; a clock the episode lacks (no diagnosis date) schedules nothing."""
    planned: list[PlannedTask] = []
    for protocol in kb.follow_up_protocols:
        if episode.condition not in protocol.applies_to.conditions:
            continue
        anchor = _episode_anchor(protocol.anchor, episode)
        if anchor is not None:
            planned.extend(_steps(protocol, episode.id, anchor))
    return planned


def unscheduled_for_episode(kb: KnowledgeBase, episode: EpisodeRow) -> list[str]:
    """Protocols that apply but cannot be scheduled yet, and the field that would allow it."""
    missing: list[str] = []
    for protocol in kb.follow_up_protocols:
        applies = episode.condition in protocol.applies_to.conditions
        if applies and _episode_anchor(protocol.anchor, episode) is None:
            needed = {
                Anchor.DIAGNOSIS: "diagnosed_at",
                Anchor.ANTICOAGULATION_END: "anticoagulation_planned_end",
                Anchor.PROCEDURE: "a procedure",
            }[protocol.anchor]
            missing.append(f"{protocol.label} needs {needed}")
    return missing


def _episode_anchor(anchor: Anchor, episode: EpisodeRow) -> date | None:
    if anchor is Anchor.DIAGNOSIS:
        return episode.diagnosed_at.date() if episode.diagnosed_at else None
    if anchor is Anchor.ANTICOAGULATION_END:
        return episode.anticoagulation_planned_end
    return None


def store_planned(
    session: Session,
    planned: Iterable[PlannedTask],
    *,
    patient_id: str,
    episode_id: str | None,
    procedure_id: str | None,
    now: datetime,
) -> list[TaskRow]:
    """Insert the planned tasks that are not stored yet (by schedule key)."""
    planned = list(planned)
    if not planned:
        return []
    keys = [p.schedule_key for p in planned]
    existing = set(
        session.scalars(select(TaskRow.schedule_key).where(TaskRow.schedule_key.in_(keys)))
    )
    rows = [
        TaskRow(
            id=str(uuid.uuid4()),
            patient_id=patient_id,
            episode_id=episode_id,
            procedure_id=procedure_id,
            protocol_id=p.protocol.id,
            protocol_version=p.protocol.version,
            step_id=p.step.id,
            schedule_key=p.schedule_key,
            kind=p.step.kind,
            title=p.step.title,
            due_from=p.due_from,
            due_by=p.due_by,
            urgent=False,
            reason=f"Scheduled by protocol {p.protocol.label}, step {p.step.id}.",
            status=TaskStatus.SCHEDULED.value,
            version=1,
            created_at=now,
            updated_at=now,
        )
        for p in planned
        if p.schedule_key not in existing
    ]
    session.add_all(rows)
    return rows


def next_occurrence(kb: KnowledgeBase, task: TaskRow) -> PlannedTask | None:
    """The repeat a completed task of a repeating step asks for (e.g. yearly duplex)."""
    protocol = next((p for p in kb.follow_up_protocols if p.id == task.protocol_id), None)
    if protocol is None or task.step_id is None:
        return None
    step = next((s for s in protocol.steps if s.id == task.step_id), None)
    if step is None or step.repeat_every is None:
        return None
    anchor_record = task.procedure_id or task.episode_id or task.patient_id
    return PlannedTask(
        protocol,
        step,
        anchor_record,
        step.repeat_every.after(task.due_from),
        step.repeat_every.after(task.due_by),
    )


def urgent_task(
    *, patient_id: str, episode_id: str | None, procedure_id: str | None, reason: str, now: datetime
) -> TaskRow:
    today = now.date()
    return TaskRow(
        id=str(uuid.uuid4()),
        patient_id=patient_id,
        episode_id=episode_id,
        procedure_id=procedure_id,
        kind="call",
        title="Call the patient today: a check-in reported symptoms that need care",
        due_from=today,
        due_by=today,
        urgent=True,
        reason=reason,
        status=TaskStatus.SCHEDULED.value,
        version=1,
        created_at=now,
        updated_at=now,
    )


# ------------------------------------------------------------------------------ worklist


def task_state(task: TaskRow, as_of: date) -> TaskState:
    if task.status == TaskStatus.DONE.value:
        return TaskState.DONE
    if task.status == TaskStatus.CANCELLED.value:
        return TaskState.CANCELLED
    if task.urgent:
        return TaskState.CALL_TODAY
    if task.due_by < as_of:
        return TaskState.OVERDUE
    if task.due_from <= as_of:
        return TaskState.DUE
    return TaskState.UPCOMING


_ORDER = {TaskState.CALL_TODAY: 0, TaskState.OVERDUE: 1, TaskState.DUE: 2, TaskState.UPCOMING: 3}


@dataclass(frozen=True)
class WorklistItem:
    state: TaskState
    task: TaskOut


def worklist(
    session: Session, as_of: date, *, days_ahead: int = 0, limit: int = 1000, offset: int = 0
) -> list[WorklistItem]:
    """Open tasks that need a call today, are overdue, are due, or open within `days_ahead`;
    `offset` skips that many of them (a later page), in the same order.

    Two queries, each walking the (status, urgent, due_by) index in deadline order and
    stopping at `limit`: urgent calls first, then the rest. One query with an OR would sort
    every open task before it could stop (380 ms instead of milliseconds at 100k patients).
    """
    horizon = as_of + timedelta(days=days_ahead)
    base = (
        select(TaskRow, PatientRow.pseudonym)
        .join(PatientRow, PatientRow.id == TaskRow.patient_id)
        .where(TaskRow.status == TaskStatus.SCHEDULED.value, PatientRow.deleted_at.is_(None))
        .order_by(TaskRow.due_by, TaskRow.id)
    )
    urgent = base.where(TaskRow.urgent.is_(True))
    rows = list(session.execute(urgent.offset(offset).limit(limit)))
    if len(rows) < limit:
        # The page starts among the routine tasks only when it is past every urgent one.
        skipped = 0 if rows or offset == 0 else offset - _count(session, urgent)
        routine = base.where(TaskRow.urgent.is_(False), TaskRow.due_from <= horizon)
        rows += session.execute(routine.offset(max(0, skipped)).limit(limit - len(rows)))
    items = [
        WorklistItem(task_state(row, as_of), task_out(row, pseudonym)) for row, pseudonym in rows
    ]
    return sorted(items, key=lambda item: (_ORDER[item.state], item.task.due_by))


def _count(session: Session, query: Select[TaskRow, str]) -> int:
    """How many rows `query` would return (its order dropped)."""
    counted = select(func.count()).select_from(query.order_by(None).subquery())
    return int(session.scalar(counted) or 0)


def task_out(row: TaskRow, pseudonym: str) -> TaskOut:
    return TaskOut(
        id=row.id,
        patient_id=row.patient_id,
        pseudonym=pseudonym,
        episode_id=row.episode_id,
        procedure_id=row.procedure_id,
        protocol_id=row.protocol_id,
        protocol_version=row.protocol_version,
        step_id=row.step_id,
        kind=row.kind,
        title=row.title,
        due_from=row.due_from,
        due_by=row.due_by,
        urgent=row.urgent,
        reason=row.reason,
        status=TaskStatus(row.status),
        completed_at=row.completed_at,
        version=row.version,
    )
