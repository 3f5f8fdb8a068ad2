"""CDS card feedback: what clinicians did with VenaPath's cards in the EHR (accepted or
overridden, and the coded override reasons), counted per rule (through the issued card the
feedback names) and per CDS service.

Counts and coded reasons only (AGGREGATE_READ): the free-text comments an EHR may send are
not shown, since they may name a patient. The read is audited as a query.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.cdshooks.feedback import feedback_report
from venapath.domain.access import Permission
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditFact
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render


def build_feedback_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/feedback", response_class=HTMLResponse)
    def feedback_page(request: Request) -> HTMLResponse:
        principal = page_principal(request, Permission.AGGREGATE_READ)
        report = feedback_report(registry.database)
        registry.audit.record_event(AuditFact(AuditAction.QUERY, principal, query="cds_feedback"))
        context = page_context(
            request,
            principal,
            kb,
            services=report.services,
            rules=report.rules,
            unattributed=report.unattributed,
        )
        return HTMLResponse(render("feedback.html", context))

    return router
