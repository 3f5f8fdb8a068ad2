"""The knowledge base as typed data: sources, rules, pathways, time windows.

Loading (kb/loader.py) turns the YAML under kb/data/ into these objects and refuses
anything it cannot vouch for: a rule without a source, with an unknown fact, or with a
malformed condition is an error naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, HttpUrl

from venapath.domain.vocabulary import Action, SourceKind, Strength, Urgency
from venapath.kb.codes import CodeIndex
from venapath.kb.conditions import Compiled, Condition
from venapath.kb.protocols import FollowUpProtocol
from venapath.kb.value_sets import ValueSet

SAFETY_PATHWAY = "safety"
"""Contraindication rules belong to no clinical pathway: they screen every patient."""

UNGRADED_SOURCE_KINDS = frozenset(
    {
        SourceKind.CASE_REPORT,
        SourceKind.PRACTICE_STATEMENT,
        SourceKind.CLINIC_PROTOCOL,
        SourceKind.PATIENT_INFORMATION,
        SourceKind.REVIEW,
    }
)
"""Sources that can describe a practice (narrative reviews included) but never grade a treatment: a rule resting on
these alone may say "consider" at most, and says which kind of evidence it is."""

SAFETY_NET_ACTIONS = frozenset(
    {
        Action.EMERGENCY_CARE,
        Action.DIAGNOSTIC_IMAGING,
        Action.LABORATORY_WORKUP,
        Action.SPECIALIST_REFERRAL,
    }
)
"""Advice that errs towards care (seek emergency care, call the specialist today, get
imaging or blood tests): exempt from the ungraded-source cap, because following it
can only bring the patient in front of someone who can decide."""

RULE_ID = r"^[A-Z][A-Z0-9]*(-[A-Z0-9]+)+$"
_STRICT = ConfigDict(extra="forbid", frozen=True)


class Source(BaseModel):
    """One entry of the bibliography. `kind` keeps clinic protocols apart from guidelines."""

    model_config = _STRICT
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = Field(min_length=5)
    authors: str | None = None
    year: int | None = Field(
        default=None,
        ge=1900,
        le=2100,
        description="Null for undated web pages (the seed documents).",
    )
    kind: SourceKind
    publication: str | None = None
    doi: str | None = None
    pmid: str | None = None
    url: HttpUrl | None = None
    grading: str | None = Field(default=None, description="The grading system the source uses.")
    note: str | None = None


class CitationSpec(BaseModel):
    """One source behind a rule, with where it says so and when someone last read it there.

    `locator`, `quote` and `checked` are what lets a reviewer re-check a rule in minutes:
    the statement number or page, the words (or a faithful paraphrase) that carry the
    rule, and the date they were last read at the source. Rules must carry all three
    (kb/loader.py refuses a rule citation without them).
    """

    model_config = _STRICT
    source: str
    evidence: str = Field(
        min_length=2, description="Class/level or strength as the source states it."
    )
    locator: str | None = Field(
        default=None, description="Statement number, section, page or table."
    )
    quote: str | None = Field(
        default=None,
        min_length=10,
        description="A short quote, or a faithful paraphrase marked as such, of what the "
        "source says at `locator`.",
    )
    checked: date | None = Field(
        default=None, description="The day the quote was last read at the source."
    )


class RuleKind(StrEnum):
    RECOMMENDATION = "recommendation"
    CONTRAINDICATION = "contraindication"
    ALERT = "alert"


class AlertSeverity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


class RecommendSpec(BaseModel):
    model_config = _STRICT
    action: Action
    strength: Strength
    urgency: Urgency
    detail: dict[str, str] = Field(default_factory=dict)


class ContraindicationSpec(BaseModel):
    model_config = _STRICT
    actions: list[Action] = Field(min_length=1)
    ceiling: Strength
    severity: str = Field(pattern=r"^(absolute|relative)$")


class AlertSpec(BaseModel):
    model_config = _STRICT
    severity: AlertSeverity
    message: str = Field(min_length=5)


class RuleSpec(BaseModel):
    """A rule as written in YAML (before its condition is parsed)."""

    model_config = _STRICT
    id: str = Field(pattern=RULE_ID)
    pathway: str
    kind: RuleKind = RuleKind.RECOMMENDATION
    title: str = Field(min_length=5)
    when: dict[str, object]
    provided: dict[str, object] | None = Field(
        default=None,
        description="Safety facts to check before acting (recommendation rules only). False "
        "drops the recommendation; unknown keeps it, provisional, naming the facts to check: "
        "an unknown safety fact never drops an option.",
    )
    unless: dict[str, object] | None = Field(
        default=None,
        description="Recorded facts that withdraw the rule (recommendation rules only): true "
        "withdraws it, unknown leaves it standing and asks nothing. For advice that only holds "
        "when nothing else calls for the opposite, e.g. 'no anticoagulation for a calf "
        "thrombus' when a CVT or a proximal DVT is recorded.",
    )
    recommend: RecommendSpec | None = None
    contraindication: ContraindicationSpec | None = None
    alert: AlertSpec | None = None
    rationale: str = Field(min_length=20)
    citations: list[CitationSpec] = Field(min_length=1)
    disagrees_with: list[str] = Field(default_factory=list)


class PathwaySpec(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: str
    description: str
    applies_when: dict[str, object]


class TimeWindowSpec(BaseModel):
    """A time limit a cited source gives for an action, measured on a clock fact."""

    model_config = _STRICT
    id: str = Field(pattern=RULE_ID)
    pathway: str
    label: str
    actions: list[Action] = Field(min_length=1)
    clock: str
    limit: float = Field(gt=0)
    unit: str = Field(pattern=r"^(h|d)$")
    bound: str = Field(
        default="upper",
        pattern=r"^(upper|lower)$",
        description="upper: act before the limit; lower: not before the limit.",
    )
    meaning: str = Field(description="What it means to be inside or past the window.")
    citations: list[CitationSpec] = Field(min_length=1)


class Manifest(BaseModel):
    model_config = _STRICT
    name: str
    version: str = Field(pattern=r"^\d+\.\d+\.\d+$")
    released: str
    description: str


# ----------------------------------------------------------------- loaded (compiled) forms


@dataclass(frozen=True)
class Citation:
    source: Source
    evidence: str
    locator: str | None
    quote: str | None = None
    checked: date | None = None


@dataclass(frozen=True)
class Rule:
    id: str
    pathway: str
    kind: RuleKind
    title: str
    condition: Condition
    check: Compiled
    rationale: str
    citations: tuple[Citation, ...]
    facts: frozenset[str]
    recommend: RecommendSpec | None = None
    contraindication: ContraindicationSpec | None = None
    alert: AlertSpec | None = None
    disagrees_with: tuple[str, ...] = ()
    provided: Condition | None = None
    """Facts to check before acting: false drops the rule, unknown leaves it provisional."""
    provided_check: Compiled | None = None
    unless: Condition | None = None
    """Facts that withdraw the rule when known true; unknown leaves it standing."""
    unless_check: Compiled | None = None


@dataclass(frozen=True)
class Pathway:
    id: str
    title: str
    description: str
    condition: Condition
    check: Compiled
    facts: frozenset[str]


@dataclass(frozen=True)
class TimeWindow:
    id: str
    pathway: str
    label: str
    actions: tuple[Action, ...]
    clock: str
    limit: float
    unit: str
    bound: str
    meaning: str
    citations: tuple[Citation, ...]


@dataclass(frozen=True)
class KnowledgeBase:
    """Everything the engine needs, already checked and compiled."""

    manifest: Manifest
    content_hash: str
    sources: dict[str, Source]
    pathways: tuple[Pathway, ...]
    rules: tuple[Rule, ...]
    time_windows: tuple[TimeWindow, ...]
    value_sets: tuple[ValueSet, ...] = ()
    codes: CodeIndex = field(default_factory=lambda: CodeIndex(()))
    rules_by_pathway: dict[str, tuple[Rule, ...]] = field(default_factory=dict)
    follow_up_protocols: tuple[FollowUpProtocol, ...] = ()

    @property
    def version(self) -> str:
        """The knowledge version every output names: release plus content hash."""
        return f"{self.manifest.version}+{self.content_hash[:12]}"

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)
