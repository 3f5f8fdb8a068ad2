"""The whole service in process (API and web pages), with one local account per role.

Tests sign in through the real sign-in form (`caller.become(role)`); the session's CSRF
token is then sent with every post, as the pages' forms and htmx do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from identity_support import PASSWORD, identity_settings, session_csrf, sign_in
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.domain.access import Role
from venapath.identity.accounts import ACCOUNT_ROLES, AccountService
from venapath.kb.model import KnowledgeBase
from venapath.service import build_service
from venapath.services.registry import Registry
from venapath.settings import load_settings


class Caller:
    """Who the next requests come from: a signed-in role, or an anonymous visitor (None)."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def become(self, role: Role | None) -> None:
        self.client.cookies.clear()
        self.client.headers.pop("X-CSRF-Token", None)
        if role is None:
            return
        answer = sign_in(self.client, f"{role.value}-1")
        assert answer.status_code == 303, answer.text
        self.client.headers["X-CSRF-Token"] = session_csrf(self.client)


@pytest.fixture(scope="module")
def web(kb: KnowledgeBase, module_registry: Registry) -> Iterator[TestClient]:
    settings = load_settings(
        env="development",
        max_body_bytes=1_000_000,
        web_languages=["es"],  # the Spanish catalogue is tested here; deployments opt in
        **identity_settings(),
    )
    accounts = AccountService(module_registry.database, settings)
    for role in ACCOUNT_ROLES:
        accounts.add(f"{role.value}-1", f"Test {role.value}", role.value, PASSWORD)
    app = build_service(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry)
    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture(scope="module")
def caller(web: TestClient) -> Caller:
    return Caller(web)


@pytest.fixture(autouse=True)
def clinician_by_default(caller: Caller) -> None:
    caller.become(Role.CLINICIAN)
