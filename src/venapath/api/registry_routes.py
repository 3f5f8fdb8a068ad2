"""REST endpoints of the registry under /api/v1. Each calls one registry-service method.

Handlers are plain functions (not async): FastAPI runs them in its thread pool, so a slow
database never blocks the event loop that serves CDS Hooks. Who made a change is the verified
caller the authentication middleware found (identity/http.py), never a request header.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from venapath.api.errors import ApiError
from venapath.domain.case import Case
from venapath.domain.records import (
    AssessmentOut,
    AuditEntry,
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
from venapath.identity.http import CurrentPrincipal
from venapath.services.exchange import export_patient, import_bundle
from venapath.services.registry import Registry


def _actor(principal: CurrentPrincipal) -> str:
    """The audit actor: the verified caller's stable subject."""
    return principal.subject


Actor = Annotated[str, Depends(_actor)]


class WorklistEntry(BaseModel):
    state: TaskState
    task: TaskOut


class ImportResult(BaseModel):
    patient_id: str
    created: dict[str, int]


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ApiError(422, "Invalid request", f"as_of: {text!r} is not a calendar date") from None


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
    def create_patient(body: PatientIn, actor: Actor) -> JSONResponse:
        return _created(registry.create_patient(body, actor))

    @router.get("/patients", response_model=list[PatientOut], summary="List patients")
    def list_patients(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
    ) -> list[PatientOut]:
        return registry.list_patients(limit=limit, offset=offset)

    @router.get("/patients/{patient_id}", response_model=PatientOut)
    def get_patient(patient_id: str) -> PatientOut:
        return registry.get_patient(patient_id)

    @router.patch("/patients/{patient_id}", response_model=PatientOut, summary="Change a patient")
    def update_patient(patient_id: str, body: PatientUpdate, actor: Actor) -> PatientOut:
        return registry.update_patient(patient_id, body, actor)

    @router.delete(
        "/patients/{patient_id}", status_code=204, summary="Retract a patient entered in error"
    )
    def retract_patient(
        patient_id: str, version: Annotated[int, Query(ge=1)], actor: Actor
    ) -> None:
        registry.retract_patient(patient_id, version, actor)

    @router.get("/patients/{patient_id}/episodes", response_model=list[EpisodeOut])
    def patient_episodes(patient_id: str) -> list[EpisodeOut]:
        return registry.episodes_of(patient_id)

    @router.get("/patients/{patient_id}/procedures", response_model=list[ProcedureOut])
    def patient_procedures(patient_id: str) -> list[ProcedureOut]:
        return registry.procedures_of(patient_id)

    @router.get("/patients/{patient_id}/outcomes", response_model=list[OutcomeOut])
    def patient_outcomes(patient_id: str) -> list[OutcomeOut]:
        return registry.outcomes_of(patient_id)

    @router.get("/patients/{patient_id}/tasks", response_model=list[TaskOut])
    def patient_tasks(patient_id: str) -> list[TaskOut]:
        return registry.tasks_of(patient_id)

    @router.get("/patients/{patient_id}/assessments", response_model=list[AssessmentOut])
    def patient_assessments(patient_id: str) -> list[AssessmentOut]:
        return registry.assessments_of(patient_id)

    @router.post(
        "/patients/{patient_id}/assessments",
        status_code=201,
        response_model=AssessmentOut,
        summary="Evaluate a case for this patient and keep it (inputs, result, knowledge version)",
    )
    def assess(
        patient_id: str,
        case: Annotated[Case, Body()],
        actor: Actor,
        episode_id: str | None = None,
    ) -> JSONResponse:
        return _created(registry.record_assessment(patient_id, episode_id, case, actor))

    @router.get("/assessments/{assessment_id}", response_model=AssessmentOut)
    def get_assessment(assessment_id: str) -> AssessmentOut:
        return registry.get_assessment(assessment_id)


def _episode_routes(router: APIRouter, registry: Registry) -> None:
    @router.post(
        "/episodes", status_code=201, response_model=EpisodeOut, summary="Record an episode"
    )
    def create_episode(body: EpisodeIn, actor: Actor) -> JSONResponse:
        return _created(registry.create_episode(body, actor))

    @router.get("/episodes/{episode_id}", response_model=EpisodeOut)
    def get_episode(episode_id: str) -> EpisodeOut:
        return registry.get_episode(episode_id)

    @router.patch("/episodes/{episode_id}", response_model=EpisodeOut)
    def update_episode(episode_id: str, body: EpisodeUpdate, actor: Actor) -> EpisodeOut:
        return registry.update_episode(episode_id, body, actor)

    @router.post(
        "/outcomes", status_code=201, response_model=OutcomeOut, summary="Record an outcome"
    )
    def record_outcome(body: OutcomeIn, actor: Actor) -> JSONResponse:
        return _created(registry.record_outcome(body, actor))


def _procedure_routes(router: APIRouter, registry: Registry) -> None:
    @router.post(
        "/procedures",
        status_code=201,
        response_model=ProcedureOut,
        summary="Record a procedure report (schedules its follow-up)",
    )
    def record_procedure(body: ProcedureIn, actor: Actor) -> JSONResponse:
        return _created(registry.record_procedure(body, actor))

    @router.get("/procedures/{procedure_id}", response_model=ProcedureOut)
    def get_procedure(procedure_id: str) -> ProcedureOut:
        return registry.get_procedure(procedure_id)

    @router.post(
        "/check-ins",
        status_code=201,
        response_model=CheckInOut,
        summary="A patient's check-in after a procedure; answers with advice for the patient",
    )
    def record_check_in(body: CheckInIn, actor: Actor) -> JSONResponse:
        return _created(registry.record_check_in(body, actor))


def _follow_up_routes(router: APIRouter, registry: Registry) -> None:
    @router.get(
        "/worklist",
        response_model=list[WorklistEntry],
        summary="Who needs a call today, who is overdue, who is due",
    )
    def worklist(
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
            for item in registry.worklist(day, days_ahead=days_ahead, limit=limit)
        ]

    @router.patch("/tasks/{task_id}", response_model=TaskOut, summary="Complete or cancel a task")
    def update_task(task_id: str, body: TaskUpdate, actor: Actor) -> TaskOut:
        return registry.update_task(task_id, body, actor)

    @router.get(
        "/audit/{entity}/{entity_id}",
        response_model=list[AuditEntry],
        summary="Who changed this record, when, from what to what",
    )
    def audit(entity: str, entity_id: str) -> list[AuditEntry]:
        return registry.audit_of(entity, entity_id)


def _exchange_routes(router: APIRouter, registry: Registry) -> None:
    @router.get(
        "/fhir/Patient/{patient_id}/$export-record",
        tags=["FHIR"],
        summary="One patient's record as a FHIR R4 collection Bundle",
    )
    def export(patient_id: str) -> JSONResponse:
        return JSONResponse(
            export_patient(registry, patient_id), media_type="application/fhir+json"
        )

    @router.post(
        "/fhir/$import-record",
        tags=["FHIR"],
        status_code=201,
        response_model=ImportResult,
        summary="Import a Bundle made by the record export",
    )
    def import_record(bundle: Annotated[dict[str, Any], Body()], actor: Actor) -> JSONResponse:
        patient_id, created = import_bundle(registry, bundle, actor)
        return _created(ImportResult(patient_id=patient_id, created=created))
