"""The CDS services: what each hook needs, how its data is gathered, which cards it returns.

This module knows nothing of HTTP frameworks; `api/errors.py` turns `HookError` into a status
code. Prefetch follows the specification: a key that is present is the EHR's answer
(`null` = no data, i.e. an empty list), a key that is absent was not fetched, so the service
queries `fhirServer` itself, and answers 412 when it cannot.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from venapath.cdshooks.cards import (
    IssuedCard,
    open_in_app_link,
    order_cards,
    patient_view_cards,
)
from venapath.cdshooks.fhir_client import FhirFetcher, FhirServerUnavailableError
from venapath.cdshooks.models import Discovery, HookRequest, HookResponse, ServiceDescriptor
from venapath.cdshooks.prefetch import (
    COMPLETE_WHEN_ANSWERED,
    KEY_BY_TYPE,
    PATIENT_TOKEN,
    TYPE_BY_KEY,
    prefetch_answers,
    prefetch_templates,
)
from venapath.domain.case import ProposedProcedure
from venapath.errors import InputError, NotFoundError, shown
from venapath.fhir.errors import FhirInputError, FhirProblem
from venapath.fhir.orders import DraftOrder, recognised_orders
from venapath.fhir.parse import ParsedResources, read_resources
from venapath.fhir.to_case import (
    HISTORY_FIELDS,
    HISTORY_ON_HEPARIN_FIELDS,
    heparin_codes,
    history_codes,
)
from venapath.kb.model import KnowledgeBase
from venapath.services.fhir_evaluation import assess_parsed
from venapath.synth.bulk import DEFAULT_AS_OF
from venapath.synth.profiles import Archetype, generate_patient
from venapath.synth.resources import CodeBook


class HookError(InputError):
    """A CDS Hooks request the service cannot answer as sent (400 on the CDS Hooks paths)."""

    title = "CDS Hooks request refused"

    def __init__(self, message: str, problems: list[FhirProblem] | None = None) -> None:
        super().__init__(list(problems or [FhirProblem("$", message)]), message)


class PrefetchIncompleteError(HookError):
    """The prefetch lacks data the service needs and it cannot be fetched: CDS Hooks says 412."""


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


@dataclass(frozen=True)
class HookAnswer:
    """A service's answer and the cards it issued, with what feedback on them is attributed
    to: the rules each card carries, the knowledge version, the patient (as a digest)."""

    response: HookResponse
    issued: list[IssuedCard]
    service_id: str
    knowledge_version: str
    patient_ref: str
    issued_at: datetime


def patient_reference(fhir_server: str | None, patient_id: str) -> str:
    """A SHA-256 digest of the EHR's FHIR server and patient id: it groups one patient's cards
    without storing the EHR's patient id in clear."""
    return hashlib.sha256(f"{fhir_server or ''}\x1f{patient_id}".encode()).hexdigest()


@dataclass(frozen=True)
class WarmUp:
    """What `CdsServices.warm_up` answered: the cards of each chart and the resource types
    the charts held (so a test can see the warm-up went through the whole path)."""

    cards: tuple[int, ...]
    resource_types: frozenset[str]


_WARM_UP_CHARTS = (
    (Archetype.LEG_DVT_ILIOFEMORAL, 3),
    (Archetype.CVT, 6),
    (Archetype.CVT_INTRACRANIAL_HYPOTENSION, 1),
    (Archetype.VENOPLASTY_FOLLOW_UP, 0),
)
"""(archetype, patient index) of the warm-up charts: between them every resource type a
synthetic chart can hold (the index picks a patient with an allergy, one with a report)."""
_WARM_UP_SEED = 20261207


Offload = Callable[..., Awaitable[Any]]
"""Runs a blocking function with its arguments away from the event loop (the HTTP service
passes its bounded worker pool); the default runs it in place."""


async def _in_place(work: Callable[..., Any], *args: Any) -> Any:
    return work(*args)


