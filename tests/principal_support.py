"""Test-only stand-in for the authentication middleware (which h-identity builds in src/).

It sets `request.state.principal` from the `X-Test-Roles` header (comma-separated role
names; `X-Test-Patient` confines the caller to one patient). Without the header the caller
is a clinician-and-admin operator, so the older registry tests run unchanged. It lives under
tests/ only: the service itself never reads identity from a header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from venapath.domain.access import Principal, Role

OPERATOR_ROLES = "clinician,admin"


def make_principal(roles: str, patient_id: str | None = None, subject: str = "") -> Principal:
    parsed = frozenset(Role(r.strip()) for r in roles.split(",") if r.strip())
    return Principal(
        subject=subject or f"test:{roles}",
        display=f"test {roles}",
        roles=parsed,
        method="local",
        client_address="127.0.0.1",
        patient_id=patient_id,
    )


class PrincipalHeaderMiddleware(BaseHTTPMiddleware):
    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        roles = request.headers.get("x-test-roles", OPERATOR_ROLES)
        if roles != "anonymous":
            request.state.principal = make_principal(
                roles, request.headers.get("x-test-patient"), request.headers.get("x-test-user", "")
            )
        return await call_next(request)


def with_test_principals(app: FastAPI) -> FastAPI:
    app.add_middleware(PrincipalHeaderMiddleware)
    return app
