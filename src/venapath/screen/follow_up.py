"""Follow-up visits due and overdue, from the knowledge base's protocols and the export's dates.

The protocols (`kb/data/follow_up_protocols.yaml`) are the ones the registry schedules
tasks from; here their steps are laid over each patient's anchor date in the engine:
- procedure protocols count from the latest venoplasty or venous stent;
- diagnosis protocols count from the first confirmed diagnosis of their condition;
- protocols anchored on the planned end of anticoagulation are left out: a Bulk export does
  not say when anticoagulation is meant to stop.

A step is *due* while its window is open. It is *overdue* when its window has closed and the
next step's has not opened: the visit a coordinator would chase now. A Bulk export carries
no record the knowledge base can read of the visit itself (no value set names a follow-up
duplex or clinic review), so "overdue" means "window closed, no visit readable here"; the
registry's worklist (`venapath followup due`) knows which were done.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import ibis
import ibis.expr.types as ir

from venapath.kb.model import KnowledgeBase
from venapath.kb.protocols import Anchor, FollowUpProtocol, Offset

REPEATS_LAID_OUT = 30
"""Occurrences of a repeating step (a yearly duplex) laid out ahead: 30 years of stents."""


@dataclass(frozen=True)
class _Occurrence:
    label: str
    opens: Offset
    closes: Offset
    repeat: Offset | None
    times: int


def _occurrences(protocol: FollowUpProtocol) -> list[_Occurrence]:
    laid_out = []
    for step in protocol.steps:
        label = f"{protocol.id}/{step.id}"
        laid_out.append(_Occurrence(label, step.opens, step.closes, None, 0))
        if step.repeat_every is not None:
            laid_out.extend(
                _Occurrence(label, step.opens, step.closes, step.repeat_every, k)
                for k in range(1, REPEATS_LAID_OUT + 1)
            )
    return laid_out


def _after(anchor: ir.DateValue, offset: Offset, repeat: Offset | None, times: int) -> ir.Value:
    months = offset.months + (repeat.months * times if repeat else 0)
    days = offset.days + 7 * offset.weeks
    if repeat is not None:
        days += (repeat.days + 7 * repeat.weeks) * times
    moved = anchor
    if months:
        moved = moved + ibis.interval(months=months)
    if days:
        moved = moved + ibis.interval(days=days)
    return moved.cast("date")


def _anchor(cases: ir.Table, protocol: FollowUpProtocol) -> ir.Value | None:
    if protocol.anchor is Anchor.PROCEDURE:
        kinds = [kind.value for kind in protocol.applies_to.procedure_kinds]
        applies = cases.follow_up_kind.isin(kinds)
        return applies.ifelse(cases.follow_up_date.date(), ibis.null("date"))
    if protocol.anchor is Anchor.DIAGNOSIS:
        labels = [f"{c.value}:confirmed" for c in protocol.applies_to.conditions]
        diagnosed = ibis.or_(*(cases.diagnoses.contains(label) for label in labels))
        return diagnosed.fill_null(False).ifelse(cases.diagnosed_at.date(), ibis.null("date"))
    return None


def follow_up_columns(cases: ir.Table, kb: KnowledgeBase, today: date) -> ir.Table:
    """`patient_id`, `follow_up_due` and `follow_up_overdue` (arrays of "protocol/step")."""
    day = ibis.literal(today, type="date")
    due: list[ir.Value] = []
    overdue: list[ir.Value] = []
    for protocol in kb.follow_up_protocols:
        anchor = _anchor(cases, protocol)
        if anchor is None:
            continue
        steps = _occurrences(protocol)
        opens = [_after(anchor, s.opens, s.repeat, s.times) for s in steps]
        closes = [_after(anchor, s.closes, s.repeat, s.times) for s in steps]
        open_now = [(o <= day) & (day <= c) for o, c in zip(opens, closes, strict=True)]
        due.append(
            ibis.cases(
                *((is_open, s.label) for is_open, s in zip(open_now, steps, strict=True)),
                else_=ibis.null(str),
            )
        )
        chased = []
        for index, step in enumerate(steps):
            next_opens = opens[index + 1] if index + 1 < len(steps) else None
            waiting = closes[index] < day
            if next_opens is not None:
                waiting = waiting & (next_opens > day)
            chased.append((waiting, step.label))
        overdue.append(ibis.cases(*chased, else_=ibis.null(str)))
    return cases.select(
        "patient_id",
        follow_up_due=_present(due),
        follow_up_overdue=_present(overdue),
    )


def _present(values: list[ir.Value]) -> ir.ArrayValue:
    if not values:
        return ibis.literal([], type="array<string>")
    return ibis.array(values).filter(lambda item: item.notnull())
