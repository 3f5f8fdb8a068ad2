"""Patients: the list (by pseudonym) and one patient's timeline of episodes, assessments,
procedures, follow-up tasks, check-ins and outcomes. Every read goes through the registry
door, so each page view is authorised and audited like any other read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.domain.access import Permission
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import N_, render, words

PAGE_SIZE = 50


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline. `title` (and `detail` when `detail_fields` is set) is a
    catalogue message the template translates and fills in the reader's language; record
    data (warnings, advice, outcome values) stays as recorded."""

    at: datetime
    kind: str
    title: str
    title_fields: dict[str, object]
    detail: str
    detail_fields: dict[str, object] | None = None
    link: str | None = None

    @property
    def kind_label(self) -> str:
        return TIMELINE_KINDS[self.kind]


TIMELINE_KINDS = {
    "episode": N_("episode"),
    "assessment": N_("assessment"),
    "procedure": N_("procedure"),
    "check-in": N_("check-in"),
    "outcome": N_("outcome"),
}
"""The timeline's kinds of entry and their tags, as the catalogue has them."""


def build_patient_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/patients", response_class=HTMLResponse)
    def patient_list(request: Request, page: int = 0) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_READ)
        page = max(0, min(page, 100_000))
        patients = registry.list_patients(principal, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE)
        context = page_context(
            request,
            principal,
            kb,
            patients=patients[:PAGE_SIZE],
            page=page,
            more=len(patients) > PAGE_SIZE,
        )
        return HTMLResponse(render("patients.html", context))

    @router.get("/patients/{patient_id}", response_class=HTMLResponse)
    def patient_page(request: Request, patient_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_READ)
        chart = registry.patient_chart(patient_id, principal)
        patient, episodes, procedures = chart.patient, chart.episodes, chart.procedures
        assessments, tasks = chart.assessments, chart.tasks
        check_ins, outcomes = chart.check_ins, chart.outcomes
        timeline = sorted(
            _timeline(episodes, assessments, procedures, check_ins, outcomes),
            key=lambda e: e.at,
            reverse=True,
        )
        context = page_context(
            request,
            principal,
            kb,
            patient=patient,
            episodes=episodes,
            procedures=sorted(procedures, key=lambda p: _aware(p.performed_at), reverse=True),
            may_send_check_in=principal.may(Permission.CHECK_IN_SEND),
            tasks=[t for t in tasks if t.status == "scheduled"],
            timeline=timeline,
            scores=_latest_scores(assessments),
            may_write=principal.may(Permission.PATIENT_WRITE),
            may_complete=principal.may(Permission.TASK_WRITE),
            may_open_patients=True,
        )
        return HTMLResponse(render("patient.html", context))

    return router


def _aware(moment: datetime | date) -> datetime:
    if not isinstance(moment, datetime):
        return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _timeline(
    episodes: list[Any],
    assessments: list[Any],
    procedures: list[Any],
    check_ins: list[Any],
    outcomes: list[Any],
) -> list[TimelineEntry]:
    entries: list[TimelineEntry] = []
    for e in episodes:
        when = e.diagnosed_at or e.onset_at or e.created_at
        title_fields: dict[str, object] = {
            "condition": words(e.condition),
            "status": words(e.status),
        }
        entries.append(
            TimelineEntry(
                _aware(when),
                "episode",
                N_("%(condition)s (%(status)s)"),
                title_fields,
                words(e.pathway or ""),
            )
        )
    for a in assessments:
        entries.append(_assessment_entry(a))
    for p in procedures:
        entries.append(
            TimelineEntry(
                _aware(p.performed_at),
                "procedure",
                N_("%(kind)s (number %(n)s in this episode)"),
                {"kind": words(p.kind), "n": p.repeat_number},
                "; ".join(p.warnings),
            )
        )
    for c in check_ins:
        entries.append(
            TimelineEntry(
                _aware(c.submitted_at),
                "check-in",
                N_("Check-in: %(advice)s"),
                {"advice": words(c.advice)},
                c.advice_text,
                link=f"/check-ins/{c.id}",
            )
        )
    for o in outcomes:
        entries.append(
            TimelineEntry(
                _aware(o.assessed_at),
                "outcome",
                "%(measure)s",
                {"measure": words(o.measure)},
                _outcome_text(o),
            )
        )
    return entries


def _assessment_entry(a: Any) -> TimelineEntry:
    urgency = a.result.get("urgency")
    return TimelineEntry(
        _aware(a.evaluated_at),
        "assessment",
        N_("Assessment: %(urgency)s") if urgency else N_("Assessment: no action in favour"),
        {"urgency": words(urgency)} if urgency else {},
        N_("%(count)s recommendations · knowledge %(version)s"),
        {"count": len(a.result.get("recommendations", [])), "version": a.knowledge_version},
        f"/evaluate?assessment={a.id}",
    )


def _outcome_text(outcome: Any) -> str:
    shown = outcome.model_dump(
        exclude={"id", "patient_id", "episode_id", "created_at", "assessed_at", "measure"},
        exclude_none=True,
    )
    return ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in shown.items())


def _latest_scores(assessments: list[Any]) -> list[dict[str, Any]]:
    """The scores of the newest assessment that has any."""
    for assessment in sorted(assessments, key=lambda a: _aware(a.evaluated_at), reverse=True):
        scores = assessment.result.get("scores") or {}
        if scores:
            return list(scores.values())
    return []
