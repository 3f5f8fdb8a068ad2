"""REST endpoints of the registry under /api/v1. Each calls one registry-service method.

Handlers are plain functions (not async): FastAPI runs them in its thread pool, so a slow
database never blocks the event loop that serves CDS Hooks. Every handler takes the verified
caller (`CurrentPrincipal`, set by the authentication middleware) and hands it to the
registry, which checks the permission and audits the access; no header names the caller.
Every POST takes an optional `Idempotency-Key`: a retry with the same key and body returns
the first response and writes nothing twice.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Header, Path, Query
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel

from venapath.api.errors import FHIR_JSON, ApiError
from venapath.domain.case import Case
from venapath.domain.records import (
    MAX_VERSION,
    AssessmentOut,
    CheckInIn,
    CheckInOut,
    EpisodeIn,
    EpisodeOut,
    EpisodeUpdate,
    OutcomeIn,
    OutcomeOut,
    PatientIn,
    PatientOut,
    PatientUpdate,
    ProcedureIn,
    ProcedureOut,
    TaskOut,
    TaskState,
    TaskUpdate,
)
from venapath.errors import InputError
from venapath.identity.http import CurrentPrincipal
from venapath.services.exchange import export_patient
from venapath.services.registry import ImportOutcome, Registry

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="A unique key per logical write (a UUID): a retry with the same key and "
        "body returns the first response; the same key with another body is refused (422).",
    ),
]


class WorklistEntry(BaseModel):
    state: TaskState
    task: TaskOut


MAX_OFFSET = 10_000_000
"""Paging beyond this is a client error (422), not an integer overflow in the database."""


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "Invalid request", f"as_of: {text!r} is not a calendar date") from None


def _moment(name: str, text: str) -> datetime:
    """An ISO 8601 date-time with a time zone, nothing else."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError.at(name, "expected an ISO 8601 date-time with a time zone")
    return moment


class FhirJSONResponse(JSONResponse):
    """FHIR JSON, declared as such in the OpenAPI (not as application/json)."""

    media_type = FHIR_JSON


def _created(model: BaseModel) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=201)


def build_registry_router(registry: Registry) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["Registry"])
    _patient_routes(router, registry)
    _episode_routes(router, registry)
    _procedure_routes(router, registry)
    _follow_up_routes(router, registry)
    _exchange_routes(router, registry)
    return router


