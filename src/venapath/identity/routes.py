"""Sign-in and sign-out pages (/auth/login, /auth/logout) and who-am-I (/auth/session).

The sign-in form carries its own CSRF token (a random value in a short-lived cookie and in
the form, compared on post: "login CSRF"), since there is no session yet to bind one to.
After sign-in the browser holds only the session cookie: HttpOnly, SameSite=Lax, Secure
(and `__Host-` prefixed) outside development.
"""

from __future__ import annotations

import hmac
import secrets
from contextlib import suppress
from functools import partial
from importlib.resources import files
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from venapath.domain.access import Principal
from venapath.errors import VenaPathError
from venapath.identity.accounts import SIGN_IN_REFUSED, AccountService, SignInRefusedError
from venapath.identity.events import (
    AuditUnavailableError,
    SecurityEvent,
    SecurityEvents,
    record_security_event,
)
from venapath.identity.http import CurrentPrincipal, optional_principal
from venapath.identity.oidc import FLOW_COOKIE, FLOW_SECONDS, Flow, OidcClient, OidcError
from venapath.identity.sessions import SessionGrant, SessionStore, SignedIn, session_cookie_name
from venapath.settings import Settings

LOGIN_CSRF_COOKIE = "venapath_login_csrf"
LOGIN_CSRF_SECONDS = 1800


def templates() -> Jinja2Templates:
    """The identity pages' templates (autoescaped; no inline script anywhere)."""
    return Jinja2Templates(directory=str(files("venapath.identity").joinpath("templates")))


