"""Deny by default: every route of the application has a policy, and every role gets
exactly what the policy table says, over HTTP (the middleware, not the table, is tested).

A route added without an entry in identity/policy.py fails `test_every_route_has_a_policy`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from identity_support import bearer, session_csrf, sign_in
from security_settings import production_settings
from venapath.domain.access import ROLE_PERMISSIONS, Permission, Role
from venapath.identity.accounts import ACCOUNT_ROLES
from venapath.identity.policy import ROUTE_POLICY, Access, requirement_for
from venapath.identity.routing import route_keys
from venapath.identity.scopes import grant_for
from venapath.settings import Settings

REFUSED = {401, 403}
# A route that checks its own credential answers an unknown one as "no such link" (404) or
# "no longer usable" (410): refused, and nothing of a record is shown.
OWN_CREDENTIAL_REFUSED = {401, 403, 404, 410}
# A service token with read scopes only: what an integration engine reading records holds.
SERVICE_SCOPES = "system/Patient.rs system/Task.rs"


def _routes(app: FastAPI) -> list[tuple[str, str]]:
    return sorted(
        (method, key.template)
        for key in route_keys(app.routes)
        for method in key.methods
        if method != "HEAD"
    )


def _concrete(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", template)


@pytest.mark.parametrize("docs", [False, True], ids=["production", "with-docs"])
def test_every_route_has_a_policy(
    app_factory: Callable[[Settings], TestClient], docs: bool
) -> None:
    with app_factory(production_settings(docs_enabled=docs)) as client:
        routes = _routes(client.app)  # type: ignore[arg-type]
    missing = [route for route in routes if requirement_for(*route) is None]
    assert not missing, f"routes without an access policy (add them to ROUTE_POLICY): {missing}"
    assert len(routes) >= 40


def test_a_route_without_a_policy_is_refused_even_to_an_admin(
    app_factory: Callable[[Settings], TestClient], settings: Settings
) -> None:
    with app_factory(settings) as client:
        app: FastAPI = client.app  # type: ignore[assignment]
        assert client.get("/health").status_code == 200  # the route index is built now

        @app.get("/api/v1/forgotten")
        def forgotten() -> dict[str, str]:
            return {"leak": "everything"}

        assert sign_in(client, "admin-1").status_code == 303
        response = client.get("/api/v1/forgotten")
    assert response.status_code == 403
    assert response.json()["code"] == "no_policy"
    assert "leak" not in response.text


def _outcome(client: TestClient, method: str, template: str, csrf: str | None) -> int:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    response = client.request(method, _concrete(template), headers=headers)
    return response.status_code


def _expected_admitted(
    requirement: object, permissions: frozenset[Permission], signed_in: bool
) -> bool:
    if requirement is Access.PUBLIC:
        return True
    if requirement is Access.CDS_HOOKS:
        return False  # only an EHR's CDS Hooks JWT opens these, never a session or API token
    if requirement is Access.SIGNED_IN:
        return signed_in
    if requirement is Access.OWN_CREDENTIAL:
        return False  # a SMART launch session or a check-in link token, which no role here holds
    assert isinstance(requirement, Permission)
    return requirement in permissions


@pytest.fixture
def role_client(
    request: pytest.FixtureRequest,
    app_factory: Callable[[Settings], TestClient],
    settings: Settings,
) -> Iterator[tuple[TestClient, frozenset[Permission], str | None]]:
    role: str = request.param
    with app_factory(settings) as client:
        if role == "anonymous":
            yield client, frozenset(), None
        elif role == "service":
            client.headers.update(bearer(SERVICE_SCOPES))
            yield client, grant_for(SERVICE_SCOPES).permissions, None
        else:
            assert sign_in(client, f"{role}-1").status_code == 303
            yield client, ROLE_PERMISSIONS[Role(role)], session_csrf(client)


# Sign-out would end the session the walk uses; the sign-in post answers its own login-CSRF
# check. Both are tested in test_sessions.py.
SEPARATELY_TESTED = {("POST", "/auth/logout"), ("POST", "/auth/login")}
ROLES = ["anonymous", *(r.value for r in ACCOUNT_ROLES), "service"]


@pytest.mark.parametrize("role_client", ROLES, indirect=True)
def test_each_role_gets_what_the_policy_says_on_every_route(
    role_client: tuple[TestClient, frozenset[Permission], str | None],
) -> None:
    client, permissions, csrf = role_client
    signed_in = csrf is not None or "authorization" in client.headers
    wrong = []
    for method, template in _routes(client.app):  # type: ignore[arg-type]
        if (method, template) in SEPARATELY_TESTED:
            continue
        requirement = ROUTE_POLICY[(method, template)]
        status = _outcome(client, method, template, csrf)
        refused = OWN_CREDENTIAL_REFUSED if requirement is Access.OWN_CREDENTIAL else REFUSED
        admitted = status not in refused
        if admitted != _expected_admitted(requirement, permissions, signed_in):
            wrong.append((method, template, requirement, status))
    assert not wrong, wrong
