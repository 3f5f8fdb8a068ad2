"""The patient's check-in: a private link, plain questions, and plain advice.

Staff create the link on the patient's page (`POST /procedures/{id}/check-in-link`) and send
it; the patient opens `/c/{token}` on a phone, with no account. The token is the only
credential: it opens this one check-in, once, before it expires. The page shows nothing of
the record. The answers are evaluated by the engine (the follow-up rules) and the advice is
shown first, in large type. Every sentence is in the message catalogue.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from pydantic import ValidationError

from venapath.domain.access import Permission
from venapath.domain.case import SymptomResponse
from venapath.domain.records import CheckInIn
from venapath.errors import GoneError, InputError, NotFoundError, Problem
from venapath.identity.check_in_links import LinkExpiredError, LinkUsedError, redeem
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import N_, render

DAY_FIELDS = ("improvement_lasted_days", "reverted_for_days", "worsening_for_days")
FLAG_FIELDS = ("symptoms_back_within_hours", "fever_or_urinary_symptoms")


def build_check_in_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/procedures/{procedure_id}/check-in-link", response_class=HTMLResponse)
    def create_link(request: Request, procedure_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.CHECK_IN_SEND)
        issued = registry.issue_check_in_link(procedure_id, principal)
        url = f"{str(request.base_url).rstrip('/')}/c/{issued.token}"
        context = page_context(request, principal, kb, link=url, issued=issued)
        return HTMLResponse(render("check_in_link.html", context))

    @router.get("/c/{token}", response_class=HTMLResponse)
    def check_in_form(request: Request, token: str) -> HTMLResponse:
        grant = _grant(request, registry, token)
        if isinstance(grant, HTMLResponse):
            return grant
        return _form_page(request, kb, {}, [])

    @router.post("/c/{token}", response_class=HTMLResponse)
    async def check_in_submit(request: Request, token: str) -> HTMLResponse:
        grant = _grant(request, registry, token)
        if isinstance(grant, HTMLResponse):
            return grant
        answers = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            data = _check_in(answers, grant.procedure_id)
        except InputError as error:
            return _form_page(request, kb, answers, error.problems, status=422)
        out = registry.submit_check_in_by_link(grant.link_id, data, grant.principal)
        context = page_context(request, None, kb, advice=out.advice, advice_text=out.advice_text)
        return HTMLResponse(render("check_in_done.html", context))

    return router


def _grant(request: Request, registry: Registry, token: str) -> Any:
    """The link's grant, or the page saying plainly why it cannot be used."""
    try:
        return redeem(registry.database, token, datetime.now(UTC))
    except LinkUsedError:
        reason, status = "used", 410
    except LinkExpiredError:
        reason, status = "expired", 410
    except (NotFoundError, GoneError):
        reason, status = "unknown", 404
    context = page_context(request, None, None, reason=reason)
    return HTMLResponse(render("check_in_closed.html", context), status_code=status)


def _form_page(
    request: Request,
    kb: KnowledgeBase,
    answers: dict[str, str],
    problems: list[Problem],
    status: int = 200,
) -> HTMLResponse:
    context = page_context(
        request,
        None,
        kb,
        answers=answers,
        errors={p.pointer.lstrip("/"): p.message for p in problems},
        responses=[r.value for r in SymptomResponse],
    )
    return HTMLResponse(render("check_in.html", context), status_code=status)


def _check_in(answers: dict[str, str], procedure_id: str) -> CheckInIn:
    """The answers as a check-in; a blank answer is "not sure" (unknown), never "no"."""
    data: dict[str, Any] = {"procedure_id": procedure_id, "submitted_at": datetime.now(UTC)}
    problems: list[Problem] = []
    response = answers.get("symptom_response", "")
    if response:
        data["symptom_response"] = response
    for name in FLAG_FIELDS:
        if answers.get(name) in ("true", "false"):
            data[name] = answers[name] == "true"
    for name in DAY_FIELDS:
        text = answers.get(name, "").strip()
        if not text:
            continue
        if not text.isdigit() or int(text) > 3650:
            problems.append(Problem(f"/{name}", N_("please write a number of days, like 3")))
        else:
            data[name] = int(text)
    comment = answers.get("comment", "").strip()
    if comment:
        data["comment"] = comment[:2000]
    if problems:
        raise InputError(problems)
    try:
        return CheckInIn.model_validate(data)
    except ValidationError as error:
        raise InputError(
            [Problem("/" + ".".join(str(p) for p in e["loc"]), e["msg"]) for e in error.errors()]
        ) from None
