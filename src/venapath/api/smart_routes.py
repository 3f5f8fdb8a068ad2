"""HTTP side of the SMART launch: `/smart/launch`, `/smart/callback`, and the launched view.

The protocol steps live in identity/smart.py and the launch state in identity/launch_store.py;
this module moves the browser between VenaPath and the EHR, sets the two cookies (the one
binding `state` to the browser, and the session cookie), and shows the patient in context,
read from the EHR's FHIR server with the launch's access token and evaluated through the same
path as CDS Hooks and `POST /api/v1/fhir/evaluate`.

Audited through the two doors (docs/security.md, "What is audited"): the launch is a sign-in
(a security event: `record_security_event`; a launch refused is a failed sign-in, a page
refused for want of a launch session is a refusal); each view of the patient in context is
an access (`AuditTrail.record_event`): one entry for the read of the EHR's FHIR server
(which patient, which resources, from which server, with what outcome) and one for the
evaluation, as `POST /api/v1/fhir/evaluate` records its evaluations.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

import httpx
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape

from venapath.api.errors import ApiError, FieldProblem
from venapath.cdshooks.hooks import CdsServices, HookError
from venapath.domain.access import Permission, Principal
from venapath.errors import (
    InputError,
    RefusedError,
    UnauthenticatedError,
    UnavailableError,
    VenaPathError,
)
from venapath.fhir.parse import ParsedResources
from venapath.fhir.requirements import feed_for_rules
from venapath.identity.backend_services import BackendClient, check_key_fits, load_private_key
from venapath.identity.events import (
    AuditUnavailableError,
    SecurityEvent,
    SecurityEvents,
    record_security_event,
)
from venapath.identity.launch_store import PENDING_LIFETIME, LaunchSession, LaunchStore
from venapath.identity.smart import (
    Pkce,
    SmartClient,
    SmartLaunchRefusedError,
    SmartNotSetUpError,
    authorization_url,
    check_issuer,
    digest,
    launch_principal,
    launch_scope,
    new_secret,
)
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditFact, AuditOutcome
from venapath.services.fhir_evaluation import FhirAssessment, assess_parsed
from venapath.settings import Settings, SettingsError, SmartSettings

log = logging.getLogger("venapath.smart")

STATE_COOKIE = "venapath_smart_state"
SESSION_COOKIE = "venapath_smart_session"
COOKIE_PATH = "/smart"
PAGE_HEADERS = {"Cache-Control": "no-store"}
MAX_AUDITED_RESOURCES = 100
"""EHR resources named one by one in the audit entry of a read; the rest are counted."""


@dataclass(frozen=True)
class SmartApp:
    settings: Settings
    smart: SmartSettings
    kb: KnowledgeBase
    cds: CdsServices
    store: LaunchStore
    client: SmartClient
    security: SecurityEvents
    signing_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None

    @property
    def require_https(self) -> bool:
        return not self.settings.development

    def client_id(self) -> str:
        if not self.smart.client_id:
            raise SmartNotSetUpError
        return self.smart.client_id

    def redirect_uri(self, request: Request) -> str:
        if self.smart.redirect_url is not None:
            return str(self.smart.redirect_url)
        return self.public_url(request, "smart_callback")

    def public_url(self, request: Request, route: str) -> str:
        """A route's address as browsers see it: under the public base URL when one is set
        (behind a proxy the request's own host is not the public one)."""
        if self.settings.public_base_url is not None:
            path = str(request.app.url_path_for(route))
            return str(self.settings.public_base_url).rstrip("/") + path
        return str(request.url_for(route))

    def client_authentication(self, token_endpoint: str) -> dict[str, str] | None:
        """A signed client assertion for the token endpoint, when VenaPath has a key."""
        if self.signing_key is None or self.smart.key_id is None:
            return None
        signer = BackendClient(
            client_id=self.client_id(),
            token_url=token_endpoint,
            private_key=self.signing_key,
            key_id=self.smart.key_id,
            algorithm=self.smart.algorithm,
        )
        return signer.authentication()

    def scope(self, *, ehr_launch: bool) -> str:
        return launch_scope(feed_for_rules(self.kb).resource_types, ehr_launch=ehr_launch)


def smart_launch_url(settings: Settings, smart: SmartSettings) -> str | None:
    """The URL CDS cards link to, or None when VenaPath is not set up as a SMART app."""
    if not smart.enabled:
        return None
    if smart.launch_url is not None:
        return str(smart.launch_url)
    if settings.public_base_url is not None:
        return str(settings.public_base_url).rstrip("/") + "/smart/launch"
    return None


def build_smart_router(
    settings: Settings,
    smart: SmartSettings,
    kb: KnowledgeBase,
    cds: CdsServices,
    store: LaunchStore,
    http: httpx.AsyncClient,
    security: SecurityEvents,
) -> APIRouter:
    app = SmartApp(
        settings,
        smart,
        kb,
        cds,
        store,
        SmartClient(http, settings.fhir_timeout_seconds),
        security,
        signing_key(smart),
    )
    pages = Environment(
        loader=PackageLoader("venapath.api", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    router = APIRouter(prefix="/smart", tags=["SMART on FHIR"])

    @router.get("/launch", summary="SMART launch: EHR launch (iss, launch) or standalone")
    async def launch(
        request: Request, iss: str | None = None, launch: str | None = None
    ) -> Response:
        async with _refusals(app, request, SecurityEvent.SIGN_IN_FAILED):
            return await _launch(app, request, iss, launch)

    @router.get(
        "/callback", name="smart_callback", summary="The EHR's redirect after authorisation"
    )
    async def callback(
        request: Request,
        state: str | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> Response:
        async with _refusals(app, request, SecurityEvent.SIGN_IN_FAILED):
            return await _callback(app, request, state, code, error)

    @router.get("/app", name="smart_app_page", summary="The launch patient's evaluation, as a page")
    async def page(request: Request) -> HTMLResponse:
        async with _refusals(app, request, SecurityEvent.REFUSED):
            session, result = await _evaluate_launch_patient(app, request)
        html = pages.get_template("smart_patient.html").render(
            principal=session.principal,
            assessment=result.assessment,
            report=result.report,
        )
        return HTMLResponse(html, headers=PAGE_HEADERS)

    @router.get("/app/assessment", summary="The launch patient's evaluation, as JSON")
    async def assessment(request: Request) -> JSONResponse:
        async with _refusals(app, request, SecurityEvent.REFUSED):
            session, result = await _evaluate_launch_patient(app, request)
        body = {
            "patient": session.principal.patient_id,
            "user": session.principal.display,
            "assessment": result.assessment.model_dump(mode="json"),
            "mapping": result.report.as_dict(),
        }
        return JSONResponse(body, headers=PAGE_HEADERS)

    return router


async def _launch(app: SmartApp, request: Request, iss: str | None, launch: str | None) -> Response:
    """Send the browser to the EHR's authorization endpoint, remembering the launch."""
    client_id = app.client_id()
    ehr_launch = launch is not None
    if ehr_launch and not launch:
        raise InputError.at("/launch", "must not be empty")
    chosen = iss or (None if ehr_launch else app.smart.standalone_iss)
    if chosen is None:
        raise InputError.at("/iss", "is required (the FHIR base URL of the EHR)")
    fhir_base = check_issuer(chosen, app.smart.issuers, require_https=app.require_https)
    configuration = await app.client.configuration(fhir_base, require_https=app.require_https)
    state, browser_secret, pkce = new_secret(), new_secret(), Pkce.new()
    redirect_uri = app.redirect_uri(request)
    await run_in_threadpool(
        app.store.begin,
        state=state,
        browser_secret=browser_secret,
        kind="ehr" if ehr_launch else "standalone",
        fhir_base=fhir_base,
        configuration=configuration,
        redirect_uri=redirect_uri,
        code_verifier=pkce.verifier,
    )
    target = authorization_url(
        configuration,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scope=app.scope(ehr_launch=ehr_launch),
        state=state,
        audience=fhir_base,
        pkce=pkce,
        launch=launch,
    )
    response = RedirectResponse(target, status_code=302, headers=PAGE_HEADERS)
    _set_cookie(app, response, STATE_COOKIE, browser_secret, int(PENDING_LIFETIME.total_seconds()))
    return response


async def _callback(
    app: SmartApp, request: Request, state: str | None, code: str | None, error: str | None
) -> Response:
    """Finish the launch: check state, exchange the code, verify the user, open the session."""
    client_id = app.client_id()
    if not state:
        raise SmartLaunchRefusedError("the EHR's redirect carries no state")
    pending = await run_in_threadpool(
        app.store.consume, state=state, browser_secret=request.cookies.get(STATE_COOKIE)
    )
    if error is not None:
        reason = error if error.isascii() and len(error) < 64 else "error"
        raise SmartLaunchRefusedError(f"the EHR did not authorise the launch ({reason})")
    if not code:
        raise InputError.at("/code", "the EHR's redirect carries no authorization code")
    token = await app.client.exchange_code(
        pending.configuration,
        code=code,
        redirect_uri=pending.redirect_uri,
        client_id=client_id,
        verifier=pending.code_verifier,
        client_authentication=app.client_authentication(pending.configuration.token_endpoint),
    )
    if not token.id_token:
        raise SmartLaunchRefusedError("the EHR sent no id_token (scopes openid fhirUser)")
    claims = await app.client.identity_claims(pending.configuration, token.id_token, client_id)
    session_secret = new_secret()
    principal = launch_principal(claims, token, session_id=digest(session_secret))
    await run_in_threadpool(
        partial(
            app.store.open_session,
            state=state,
            session_secret=session_secret,
            principal=principal,
            access_token=token.access_token,
            scope=token.scope,
            expires_in=token.expires_in,
        )
    )
    await run_in_threadpool(_record_launch, app, session_secret, _at(principal, request))
    log.info("smart launch", extra={"kind": pending.kind, "actor": principal.subject})
    response = RedirectResponse(
        app.public_url(request, "smart_app_page"), status_code=302, headers=PAGE_HEADERS
    )
    response.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
    max_age = token.expires_in if token.expires_in is not None else 1800
    _set_cookie(app, response, SESSION_COOKIE, session_secret, max_age)
    return response


def _record_launch(app: SmartApp, session_secret: str, principal: Principal) -> None:
    """The launch as a sign-in; fail closed: a launch the audit trail could not record is
    ended (its session and token forgotten) and answered 503."""
    try:
        record_security_event(app.security, SecurityEvent.SIGN_IN, principal=principal)
    except AuditUnavailableError:
        app.store.end(session_secret)
        raise


async def _evaluate_launch_patient(
    app: SmartApp, request: Request
) -> tuple[LaunchSession, FhirAssessment]:
    session = await run_in_threadpool(app.store.session, request.cookies.get(SESSION_COOKIE))
    principal = _at(session.principal, request)
    patient_id = principal.patient_id
    if patient_id is None or not principal.may(Permission.EVALUATE, patient_id):
        raise RefusedError("this SMART session may not evaluate a patient")
    try:
        parsed, complete = await app.cds.patient_record(
            session.fhir_base, session.access_token, patient_id
        )
    except HookError as error:
        await _audit(app, _ehr_read(principal, session.fhir_base, None, error.message))
        raise UnavailableError(
            f"the patient's record could not be read from the EHR: {error.message}"
        ) from None
    await _audit(app, _ehr_read(principal, session.fhir_base, parsed))
    result = assess_parsed(parsed, now=datetime.now(UTC), kb=app.kb, complete=complete)
    await _audit(
        app,
        AuditFact(
            AuditAction.EVALUATE,
            principal,
            patient_id=patient_id,
            resources=("operation/smart-evaluate",),
        ),
    )
    return session, result


async def _audit(app: SmartApp, fact: AuditFact) -> None:
    """An access to patient data, in the audit trail (off the event loop). A failed write
    is raised: the patient's data is not shown unrecorded."""
    await run_in_threadpool(app.security.trail.record_event, fact)


def _ehr_read(
    principal: Principal, fhir_base: str, parsed: ParsedResources | None, failure: str = ""
) -> AuditFact:
    """The read of the launch patient's record from the EHR: which patient, which resources
    (by reference, the first MAX_AUDITED_RESOURCES; all counted by type), from which FHIR
    server, and whether it succeeded."""
    if parsed is None:
        return AuditFact(
            AuditAction.QUERY,
            principal,
            AuditOutcome.FAILED,
            patient_id=principal.patient_id,
            detail=f"reading the EHR's FHIR server {fhir_base} failed: {failure}"[:500],
        )
    references = [
        f"{kind}/{resource.id}"
        for kind, resources in sorted(parsed.by_type.items())
        for resource in resources
        if resource.id
    ]
    counts = Counter({kind: len(resources) for kind, resources in parsed.by_type.items()})
    summary = ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))
    return AuditFact(
        AuditAction.QUERY,
        principal,
        patient_id=principal.patient_id,
        resources=tuple(references[:MAX_AUDITED_RESOURCES]),
        detail=f"read from the EHR's FHIR server {fhir_base}: {summary or 'nothing'}"[:500],
    )


def _at(principal: Principal, request: Request) -> Principal:
    """The launch user, with the address this request came from (for the audit)."""
    return replace(principal, client_address=request.client.host if request.client else None)


def signing_key(smart: SmartSettings) -> rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None:
    """The confidential client's private key, or None for a public client; a key that cannot
    be used is a SettingsError naming the variable (the server refuses to start)."""
    if smart.private_key_file is None:
        return None
    try:
        key = load_private_key(smart.private_key_file)
        check_key_fits(key, smart.algorithm)
    except InputError as error:
        problem = error.problems[0]
        variable = "VENAPATH_SMART_" + problem.pointer.strip("/").upper()
        raise SettingsError(f"{variable}: {problem.message}") from None
    return key


def _set_cookie(app: SmartApp, response: Response, name: str, value: str, max_age: int) -> None:
    """HttpOnly (no script reads it), Lax (sent on the EHR's top-level redirect back),
    Secure outside development, and only for /smart."""
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        samesite="lax",
        secure=app.require_https,
    )


@asynccontextmanager
async def _refusals(app: SmartApp, request: Request, event: SecurityEvent) -> AsyncIterator[None]:
    """Turn the shared error tree into the API's problem answers (status by kind of error),
    recording a refused launch (`event` SIGN_IN_FAILED) or a page refused for want of a
    launch session (REFUSED) as a security event. A SMART app that is not set up (404) and
    an EHR that cannot be read (recorded as a failed read) are not security events."""
    try:
        yield
    except VenaPathError as error:
        answer = _as_api_error(error)
        if _is_security_event(error, event):
            route = request.scope.get("route")
            await run_in_threadpool(
                partial(
                    record_security_event,
                    app.security,
                    event,
                    code=f"{answer.status} smart",
                    client_address=request.client.host if request.client else None,
                    method=request.method,
                    path=getattr(route, "path", None),
                    detail=error.message,
                )
            )
        raise answer from None


def _is_security_event(error: VenaPathError, event: SecurityEvent) -> bool:
    if isinstance(error, SmartNotSetUpError | AuditUnavailableError):
        return False
    if event is SecurityEvent.REFUSED:
        return isinstance(error, RefusedError)
    return True


def _as_api_error(error: VenaPathError) -> ApiError:
    if isinstance(error, InputError):
        problems = [FieldProblem(p.pointer, p.message) for p in error.problems]
        return ApiError(422, error.title, error.message, problems)
    if isinstance(error, UnauthenticatedError):
        return ApiError(401, error.title, error.message)
    if isinstance(error, RefusedError):
        return ApiError(403, error.title, error.message)
    if isinstance(error, UnavailableError):
        return ApiError(
            503, error.title, error.message, headers={"Retry-After": str(error.retry_after)}
        )
    if isinstance(error, SmartNotSetUpError):
        return ApiError(404, error.title, error.message)
    return ApiError(400, error.title, error.message)
