"""The evaluate page: the generated case form and the live result beside it.

`GET /evaluate` shows an empty form. `POST /evaluate` (a full page, which is all a browser
without JavaScript needs) and `POST /evaluate/result` (the result panel alone, which htmx
asks for as the user types) both read the form, evaluate it with the same service every
entry point uses, and show field errors next to their fields, keeping what was typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.datastructures import FormData

from venapath.domain.access import Permission, Principal
from venapath.domain.case import Case
from venapath.domain.facts import catalogue
from venapath.engine.assessment import Assessment
from venapath.errors import Problem
from venapath.fhir.requirements import facts_read_by_rules
from venapath.kb.model import KnowledgeBase
from venapath.services.case_input import CaseInputError, validate_case_data
from venapath.services.evaluation import assess_case
from venapath.services.registry import Registry
from venapath.web.access import page_principal
from venapath.web.case_form import (
    CaseForm,
    FormValues,
    build_case_form,
    case_data_from_form,
    dom_id,
    row_counts,
    values_from_case,
)
from venapath.web.context import page_context
from venapath.web.forms import form_key
from venapath.web.templating import render

UNSAVED_CASE_ID = "unsaved-case"


def case_form_for(kb: KnowledgeBase) -> CaseForm:
    """The form for `kb`: every field that settles a fact a rule, pathway or window reads."""
    definitions = catalogue()
    pointers = {
        pointer
        for name in facts_read_by_rules(kb)
        if name in definitions
        for pointer in definitions[name].settled_by
    }
    return build_case_form(Case.model_json_schema(), pointers)


@dataclass(frozen=True)
class _Target:
    """The patient (and episode) an assessment is for, when it is to be saved."""

    patient_id: str
    episode_id: str

    @classmethod
    def of(cls, submitted: FormData) -> _Target | None:
        patient = submitted.get("patient_id")
        episode = submitted.get("episode_id")
        if not isinstance(patient, str) or not patient:
            return None
        return cls(patient[:64], episode[:64] if isinstance(episode, str) else "")


def _save_context(principal: Principal, target: _Target | None) -> dict[str, Any]:
    return {
        "target": target,
        "may_save": target is not None and principal.may(Permission.PATIENT_WRITE),
        "form_key": form_key(),
    }


def _case_of(form: CaseForm, values: FormValues) -> Case:
    data, _ = case_data_from_form(form, values)
    data["case_id"] = ((values.get("/case_id") or [""])[0].strip() or UNSAVED_CASE_ID)[:120]
    return validate_case_data(data, "form")


def build_evaluate_router(kb: KnowledgeBase, registry: Registry) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    form = case_form_for(kb)

    @router.get("/evaluate", response_class=HTMLResponse)
    def evaluate_page(
        request: Request,
        patient: Annotated[str, Query(max_length=64)] = "",
        episode: Annotated[str, Query(max_length=64)] = "",
        assessment: Annotated[str, Query(max_length=64)] = "",
    ) -> HTMLResponse:
        """An empty form; for a patient (to save the assessment to their record); or a stored
        assessment's case, re-evaluated now."""
        principal = page_principal(request, Permission.EVALUATE)
        values: FormValues = {}
        result = None
        if assessment:
            stored = registry.get_assessment(assessment, principal)
            case = Case.model_validate(stored.case)
            values = values_from_case(case)
            patient, episode = stored.patient_id, stored.episode_id or ""
            result = assess_case(case, now=datetime.now(UTC), kb=kb, trace=False)
        target = _Target(patient, episode) if patient else None
        if target is not None:
            registry.get_patient(target.patient_id, principal)  # readable, or refused here
        context = _form_context(form, values, result, [], add_row=None)
        context.update(_save_context(principal, target))
        return HTMLResponse(
            render("evaluate.html", page_context(request, principal, kb, **context))
        )

    @router.post("/evaluate", response_class=HTMLResponse)
    async def evaluate_full(request: Request) -> Any:
        principal = page_principal(request, Permission.EVALUATE)
        submitted = await request.form()
        values = form_values(submitted)
        target = _Target.of(submitted)
        assessment, problems = evaluate_values(kb, form, values)
        if submitted.get("save") and target is not None and not problems:
            key = str(submitted.get("form_key") or form_key())[:64]
            registry.record_assessment(
                target.patient_id,
                target.episode_id or None,
                _case_of(form, values),
                principal,
                idempotency_key=key,
            )
            return RedirectResponse(f"/patients/{target.patient_id}", status_code=303)
        add_row = submitted.get("add_row")
        row = add_row if isinstance(add_row, str) else None
        context = _form_context(form, values, assessment, problems, add_row=row)
        context.update(_save_context(principal, target))
        status = 422 if problems else 200
        page = render("evaluate.html", page_context(request, principal, kb, **context))
        return HTMLResponse(page, status_code=status)

    @router.post("/evaluate/result", response_class=HTMLResponse)
    async def evaluate_partial(request: Request) -> HTMLResponse:
        principal = page_principal(request, Permission.EVALUATE)
        values = form_values(await request.form())
        assessment, problems = evaluate_values(kb, form, values)
        context = _form_context(form, values, assessment, problems, add_row=None)
        return HTMLResponse(render("_result.html", page_context(request, principal, kb, **context)))

    return router