def safe_next(target: str | None) -> str:
    """Only a path on this service: never `//host` or `https://...` (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target[:2000]


class SessionCookies:
    """Sets and clears the session cookie with the same attributes everywhere."""

    def __init__(self, settings: Settings) -> None:
        self.name = session_cookie_name(settings)
        self.secure = not settings.development or settings.https
        self.max_age = settings.session_absolute_hours * 3600

    def set(self, response: Response, token: str) -> None:
        response.set_cookie(
            self.name,
            token,
            max_age=self.max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            self.name, path="/", secure=self.secure, httponly=True, samesite="lax"
        )


# The sign-in pages are for browsers (HTML forms), so they are left out of the OpenAPI
# document; /auth/session (JSON) is in it.
def build_auth_router(
    accounts: AccountService,
    sessions: SessionStore,
    settings: Settings,
    security: SecurityEvents,
    oidc: OidcClient | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/auth", tags=["Sign-in"])
    pages = templates()
    cookies = SessionCookies(settings)

    def login_page(
        request: Request, status: int = 200, error: str | None = None, username: str = ""
    ) -> HTMLResponse:
        login_csrf = secrets.token_urlsafe(32)
        principal = optional_principal(request)
        context: dict[str, Any] = {
            "login_csrf": login_csrf,
            "next": safe_next(request.query_params.get("next")),
            "error": error,
            "username": username,
            "signed_in_as": principal.display if principal else None,
            "oidc": settings.oidc is not None,
        }
        response = pages.TemplateResponse(request, "login.html", context, status_code=status)
        response.set_cookie(
            LOGIN_CSRF_COOKIE,
            login_csrf,
            max_age=LOGIN_CSRF_SECONDS,
            path="/auth",
            secure=cookies.secure,
            httponly=True,
            samesite="strict",
        )
        return response

    @router.get(
        "/login", response_class=HTMLResponse, summary="The sign-in page", include_in_schema=False
    )
    async def login_form(request: Request) -> HTMLResponse:
        return login_page(request)

    @router.post(
        "/login",
        response_class=HTMLResponse,
        summary="Sign in with a local account",
        include_in_schema=False,
    )
    async def login(request: Request) -> Response:
        form = await request.form()
        username = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")[:1024]
        sent_csrf = str(form.get("csrf_token") or "")
        expected = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        client = request.client.host if request.client else None
        if not expected or not hmac.compare_digest(sent_csrf.encode(), expected.encode()):
            await run_in_threadpool(
                partial(
                    record_security_event,
                    security,
                    SecurityEvent.SIGN_IN_FAILED,
                    subject=username or None,
                    code="403 csrf",
                    client_address=client,
                    detail="sign-in form without its CSRF token",
                )
            )
            return login_page(request, 403, "The form expired; please sign in again.")
        try:
            account = await run_in_threadpool(accounts.verify, username, password)
        except SignInRefusedError as refused:
            await run_in_threadpool(
                partial(
                    record_security_event,
                    security,
                    SecurityEvent.SIGN_IN_FAILED,
                    subject=refused.username or None,
                    code="401",
                    client_address=client,
                    detail=refused.reason,
                )
            )
            return login_page(request, 401, SIGN_IN_REFUSED.capitalize() + ".", username)
        who = SignedIn(
            subject=f"local:{account.username}",
            display=account.display_name,
            roles=frozenset({account.role}),
            method="local",
            account_id=account.id,
        )
        try:
            grant = await run_in_threadpool(start_audited_session, sessions, security, who, client)
        except AuditUnavailableError as error:
            return login_page(request, 503, error.message.capitalize() + ".", username)
        target = safe_next(str(form.get("next") or "/"))
        response = RedirectResponse(target, status_code=303)
        cookies.set(response, grant.token)
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/auth")
        return response

    @router.get(
        "/logout", response_class=HTMLResponse, summary="The sign-out page", include_in_schema=False
    )
    async def logout_form(request: Request) -> HTMLResponse:
        principal = optional_principal(request)
        context = {
            "signed_in_as": principal.display if principal else None,
            "csrf_token": getattr(request.state, "csrf_token", ""),
        }
        return pages.TemplateResponse(request, "logout.html", context)

    @router.post("/logout", summary="Sign out: the session ends for good", include_in_schema=False)
    async def logout(request: Request, principal: CurrentPrincipal) -> Response:
        token = request.cookies.get(cookies.name)
        if token:
            await run_in_threadpool(sessions.end, token)
        await run_in_threadpool(
            partial(record_security_event, security, SecurityEvent.SIGN_OUT, principal=principal)
        )
        response = RedirectResponse("/auth/logout", status_code=303)
        cookies.clear(response)
        return response

    if oidc is not None:
        _oidc_routes(router, oidc, sessions, settings, cookies, security)

    @router.get("/session", summary="Who is signed in, their roles and the CSRF token")
    async def who_am_i(request: Request, principal: CurrentPrincipal) -> JSONResponse:
        return JSONResponse(
            {
                "subject": principal.subject,
                "display": principal.display,
                "roles": sorted(r.value for r in principal.roles),
                "permissions": sorted(p.value for p in principal.permissions),
                "method": principal.method,
                "csrf_token": getattr(request.state, "csrf_token", None),
            }
        )

    return router


def start_audited_session(
    sessions: SessionStore, security: SecurityEvents, who: SignedIn, client: str | None
) -> SessionGrant:
    """Open the session and record the sign-in; fail closed: if the sign-in cannot be
    written to the audit trail, the session just opened is ended and AuditUnavailableError
    raised, so nobody is signed in without a record of it."""
    grant = sessions.start(who, client)
    principal = Principal(
        subject=who.subject,
        display=who.display,
        roles=who.roles,
        method=who.method,
        client_address=client,
        patient_id=who.patient_id,
        granted=who.granted,
    )
    try:
        record_security_event(security, SecurityEvent.SIGN_IN, principal=principal)
    except AuditUnavailableError:
        # The token never reaches the browser; ending the session is belt and braces, and
        # may fail too when the database is what failed.
        with suppress(SQLAlchemyError, VenaPathError):
            sessions.end(grant.token)
        raise
    return grant


def _redirect_uri(request: Request, settings: Settings) -> str:
    base = str(settings.public_base_url or request.base_url).rstrip("/")
    return f"{base}/auth/oidc/callback"


def _oidc_routes(
    router: APIRouter,
    oidc: OidcClient,
    sessions: SessionStore,
    settings: Settings,
    cookies: SessionCookies,
    security: SecurityEvents,
) -> None:
    pages = templates()

    async def failed(request: Request, reason: str, status: int = 401) -> HTMLResponse:
        if status == 401:
            await run_in_threadpool(
                partial(
                    record_security_event,
                    security,
                    SecurityEvent.SIGN_IN_FAILED,
                    code="401 oidc",
                    client_address=request.client.host if request.client else None,
                    detail=reason,
                )
            )
        context = {"login_csrf": "", "next": "/", "error": reason, "username": "", "oidc": True}
        response = pages.TemplateResponse(request, "login.html", context, status_code=status)
        response.delete_cookie(FLOW_COOKIE, path="/auth/oidc")
        return response

    @router.get(
        "/oidc/login",
        summary="Sign in with the hospital's OpenID Connect provider",
        include_in_schema=False,
    )
    async def oidc_login(request: Request) -> Response:
        target = safe_next(request.query_params.get("next"))
        try:
            url, flow = await oidc.start(_redirect_uri(request, settings), target)
        except OidcError as error:
            return await failed(request, str(error))
        response = RedirectResponse(url, status_code=303)
        response.set_cookie(
            FLOW_COOKIE,
            flow.to_cookie(),
            max_age=FLOW_SECONDS,
            path="/auth/oidc",
            secure=cookies.secure,
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get(
        "/oidc/callback",
        summary="Where the provider sends the browser back",
        include_in_schema=False,
    )
    async def oidc_callback(request: Request) -> Response:
        params = request.query_params
        if params.get("error"):
            return await failed(request, "the sign-in provider did not sign you in")
        try:
            flow = Flow.from_cookie(request.cookies.get(FLOW_COOKIE))
            who = await oidc.finish(
                flow,
                params.get("state", ""),
                params.get("code", ""),
                _redirect_uri(request, settings),
            )
        except OidcError as error:
            return await failed(request, str(error))
        client = request.client.host if request.client else None
        try:
            grant = await run_in_threadpool(start_audited_session, sessions, security, who, client)
        except AuditUnavailableError as error:
            return await failed(request, error.message, 503)
        response = RedirectResponse(safe_next(flow.next), status_code=303)
        cookies.set(response, grant.token)
        response.delete_cookie(FLOW_COOKIE, path="/auth/oidc")
        return response
