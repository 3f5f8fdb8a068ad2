"""The CDS services: what each hook needs, how its data is gathered, which cards it returns.

This module knows nothing of HTTP frameworks; the router turns `HookError` into a status
code. Prefetch follows the specification: a key that is present is the EHR's answer
(`null` = no data, i.e. an empty list), a key that is absent was not fetched, so the service
queries `fhirServer` itself, and answers 412 when it cannot.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from venapath.cdshooks.cards import order_cards, patient_view_cards
from venapath.cdshooks.fhir_client import FhirFetcher, FhirServerUnavailableError
from venapath.cdshooks.models import Discovery, HookRequest, HookResponse, ServiceDescriptor
from venapath.cdshooks.prefetch import (
    COMPLETE_WHEN_ANSWERED,
    PATIENT_TOKEN,
    TYPE_BY_KEY,
    prefetch_templates,
)
from venapath.domain.case import ProposedProcedure
from venapath.fhir.errors import FhirInputError, FhirProblem
from venapath.fhir.orders import DraftOrder, recognised_orders
from venapath.fhir.parse import ParsedResources, read_resources
from venapath.fhir.to_case import history_codes
from venapath.kb.model import KnowledgeBase
from venapath.services.fhir_evaluation import assess_parsed


class HookError(Exception):
    """A request the service cannot answer; `status` is the HTTP status to send."""

    def __init__(self, status: int, message: str, problems: list[FhirProblem] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or [FhirProblem("$", message)]


@dataclass(frozen=True)
class ServiceDefinition:
    id: str
    hook: str
    title: str
    description: str
    context_fields: tuple[str, ...]


SERVICES = (
    ServiceDefinition(
        "venapath-patient-view",
        "patient-view",
        "VenaPath venous thrombosis pathway",
        "For a patient with venous thrombosis (cerebral venous thrombosis, leg DVT) or in "
        "follow-up after venoplasty or stenting: the pathway, urgency, time windows and cited "
        "recommendations.",
        ("userId", "patientId"),
    ),
    ServiceDefinition(
        "venapath-order-select",
        "order-select",
        "VenaPath contraindication check (order selected)",
        "When a thrombolytic, an anticoagulant or a venous procedure is selected: the "
        "contraindications that apply or could not be checked.",
        ("userId", "patientId", "selections", "draftOrders"),
    ),
    ServiceDefinition(
        "venapath-order-sign",
        "order-sign",
        "VenaPath contraindication check (order signed)",
        "Before a thrombolytic, an anticoagulant or a venous procedure is signed: the "
        "contraindications that apply (critical) or could not be checked.",
        ("userId", "patientId", "draftOrders"),
    ),
)
SERVICES_BY_ID = {service.id: service for service in SERVICES}


class CdsServices:
    def __init__(self, kb: KnowledgeBase, fetcher: FhirFetcher) -> None:
        self.kb = kb
        self._fetcher = fetcher
        self._templates = prefetch_templates(kb)
        self._history_codes = history_codes(kb.value_sets)

    def discovery(self) -> Discovery:
        return Discovery(
            services=[
                ServiceDescriptor(
                    hook=s.hook,
                    title=s.title,
                    description=s.description,
                    id=s.id,
                    prefetch=dict(self._templates),
                    usageRequirements="Decision support for clinicians; every card cites its "
                    "rule and evidence. Send the prefetch, or a fhirServer and "
                    "fhirAuthorization so the service can query what is missing.",
                )
                for s in SERVICES
            ]
        )

    async def call(
        self, service_id: str, request: HookRequest, now: datetime | None = None
    ) -> HookResponse:
        service = SERVICES_BY_ID.get(service_id)
        if service is None:
            raise HookError(404, f"no CDS service {service_id!r}")
        if request.hook != service.hook:
            raise HookError(
                400, f"service {service_id!r} answers hook {service.hook!r}, not {request.hook!r}"
            )
        _check_context(service, request.context)
        moment = now or datetime.now(UTC)
        parsed, complete = await self._patient_data(request)
        patient_id = str(request.context["patientId"])
        _check_patient(parsed, patient_id)
        if service.hook == "patient-view":
            result = assess_parsed(parsed, now=moment, kb=self.kb, complete=complete, trace=False)
            return HookResponse(cards=patient_view_cards(result.assessment, self.kb))
        orders = self._orders(service, request.context)
        if not orders:
            return HookResponse(cards=[])
        proposed = tuple(ProposedProcedure(action=o.action) for o in orders)
        result = assess_parsed(
            parsed, now=moment, kb=self.kb, complete=complete, proposed=proposed, trace=True
        )
        return HookResponse(cards=order_cards(result.assessment, orders, self.kb))

    def _orders(self, service: ServiceDefinition, context: dict[str, Any]) -> list[DraftOrder]:
        try:
            drafts = read_resources(context["draftOrders"], "context.draftOrders")
        except FhirInputError as error:
            raise HookError(400, str(error), error.problems) from None
        selections = None
        if service.hook == "order-select":
            selections = frozenset(str(s) for s in context["selections"])
        return recognised_orders(drafts, self.kb.codes, selections)

    async def _patient_data(self, request: HookRequest) -> tuple[ParsedResources, frozenset[str]]:
        prefetch = request.prefetch or {}
        patient_id = str(request.context["patientId"])
        answered: dict[str, Any] = {}
        complete: set[str] = set()
        missing = [key for key in self._templates if key not in prefetch]
        fetched = await self._fetch_missing(request, missing, patient_id)
        for key in self._templates:
            if key in prefetch:
                answered[key] = prefetch[key]
                complete.add(TYPE_BY_KEY[key])
            else:
                answered[key], whole = fetched[key]
                if whole:
                    complete.add(TYPE_BY_KEY[key])
        parsed = ParsedResources()
        problems: list[FhirProblem] = []
        for key, value in answered.items():
            if value is None:
                continue
            try:
                parsed.extend(
                    read_resources(
                        value,
                        f"prefetch.{key}",
                        latest_results_only=True,
                        history_codes=self._history_codes,
                    )
                )
            except FhirInputError as error:
                problems += error.problems
        if problems:
            raise HookError(400, "the prefetch holds invalid FHIR", problems)
        return parsed, frozenset(complete & COMPLETE_WHEN_ANSWERED)

    async def _fetch_missing(
        self, request: HookRequest, keys: list[str], patient_id: str
    ) -> dict[str, tuple[Any, bool]]:
        if not keys:
            return {}
        if request.fhirServer is None:
            raise HookError(
                412,
                f"prefetch lacks {', '.join(keys)} and no fhirServer was given to query",
            )
        token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
        base = str(request.fhirServer)
        queries = [self._templates[key].replace(PATIENT_TOKEN, patient_id) for key in keys]
        try:
            results = await asyncio.gather(
                *(self._fetcher.fetch(base, query, token) for query in queries)
            )
        except FhirServerUnavailableError as error:
            raise HookError(
                412, f"prefetch lacks {', '.join(keys)} and the FHIR server failed: {error}"
            ) from None
        return dict(zip(keys, results, strict=True))


def _check_context(service: ServiceDefinition, context: dict[str, Any]) -> None:
    for name in service.context_fields:
        if name not in context or context[name] in (None, ""):
            raise HookError(400, f"context.{name} is required for hook {service.hook}")
    patient_id = context["patientId"]
    if (
        not isinstance(patient_id, str)
        or not patient_id.replace("-", "").replace(".", "").isalnum()
    ):
        raise HookError(400, "context.patientId must be a FHIR id")
    if "draftOrders" in context:
        drafts = context["draftOrders"]
        if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
            raise HookError(400, "context.draftOrders must be a FHIR Bundle")
    if "selections" in context:
        selections = context["selections"]
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise HookError(400, "context.selections must be a list of references")


def _check_patient(parsed: ParsedResources, patient_id: str) -> None:
    for patient in parsed.of("Patient"):
        if patient.id != patient_id:
            raise HookError(
                400, f"the prefetched Patient is {patient.id}, not context.patientId {patient_id}"
            )
