"""The hostile requests of the 2026-12 security review, replayed in process: each is refused
quickly with a 4xx naming the limit or the field, never a 5xx, never a large answer."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from reliability_support import (
    ALIAS_BOMB,
    JSON_NESTED,
    YAML_NESTED,
    bundle,
)

from identity_support import bearer, identity_settings
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.kb.model import KnowledgeBase
from venapath.services.registry import Registry
from venapath.settings import load_settings

YAML = {"content-type": "application/yaml"}
JSON = {"content-type": "application/json"}
FHIR = {"content-type": "application/fhir+json"}


@pytest.fixture(scope="module")
def hostile(kb: KnowledgeBase, module_registry: Registry) -> Iterator[TestClient]:
    settings = load_settings(env="development", max_body_bytes=4_000_000, **identity_settings())
    app = create_app(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry)
    with TestClient(app, headers=bearer()) as client:
        yield client


def test_the_alias_bomb_is_refused_at_once_with_a_small_answer(hostile: TestClient) -> None:
    started = time.perf_counter()
    response = hostile.post("/api/v1/evaluate", content=ALIAS_BOMB, headers=YAML)
    elapsed = time.perf_counter() - started
    assert response.status_code == 422
    assert len(response.content) < 2_000
    assert "aliases" in response.text
    assert elapsed < 0.5


def test_yaml_nested_1000_deep_is_413_naming_the_limit(hostile: TestClient) -> None:
    response = hostile.post("/api/v1/evaluate", content=YAML_NESTED, headers=YAML)
    assert response.status_code == 413
    assert "nested more than" in response.text


@pytest.mark.parametrize("depth", sorted(JSON_NESTED))
def test_json_nested_deep_is_413_on_the_case_and_fhir_paths(
    hostile: TestClient, depth: int
) -> None:
    case = hostile.post("/api/v1/evaluate", content=JSON_NESTED[depth], headers=JSON)
    fhir = hostile.post("/api/v1/fhir/evaluate", content=JSON_NESTED[depth], headers=FHIR)
    assert (case.status_code, fhir.status_code) == (413, 413)
    assert fhir.json()["resourceType"] == "OperationOutcome"


def test_a_binary_tag_is_refused_naming_the_line(hostile: TestClient) -> None:
    body = "format_version: 1\ncase_id: !!binary aGVsbG8=\n"
    response = hostile.post("/api/v1/evaluate", content=body, headers=YAML)
    assert response.status_code == 422
    assert "line 2" in response.text


def test_a_10000_entry_bundle_is_413_naming_the_entry_limit(hostile: TestClient) -> None:
    response = hostile.post("/api/v1/fhir/evaluate", content=bundle(10_000), headers=FHIR)
    assert response.status_code == 413
    issue = response.json()["issue"][0]
    assert issue["code"] == "too-costly"
    assert "5,000 entries" in issue["diagnostics"]


@pytest.mark.parametrize("offset", [2**63, 2**31, 10**12])
def test_a_huge_offset_is_422_naming_offset(hostile: TestClient, offset: int) -> None:
    response = hostile.get(f"/api/v1/patients?offset={offset}")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "query.offset"


def test_nul_in_path_or_query_is_422_naming_which(hostile: TestClient) -> None:
    path = hostile.get("/api/v1/patients/abc%00def")
    query = hostile.get("/api/v1/worklist?as_of=2026-01-01%00")
    assert (path.status_code, query.status_code) == (422, 422)
    assert path.json()["errors"][0]["pointer"] == "path"
    assert query.json()["errors"][0]["pointer"] == "query"


def test_nul_in_a_case_field_is_422_naming_the_field(hostile: TestClient) -> None:
    body = '{"case_id": "a", "patient": {"sex": "female\\u0000"}}'
    response = hostile.post("/api/v1/evaluate", content=body, headers=JSON)
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/patient/sex"


def test_a_long_value_is_not_echoed_back(hostile: TestClient) -> None:
    body = '{"case_id": "a", "patient": {"sex": "' + "q" * 50_000 + '"}}'
    response = hostile.post("/api/v1/evaluate", content=body, headers=JSON)
    assert response.status_code == 422
    assert len(response.content) < 2_000


def test_rate_limit_answers_429_with_retry_after(
    kb: KnowledgeBase, module_registry: Registry
) -> None:
    settings = load_settings(
        env="development", rate_limit_per_minute=60, rate_limit_burst=2, **identity_settings()
    )
    app = create_app(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=module_registry)
    with TestClient(app, headers=bearer()) as client:
        answers = [
            client.post("/api/v1/evaluate", content="case_id: r\n", headers=YAML) for _ in range(3)
        ]
        health = client.get("/health")
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) >= 1
    assert answers[2].headers["content-type"] == "application/problem+json"
    assert health.status_code == 200