class CdsServices:
    def __init__(
        self,
        kb: KnowledgeBase,
        fetcher: FhirFetcher,
        offload: Offload = _in_place,
        smart_launch_url: str | None = None,
        *,
        tokens_over_https_only: bool = False,
    ) -> None:
        """`offload` runs the CPU-heavy part of a call off the event loop. `smart_launch_url`,
        when set, is VenaPath's SMART launch URL: patient-view cards then offer "Open in
        VenaPath" with the patient as `appContext`. `tokens_over_https_only` (outside
        development): an EHR's access token for its fhirServer is never sent over plain http
        (CDS Hooks 2.0: "The scheme MUST be https when production data is exchanged")."""
        self.kb = kb
        self._tokens_over_https_only = tokens_over_https_only
        self._fetcher = fetcher
        self._smart_launch_url = smart_launch_url
        self._templates = prefetch_templates(kb)
        self._offload = offload
        self._history_codes = history_codes(kb.value_sets, HISTORY_FIELDS)
        self._history_on_heparin = self._history_codes | history_codes(
            kb.value_sets, HISTORY_ON_HEPARIN_FIELDS
        )
        self._heparin_codes = heparin_codes(kb.value_sets)

    def warm_up(self) -> WarmUp:
        """Answer patient-view for a few synthetic charts in this process, storing nothing.

        Why: the first call in a fresh process builds the FHIR models' validators, the
        mapping's and the engine's caches and imports what they import lazily: 47 to 67 ms
        against 3 ms for the next call, and every call that arrives meanwhile queues behind
        it. Run before the service reports ready (and before `gc.freeze()`), the first
        patient after a restart does not pay for it. The charts are generated and answered
        at the synthetic cohorts' fixed date, so the warm-up is the same every day; they
        hold every resource type the synthetic charts can hold (MedicationAdministration
        and MedicationStatement are not among them: their first use is still paid once)."""
        service = SERVICES_BY_ID["venapath-patient-view"]
        book = CodeBook(self.kb)
        cards: list[int] = []
        types: set[str] = set()
        for archetype, index in _WARM_UP_CHARTS:
            synthetic = generate_patient(book, _WARM_UP_SEED, index, DEFAULT_AS_OF, archetype)
            resources = synthetic.resources()
            answered = prefetch_answers(resources, self._templates)
            request = HookRequest(
                hook=service.hook,
                hookInstance=f"warm-up-{archetype.value}",
                context={"userId": "Practitioner/warm-up", "patientId": synthetic.patient_id},
                prefetch=answered,
            )
            complete = frozenset(TYPE_BY_KEY[key] for key in answered)
            issued = self._answer(service, request, answered, complete, DEFAULT_AS_OF)
            cards.append(len(issued))
            types.update(r["resourceType"] for r in resources)
        return WarmUp(cards=tuple(cards), resource_types=frozenset(types))

    def _history_for(self, answered: dict[str, Any]) -> frozenset[tuple[str, str]]:
        """Result codes whose history to keep: GCS always; platelets only when a medication
        answer names a heparin (the platelet course is read only on heparin), so a chart
        without heparin costs the cold path no more validations than before."""
        medications = [answered.get(key) for key in MEDICATION_KEYS]
        if any(_names_a_code(answer, self._heparin_codes) for answer in medications):
            return self._history_on_heparin
        return self._history_codes

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
    ) -> HookAnswer:
        service = SERVICES_BY_ID.get(service_id)
        if service is None:
            raise NotFoundError("CDS service", service_id)
        if request.hook != service.hook:
            raise HookError(
                f"service {shown(service_id)} answers hook {service.hook!r}, not {shown(request.hook)}"
            )
        _check_context(service, request.context)
        moment = now or datetime.now(UTC)
        answered, complete = await self._gather(request)
        issued: list[IssuedCard] = await self._offload(
            self._answer, service, request, answered, complete, moment
        )
        server = str(request.fhirServer) if request.fhirServer is not None else None
        return HookAnswer(
            response=HookResponse(cards=[i.card for i in issued]),
            issued=issued,
            service_id=service.id,
            knowledge_version=self.kb.version,
            patient_ref=patient_reference(server, str(request.context["patientId"])),
            issued_at=moment,
        )

    def _answer(
        self,
        service: ServiceDefinition,
        request: HookRequest,
        answered: dict[str, Any],
        complete: frozenset[str],
        moment: datetime,
    ) -> list[IssuedCard]:
        """The CPU-heavy part (FHIR validation, evaluation, cards): blocking, run off the loop."""
        parsed = _parse_answers(answered, self._history_for(answered))
        patient_id = str(request.context["patientId"])
        _check_patient(parsed, patient_id)
        if service.hook == "patient-view":
            result = assess_parsed(parsed, now=moment, kb=self.kb, complete=complete, trace=False)
            link = (
                open_in_app_link(self._smart_launch_url, patient_id)
                if self._smart_launch_url
                else None
            )
            return patient_view_cards(result.assessment, self.kb, link)
        orders = self._orders(service, request.context)
        if not orders:
            return []
        proposed = tuple(ProposedProcedure(action=o.action) for o in orders)
        result = assess_parsed(
            parsed, now=moment, kb=self.kb, complete=complete, proposed=proposed, trace=True
        )
        return order_cards(result.assessment, orders, self.kb)

    def _orders(self, service: ServiceDefinition, context: dict[str, Any]) -> list[DraftOrder]:
        try:
            drafts = read_resources(context["draftOrders"], "context.draftOrders")
        except FhirInputError as error:
            raise HookError(str(error), error.fhir_problems) from None
        selections = None
        if service.hook == "order-select":
            selections = frozenset(str(s) for s in context["selections"])
        return recognised_orders(drafts, self.kb.codes, selections)

    async def _gather(self, request: HookRequest) -> tuple[dict[str, Any], frozenset[str]]:
        """Each prefetch key's answer (sent, or fetched from fhirServer) and the resource types
        whose answer is the whole list."""
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
        return answered, frozenset(complete & COMPLETE_WHEN_ANSWERED)

    async def patient_record(
        self, fhir_server: str, access_token: str, patient_id: str
    ) -> tuple[ParsedResources, frozenset[str]]:
        """One patient's data read from an EHR's FHIR server with the queries the prefetch
        would ask (a SMART launch reads exactly what a hook would have been sent).

        Raises PrefetchIncompleteError (412) when the server cannot supply it, as a hook
        would."""
        keys = list(self._templates)
        queries = [self._templates[key].replace(PATIENT_TOKEN, patient_id) for key in keys]
        try:
            results = await asyncio.gather(
                *(self._fetcher.fetch(fhir_server, query, access_token) for query in queries)
            )
        except FhirServerUnavailableError as error:
            raise PrefetchIncompleteError(f"the FHIR server failed: {error}") from None
        answered = {key: body for key, (body, _) in zip(keys, results, strict=True)}
        complete = {
            TYPE_BY_KEY[key] for key, (_, whole) in zip(keys, results, strict=True) if whole
        }
        parsed = await self._offload(
            _parse_answers, answered, self._history_for(answered), "fhirServer"
        )
        _check_patient(parsed, patient_id)
        return parsed, frozenset(complete & COMPLETE_WHEN_ANSWERED)

    async def _fetch_missing(
        self, request: HookRequest, keys: list[str], patient_id: str
    ) -> dict[str, tuple[Any, bool]]:
        if not keys:
            return {}
        if request.fhirServer is None:
            raise PrefetchIncompleteError(
                f"prefetch lacks {', '.join(keys)} and no fhirServer was given to query",
            )
        token = request.fhirAuthorization.access_token if request.fhirAuthorization else None
        if token and self._tokens_over_https_only and request.fhirServer.scheme != "https":
            raise HookError(
                "fhirServer must be an https:// address when fhirAuthorization is sent; "
                "the access token was not sent",
                [FhirProblem("fhirServer", "must be https:// (CDS Hooks 2.0)")],
            )
        base = str(request.fhirServer)
        queries = [self._templates[key].replace(PATIENT_TOKEN, patient_id) for key in keys]
        try:
            results = await asyncio.gather(
                *(self._fetcher.fetch(base, query, token) for query in queries)
            )
        except FhirServerUnavailableError as error:
            raise PrefetchIncompleteError(
                f"prefetch lacks {', '.join(keys)} and the FHIR server failed: {error}"
            ) from None
        return dict(zip(keys, results, strict=True))


