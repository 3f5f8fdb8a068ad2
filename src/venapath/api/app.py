"""The application factory: one FastAPI app serving REST, CDS Hooks and health probes."""

from __future__ import annotations

import gc
import logging
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from venapath import __version__
from venapath.api import v1
from venapath.api.docs import install_docs
from venapath.api.errors import FHIR_JSON, FHIR_PREFIXES, PROBLEM_JSON, install_error_handlers
from venapath.api.links import add_links
from venapath.api.middleware import (
    AccessLogMiddleware,
    BodyLimitMiddleware,
    UnstorableUrlMiddleware,
)
from venapath.api.registry_routes import build_registry_router
from venapath.api.smart_routes import build_smart_router, smart_launch_url
from venapath.api.work import RateLimiter, WorkPool
from venapath.cdshooks.auth import ReplayStore, TokenVerifier
from venapath.cdshooks.feedback import DatabaseFeedbackStore, FeedbackStore
from venapath.cdshooks.fhir_client import FhirFetcher
from venapath.cdshooks.hooks import CdsServices
from venapath.cdshooks.router import CdsHooksApi, build_router
from venapath.domain.case import Case
from venapath.identity.accounts import AccountService
from venapath.identity.events import SecurityEvents
from venapath.identity.headers import SecurityHeadersMiddleware
from venapath.identity.launch_store import LaunchStore
from venapath.identity.middleware import AuthenticationMiddleware
from venapath.identity.oidc import OidcClient
from venapath.identity.routes import build_auth_router
from venapath.identity.routing import RouteIndex
from venapath.identity.sessions import SessionStore, session_cookie_name
from venapath.identity.token_cipher import TokenCipher
from venapath.identity.tokens import BearerVerifier
from venapath.kb.loader import load_knowledge_base
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.persistence.stores import DbReplayStore
from venapath.services.registry import Registry
from venapath.settings import (
    Settings,
    SmartSettings,
    database_url,
    load_smart_settings,
    smart_token_key,
)

log = logging.getLogger("venapath.server")

# A young collection every 10,000 net allocations instead of CPython's 700. A CDS call
# allocates thousands of objects that live only until its answer; at 700 many of them are
# still in flight at a young collection, get promoted, and soon make a full collection due,
# which stops the worker for tens of milliseconds (everything queued behind it waits).
# Measured under `bench/cds_load.py --cold`: full collections every 2-3 s at 700, none in a
# two-minute run at 10,000 (`docs/performance.md`, "The CDS tail: full garbage collections").
YOUNG_COLLECTION_THRESHOLD = 10_000


@cache
def _tls_context() -> ssl.SSLContext:
    """httpx's default TLS context (certifi's CA bundle, or SSL_CERT_FILE / SSL_CERT_DIR),
    built once per process and shared by every app's outgoing client: reading the CA bundle
    costs tens of milliseconds of CPU, paid otherwise at each app start."""
    return httpx.create_ssl_context()


