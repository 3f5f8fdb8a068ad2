"""The procedure report form (the registry's model, generated from its schema) and the
follow-up tasks a recorded procedure creates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from venapath.domain.access import Permission, Principal
from venapath.domain.records import ProcedureIn
from venapath.errors import Problem
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.case_form import (
    CaseForm,
    FormValues,
    build_case_form,
    document_from_form,
    row_counts,
)
from venapath.web.context import page_context
from venapath.web.forms import form_key, problems_of
from venapath.web.pages.evaluate import form_values
from venapath.web.templating import render


def build_procedure_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    form = build_case_form(ProcedureIn.model_json_schema(), [""])

    @router.get("/patients/{patient_id}/procedures/new", response_class=HTMLResponse)
    def new_procedure(
        request: Request, patient_id: str, episode: Annotated[str, Query(max_length=64)]
    ) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_WRITE)
        patient = registry.get_patient(patient_id, principal)
        values: FormValues = {"/episode_id": [episode]}
        return _page(request, kb, principal, form, patient, values, [], form_key())

    @router.post("/patients/{patient_id}/procedures", response_class=HTMLResponse)
    async def record_procedure(request: Request, patient_id: str) -> Any:
        principal = page_principal(request, Permission.PATIENT_WRITE)
        patient = registry.get_patient(patient_id, principal)
        submitted = await request.form()
        values = form_values(submitted)
        key = str(submitted.get("form_key") or form_key())[:64]
        add_row = submitted.get("add_row")
        document, problems = document_from_form(form, values)
        if not problems and not add_row:
            try:
                data = ProcedureIn.model_validate(document)
            except ValidationError as error:
                problems = problems_of(error)
            else:
                out = registry.record_procedure(data, principal, idempotency_key=key)
                return RedirectResponse(f"/procedures/{out.id}", status_code=303)
        status = 422 if problems else 200
        row = add_row if isinstance(add_row, str) else None
        return _page(request, kb, principal, form, patient, values, problems, key, row, status)

    @router.get("/procedures/{procedure_id}", response_class=HTMLResponse)
    def procedure_page(request: Request, procedure_id: str) -> HTMLResponse:
        principal = page_principal(request, Permission.PATIENT_READ)
        procedure = registry.get_procedure(procedure_id, principal)
        tasks = [
            t
            for t in registry.tasks_of(procedure.patient_id, principal)
            if t.procedure_id == procedure.id
        ]
        context = page_context(
            request,
            principal,
            kb,
            procedure=procedure,
            tasks=tasks,
            may_complete=principal.may(Permission.TASK_WRITE),
            may_open_patients=True,
        )
        return HTMLResponse(render("procedure.html", context))

    return router


def _page(
    request: Request,
    kb: KnowledgeBase,
    principal: Principal,
    form: CaseForm,
    patient: Any,
    values: FormValues,
    problems: list[Problem],
    key: str,
    add_row: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    context = page_context(
        request,
        principal,
        kb,
        form=form,
        patient=patient,
        values=values,
        errors={p.pointer: p.message for p in problems},
        problems=problems,
        row_counts=row_counts(form, values, add_row),
        form_key=key,
    )
    return HTMLResponse(render("procedure_form.html", context), status_code=status)