MEDICATION_KEYS = (KEY_BY_TYPE["MedicationRequest"], KEY_BY_TYPE["MedicationStatement"])


def _names_a_code(data: Any, codes: frozenset[tuple[str, str]]) -> bool:
    """Whether raw JSON holds a coding {system, code} in `codes` (anywhere: a medication's
    own code or a contained Medication). Read before validation, so it only chooses what to
    keep; the mapping still reads the validated resources."""
    if isinstance(data, dict):
        system, code = data.get("system"), data.get("code")
        if isinstance(system, str) and isinstance(code, str) and (system, code) in codes:
            return True
        return any(_names_a_code(value, codes) for value in data.values())
    if isinstance(data, list):
        return any(_names_a_code(item, codes) for item in data)
    return False


def _parse_answers(
    answered: dict[str, Any], history_codes: frozenset[tuple[str, str]], where: str = "prefetch"
) -> ParsedResources:
    """Validate each query's answer; `null` (no data) is an empty list. Results whose codes are
    in `history_codes` keep their history (a GCS fall), others only the newest."""
    parsed = ParsedResources()
    problems: list[FhirProblem] = []
    for key, value in answered.items():
        if value is None:
            continue
        try:
            parsed.extend(
                read_resources(
                    value,
                    f"{where}.{key}",
                    latest_results_only=True,
                    history_codes=history_codes,
                )
            )
        except FhirInputError as error:
            problems += error.fhir_problems
    if problems:
        raise HookError(f"the {where} data holds invalid FHIR", problems)
    return parsed


def _check_context(service: ServiceDefinition, context: dict[str, Any]) -> None:
    for name in service.context_fields:
        if name not in context or context[name] in (None, ""):
            raise HookError(f"context.{name} is required for hook {service.hook}")
    patient_id = context["patientId"]
    if (
        not isinstance(patient_id, str)
        or not patient_id.replace("-", "").replace(".", "").isalnum()
    ):
        raise HookError("context.patientId must be a FHIR id")
    if "draftOrders" in context:
        drafts = context["draftOrders"]
        if not isinstance(drafts, dict) or drafts.get("resourceType") != "Bundle":
            raise HookError("context.draftOrders must be a FHIR Bundle")
    if "selections" in context:
        selections = context["selections"]
        if not isinstance(selections, list) or not all(isinstance(s, str) for s in selections):
            raise HookError("context.selections must be a list of references")


def _check_patient(parsed: ParsedResources, patient_id: str) -> None:
    for patient in parsed.of("Patient"):
        if patient.id != patient_id:
            raise HookError(
                f"the prefetched Patient is {patient.id}, not context.patientId {patient_id}"
            )
