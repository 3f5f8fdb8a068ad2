"""REST API, version 1: evaluate a case or a FHIR Bundle, compute a score, read the KB.

Case bodies are read by the same service as the CLI (YAML or JSON), so a case gets the same
field-by-field errors wherever it is sent. FHIR endpoints live under /api/v1/fhir and answer
FHIR (GuidanceResponse, or OperationOutcome for errors).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from venapath.api import jobs
from venapath.api.errors import FHIR_JSON, ApiError
from venapath.api.work import RateLimiter, WorkPool
from venapath.engine.assessment import Assessment
from venapath.errors import InputError, NotFoundError
from venapath.identity.http import OptionalPrincipal
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditFact, AuditTrail
from venapath.scores import registry
from venapath.scores.base import ScoreResult
from venapath.services import knowledge
from venapath.services.scoring import compute_score, score_items

FHIR_BODY = {
    "description": "A FHIR R4 Bundle, one resource, or a list of resources of one patient.",
    "oneOf": [
        {"type": "object", "required": ["resourceType"]},
        {"type": "array", "items": {"type": "object"}},
    ],
}
CASE_MEDIA = ("application/json", "application/yaml", "application/x-yaml", "text/yaml")


class ScoreRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: dict[str, bool | float | str | None]


def _json(data: Any, media_type: str = "application/json") -> Response:
    if isinstance(data, BaseModel):
        return Response(data.model_dump_json(), media_type=media_type)
    return JSONResponse(data, media_type=media_type)


NOW_QUERY = Query(
    description="The clock (ISO 8601 with a time zone) when the data carries no as_of; "
    "defaults to the current time.",
    json_schema_extra={"format": "date-time"},
)


def _clock(text: str | None) -> datetime | None:
    """Parse the `now` query strictly: an ISO 8601 date-time with a time zone, nothing else."""
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise InputError.at("now", "expected an ISO 8601 date-time with a time zone")
    return moment


def _media(request: Request) -> str:
    return request.headers.get("content-type", "application/json").split(";")[0].strip().lower()


async def _audit_evaluation(
    audit: AuditTrail | None,
    principal: OptionalPrincipal,
    what: str,
    patient_id: str | None = None,
) -> None:
    """An evaluation of patient data is an access to it: recorded (off the event loop)."""
    if audit is None:
        return
    fact = AuditFact(
        AuditAction.EVALUATE,
        principal,
        patient_id=patient_id,
        resources=(f"operation/{what}",),
    )
    await run_in_threadpool(audit.record_event, fact)


def build_router(
    kb: KnowledgeBase, pool: WorkPool, limiter: RateLimiter, audit: AuditTrail | None = None
) -> APIRouter:
    """The REST routes. Evaluation parses, validates and evaluates in `pool`, off the event
    loop, and is rate-limited per client by `limiter`; with `audit`, evaluations are
    audited (an evaluation of patient data is an access to it)."""
    router = APIRouter(prefix="/api/v1")
    expensive = [Depends(limiter)]
    own_kb = None if pool.in_processes else kb  # a worker process uses its own bundled copy

    @router.post(
        "/evaluate",
        dependencies=expensive,
        tags=["Evaluation"],
        summary="Evaluate a case (format v1, JSON or YAML)",
        response_model=Assessment,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Case"}},
                    "application/yaml": {"schema": {"type": "string"}},
                },
            }
        },
    )
    async def evaluate(
        request: Request,
        principal: OptionalPrincipal,
        trace: Annotated[bool, Query(description="Include the per-rule trace.")] = False,
        now: Annotated[str | None, NOW_QUERY] = None,
    ) -> Response:
        media = _media(request)
        if media not in CASE_MEDIA:
            raise ApiError(
                415, "Unsupported media type", f"send the case as {', '.join(CASE_MEDIA)}"
            )
        body = await request.body()
        content, media_type = await pool.run(
            jobs.evaluate_case_body, body, media == "application/json", _clock(now), trace, own_kb
        )
        await _audit_evaluation(audit, principal, "evaluate")
        return Response(content, media_type=media_type)

    @router.post(
        "/fhir/evaluate",
        dependencies=expensive,
        tags=["FHIR"],
        summary="Evaluate one patient's FHIR R4 data (a Bundle or resources)",
        responses={
            200: {
                "description": "A GuidanceResponse (format=guidance) or the JSON view",
                "content": {FHIR_JSON: {"schema": {"type": "object"}}},
            }
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    FHIR_JSON: {"schema": FHIR_BODY},
                    "application/json": {"schema": FHIR_BODY},
                },
            }
        },
    )
    async def evaluate_fhir(
        request: Request,
        principal: OptionalPrincipal,
        output: Annotated[
            Literal["guidance", "assessment"],
            Query(
                alias="format",
                description="guidance: a FHIR GuidanceResponse; assessment: "
                "the case, assessment and mapping report as JSON.",
            ),
        ] = "guidance",
        record: Annotated[
            Literal["complete", "partial"],
            Query(
                description="complete: the Bundle is the patient's whole record, so its "
                "Condition and Procedure lists are read as complete."
            ),
        ] = "complete",
        now: Annotated[str | None, NOW_QUERY] = None,
    ) -> Response:
        media = _media(request)
        if media not in (FHIR_JSON, "application/json"):
            raise ApiError(415, "Unsupported media type", f"send FHIR as {FHIR_JSON}")
        body = await request.body()
        whole = record == "complete"
        content, media_type, patient_id = await pool.run(
            jobs.evaluate_fhir_body, body, output, whole, _clock(now), own_kb
        )
        patient = patient_id[:64] if patient_id else None
        await _audit_evaluation(audit, principal, "fhir-evaluate", patient)
        return Response(content, media_type=media_type)

    @router.get("/scores", tags=["Scores"], summary="The scores VenaPath computes")
    async def scores() -> JSONResponse:
        return JSONResponse(
            [
                {"id": d.id, "title": d.title, "items": sorted(score_items(d.id))}
                for d in registry.SCORES.values()
            ]
        )

    @router.post(
        "/scores/{score_id}",
        tags=["Scores"],
        summary="Compute a score; items not given stay unknown and widen the range",
        response_model=ScoreResult,
    )
    async def score(score_id: str, body: Annotated[ScoreRequest, Body()]) -> Response:
        if score_id not in registry.SCORES:
            raise NotFoundError("score", score_id)
        return _json(compute_score(score_id, body.items))

    _knowledge_routes(router, kb)
    return router


def _knowledge_routes(router: APIRouter, kb: KnowledgeBase) -> None:
    rules = {rule.id: knowledge.rule_view(rule) for rule in kb.rules}
    pathways = {p.id: knowledge.pathway_view(p, kb) for p in kb.pathways}
    sources = {s.id: s.model_dump(mode="json", exclude_none=True) for s in kb.sources.values()}
    value_sets = {v.id: v.model_dump(mode="json", exclude_none=True) for v in kb.value_sets}

    def one(table: dict[str, Any], kind: str, item_id: str) -> JSONResponse:
        if item_id not in table:
            raise NotFoundError(kind, item_id)
        return JSONResponse(table[item_id])

    @router.get("/kb", tags=["Knowledge base"], summary="Version and contents")
    async def kb_summary() -> JSONResponse:
        return JSONResponse(knowledge.summary(kb))

    @router.get("/kb/rules", tags=["Knowledge base"])
    async def list_rules(pathway: str | None = None) -> JSONResponse:
        return JSONResponse([r for r in rules.values() if pathway in (None, r["pathway"])])

    @router.get("/kb/rules/{rule_id}", tags=["Knowledge base"])
    async def get_rule(rule_id: str) -> JSONResponse:
        return one(rules, "rule", rule_id)

    @router.get("/kb/pathways", tags=["Knowledge base"])
    async def list_pathways() -> JSONResponse:
        return JSONResponse(list(pathways.values()))

    @router.get("/kb/pathways/{pathway_id}", tags=["Knowledge base"])
    async def get_pathway(pathway_id: str) -> JSONResponse:
        return one(pathways, "pathway", pathway_id)

    @router.get("/kb/sources", tags=["Knowledge base"])
    async def list_sources() -> JSONResponse:
        return JSONResponse(list(sources.values()))

    @router.get("/kb/sources/{source_id}", tags=["Knowledge base"])
    async def get_source(source_id: str) -> JSONResponse:
        return one(sources, "source", source_id)

    @router.get("/kb/value-sets", tags=["Knowledge base"])
    async def list_value_sets() -> JSONResponse:
        return JSONResponse(list(value_sets.values()))

    @router.get("/kb/value-sets/{value_set_id}", tags=["Knowledge base"])
    async def get_value_set(value_set_id: str) -> JSONResponse:
        return one(value_sets, "value set", value_set_id)
