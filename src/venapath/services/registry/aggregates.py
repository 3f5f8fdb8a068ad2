"""De-identified outcome figures across the registry, for quality and research dashboards.

What leaves this module names no patient: no id, pseudonym, date or free text; only
durations in days, grades, scores and counts. The door audits the read as one query with
no patient named (the caller may be a researcher, who may not see identities).

Definitions the dashboards print beside each chart:
- index procedure: an episode's first venoplasty or venous stent (grouped by that kind);
- event: a later endovascular procedure in the same episode (a repeat venoplasty, a stent,
  thrombolysis or thrombectomy) or a recanalisation outcome of "none" (occlusion) recorded
  after the index procedure, whichever comes first;
- censoring: without an event, follow-up ends at the last recorded contact after the index
  procedure (an outcome, a check-in or a procedure); with none, at the index day itself.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from statistics import median
from typing import Any, cast

from sqlalchemy import select

from venapath.domain.case import ProcedureKind
from venapath.domain.records import OutcomeMeasure, Recanalisation
from venapath.errors import RefusedError
from venapath.persistence.tables import (
    CheckInRow,
    EpisodeRow,
    OutcomeRow,
    PatientRow,
    ProcedureRow,
)
from venapath.services.registry.door import Call

INDEX_KINDS = (ProcedureKind.VENOPLASTY.value, ProcedureKind.VENOUS_STENT.value)
REINTERVENTION_KINDS = frozenset(
    {
        ProcedureKind.VENOPLASTY.value,
        ProcedureKind.VENOUS_STENT.value,
        ProcedureKind.CATHETER_DIRECTED_THROMBOLYSIS.value,
        ProcedureKind.PHARMACOMECHANICAL_THROMBECTOMY.value,
        ProcedureKind.MECHANICAL_THROMBECTOMY.value,
    }
)
ONSET_BANDS: tuple[tuple[str, float], ...] = (
    ("under 24 hours", 24.0),
    ("1 to 3 days", 72.0),
    ("3 to 7 days", 168.0),
    ("7 to 30 days", 720.0),
    ("over 30 days", float("inf")),
)
VILLALTA_BANDS: tuple[tuple[str, float], ...] = (
    ("0 to 3 months", 91.0),
    ("3 to 6 months", 182.0),
    ("6 to 12 months", 365.0),
    ("12 to 24 months", 730.0),
    ("over 24 months", float("inf")),
)
QUERY = "aggregates/outcomes"
MRS_DAY = 90
MRS_WINDOW_DAYS = 30
"""mRS "at 90 days": an mRS assessed 60 to 120 days after diagnosis (or onset when the
diagnosis time is not recorded); the one nearest day 90 counts for its episode."""


@dataclass(frozen=True)
class SurvivalSample:
    """One index procedure: how many days it was followed and whether an event ended it."""

    kind: str
    days: float
    event: bool


@dataclass(frozen=True)
class BandSummary:
    band: str
    count: int
    median: float | None = None


@dataclass(frozen=True)
class OutcomeAggregates:
    survival: list[SurvivalSample] = field(default_factory=list)
    recanalisation: dict[str, int] = field(default_factory=dict)
    onset_to_treatment: list[BandSummary] = field(default_factory=list)
    onset_unknown: int = 0
    villalta: list[BandSummary] = field(default_factory=list)
    mrs_90: dict[int, int] = field(default_factory=dict)
    episodes: int = 0
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))


Episode = Any
"""An episode's id, diagnosed_at and onset_at (the ISO string of its document, or None)."""
Procedure = Any
"""A procedure's id, episode_id, kind and performed_at."""
Outcome = Any
"""An outcome's episode_id, measure, assessed_at and record (its document)."""


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _days(start: datetime, end: datetime) -> float:
    return (_utc(end) - _utc(start)).total_seconds() / 86400.0


def _band(value: float, bands: tuple[tuple[str, float], ...]) -> str:
    return next(label for label, upper in bands if value < upper)


