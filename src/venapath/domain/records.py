"""Registry records as value types: what a coordinator writes, checked before anything is stored.

These models are the one definition of a record shared by the REST API, the CLI, the FHIR
exchange and the database layer. Validation happens here, so a bad value is refused with the
field's name before a transaction starts (nothing is half-written). Checks that need other
records (a follow-up before its procedure, an unknown patient) live in the registry service.

Procedure-report elements follow what the sources report (research notes: cvt.md section 10,
dvt.md section 3; seeds 002 and 004); they are not a formal standard. The SIR thrombus-removal
grade cut-offs could not be confirmed at a source, so the raw percentage is stored and only the
confirmed ">= 50% lysis" threshold (CaVenT sub-analysis, Haig 2013) is derived from it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from venapath.domain.anatomy import SEGMENTS
from venapath.domain.case import (
    ConditionName,
    Days,
    Flag,
    Indication,
    Moment,
    Percent,
    ProcedureKind,
    Provocation,
    Sex,
    SymptomResponse,
)
from venapath.domain.text import first_unstorable
from venapath.domain.vocabulary import Side

SEGMENT_IDS = frozenset(segment.id for segment in SEGMENTS)
LYSIS_SUCCESS_PERCENT = 50.0
"""Successful lysis: >= 50% clot resolution (CaVenT sub-analysis; Haig et al., JVIR 2013)."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=4000)]
Amount = Annotated[float, Field(strict=True, gt=0)]
NonNegative = Annotated[float, Field(strict=True, ge=0)]
MAX_DEVICES = 50
"""Devices in one procedure report; more is a client error (the review stored 10,000)."""
MAX_VERSION = 2**31 - 1
"""Record versions count edits; a larger number is a client error, not a database overflow."""


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _storable(cls, value: object) -> object:
        """Every text field, nested ones included: NUL and lone surrogates are refused here,
        naming the field, instead of failing inside a transaction (`domain/text.py`)."""
        found = first_unstorable(value)
        if found is not None:
            where, reason = found
            raise ValueError(f"{where.lstrip('/') + ': ' if where else ''}{reason}")
        return value


SegmentIds = Annotated[
    tuple[str, ...],
    Field(json_schema_extra={"items": {"type": "string", "enum": sorted(SEGMENT_IDS)}}),
]
"""Venous segment ids (`domain/anatomy.py`), each at most once; the schema lists the ids so
that clients (and generated tests) know them, `_check_segments` names the ones refused."""


def _check_segments(segments: tuple[str, ...], field: str) -> None:
    unknown = sorted(set(segments) - SEGMENT_IDS)
    if unknown:
        raise ValueError(f"{field}: unknown venous segment(s) {', '.join(unknown[:5])}")
    if len(set(segments)) != len(segments):
        raise ValueError(f"{field}: a venous segment is listed more than once")


# ---------------------------------------------------------------------------- patient


class PatientIn(_Record):
    """A patient is known by a pseudonym; the hospital number (MRN) is stored apart from it."""

    pseudonym: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{3,64}$")] | None = Field(
        default=None, description="Generated when absent."
    )
    mrn: Text | None = Field(default=None, description="Kept in a separate table; never exported.")
    sex: Sex | None = None
    birth_year: int | None = Field(default=None, strict=True, ge=1900, le=2100)


class PatientOut(_Record):
    id: str
    pseudonym: str
    sex: Sex | None
    birth_year: int | None
    version: int
    created_at: datetime
    updated_at: datetime


class PatientUpdate(_Record):
    """Fields that may change; `version` is the one the caller last read."""

    version: int = Field(strict=True, ge=1, le=MAX_VERSION)
    sex: Sex | None = None
    birth_year: int | None = Field(default=None, strict=True, ge=1900, le=2100)


# ---------------------------------------------------------------------------- episode


class EpisodeStatus(StrEnum):
    ACTIVE = "active"
    CLOSED = "closed"


class EpisodeIn(_Record):
    patient_id: str
    condition: ConditionName
    pathway: Text | None = Field(default=None, description="A knowledge-base pathway id.")
    indication: Indication | None = Field(
        default=None, description="Why a venous procedure is done (follow-up protocols use it)."
    )
    segments: SegmentIds = ()
    side: Side | None = None
    onset_at: Moment | None = None
    diagnosed_at: Moment | None = None
    provocation: Provocation | None = Field(default=None, description="Absent means unknown.")
    anticoagulation_planned_end: date | None = None
    notes: Note | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_segments(self.segments, "segments")
        if self.onset_at and self.diagnosed_at and self.diagnosed_at < self.onset_at:
            raise ValueError("diagnosed_at: is before onset_at")
        if (
            self.anticoagulation_planned_end
            and self.diagnosed_at
            and self.anticoagulation_planned_end < self.diagnosed_at.date()
        ):
            raise ValueError("anticoagulation_planned_end: is before diagnosed_at")
        return self


class EpisodeOut(EpisodeIn):
    id: str
    status: EpisodeStatus
    schedule_needs: list[str] = Field(
        default=[], description="Follow-up protocols that apply but lack the date they count from."
    )
    version: int
    created_at: datetime
    updated_at: datetime


