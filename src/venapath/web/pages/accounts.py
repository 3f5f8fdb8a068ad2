"""Account administration (ACCOUNTS_MANAGE): list the local accounts, add one, disable or
enable it, change its role, reset its password, all through `AccountService`.

Every change is a security event (identity/events.py, the one door): an AuditEvent in the
hash-chained audit trail, written in the change's own transaction (who changed which
account, never a password), and a line of the `venapath.security` log. An administrator may not disable or demote their own account
(no one locks the last door from inside). Forms are plain posts carrying the CSRF token.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from venapath.domain.access import Permission, Principal
from venapath.errors import InputError
from venapath.identity.accounts import ACCOUNT_ROLES, Account, AccountAudit, AccountService
from venapath.identity.events import SecurityEvent, SecurityEvents, record_security_event
from venapath.kb.model import KnowledgeBase
from venapath.persistence.audit import AuditAction, AuditFact, AuditTrail
from venapath.web.access import page_principal
from venapath.web.context import page_context
from venapath.web.templating import render

PAGE = "/admin/accounts"
LOCAL_SUBJECT = "local:"
"""How a local account's sessions name their subject (identity/routes.py)."""


def _recorded(
    security: SecurityEvents, principal: Principal, action: AuditAction, what: str
) -> AccountAudit:
    """The change's audit entry, written in the change's own transaction (both or neither)."""

    def record(session: Session, account: Account) -> None:
        record_security_event(
            security,
            SecurityEvent.ACCOUNT_CHANGED,
            principal=principal,
            action=action,
            resources=(f"account/{account.id}",),
            detail=f"{what.format(role=account.role.value)} {account.username}",
            session=session,
        )

    return record


def _not_self(principal: Principal, username: str, pointer: str) -> None:
    if principal.subject == f"{LOCAL_SUBJECT}{username.strip().lower()}":
        raise InputError.at(pointer, "you may not change your own account's access here")


def build_accounts_router(
    kb: KnowledgeBase, accounts: AccountService, audit: AuditTrail, security: SecurityEvents
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get(PAGE, response_class=HTMLResponse)
    def accounts_page(request: Request, done: str = "") -> HTMLResponse:
        principal = page_principal(request, Permission.ACCOUNTS_MANAGE)
        listed = accounts.list()
        audit.record_event(AuditFact(AuditAction.QUERY, principal, query="accounts"))
        context = page_context(
            request,
            principal,
            kb,
            accounts=listed,
            roles=[r.value for r in ACCOUNT_ROLES],
            done=done[:100],
            me=principal.subject.removeprefix(LOCAL_SUBJECT),
        )
        return HTMLResponse(render("accounts.html", context))

    @router.post(PAGE)
    def add_account(
        request: Request,
        username: Annotated[str, Form()] = "",
        display_name: Annotated[str, Form()] = "",
        role: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> RedirectResponse:
        principal = page_principal(request, Permission.ACCOUNTS_MANAGE)
        accounts.add(
            username,
            display_name,
            role,
            password,
            audit=_recorded(security, principal, AuditAction.CREATE, "added as {role}"),
        )
        return RedirectResponse(f"{PAGE}?done=added", status_code=303)

    @router.post(PAGE + "/{username}/disabled")
    def set_disabled(
        request: Request, username: str, disabled: Annotated[str, Form()] = ""
    ) -> RedirectResponse:
        principal = page_principal(request, Permission.ACCOUNTS_MANAGE)
        if disabled not in ("true", "false"):
            raise InputError.at("/disabled", "must be true or false")
        _not_self(principal, username, "/disabled")
        what = "disabled" if disabled == "true" else "enabled"
        accounts.set_disabled(
            username,
            disabled == "true",
            audit=_recorded(security, principal, AuditAction.UPDATE, what),
        )
        return RedirectResponse(f"{PAGE}?done={what}", status_code=303)

    @router.post(PAGE + "/{username}/role")
    def set_role(
        request: Request, username: str, role: Annotated[str, Form()] = ""
    ) -> RedirectResponse:
        principal = page_principal(request, Permission.ACCOUNTS_MANAGE)
        _not_self(principal, username, "/role")
        accounts.set_role(
            username,
            role,
            audit=_recorded(security, principal, AuditAction.UPDATE, "role set to {role}"),
        )
        return RedirectResponse(f"{PAGE}?done=role", status_code=303)

    @router.post(PAGE + "/{username}/password")
    def reset_password(
        request: Request, username: str, password: Annotated[str, Form()] = ""
    ) -> RedirectResponse:
        principal = page_principal(request, Permission.ACCOUNTS_MANAGE)
        accounts.reset_password(
            username,
            password,
            audit=_recorded(security, principal, AuditAction.UPDATE, "password reset"),
        )
        return RedirectResponse(f"{PAGE}?done=password", status_code=303)

    return router


__all__ = ["build_accounts_router"]
