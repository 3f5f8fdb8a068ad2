"""Follow-up protocols as versioned, cited data: what a procedure or an episode schedules.

A protocol says when it applies (procedure kinds, or episode conditions), what its clock is
(the procedure date, the diagnosis date, or the planned end of anticoagulation) and its
steps, each with the day its window opens and the day it closes. Editing a schedule is a
knowledge-base change with a new protocol `version`, never a code change; tasks remember the
protocol version that created them.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from venapath.domain.case import ConditionName, ProcedureKind

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Anchor(StrEnum):
    """The clock a protocol's offsets count from."""

    PROCEDURE = "procedure"
    DIAGNOSIS = "diagnosis"
    ANTICOAGULATION_END = "anticoagulation_end"


class Offset(BaseModel):
    """A calendar distance; months are calendar months (31 January + 1 month = 28/29 February)."""

    model_config = _STRICT
    days: int = Field(
        default=0, ge=-365, le=3660, description="Negative: before the anchor (a review ahead)."
    )
    weeks: int = Field(default=0, ge=0, le=520)
    months: int = Field(default=0, ge=0, le=120)

    def after(self, start: date) -> date:
        return _add_months(start, self.months) + timedelta(days=self.days, weeks=self.weeks)


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")


class Step(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    kind: str = Field(pattern=r"^[a-z_]+$", description="duplex, imaging, clinic_review, ...")
    title: str = Field(min_length=3)
    opens: Offset = Field(description="The window opens this long after the anchor.")
    closes: Offset = Field(description="After this, the task is overdue.")
    repeat_every: Offset | None = Field(
        default=None, description="When done, the next one is scheduled this long after."
    )


class ProtocolCitation(BaseModel):
    model_config = _STRICT
    source: str
    evidence: str = Field(min_length=2)
    locator: str | None = None


class Applies(BaseModel):
    model_config = _STRICT
    procedure_kinds: tuple[ProcedureKind, ...] = ()
    conditions: tuple[ConditionName, ...] = ()

    @model_validator(mode="after")
    def _one_trigger(self) -> Self:
        if bool(self.procedure_kinds) == bool(self.conditions):
            raise ValueError("applies_to: give procedure_kinds or conditions (one of them)")
        return self


class FollowUpProtocol(BaseModel):
    model_config = _STRICT
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    version: int = Field(ge=1)
    title: str = Field(min_length=5)
    applies_to: Applies
    anchor: Anchor
    steps: tuple[Step, ...] = Field(min_length=1)
    citations: tuple[ProtocolCitation, ...] = Field(min_length=1)
    notes: str = ""
    earliest_repeat: Offset | None = Field(
        default=None,
        description="A repeat procedure of this kind sooner than this after the last one is "
        "flagged to the operator (seed 003: wait 4-6 weeks).",
    )
    repeats_before_stent: int | None = Field(default=None, ge=1, le=10)

    @model_validator(mode="after")
    def _windows_open_before_they_close(self) -> Self:
        reference = date(2001, 1, 31)
        for step in self.steps:
            if step.closes.after(reference) < step.opens.after(reference):
                raise ValueError(f"steps.{step.id}: closes before it opens")
        if len({step.id for step in self.steps}) != len(self.steps):
            raise ValueError("steps: duplicate step id")
        if self.anchor is Anchor.PROCEDURE and not self.applies_to.procedure_kinds:
            raise ValueError("anchor: a procedure-anchored protocol needs procedure_kinds")
        return self

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"
