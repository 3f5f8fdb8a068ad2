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
from venapath.web.templating import render

PAGE_SIZE = 50


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str
    title: str
    detail: str
    link: str | None = None


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
        entries.append(
            TimelineEntry(_aware(when), "episode", f"{e.condition} ({e.status})", e.pathway or "")
        )
    for a in assessments:
        urgency = a.result.get("urgency") or "no action in favour"
        count = len(a.result.get("recommendations", []))
        entries.append(
            TimelineEntry(
                _aware(a.evaluated_at),
                "assessment",
                f"Assessment: {urgency}",
                f"{count} recommendations · knowledge {a.knowledge_version}",
                f"/evaluate?assessment={a.id}",
            )
        )
    for p in procedures:
        warnings = "; ".join(p.warnings)
        entries.append(
            TimelineEntry(
                _aware(p.performed_at),
                "procedure",
                f"{p.kind} (number {p.repeat_number} in this episode)",
                warnings,
            )
        )
    for c in check_ins:
        entries.append(
            TimelineEntry(
                _aware(c.submitted_at),
                "check-in",
                f"Check-in: {c.advice}",
                c.advice_text,
                f"/check-ins/{c.id}",
            )
        )
    for o in outcomes:
        entries.append(TimelineEntry(_aware(o.assessed_at), "outcome", o.measure, _outcome_text(o)))
    return entries


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