def create_app(
    settings: Settings,
    *,
    kb: KnowledgeBase | None = None,
    feedback: FeedbackStore | None = None,
    replay: ReplayStore | None = None,
    registry: Registry | None = None,
    smart: SmartSettings | None = None,
) -> FastAPI:
    """The service. Without a `registry`, the database named by the settings is used; the
    `venapath serve` command brings its schema up to date before any worker starts."""
    knowledge = kb or load_knowledge_base()
    if registry is None:
        registry = Registry(Database(database_url(settings)), knowledge)
    database = registry.database
    client = httpx.AsyncClient(follow_redirects=False, verify=_tls_context())
    fetcher = FhirFetcher(client, settings.fhir_timeout_seconds)

    async def load_jwks(url: str) -> dict[str, Any]:
        response = await client.get(url, timeout=settings.fhir_timeout_seconds)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    verifier = (
        TokenVerifier(settings, load_jwks, replay or DbReplayStore(database))
        if settings.jwt_required
        else None
    )
    sessions = SessionStore(database, settings)
    # Sign-ins, refusals and account changes go to this app's own audit trail (no global).
    security = SecurityEvents(registry.audit)
    accounts = AccountService(database, settings)
    bearer = BearerVerifier(settings, load_jwks) if settings.api_issuers else None
    store = feedback or DatabaseFeedbackStore(database)
    # Worker processes load the bundled knowledge base themselves; a given `kb` object stays
    # in this process, so its evaluations run in threads.
    processes = settings.work_processes if kb is None else 0
    pool = WorkPool(settings.work_threads, settings.work_queue, processes)
    limiter = RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
    smart_settings = smart or load_smart_settings()
    services = CdsServices(
        knowledge,
        fetcher,
        pool.run_in_thread,
        smart_launch_url(settings, smart_settings),
        tokens_over_https_only=not settings.development,
    )
    cds = CdsHooksApi(settings, services, verifier, store, security)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _announce(settings, knowledge)
        # Before the first real call, and before the freeze below takes what it built.
        services.warm_up()
        # The knowledge base and the FHIR models are large, long-lived object graphs; moving
        # them out of the collector's sight keeps full collections (latency spikes) short.
        gc.collect()
        gc.freeze()
        gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
        pool.start()
        yield
        pool.close()
        security.flush()  # refusals counted but not yet written
        await client.aclose()
        database.dispose()

    app = FastAPI(
        title="VenaPath",
        version=__version__,
        description="Decision support and care pathways for venous thrombosis and its "
        "interventional treatment: REST API, CDS Hooks 2.0.1 services and FHIR R4 input.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serve_docs else None,
    )
    # What the layers mounted beside the API (the web app) build on: the same services.
    app.state.knowledge = knowledge
    app.state.registry = registry
    app.state.settings = settings
    app.state.feedback = store
    app.state.accounts = accounts
    app.state.security_events = security
    install_error_handlers(app)
    app.include_router(v1.build_router(knowledge, pool, limiter, registry.audit))
    app.include_router(build_registry_router(registry))
    app.include_router(build_router(cds), dependencies=[Depends(limiter)])
    oidc = (
        OidcClient(settings.oidc, client, settings.fhir_timeout_seconds) if settings.oidc else None
    )
    app.include_router(build_auth_router(accounts, sessions, settings, security, oidc))
    app.include_router(
        build_smart_router(
            settings,
            smart_settings,
            knowledge,
            services,
            LaunchStore(database, TokenCipher(smart_token_key(settings, smart_settings))),
            client,
            security,
        )
    )
    if settings.serve_docs:
        install_docs(app)

    @app.get("/health", tags=["Operations"], summary="Liveness: the process answers")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.get(
        "/ready",
        tags=["Operations"],
        summary="Readiness: knowledge base loaded, database reachable",
    )
    def ready() -> JSONResponse:
        reachable = database.ping()
        workers = pool.ready
        body = {
            "status": "ready"
            if reachable and workers
            else ("database unavailable" if not reachable else "evaluation workers starting"),
            "knowledge_version": knowledge.version,
            "env": settings.env.value,
            "database": database.dialect,
        }
        ok = reachable and workers
        headers = {} if ok else {"Retry-After": "5"}
        return JSONResponse(body, status_code=200 if ok else 503, headers=headers)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(UnstorableUrlMiddleware)
    # Innermost first: authentication sees only requests within the size limit, and every
    # answer, refusals included, leaves with the security headers.
    app.add_middleware(
        AuthenticationMiddleware,
        routes=RouteIndex(lambda: app.routes),
        sessions=sessions,
        cookie_name=session_cookie_name(settings),
        bearer=bearer,
        security=security,
    )
    app.add_middleware(SecurityHeadersMiddleware, settings=settings)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(AccessLogMiddleware)
    return app


def _announce(settings: Settings, kb: KnowledgeBase) -> None:
    log.info("starting", extra={"knowledge_version": kb.version, "env": settings.env.value})
    if not settings.jwt_required:
        log.warning(
            "DEVELOPMENT MODE: CDS Hooks JWT verification is OFF; never expose this server",
            extra={"env": settings.env.value},
        )


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The generated schema, plus the case format (read from raw bodies, so not inferred) and
    the links from each create to the reads and writes of what it created (`api/links.py`)."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    case_schema = Case.model_json_schema(ref_template="#/components/schemas/case.{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in case_schema.pop("$defs", {}).items():
        components[f"case.{name}"] = definition
    components["Case"] = case_schema
    components.update(_ERROR_SCHEMAS)
    for path, operations in schema["paths"].items():
        fhir = path.startswith(FHIR_PREFIXES)
        error = (
            {FHIR_JSON: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}}
            if fhir
            else {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        )
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            responses["4XX"] = {"description": "The request was refused", "content": error}
            responses["5XX"] = {"description": "An unexpected error", "content": error}
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    add_links(schema)
    app.openapi_schema = schema
    return schema


_ERROR_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details, with one entry per field at fault.",
        "required": ["type", "title", "status", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["pointer", "detail"],
                    "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"}},
                },
            },
        },
    },
    "OperationOutcome": {
        "type": "object",
        "description": "A FHIR R4 OperationOutcome.",
        "required": ["resourceType", "issue"],
        "properties": {
            "resourceType": {"const": "OperationOutcome"},
            "issue": {"type": "array", "items": {"type": "object"}},
        },
    },
}
