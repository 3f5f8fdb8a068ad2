"""The service as a hospital would run it (production mode, https base URL, trusted
issuers), with one local account per role, for the security tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from db_support import fresh_database
from identity_support import PASSWORD
from security_settings import production_settings
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.identity.accounts import ACCOUNT_ROLES, AccountService
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.service import build_service
from venapath.services.registry import Registry
from venapath.settings import Settings


@pytest.fixture(scope="module")
def secure_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("security")) as database:
        yield database


@pytest.fixture(scope="module")
def settings() -> Settings:
    return production_settings()


@pytest.fixture(scope="module")
def accounts(secure_database: Database, settings: Settings) -> AccountService:
    service = AccountService(secure_database, settings)
    for role in ACCOUNT_ROLES:
        service.add(f"{role.value}-1", f"Test {role.value}", role.value, PASSWORD)
    return service


@pytest.fixture(scope="module")
def app_factory(
    kb: KnowledgeBase, secure_database: Database, accounts: AccountService
) -> Callable[[Settings], TestClient]:
    def make(settings: Settings) -> TestClient:
        app = build_service(
            settings,
            kb=kb,
            feedback=MemoryFeedbackStore(),
            registry=Registry(secure_database, kb),
        )
        # https://testserver: the session cookie is Secure outside development.
        return TestClient(app, base_url="https://testserver")

    return make


@pytest.fixture(scope="module")
def shared_anonymous(
    app_factory: Callable[[Settings], TestClient], settings: Settings
) -> Iterator[TestClient]:
    """One production-mode service per module: building one (and running its start-up) for
    every test cost more than the tests."""
    with app_factory(settings) as client:
        yield client


@pytest.fixture
def anonymous(shared_anonymous: TestClient) -> TestClient:
    """The module's service, called by a visitor with no session: an empty cookie jar and
    no headers beyond the client's own, whatever the test before left."""
    shared_anonymous.cookies.clear()
    return shared_anonymous