class EpisodeUpdate(_Record):
    version: int = Field(strict=True, ge=1, le=MAX_VERSION)
    status: EpisodeStatus | None = None
    anticoagulation_planned_end: date | None = None
    provocation: Provocation | None = None
    notes: Note | None = None


# --------------------------------------------------------------------- procedure report


class DeviceClass(StrEnum):
    ASPIRATION_CATHETER = "aspiration_catheter"
    STENT_RETRIEVER = "stent_retriever"
    BALLOON = "balloon"
    STENT = "stent"
    RHEOLYTIC = "rheolytic"
    INFUSION_CATHETER = "infusion_catheter"
    OTHER = "other"


class Device(_Record):
    device_class: DeviceClass
    name: Text | None = Field(
        default=None, description="Make and model as written by the operator."
    )
    size: Text | None = Field(default=None, description="e.g. '14 mm x 60 mm', '8 F'.")


class ThrombolyticAgent(StrEnum):
    ALTEPLASE = "alteplase"
    UROKINASE = "urokinase"
    TENECTEPLASE = "tenecteplase"
    RETEPLASE = "reteplase"


class DoseUnit(StrEnum):
    MG = "mg"
    INTERNATIONAL_UNITS = "IU"


MAX_PLAUSIBLE_DOSE = {"mg": 1_000.0, "IU": 50_000_000.0}
"""Plausibility bounds, not clinical limits: far above any thrombolytic course (catheter-
directed or systemic) in either unit, they catch typing errors such as 1e30."""


class Thrombolysis(_Record):
    agent: ThrombolyticAgent
    total_dose: Amount
    dose_unit: DoseUnit
    duration_hours: Amount | None = Field(
        default=None, le=168, description="At most a week (a plausibility bound)."
    )

    @model_validator(mode="after")
    def _plausible_dose(self) -> Self:
        ceiling = MAX_PLAUSIBLE_DOSE[self.dose_unit.value]
        if self.total_dose > ceiling:
            raise ValueError(
                f"total_dose: {self.total_dose:g} {self.dose_unit.value} is not plausible "
                f"(more than {ceiling:,.0f})"
            )
        return self


class QureshiGrade(StrEnum):
    """Qureshi recanalisation grade for CVT (Farrag 2010): none, I, IIA, IIB, III."""

    NONE = "none"
    I = "I"  # noqa: E741 - the grade is called I
    IIA = "IIA"
    IIB = "IIB"
    III = "III"


class SirClass(StrEnum):
    """SIR adverse-event class by outcome (legacy scale): A-B minor, C-F major."""

    A = "A"
    B = "B"
    C = "C"
    D = "D"
    E = "E"
    F = "F"

    @property
    def major(self) -> bool:
        return self in (SirClass.C, SirClass.D, SirClass.E, SirClass.F)


class Complication(_Record):
    description: Text
    sir_class: SirClass


class AccessVein(StrEnum):
    COMMON_FEMORAL = "common_femoral_vein"
    FEMORAL = "femoral_vein"
    POPLITEAL = "popliteal_vein"
    POSTERIOR_TIBIAL = "posterior_tibial_vein"
    INTERNAL_JUGULAR = "internal_jugular_vein"
    BASILIC = "basilic_vein"
    BRACHIAL = "brachial_vein"
    SMALL_SAPHENOUS = "small_saphenous_vein"
    LUMBAR_EPIDURAL = "lumbar_epidural_space"
    OTHER = "other"


class PostProcedureChecklist(_Record):
    """Seed 004: pressure for haemostasis, a monitoring period, an anticoagulant at discharge."""

    haemostasis_by_pressure: Flag | None = None
    monitoring_hours: NonNegative | None = Field(default=None, le=720)
    discharge_anticoagulant: Text | None = Field(
        default=None, description="Agent prescribed at discharge; 'none' if none was."
    )


class ProcedureIn(_Record):
    episode_id: str
    kind: ProcedureKind
    performed_at: Moment
    operator: Text | None = None
    access_vein: AccessVein | None = None
    access_side: Side | None = None
    sheath_french: float | None = Field(default=None, strict=True, ge=3, le=30)
    treated_segments: SegmentIds = ()
    devices: tuple[Device, ...] = Field(default=(), max_length=MAX_DEVICES)
    thrombolysis: Thrombolysis | None = None
    contrast_ml: NonNegative | None = Field(default=None, le=2000)
    fluoroscopy_minutes: NonNegative | None = Field(default=None, le=600)
    qureshi_before: QureshiGrade | None = None
    qureshi_after: QureshiGrade | None = None
    thrombus_removed_percent: Percent | None = None
    residual_stenosis_percent: Percent | None = None
    complications: tuple[Complication, ...] = ()
    checklist: PostProcedureChecklist | None = None
    notes: Note | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_segments(self.treated_segments, "treated_segments")
        return self

    @property
    def lysis_at_least_half(self) -> bool | None:
        """True when >= 50% of thrombus was removed (the CaVenT success threshold)."""
        if self.thrombus_removed_percent is None:
            return None
        return self.thrombus_removed_percent >= LYSIS_SUCCESS_PERCENT


