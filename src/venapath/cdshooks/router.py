"""CDS Hooks over HTTP: discovery, the three services and their feedback endpoints.

Authorisation runs as a dependency, before the body is read, so a caller without a valid
token learns nothing about what a valid request would look like.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from venapath.cdshooks.auth import TokenVerifier
from venapath.cdshooks.feedback import FeedbackStore
from venapath.cdshooks.hooks import SERVICES_BY_ID, CdsServices
from venapath.cdshooks.models import Discovery, Feedback, FeedbackReceipt, HookRequest, HookResponse
from venapath.errors import NotFoundError
from venapath.settings import Settings


class CdsHooksApi:
    """Holds what the endpoints need; built once by the application factory."""

    def __init__(
        self,
        settings: Settings,
        services: CdsServices,
        verifier: TokenVerifier | None,
        feedback: FeedbackStore,
    ) -> None:
        self.settings = settings
        self.services = services
        self.verifier = verifier
        self.feedback = feedback

    async def authorise(self, request: Request) -> None:
        """Verify the bearer JWT; its audience must be the exact URL called."""
        if self.verifier is None:
            return
        base = str(self.settings.public_base_url).rstrip("/")
        await self.verifier.verify(request.headers.get("authorization"), base + request.url.path)


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
    async def call(service_id: str, body: HookRequest) -> Response:
        _known(service_id)
        answer = await api.services.call(service_id, body)
        # Stored before the EHR sees the cards, so feedback on any of them finds its rules.
        if answer.issued:
            await asyncio.to_thread(api.feedback.issue, answer)
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