def form_values(submitted: FormData) -> FormValues:
    """Every submitted input named by a JSON pointer, as typed (the CSRF token and buttons
    are not case fields)."""
    values: FormValues = {}
    for name, value in submitted.multi_items():
        if name.startswith("/") and isinstance(value, str):
            values.setdefault(name, []).append(value)
    return values


def evaluate_values(
    kb: KnowledgeBase, form: CaseForm, values: FormValues
) -> tuple[Assessment | None, list[Problem]]:
    """The assessment of what the form holds, or the problems that stop it, by field."""
    data, problems = case_data_from_form(form, values)
    if problems:
        return None, problems
    case_id = (values.get("/case_id") or [""])[0].strip() or UNSAVED_CASE_ID
    data["case_id"] = case_id[:120]
    try:
        case = validate_case_data(data, "form")
    except CaseInputError as error:
        return None, [Problem(p.pointer, p.message) for p in error.problems]
    return assess_case(case, now=datetime.now(UTC), kb=kb, trace=False), []


def _form_context(
    form: CaseForm,
    values: FormValues,
    assessment: Assessment | None,
    problems: list[Problem],
    *,
    add_row: str | None,
) -> dict[str, Any]:
    ids, labels = _anchors(form, values)
    return {
        "form": form,
        "values": values,
        "errors": {p.pointer: p.message for p in problems},
        "problems": problems,
        "assessment": assessment,
        "row_counts": row_counts(form, values, add_row),
        "field_ids": ids,
        "field_labels": labels,
    }


def _anchors(form: CaseForm, values: FormValues) -> tuple[dict[str, str], dict[str, str]]:
    """HTML id and label of each field or section, by pointer: what needs-data and error
    links point at (row 0 for fields inside a list; the section for a whole object)."""
    ids: dict[str, str] = {}
    labels: dict[str, str] = {}

    def walk(items: Any) -> None:
        for item in items:
            labels[item.pointer] = labels[item.pointer.replace("*", "0")] = item.label
            if item.shape == "field":
                ids[item.pointer] = item.dom_id(0 if "*" in item.pointer else None)
                ids[item.pointer.replace("*", "0")] = ids[item.pointer]
            else:
                ids[item.pointer] = dom_id(item.pointer, "g")
                walk(item.item.items if item.shape == "repeat" else item.items)

    walk(form.sections)
    for name in values:
        found = form.field_for(name)
        if found is not None:
            ids[name] = dom_id(name)
            labels[name] = found.label
    return ids, labels