class ProcedureOut(ProcedureIn):
    id: str
    patient_id: str
    repeat_number: int = Field(
        description="1 for the first procedure of this kind in the episode, 2 for the next..."
    )
    lysis_success: bool | None = Field(description=">= 50% thrombus removed (Haig 2013).")
    warnings: list[str] = Field(
        default=[],
        description="Protocol notes for the operator, e.g. a repeat sooner than advised.",
    )
    version: int
    created_at: datetime


# --------------------------------------------------------------------------- check-in


class CheckInIn(_Record):
    """What the patient reports after a procedure, in the words of the seed 003 protocol."""

    procedure_id: str
    submitted_at: Moment
    symptom_response: SymptomResponse | None = None
    symptoms_back_within_hours: Flag | None = None
    improvement_lasted_days: Days | None = None
    reverted_for_days: Days | None = None
    worsening_for_days: Days | None = None
    fever_or_urinary_symptoms: Flag | None = None
    comment: Note | None = None


class PatientAdvice(StrEnum):
    EMERGENCY = "emergency"
    CALL_TODAY = "call_today"
    ROUTINE = "routine"


class CheckInOut(CheckInIn):
    id: str
    patient_id: str
    advice: PatientAdvice
    advice_text: str
    assessment_id: str
    urgent_task_id: str | None


# ---------------------------------------------------------------------------- outcome


class OutcomeMeasure(StrEnum):
    MRS = "mrs"
    VILLALTA = "villalta"
    RECANALISATION = "recanalisation"
    POST_THROMBOTIC_SYNDROME = "post_thrombotic_syndrome"
    DEATH = "death"


class Recanalisation(StrEnum):
    COMPLETE = "complete"
    PARTIAL = "partial"
    NONE = "none"


_OUTCOME_RANGES: dict[OutcomeMeasure, tuple[int, int]] = {
    OutcomeMeasure.MRS: (0, 6),
    OutcomeMeasure.VILLALTA: (0, 33),
}


class OutcomeIn(_Record):
    episode_id: str
    measure: OutcomeMeasure
    assessed_at: Moment
    score: int | None = Field(default=None, strict=True, description="mRS 0-6 or Villalta 0-33.")
    venous_ulcer: Flag | None = Field(default=None, description="Villalta: an ulcer means severe.")
    recanalisation: Recanalisation | None = None
    present: Flag | None = Field(default=None, description="PTS present; death occurred.")
    imaging_modality: Text | None = None
    notes: Note | None = None

    @model_validator(mode="after")
    def _value_matches_measure(self) -> Self:
        if self.measure in _OUTCOME_RANGES:
            low, high = _OUTCOME_RANGES[self.measure]
            if self.score is None:
                raise ValueError(f"score: required for {self.measure.value}")
            if not low <= self.score <= high:
                raise ValueError(f"score: {self.measure.value} runs from {low} to {high}")
        elif self.score is not None:
            raise ValueError(f"score: not used for {self.measure.value}")
        if self.measure is OutcomeMeasure.RECANALISATION and self.recanalisation is None:
            raise ValueError("recanalisation: required for a recanalisation outcome")
        needs_flag = (OutcomeMeasure.POST_THROMBOTIC_SYNDROME, OutcomeMeasure.DEATH)
        if self.measure in needs_flag and self.present is None:
            raise ValueError(f"present: required for {self.measure.value}")
        return self


class OutcomeOut(OutcomeIn):
    id: str
    patient_id: str
    created_at: datetime


# ------------------------------------------------------------------------ assessments


class AssessmentOut(_Record):
    """An evaluation as stored: the inputs and knowledge version reproduce it exactly."""

    id: str
    patient_id: str
    episode_id: str | None
    case: dict[str, object]
    result: dict[str, object]
    knowledge_version: str
    evaluated_at: datetime
    created_by: str


# ------------------------------------------------------------------------ follow-up tasks


class TaskStatus(StrEnum):
    SCHEDULED = "scheduled"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskState(StrEnum):
    """Where a scheduled task stands on a given day (derived, never stored)."""

    CALL_TODAY = "call_today"
    OVERDUE = "overdue"
    DUE = "due"
    UPCOMING = "upcoming"
    DONE = "done"
    CANCELLED = "cancelled"


class TaskOut(_Record):
    id: str
    patient_id: str
    pseudonym: str
    episode_id: str | None
    procedure_id: str | None
    protocol_id: str | None
    protocol_version: int | None
    step_id: str | None
    kind: str
    title: str
    due_from: date
    due_by: date
    urgent: bool
    reason: str
    status: TaskStatus
    completed_at: datetime | None
    version: int


class TaskUpdate(_Record):
    version: int = Field(strict=True, ge=1, le=MAX_VERSION)
    status: TaskStatus
    completed_at: Moment | None = None
    note: Note | None = None


class AuditEntry(_Record):
    id: int
    at: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, object] | None
    after: dict[str, object] | None
