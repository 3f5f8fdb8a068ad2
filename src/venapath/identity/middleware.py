"""Authentication and deny-by-default authorisation for every HTTP request.

For each request: find its route (identity/routing.py), look its requirement up in the one
policy table (identity/policy.py; a route without an entry is refused), and unless the route
is public or CDS Hooks (its own JWT rules), verify the caller:
- `Authorization: Bearer <JWT>` from a configured OAuth 2 issuer (identity/tokens.py), else
- the session cookie of a signed-in person (identity/sessions.py), whose state-changing
  requests must carry the session's CSRF token (`X-CSRF-Token` header, or a `csrf_token`
  form field) or are refused with 403.
The verified `Principal` is left on `request.state.principal` (identity/http.py reads it)
and the session's CSRF token on `request.state.csrf_token`. Refusals answer 401 or 403
problem+json (an OperationOutcome on FHIR paths) with a `code` saying which check failed,
and are recorded as security events in the audit trail (coalesced per client and kind,
identity/events.py). A browser asking for a page is sent to sign in instead.
"""

from __future__ import annotations

import hmac
import json
from functools import partial
from typing import Any
from urllib.parse import parse_qs, quote

from anyio import to_thread
from jinja2 import Environment, PackageLoader
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from venapath.domain.access import Permission, Principal
from venapath.identity.events import SecurityEvent, SecurityEvents, record_security_event
from venapath.identity.http import PRINCIPAL_STATE
from venapath.identity.policy import Access, Requirement, requirement_for
from venapath.identity.routing import RouteIndex
from venapath.identity.scopes import scope_suggestion
from venapath.identity.sessions import ActiveSession, SessionStore
from venapath.identity.tokens import BearerVerifier, TokenProblemError

CSRF_STATE = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FHIR_PREFIXES = ("/cds-services", "/api/v1/fhir")
LOGIN_PATH = "/auth/login"