def _patient_routes(router: APIRouter, registry: Registry) -> None:
    @router.post(
        "/patients", status_code=201, response_model=PatientOut, summary="Register a patient"
    )
    def create_patient(
        body: PatientIn, principal: CurrentPrincipal, key: IdempotencyKey = None
    ) -> JSONResponse:
        return _created(registry.create_patient(body, principal, idempotency_key=key))

    @router.get("/patients", response_model=list[PatientOut], summary="List patients")
    def list_patients(
        principal: CurrentPrincipal,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    ) -> list[PatientOut]:
        return registry.list_patients(principal, limit=limit, offset=offset)

    @router.get("/patients/{patient_id}", response_model=PatientOut)
    def get_patient(patient_id: str, principal: CurrentPrincipal) -> PatientOut:
        return registry.get_patient(patient_id, principal)

    @router.patch("/patients/{patient_id}", response_model=PatientOut, summary="Change a patient")
    def update_patient(
        patient_id: str, body: PatientUpdate, principal: CurrentPrincipal
    ) -> PatientOut:
        return registry.update_patient(patient_id, body, principal)

    @router.delete(
        "/patients/{patient_id}", status_code=204, summary="Retract a patient entered in error"
    )
    def retract_patient(
        patient_id: str,
        version: Annotated[int, Query(ge=1, le=MAX_VERSION)],
        principal: CurrentPrincipal,
    ) -> None:
        registry.retract_patient(patient_id, version, principal)

    @router.get("/patients/{patient_id}/episodes", response_model=list[EpisodeOut])
    def patient_episodes(patient_id: str, principal: CurrentPrincipal) -> list[EpisodeOut]:
        return registry.episodes_of(patient_id, principal)

    @router.get("/patients/{patient_id}/procedures", response_model=list[ProcedureOut])
    def patient_procedures(patient_id: str, principal: CurrentPrincipal) -> list[ProcedureOut]:
        return registry.procedures_of(patient_id, principal)

    @router.get("/patients/{patient_id}/outcomes", response_model=list[OutcomeOut])
    def patient_outcomes(patient_id: str, principal: CurrentPrincipal) -> list[OutcomeOut]:
        return registry.outcomes_of(patient_id, principal)

    @router.get("/patients/{patient_id}/tasks", response_model=list[TaskOut])
    def patient_tasks(patient_id: str, principal: CurrentPrincipal) -> list[TaskOut]:
        return registry.tasks_of(patient_id, principal)

    @router.get("/patients/{patient_id}/assessments", response_model=list[AssessmentOut])
    def patient_assessments(patient_id: str, principal: CurrentPrincipal) -> list[AssessmentOut]:
        return registry.assessments_of(patient_id, principal)

    @router.post(
        "/patients/{patient_id}/assessments",
        status_code=201,
        response_model=AssessmentOut,
        summary="Evaluate a case for this patient and keep it (inputs, result, knowledge version)",
    )
    def assess(
        patient_id: str,
        case: Annotated[Case, Body()],
        principal: CurrentPrincipal,
        episode_id: str | None = None,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return _created(
            registry.record_assessment(patient_id, episode_id, case, principal, idempotency_key=key)
        )

    @router.get("/assessments/{assessment_id}", response_model=AssessmentOut)
    def get_assessment(assessment_id: str, principal: CurrentPrincipal) -> AssessmentOut:
        return registry.get_assessment(assessment_id, principal)


def _episode_routes(router: APIRouter, registry: Registry) -> None:
    @router.post(
        "/episodes", status_code=201, response_model=EpisodeOut, summary="Record an episode"
    )
    def create_episode(
        body: EpisodeIn, principal: CurrentPrincipal, key: IdempotencyKey = None
    ) -> JSONResponse:
        return _created(registry.create_episode(body, principal, idempotency_key=key))

    @router.get("/episodes/{episode_id}", response_model=EpisodeOut)
    def get_episode(episode_id: str, principal: CurrentPrincipal) -> EpisodeOut:
        return registry.get_episode(episode_id, principal)

    @router.patch("/episodes/{episode_id}", response_model=EpisodeOut)
    def update_episode(
        episode_id: str, body: EpisodeUpdate, principal: CurrentPrincipal
    ) -> EpisodeOut:
        return registry.update_episode(episode_id, body, principal)

    @router.post(
        "/outcomes", status_code=201, response_model=OutcomeOut, summary="Record an outcome"
    )
    def record_outcome(
        body: OutcomeIn, principal: CurrentPrincipal, key: IdempotencyKey = None
    ) -> JSONResponse:
        return _created(registry.record_outcome(body, principal, idempotency_key=key))


def _procedure_routes(router: APIRouter, registry: Registry) -> None:
    @router.post(
        "/procedures",
        status_code=201,
        response_model=ProcedureOut,
        summary="Record a procedure report (schedules its follow-up)",
    )
    def record_procedure(
        body: ProcedureIn, principal: CurrentPrincipal, key: IdempotencyKey = None
    ) -> JSONResponse:
        return _created(registry.record_procedure(body, principal, idempotency_key=key))

    @router.get("/procedures/{procedure_id}", response_model=ProcedureOut)
    def get_procedure(procedure_id: str, principal: CurrentPrincipal) -> ProcedureOut:
        return registry.get_procedure(procedure_id, principal)

    @router.post(
        "/check-ins",
        status_code=201,
        response_model=CheckInOut,
        summary="A patient's check-in after a procedure; answers with advice for the patient",
    )
    def record_check_in(
        body: CheckInIn, principal: CurrentPrincipal, key: IdempotencyKey = None
    ) -> JSONResponse:
        return _created(registry.record_check_in(body, principal, idempotency_key=key))


def _follow_up_routes(router: APIRouter, registry: Registry) -> None:
    @router.get(
        "/worklist",
        response_model=list[WorklistEntry],
        summary="Who needs a call today, who is overdue, who is due",
    )
    def worklist(
        principal: CurrentPrincipal,
        as_of: Annotated[
            str | None,
            Query(
                pattern=r"^\d{4}-\d{2}-\d{2}$", description="The day (YYYY-MM-DD); today if absent."
            ),
        ] = None,
        days_ahead: Annotated[int, Query(ge=0, le=365)] = 0,
        limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    ) -> list[WorklistEntry]:
        day = _day(as_of) if as_of else datetime.now(UTC).date()
        return [
            WorklistEntry(state=item.state, task=item.task)
            for item in registry.worklist(principal, day, days_ahead=days_ahead, limit=limit)
        ]

    @router.patch("/tasks/{task_id}", response_model=TaskOut, summary="Complete or cancel a task")
    def update_task(task_id: str, body: TaskUpdate, principal: CurrentPrincipal) -> TaskOut:
        return registry.update_task(task_id, body, principal)

    @router.get(
        "/audit",
        summary="FHIR AuditEvents since a moment, as NDJSON (needs audit.read; itself audited)",
        response_class=StreamingResponse,
        responses={200: {"content": {"application/fhir+ndjson": {"schema": {"type": "string"}}}}},
    )
    def audit_export(
        principal: CurrentPrincipal,
        since: Annotated[
            str,
            Query(
                max_length=40,
                description="ISO 8601 date-time with a time zone: entries from then on.",
                json_schema_extra={"format": "date-time"},
            ),
        ],
        patient: Annotated[str | None, Query(max_length=64)] = None,
    ) -> StreamingResponse:
        events = registry.audit.export(principal, _moment("since", since), patient)
        lines = (json.dumps(event, separators=(",", ":")) + "\n" for event in events)
        return StreamingResponse(lines, media_type="application/fhir+ndjson")

    @router.get(
        "/audit/{entity}/{entity_id}",
        summary="The FHIR AuditEvents about one record (needs audit.read; itself audited)",
    )
    def audit(
        entity: Annotated[str, Path(max_length=32)],
        entity_id: Annotated[str, Path(max_length=64)],
        principal: CurrentPrincipal,
    ) -> JSONResponse:
        return JSONResponse(registry.audit_of(entity, entity_id, principal))


def _exchange_routes(router: APIRouter, registry: Registry) -> None:
    @router.get(
        "/fhir/Patient/{patient_id}/$export-record",
        tags=["FHIR"],
        summary="One patient's record as a FHIR R4 collection Bundle",
        response_class=FhirJSONResponse,
        responses={200: {"content": {FHIR_JSON: {"schema": {"type": "object"}}}}},
    )
    def export(patient_id: str, principal: CurrentPrincipal) -> FhirJSONResponse:
        return FhirJSONResponse(export_patient(registry, patient_id, principal))

    @router.post(
        "/fhir/$import-record",
        tags=["FHIR"],
        status_code=201,
        response_model=ImportOutcome,
        summary="Import a Bundle made by the record export",
    )
    def import_record(
        bundle: Annotated[dict[str, Any], Body()],
        principal: CurrentPrincipal,
        key: IdempotencyKey = None,
    ) -> JSONResponse:
        return _created(registry.import_record(bundle, principal, idempotency_key=key))
