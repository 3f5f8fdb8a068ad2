"""CDS Hooks over HTTP: discovery, the three services and their feedback endpoints.

Authorisation runs as a dependency, before the body is read, so a caller without a valid
token learns nothing about what a valid request would look like.

Audited (docs/security.md, "What is audited"): every service call is an evaluation of the
patient in context, recorded through the audit trail's door as the REST and SMART
evaluations are (actor: the EHR whose JWT was verified, with the user it names; the
patient; the service; the outcome); a refused token is a security event (a refusal,
coalesced like the middleware's).
"""

from __future__ import annotations

import asyncio
from functools import partial

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from venapath.cdshooks.auth import TokenRejectedError, TokenVerifier
from venapath.cdshooks.feedback import FeedbackStore
from venapath.cdshooks.hooks import SERVICES_BY_ID, CdsServices, HookAnswer
from venapath.cdshooks.models import Discovery, Feedback, FeedbackReceipt, HookRequest, HookResponse
from venapath.domain.access import Principal
from venapath.errors import NotFoundError, VenaPathError
from venapath.identity.events import SecurityEvent, SecurityEvents, record_security_event
from venapath.identity.tokens import cds_client_principal
from venapath.persistence.audit import AuditAction, AuditFact, AuditOutcome, AuditTrail
from venapath.settings import Settings

CDS_CLIENT_STATE = "cds_issuer"
"""`request.state` attribute: the `iss` of the CDS client whose JWT was verified."""


class CdsHooksApi:
    """Holds what the endpoints need; built once by the application factory."""

    def __init__(
        self,
        settings: Settings,
        services: CdsServices,
        verifier: TokenVerifier | None,
        feedback: FeedbackStore,
        security: SecurityEvents | None = None,
    ) -> None:
        self.settings = settings
        self.services = services
        self.verifier = verifier
        self.feedback = feedback
        self.security = security

    async def authorise(self, request: Request) -> None:
        """Verify the bearer JWT; its audience must be the exact URL called. A refused token
        is recorded as a refusal (coalesced per client and reason)."""
        if self.verifier is None:
            return
        base = str(self.settings.public_base_url).rstrip("/")
        try:
            claims = await self.verifier.verify(
                request.headers.get("authorization"), base + request.url.path
            )
        except TokenRejectedError as error:
            await self._refused(request, error)
            raise
        setattr(request.state, CDS_CLIENT_STATE, str(claims["iss"]))

    async def _refused(self, request: Request, error: TokenRejectedError) -> None:
        if self.security is None:
            return
        route = request.scope.get("route")
        await run_in_threadpool(
            partial(
                record_security_event,
                self.security,
                SecurityEvent.REFUSED,
                code="401 cds_token",
                client_address=request.client.host if request.client else None,
                method=request.method,
                path=getattr(route, "path", None),
                detail=error.message,
            )
        )

    async def audit_call(
        self,
        request: Request,
        service_id: str,
        hook: HookRequest,
        failure: VenaPathError,
    ) -> None:
        """A service call failed to evaluate the patient in context: one entry. A failed write
        is raised."""
        if self.security is None:
            return
        fact = self._fact(request, service_id, hook, failure)
        await run_in_threadpool(self.security.trail.record_event, fact)

    async def record_answer(
        self, request: Request, service_id: str, hook: HookRequest, answer: HookAnswer
    ) -> None:
        """The cards a call issued and its audit entry (the call evaluated the patient in
        context), in ONE transaction, committed before the EHR sees the cards: feedback on
        any card finds its rules, and no card leaves unrecorded. A failed write is raised.

        One transaction, not one per store: on SQLite every write transaction queues for the
        file's single write lock and pays its own commit (an fsync)."""
        if self.security is None:
            if answer.issued:
                await asyncio.to_thread(self.feedback.issue, answer)
            return
        fact = self._fact(request, service_id, hook)
        await run_in_threadpool(self._store_answer, self.security.trail, answer, fact)

    def _store_answer(self, trail: AuditTrail, answer: HookAnswer, fact: AuditFact) -> None:
        with trail.database.session() as session:
            if answer.issued:
                self.feedback.issue(answer, session)
            trail.record_event(fact, session)

    def _fact(
        self,
        request: Request,
        service_id: str,
        hook: HookRequest,
        failure: VenaPathError | None = None,
    ) -> AuditFact:
        patient = hook.context.get("patientId")
        caller = self._caller(request, hook)
        return AuditFact(
            AuditAction.EVALUATE,
            caller,
            AuditOutcome.SUCCESS if failure is None else AuditOutcome.FAILED,
            patient_id=str(patient)[:64] if isinstance(patient, str) and patient else None,
            resources=(f"operation/cds-{service_id}",),
            detail=None if failure is None else failure.message[:200],
            claimed_subject=None if caller else "cds-client (JWT not checked: development)",
            client_address=request.client.host if request.client else None,
        )

    @staticmethod
    def _caller(request: Request, hook: HookRequest) -> Principal | None:
        """The EHR whose JWT was verified, naming the user it says is at the chart."""
        issuer = getattr(request.state, CDS_CLIENT_STATE, None)
        if issuer is None:
            return None
        user = hook.context.get("userId")
        client = request.client.host if request.client else None
        return cds_client_principal(issuer, user if isinstance(user, str) else None, client)


def _known(service_id: str) -> None:
    if service_id not in SERVICES_BY_ID:
        raise NotFoundError("CDS service", service_id)


def _json(model: Discovery | HookResponse | FeedbackReceipt) -> Response:
    return Response(model.model_dump_json(exclude_none=True), media_type="application/json")


def build_router(api: CdsHooksApi) -> APIRouter:
    router = APIRouter(
        prefix="/cds-services", tags=["CDS Hooks"], dependencies=[Depends(api.authorise)]
    )

    @router.get("", response_model=Discovery, summary="CDS Hooks discovery")
    async def discovery() -> Response:
        return _json(api.services.discovery())

    @router.post("/{service_id}", response_model=HookResponse, summary="Call a CDS service")
    async def call(service_id: str, body: HookRequest, request: Request) -> Response:
        _known(service_id)
        try:
            answer = await api.services.call(service_id, body)
        except VenaPathError as error:
            await api.audit_call(request, service_id, body, error)
            raise
        await api.record_answer(request, service_id, body, answer)
        return _json(answer.response)

    @router.post(
        "/{service_id}/feedback",
        response_model=FeedbackReceipt,
        summary="Feedback on issued cards, attributed to their rules (a repeated item is stored once)",
    )
    async def feedback(service_id: str, body: Feedback) -> Response:
        _known(service_id)
        # Every card is checked before any item is stored: nothing is half-written.
        await asyncio.to_thread(api.feedback.check_issued, service_id, body.feedback)
        stored = sum(api.feedback.record(service_id, item) for item in body.feedback)
        return _json(FeedbackReceipt(received=len(body.feedback), stored=stored))

    return router
