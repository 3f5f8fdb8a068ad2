"""Who may see a page: the signed-in caller and the permission each page needs.

Pages read the caller only from `request.state.principal` (set by the authentication
middleware). An anonymous visitor is sent to the sign-in page and back; a signed-in one
without the permission gets a 403 page. Both are decided before anything is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from venapath.domain.access import Permission, Principal
from venapath.errors import RefusedError, UnauthenticatedError
from venapath.identity.http import optional_principal
from venapath.web.templating import N_


class SignInRequiredError(UnauthenticatedError):
    """An anonymous visitor asked for a page: the web layer answers with the sign-in page."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in to see this page")
        self.next_path = next_path


def page_principal(request: Request, permission: Permission) -> Principal:
    principal = optional_principal(request)
    if principal is None:
        raise SignInRequiredError(request.url.path)
    if not principal.may(permission):
        raise RefusedError(f"your role may not use this page ({permission.value})")
    return principal


@dataclass(frozen=True)
class NavLink:
    href: str
    label: str
    permission: Permission
    current: bool = False


NAV: tuple[tuple[str, str, Permission], ...] = (
    # Labels are marked for the catalogue here and translated in base.html, per reader.
    ("/worklist", N_("Worklist"), Permission.WORKLIST_READ),
    ("/patients", N_("Patients"), Permission.PATIENT_READ),
    ("/evaluate", N_("Evaluate"), Permission.EVALUATE),
    ("/knowledge", N_("Knowledge base"), Permission.KNOWLEDGE_READ),
    ("/dashboards", N_("Dashboards"), Permission.AGGREGATE_READ),
    ("/screening", N_("Population screen"), Permission.AGGREGATE_READ),
    ("/feedback", N_("Card feedback"), Permission.AGGREGATE_READ),
    ("/admin/accounts", N_("Accounts"), Permission.ACCOUNTS_MANAGE),
)


def navigation(principal: Principal, path: str) -> list[NavLink]:
    """The menu: only the pages this caller may open."""
    return [
        NavLink(href, label, permission, current=path.startswith(href))
        for href, label, permission in NAV
        if principal.may(permission)
    ]
