"""The output contract: what one evaluation says about one case.

`venapath schema result` publishes the JSON Schema of `Assessment`; docs/result-format.md
explains each field. Every recommendation carries its rule id, rationale, citations and
evidence; every assessment names the knowledge version that produced it.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from venapath.domain.vocabulary import Action, SourceKind, Strength, Urgency
from venapath.scores.base import ScoreResult

_OUT = ConfigDict(frozen=True)

RESULT_FORMAT_VERSION = 3
"""Version of this output contract (docs/result-format.md). 2 added `format_version`, the
recommendation's `unchecked_facts`, and agent-level actions (`direct_oral_anticoagulant`).
3 added the site-level actions `cerebral_venous_imaging`, `cerebral_venous_thrombolysis`
and `cerebral_venous_thrombectomy` (the CVT rules' imaging and endovascular advice) and
orders `needs_data` by what each fact could change."""


class CitationOut(BaseModel):
    model_config = _OUT
    id: str
    title: str
    year: int | None
    kind: SourceKind
    evidence: str = Field(description="Class/level or strength exactly as the source states it.")
    locator: str | None = Field(default=None, description="Statement, section, page or table.")
    quote: str | None = Field(
        default=None, description="What the source says there (a paraphrase says so)."
    )
    checked: date | None = Field(
        default=None, description="When the quote was last read at the source."
    )
    url: str | None = None


class Certainty(StrEnum):
    FIRM = "firm"
    PROVISIONAL = "provisional"


class Recommendation(BaseModel):
    model_config = _OUT
    action: Action
    strength: Strength = Field(description="After every confirmed contraindication was applied.")
    urgency: Urgency
    rule_id: str
    pathway: str
    title: str
    rationale: str
    citations: list[CitationOut]
    detail: dict[str, str] = {}
    rule_strength: Strength = Field(
        description="What the rule itself says, before contraindications."
    )
    capped_by: list[str] = Field(default=[], description="Contraindication rules that lowered it.")
    certainty: Certainty = Field(
        description="provisional when a contraindication could not be checked for lack of data."
    )
    pending_contraindications: list[str] = []
    unchecked_facts: list[str] = Field(
        default=[],
        description="Safety facts the rule asks to check before acting that are unknown: the "
        "option is shown, provisional, until they are checked (see needs_data).",
    )


class Contraindication(BaseModel):
    model_config = _OUT
    rule_id: str
    title: str
    actions: list[Action]
    ceiling: Strength
    severity: str
    rationale: str
    citations: list[CitationOut]


class WindowStatus(StrEnum):
    WITHIN = "within"
    PASSED = "passed"
    UNKNOWN = "unknown"


class TimeWindowOut(BaseModel):
    model_config = _OUT
    id: str
    label: str
    actions: list[Action]
    clock: str
    limit: float
    unit: str
    bound: str = Field(description="upper: act before the limit; lower: not before the limit.")
    elapsed: float | None
    status: WindowStatus
    meaning: str
    citations: list[CitationOut]


class NeedsData(BaseModel):
    model_config = _OUT
    fact: str
    description: str
    settled_by: list[str] = Field(description="Case fields (JSON pointers) that would settle it.")
    why: list[str]
    rules: list[str]


class AlertOut(BaseModel):
    model_config = _OUT
    id: str
    severity: str
    message: str
    rule_id: str | None = None
    rationale: str | None = None
    citations: list[CitationOut] = []


class ErrorEntry(BaseModel):
    model_config = _OUT
    rule_id: str
    message: str


class Outcome(StrEnum):
    FIRED = "fired"
    NOT_FIRED = "not_fired"
    UNKNOWN = "unknown"
    ERROR = "error"


class TraceEntry(BaseModel):
    model_config = _OUT
    rule_id: str
    outcome: Outcome
    reasons: list[str]


class PathwayStatus(StrEnum):
    APPLIES = "applies"
    POSSIBLE = "possible"


class PathwayOut(BaseModel):
    model_config = _OUT
    id: str
    title: str
    status: PathwayStatus


class Assessment(BaseModel):
    """One evaluation of one case by one knowledge version."""

    model_config = _OUT
    format_version: int = Field(
        default=RESULT_FORMAT_VERSION,
        description="Version of the result format; a consumer checks it before reading.",
    )
    case_id: str
    evaluated_at: datetime
    knowledge_version: str
    pathways: list[PathwayOut]
    urgency: Urgency | None = Field(description="The most urgent action in favour; null if none.")
    recommendations: list[Recommendation]
    contraindications: list[Contraindication]
    time_windows: list[TimeWindowOut]
    scores: dict[str, ScoreResult]
    needs_data: list[NeedsData]
    alerts: list[AlertOut]
    errors: list[ErrorEntry]
    trace: list[TraceEntry]
