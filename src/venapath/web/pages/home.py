"""The start page: what this person can do here, by role."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from venapath.domain.access import Permission
from venapath.kb.model import KnowledgeBase
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render


def build_home_router(kb: KnowledgeBase) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/", response_class=HTMLResponse)
    def home(request: Request) -> HTMLResponse:
        principal = page_principal(request, Permission.KNOWLEDGE_READ)
        return HTMLResponse(render("home.html", page_context(request, principal, kb)))

    return router