class AggregatesCache:
    """The last figures computed, reused while nothing has been written through this
    registry's door and for at most `max_age_seconds` (the bound on staleness when another
    process writes to the same database). Every read is still audited by the door; only the
    computation is saved (about a second of work at 10,000 stented patients)."""

    def __init__(
        self, max_age_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self.clock = clock
        self._last: tuple[int, float, OutcomeAggregates] | None = None

    def read(self, call: Call, writes: int) -> OutcomeAggregates:
        """The figures for `call`; `writes` is the door's committed-write count now."""
        _refuse_one_patient_sign_ins(call)
        call.query = QUERY
        last, now = self._last, self.clock()
        if last is not None and last[0] == writes and now - last[1] < self.max_age_seconds:
            return last[2]
        figures = outcome_aggregates(call)
        self._last = (writes, now, figures)
        return figures


def _refuse_one_patient_sign_ins(call: Call) -> None:
    if call.principal.patient_id is not None:
        raise RefusedError("this view spans patients; this sign-in is limited to one")


def outcome_aggregates(call: Call) -> OutcomeAggregates:
    """Every figure of the outcome dashboards, read in one transaction."""
    _refuse_one_patient_sign_ins(call)
    live = select(PatientRow.id).where(PatientRow.deleted_at.is_(None))
    # Only the columns the figures use: no ORM objects, and no procedure document parsed
    # (at 10,000 stented patients whole rows cost most of the page's time).
    episodes = list(
        call.session.execute(
            select(
                EpisodeRow.id,
                EpisodeRow.diagnosed_at,
                EpisodeRow.record["onset_at"].as_string().label("onset_at"),
            ).where(EpisodeRow.patient_id.in_(live))
        ).all()
    )
    procedures = list(
        call.session.execute(
            select(
                ProcedureRow.id,
                ProcedureRow.episode_id,
                ProcedureRow.kind,
                ProcedureRow.performed_at,
            )
            .where(ProcedureRow.patient_id.in_(live))
            .order_by(ProcedureRow.performed_at)
        ).all()
    )
    outcomes = list(
        call.session.execute(
            select(
                OutcomeRow.episode_id,
                OutcomeRow.measure,
                OutcomeRow.assessed_at,
                OutcomeRow.record,
            ).where(OutcomeRow.patient_id.in_(live), OutcomeRow.deleted_at.is_(None))
        ).all()
    )
    check_ins = list(
        call.session.execute(
            select(CheckInRow.procedure_id, CheckInRow.submitted_at).where(
                CheckInRow.patient_id.in_(live)
            )
        ).all()
    )
    call.query = QUERY
    by_episode: dict[str, list[Procedure]] = defaultdict(list)
    for procedure in procedures:
        by_episode[procedure.episode_id].append(procedure)
    outcomes_by_episode: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        outcomes_by_episode[outcome.episode_id].append(outcome)
    check_in_times: dict[str, list[datetime]] = defaultdict(list)
    procedure_episode = {p.id: p.episode_id for p in procedures}
    for procedure_id, submitted_at in check_ins:
        check_in_times[procedure_episode.get(procedure_id, "")].append(submitted_at)
    onset, unknown = _onset_to_treatment(episodes, by_episode)
    return OutcomeAggregates(
        survival=[
            sample
            for episode in episodes
            if (
                sample := _survival(
                    by_episode[episode.id],
                    outcomes_by_episode[episode.id],
                    check_in_times[episode.id],
                )
            )
            is not None
        ],
        recanalisation=_recanalisation(outcomes),
        onset_to_treatment=onset,
        onset_unknown=unknown,
        villalta=_villalta(episodes, by_episode, outcomes_by_episode),
        mrs_90=_mrs_90(episodes, outcomes_by_episode),
        episodes=len(episodes),
    )


def _survival(
    procedures: list[Procedure], outcomes: list[Outcome], check_ins: list[datetime]
) -> SurvivalSample | None:
    index = next((p for p in procedures if p.kind in INDEX_KINDS), None)
    if index is None:
        return None
    start = _utc(index.performed_at)
    later = [p for p in procedures if p.id != index.id and _utc(p.performed_at) > start]
    events = [p.performed_at for p in later if p.kind in REINTERVENTION_KINDS]
    events += [
        o.assessed_at
        for o in outcomes
        if o.measure == OutcomeMeasure.RECANALISATION.value
        and o.record.get("recanalisation") == Recanalisation.NONE.value
        and _utc(o.assessed_at) > start
    ]
    if events:
        return SurvivalSample(index.kind, _days(start, min(events, key=_utc)), True)
    contacts = [p.performed_at for p in later] + [o.assessed_at for o in outcomes] + check_ins
    after = [_utc(c) for c in contacts if _utc(c) > start]
    return SurvivalSample(index.kind, _days(start, max(after)) if after else 0.0, False)


def _recanalisation(outcomes: list[Outcome]) -> dict[str, int]:
    counts = Counter(
        str(o.record.get("recanalisation"))
        for o in outcomes
        if o.measure == OutcomeMeasure.RECANALISATION.value
    )
    return {grade.value: counts.get(grade.value, 0) for grade in Recanalisation}


def _episode_start(episode: Episode) -> datetime | None:
    """When an episode's clock starts: its diagnosis, else the recorded onset."""
    if episode.diagnosed_at is not None:
        return cast(datetime, episode.diagnosed_at)
    onset = episode.onset_at
    return datetime.fromisoformat(onset) if isinstance(onset, str) else None


def _onset_to_treatment(
    episodes: list[Episode], by_episode: dict[str, list[Procedure]]
) -> tuple[list[BandSummary], int]:
    hours: dict[str, list[float]] = defaultdict(list)
    unknown = 0
    for episode in episodes:
        treated = by_episode.get(episode.id)
        if not treated:
            continue
        onset = episode.onset_at
        if not isinstance(onset, str):
            unknown += 1
            continue
        elapsed = _days(datetime.fromisoformat(onset), treated[0].performed_at) * 24.0
        hours[_band(max(elapsed, 0.0), ONSET_BANDS)].append(elapsed)
    bands = [
        BandSummary(label, len(hours[label]), median(hours[label]) if hours[label] else None)
        for label, _ in ONSET_BANDS
    ]
    return bands, unknown


def _villalta(
    episodes: list[Episode],
    by_episode: dict[str, list[Procedure]],
    outcomes_by_episode: dict[str, list[Outcome]],
) -> list[BandSummary]:
    """Villalta scores by time since the first procedure (or diagnosis when none)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for episode in episodes:
        treated = by_episode.get(episode.id)
        start = treated[0].performed_at if treated else _episode_start(episode)
        if start is None:
            continue
        for outcome in outcomes_by_episode.get(episode.id, []):
            score = outcome.record.get("score")
            if outcome.measure == OutcomeMeasure.VILLALTA.value and isinstance(score, int):
                elapsed = max(_days(start, outcome.assessed_at), 0.0)
                scores[_band(elapsed, VILLALTA_BANDS)].append(float(score))
    return [
        BandSummary(label, len(scores[label]), median(scores[label]) if scores[label] else None)
        for label, _ in VILLALTA_BANDS
    ]


def _mrs_90(
    episodes: list[Episode], outcomes_by_episode: dict[str, list[Outcome]]
) -> dict[int, int]:
    counts = Counter[int]()
    for episode in episodes:
        start = _episode_start(episode)
        if start is None:
            continue
        nearest: tuple[float, int] | None = None
        for outcome in outcomes_by_episode.get(episode.id, []):
            score = outcome.record.get("score")
            if outcome.measure != OutcomeMeasure.MRS.value or not isinstance(score, int):
                continue
            distance = abs(_days(start, outcome.assessed_at) - MRS_DAY)
            if distance <= MRS_WINDOW_DAYS and (nearest is None or distance < nearest[0]):
                nearest = (distance, score)
        if nearest is not None:
            counts[nearest[1]] += 1
    return {score: counts.get(score, 0) for score in range(7)}
