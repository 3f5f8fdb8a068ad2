"""The care team's review of one submitted check-in: the patient's answers, the advice they
were shown, the procedure it follows up and the task it raised, with when.

Opened from the worklist's list of the week's check-ins and from the patient's timeline.
Identified patient data: PATIENT_READ (clinicians and coordinators; not researchers, not
patients), read through the registry door so that each view is audited.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.domain.access import Permission
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render


def build_check_in_review_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/check-ins/{check_in_id}", response_class=HTMLResponse)
    def check_in_review(request: Request, check_in_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_READ)
        review = registry.check_in_review(check_in_id, principal)
        context = page_context(request, principal, kb, review=review)
        return HTMLResponse(render("check_in_review.html", context))

    return router
