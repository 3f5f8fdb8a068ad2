"""Reads across patients for the clinical worklist: active episodes ranked by the urgency of
their latest assessment, with the time windows still open, and the latest check-ins.

Both are searches: every patient they list is named in the audit entry. A caller bound to
one patient (a SMART patient launch, a check-in link) has no cross-patient view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import func, select

from venapath.domain.records import (
    AssessmentOut,
    CheckInOut,
    EpisodeOut,
    EpisodeStatus,
    OutcomeOut,
    PatientAdvice,
    PatientOut,
    ProcedureOut,
    TaskOut,
)
from venapath.domain.vocabulary import Urgency
from venapath.errors import RefusedError
from venapath.persistence.tables import AssessmentRow, CheckInRow, EpisodeRow, PatientRow
from venapath.services import followup
from venapath.services.registry import (
    assessments,
    check_ins,
    episodes,
    outcomes,
    patients,
    procedures,
    tasks,
)
from venapath.services.registry.door import Call

_ADVICE_RANK = {PatientAdvice.EMERGENCY.value: 2, PatientAdvice.CALL_TODAY.value: 1}


@dataclass(frozen=True)
class OpenWindow:
    label: str
    status: str
    elapsed: float | None
    limit: float
    unit: str
    bound: str


@dataclass(frozen=True)
class EpisodeSummary:
    episode_id: str
    patient_id: str
    pseudonym: str
    condition: str
    diagnosed_at: datetime | None
    urgency: str | None
    evaluated_at: datetime | None
    knowledge_version: str | None
    windows: list[OpenWindow] = field(default_factory=list)

    @property
    def urgency_rank(self) -> int:
        return Urgency(self.urgency).rank if self.urgency else -1


@dataclass(frozen=True)
class CheckInSummary:
    check_in_id: str
    patient_id: str
    pseudonym: str
    procedure_id: str
    submitted_at: datetime
    advice: str
    advice_text: str
    urgent_task_id: str | None


def _across_patients(call: Call) -> None:
    if call.principal.patient_id is not None:
        raise RefusedError("this view spans patients; this sign-in is limited to one")


def active_episodes(call: Call, limit: int, offset: int = 0) -> list[EpisodeSummary]:
    """Active episodes, the most urgent first (no assessment yet: last), then the oldest.
    The newest `limit` active episodes after `offset` are read (the (status, updated_at, id)
    index, a page at a time), without their stored documents; the urgency order is within
    that page."""
    _across_patients(call)
    rows = call.session.execute(
        select(
            EpisodeRow.id,
            EpisodeRow.patient_id,
            EpisodeRow.condition,
            EpisodeRow.diagnosed_at,
            PatientRow.pseudonym,
        )
        .join(PatientRow, PatientRow.id == EpisodeRow.patient_id)
        .where(EpisodeRow.status == EpisodeStatus.ACTIVE.value, PatientRow.deleted_at.is_(None))
        .order_by(EpisodeRow.updated_at.desc(), EpisodeRow.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    latest = _latest_assessments(call, [row.id for row in rows])
    call.query = f"episodes?status=active&limit={limit}&offset={offset}"
    summaries = []
    for row in rows:
        call.touch("episode", row.id)
        summaries.append(_summary(row, latest.get(row.id)))
    summaries.sort(key=lambda s: (-s.urgency_rank, _seconds(s.diagnosed_at)))
    return summaries


def _seconds(moment: datetime | None) -> float:
    """Sort key of a stored time (SQLite hands back naive UTC); unknown sorts last."""
    if moment is None:
        return float("inf")
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def _latest_assessments(call: Call, episode_ids: list[str]) -> dict[str, Any]:
    """The newest assessment of each episode: its time, knowledge version, urgency and time
    windows.

    Only the newest row of each episode is read (ranked on the (episode_id, evaluated_at)
    index), and of its result document only the two members the worklist shows, extracted by
    the database: a whole result (tens of kilobytes with its citations) is not parsed for a
    row of the worklist."""
    if not episode_ids:
        return {}
    newest_first = (
        func.row_number()
        .over(
            partition_by=AssessmentRow.episode_id,
            order_by=(AssessmentRow.evaluated_at.desc(), AssessmentRow.id.desc()),
        )
        .label("newest_first")
    )
    ranked = (
        select(AssessmentRow.id, newest_first)
        .where(AssessmentRow.episode_id.in_(episode_ids))
        .subquery()
    )
    rows = call.session.execute(
        select(
            AssessmentRow.episode_id,
            AssessmentRow.evaluated_at,
            AssessmentRow.knowledge_version,
            AssessmentRow.result["urgency"].label("urgency"),
            AssessmentRow.result["time_windows"].label("time_windows"),
        )
        .join(ranked, ranked.c.id == AssessmentRow.id)
        .where(ranked.c.newest_first == 1)
    )
    return {row.episode_id: row for row in rows if row.episode_id is not None}


def _summary(episode: Any, assessment: Any) -> EpisodeSummary:
    """One active episode (a row with its patient's pseudonym) and its newest assessment."""
    stored_windows = (assessment.time_windows if assessment is not None else None) or []
    windows = [
        OpenWindow(w["label"], w["status"], w.get("elapsed"), w["limit"], w["unit"], w["bound"])
        for w in stored_windows
        if w.get("status") != "passed"
    ]
    return EpisodeSummary(
        episode_id=episode.id,
        patient_id=episode.patient_id,
        pseudonym=episode.pseudonym,
        condition=episode.condition,
        diagnosed_at=episode.diagnosed_at,
        urgency=assessment.urgency if assessment is not None else None,
        evaluated_at=assessment.evaluated_at if assessment is not None else None,
        knowledge_version=assessment.knowledge_version if assessment is not None else None,
        windows=windows,
    )


def recent_check_ins(
    call: Call, since: datetime, limit: int, offset: int = 0
) -> list[CheckInSummary]:
    """Check-ins submitted since `since`, newest first, a page of `limit` after `offset`;
    within the page those asking for care come first."""
    _across_patients(call)
    rows = call.session.execute(
        select(CheckInRow, PatientRow.pseudonym)
        .join(PatientRow, PatientRow.id == CheckInRow.patient_id)
        .where(CheckInRow.submitted_at >= since, PatientRow.deleted_at.is_(None))
        .order_by(CheckInRow.submitted_at.desc(), CheckInRow.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    call.query = f"check_ins?since={since.isoformat()}&limit={limit}&offset={offset}"
    found = []
    for row, pseudonym in rows:
        call.touch("check_in", row.id)
        found.append(
            CheckInSummary(
                row.id,
                row.patient_id,
                pseudonym,
                row.procedure_id,
                row.submitted_at,
                row.advice,
                row.advice_text,
                row.urgent_task_id,
            )
        )
    found.sort(key=lambda c: -_ADVICE_RANK.get(c.advice, 0))
    return found


@dataclass(frozen=True)
class Board:
    """What the worklist page shows, read in one transaction (one audit entry)."""

    tasks: list[followup.WorklistItem]
    episodes: list[EpisodeSummary]
    check_ins: list[CheckInSummary]


def board(
    call: Call, as_of: date, since: datetime, days_ahead: int, limit: int, offset: int = 0
) -> Board:
    """One page of each list: `limit` rows after the first `offset` of each."""
    return Board(
        tasks.worklist(call, as_of, days_ahead, limit, offset),
        active_episodes(call, limit, offset),
        recent_check_ins(call, since, limit, offset),
    )


@dataclass(frozen=True)
class PatientChart:
    """Everything the patient page shows, read in one transaction (one audit entry)."""

    patient: PatientOut
    episodes: list[EpisodeOut]
    procedures: list[ProcedureOut]
    assessments: list[AssessmentOut]
    tasks: list[TaskOut]
    check_ins: list[CheckInOut]
    outcomes: list[OutcomeOut]


def patient_chart(call: Call, patient_id: str) -> PatientChart:
    return PatientChart(
        patients.get(call, patient_id),
        episodes.of_patient(call, patient_id),
        procedures.of_patient(call, patient_id),
        assessments.of_patient(call, patient_id),
        tasks.of_patient(call, patient_id),
        check_ins.of_patient(call, patient_id),
        outcomes.of_patient(call, patient_id),
    )
