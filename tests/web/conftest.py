"""The web app in process, with the caller chosen by the test.

The authentication middleware is not what these tests are about, so a test-only middleware
puts the principal of the test's choice on `request.state` (never done in src/)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.domain.access import Principal, Role
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import load_settings
from venapath.web.install import install_web


def person(role: Role, name: str = "Dr Test") -> Principal:
    return Principal(subject=f"test:{role}", display=name, roles=frozenset({role}), method="local")


class Caller:
    """Who the next requests come from; `None` is an anonymous visitor."""

    def __init__(self) -> None:
        self.principal: Principal | None = person(Role.CLINICIAN)

    def become(self, role: Role | None) -> None:
        self.principal = None if role is None else person(role)


@pytest.fixture(scope="module")
def caller() -> Caller:
    return Caller()


@pytest.fixture(scope="module")
def web(kb: KnowledgeBase, module_registry: Registry, caller: Caller) -> Iterator[TestClient]:
    settings = load_settings(env="development", max_body_bytes=1_000_000)
    app: FastAPI = create_app(
        settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry
    )
    install_web(app)

    @app.middleware("http")
    async def as_caller(request: Request, call_next: Any) -> Any:
        request.state.principal = caller.principal
        return await call_next(request)

    with TestClient(app, follow_redirects=False) as client:
        yield client


@pytest.fixture(autouse=True)
def clinician_by_default(caller: Caller) -> None:
    caller.become(Role.CLINICIAN)
