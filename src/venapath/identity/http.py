"""How an HTTP handler learns who is asking: the one place routes read the caller from.

The authentication middleware verifies the session cookie or bearer token of every request
and leaves the `Principal` on `request.state.principal` (or nothing, for an anonymous
caller). Handlers never read headers for identity: they declare `principal: CurrentPrincipal`
and FastAPI hands them the verified caller, or the request is refused with 401.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from venapath.domain.access import Principal
from venapath.errors import UnauthenticatedError

PRINCIPAL_STATE = "principal"


def optional_principal(request: Request) -> Principal | None:
    """The verified caller, or None for an anonymous request."""
    principal = getattr(request.state, PRINCIPAL_STATE, None)
    return principal if isinstance(principal, Principal) else None


def current_principal(request: Request) -> Principal:
    """The verified caller; an anonymous request is refused here, before the handler runs."""
    principal = optional_principal(request)
    if principal is None:
        raise UnauthenticatedError("sign in, or send a bearer token, to use this endpoint")
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