class RefusedRequestError(Exception):
    """A request refused before it reaches a handler."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        challenge: str | None = None,
        principal: Principal | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.challenge = challenge
        self.principal = principal  # the verified caller a 403 refuses, for the audit


class AuthenticationMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: RouteIndex,
        sessions: SessionStore,
        cookie_name: str,
        bearer: BearerVerifier | None,
        security: SecurityEvents,
    ) -> None:
        self.app = app
        self.security = security
        self.routes = routes
        self.sessions = sessions
        self.cookie_name = cookie_name
        self.bearer = bearer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method: str = scope["method"]
        template = self.routes.resolve(method, scope["path"])
        if template is None:  # no such route: the application answers 404 or 405
            await self.app(scope, receive, send)
            return
        requirement = requirement_for(method, template)
        try:
            receive = await self._admit(scope, receive, template, requirement)
        except RefusedRequestError as refusal:
            await self._refuse(scope, send, template, refusal)
            return
        await self.app(scope, receive, send)

    async def _admit(
        self, scope: Scope, receive: Receive, template: str, requirement: Requirement | None
    ) -> Receive:
        """Authenticate and authorise; the `receive` to pass on (a replay if a form was read)."""
        if requirement is None:
            raise RefusedRequestError(
                403, "no_policy", "this route has no access policy, so it is refused"
            )
        state = scope.setdefault("state", {})
        if requirement in (Access.CDS_HOOKS, Access.OWN_CREDENTIAL):
            return receive
        if requirement is Access.PUBLIC:
            session = await self._session(scope)
            if session is not None:
                state[PRINCIPAL_STATE] = session.principal
                state[CSRF_STATE] = session.csrf_token
            return receive
        principal, session = await self._authenticate(scope)
        if isinstance(requirement, Permission) and not principal.may(requirement):
            raise _forbidden(principal, requirement)
        state[PRINCIPAL_STATE] = principal
        if session is None:
            return receive
        state[CSRF_STATE] = session.csrf_token
        if scope["method"] in SAFE_METHODS:
            return receive
        return await _check_csrf(scope, receive, session.csrf_token)

    async def _authenticate(self, scope: Scope) -> tuple[Principal, ActiveSession | None]:
        authorization = _header(scope, b"authorization")
        if authorization is not None:
            if self.bearer is None:
                raise RefusedRequestError(
                    401, "forged", "no token issuer is configured for this service", "Bearer"
                )
            try:
                return await self.bearer.principal(authorization, _client(scope)), None
            except TokenProblemError as problem:
                challenge = f'Bearer error="invalid_token", error_description="{problem.code}"'
                if problem.status == 403:
                    challenge = 'Bearer error="insufficient_scope"'
                raise RefusedRequestError(
                    problem.status, problem.code, problem.detail, challenge
                ) from None
        session = await self._session(scope)
        if session is None:
            had_cookie = self._cookie(scope) is not None
            code = "session_expired" if had_cookie else "missing"
            detail = (
                "the session has ended or expired; sign in again"
                if had_cookie
                else "sign in, or send an Authorization: Bearer token"
            )
            raise RefusedRequestError(401, code, detail, 'Bearer realm="venapath"')
        return session.principal, session

    async def _session(self, scope: Scope) -> ActiveSession | None:
        token = self._cookie(scope)
        if token is None:
            return None
        return await to_thread.run_sync(self.sessions.resolve, token, _client(scope))

    def _cookie(self, scope: Scope) -> str | None:
        raw = _header(scope, b"cookie")
        if raw is None:
            return None
        return cookie_parser(raw).get(self.cookie_name) or None

    async def _refuse(
        self, scope: Scope, send: Send, template: str, refusal: RefusedRequestError
    ) -> None:
        principal = refusal.principal or scope.get("state", {}).get(PRINCIPAL_STATE)
        await to_thread.run_sync(
            partial(
                record_security_event,
                self.security,
                SecurityEvent.REFUSED,
                principal=principal if isinstance(principal, Principal) else None,
                code=f"{refusal.status} {refusal.code}",
                client_address=_client(scope),
                method=scope["method"],
                path=template,
                detail=refusal.detail,
            )
        )
        if refusal.status == 401 and _wants_page(scope):
            await _redirect_to_sign_in(scope, send)
            return
        if _from_a_browser(scope):
            await _send_refusal_page(send, refusal)
            return
        await send_problem(scope, send, refusal)


def _forbidden(principal: Principal, permission: Permission) -> RefusedRequestError:
    if principal.method == "bearer":
        suggestion = scope_suggestion(permission)
        return RefusedRequestError(
            403,
            "wrong_scope",
            f"the token's scopes do not grant {permission.value} (for example {suggestion})",
            f'Bearer error="insufficient_scope", scope="{suggestion}"',
            principal,
        )
    roles = ", ".join(sorted(r.value for r in principal.roles)) or "none"
    return RefusedRequestError(
        403, "forbidden", f"your role ({roles}) does not allow {permission.value}", None, principal
    )


async def _check_csrf(scope: Scope, receive: Receive, expected: str) -> Receive:
    """The session's CSRF token must come with every state-changing request made with it."""
    sent = _header(scope, CSRF_HEADER)
    replay = receive
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    if sent is None and content_type == "application/x-www-form-urlencoded":
        body, replay = await _read_body(receive)
        values = parse_qs(body.decode("latin-1"), max_num_fields=1000).get(CSRF_FIELD, [])
        sent = values[0] if values else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise RefusedRequestError(403, "csrf", "the request lacks this session's CSRF token")
    return replay


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """Read the whole body (the body-size limit sits outside), and a receive that replays it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0]) if client else None


def _from_a_browser(scope: Scope) -> bool:
    """A page or a form post from a browser: refused with a page in words, not JSON."""
    path: str = scope["path"]
    accept = _header(scope, b"accept") or ""
    return "text/html" in accept and not path.startswith(("/api/", "/cds-services"))


async def _send_refusal_page(send: Send, refusal: RefusedRequestError) -> None:
    page = REFUSAL_PAGE.render(detail=refusal.detail).encode()
    await send(
        {
            "type": "http.response.start",
            "status": refusal.status,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(page)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": page})


REFUSAL_PAGE = Environment(
    loader=PackageLoader("venapath.identity", "templates"), autoescape=True
).get_template("refused.html")


def _wants_page(scope: Scope) -> bool:
    path: str = scope["path"]
    accept = _header(scope, b"accept") or ""
    return (
        scope["method"] == "GET"
        and "text/html" in accept
        and not path.startswith(("/api/", "/cds-services"))
    )


async def _redirect_to_sign_in(scope: Scope, send: Send) -> None:
    target = scope["path"]
    query = scope.get("query_string", b"").decode("latin-1")
    if query:
        target += "?" + query
    location = f"{LOGIN_PATH}?next={quote(target, safe='')}"
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [(b"location", location.encode()), (b"content-length", b"0")],
        }
    )
    await send({"type": "http.response.body", "body": b""})


async def send_problem(scope: Scope, send: Send, refusal: RefusedRequestError) -> None:
    """A 401/403 as problem+json, or an OperationOutcome on FHIR and CDS Hooks paths."""
    title = "Unauthorized" if refusal.status == 401 else "Forbidden"
    body: dict[str, Any]
    if str(scope["path"]).startswith(FHIR_PREFIXES):
        body = {
            "resourceType": "OperationOutcome",
            "issue": [
                {
                    "severity": "error",
                    "code": "login" if refusal.status == 401 else "forbidden",
                    "details": {"coding": [{"code": refusal.code}]},
                    "diagnostics": refusal.detail,
                }
            ],
        }
        media = b"application/fhir+json"
    else:
        body = {
            "type": "about:blank",
            "title": title,
            "status": refusal.status,
            "detail": refusal.detail,
            "code": refusal.code,
        }
        media = b"application/problem+json"
    payload = json.dumps(body).encode()
    headers = [(b"content-type", media), (b"content-length", str(len(payload)).encode())]
    if refusal.challenge:
        headers.append((b"www-authenticate", refusal.challenge.encode()))
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
