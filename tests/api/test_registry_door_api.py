"""The registry door over HTTP: every route of a retracted patient refuses (410 reads, 409
writes); a write whose response was lost is retried with its Idempotency-Key and stored once;
four clients writing procedure reports for one episode get 201 or 409, never a 5xx."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import Response

from db_support import BACKENDS, fresh_database
from identity_support import bearer, identity_settings
from server_support import free_port
from venapath.api.app import create_app
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.services.registry import Registry
from venapath.settings import load_settings

NOW = datetime.now(UTC).replace(microsecond=0)


class SlowResponseMiddleware(BaseHTTPMiddleware):
    """Test-only: hold the response (after the handler committed) when asked, so the client's
    timeout drops the connection with the write already stored."""

    async def dispatch(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        if "x-test-hold-response" in request.headers:
            await asyncio.sleep(float(request.headers["x-test-hold-response"]))
        return response


def _app(database: Database, kb: KnowledgeBase) -> FastAPI:
    settings = load_settings(env="development", max_body_bytes=1_000_000, **identity_settings())
    app = create_app(
        settings, kb=kb, feedback=MemoryFeedbackStore(), registry=Registry(database, kb)
    )
    app.add_middleware(SlowResponseMiddleware)
    return app


@contextmanager
def served(app: FastAPI) -> Iterator[str]:
    """The app on a loopback port in a thread (uvicorn), for real connections."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, tmp_path: Path, kb: KnowledgeBase) -> Iterator[FastAPI]:
    with fresh_database(request.param, tmp_path) as database:
        yield _app(database, kb)


def _record(http: httpx.Client | TestClient) -> dict[str, Any]:
    patient = http.post("/api/v1/patients", json={}).json()
    episode = http.post(
        "/api/v1/episodes",
        json={
            "patient_id": patient["id"],
            "condition": "venous_stenosis",
            "diagnosed_at": (NOW - timedelta(days=40)).isoformat(),
        },
    ).json()
    procedure = http.post("/api/v1/procedures", json=_stent(episode["id"], 30)).json()
    return {"patient": patient, "episode": episode, "procedure": procedure}


def _stent(episode_id: str, days_ago: float) -> dict[str, Any]:
    return {
        "episode_id": episode_id,
        "kind": "venous_stent",
        "performed_at": (NOW - timedelta(days=days_ago)).isoformat(),
    }


# Every registry route, with what it answers for a retracted patient and why.
RETRACTED_ROUTES: dict[tuple[str, str], int] = {
    ("GET", "/api/v1/patients/{patient_id}"): 410,
    ("PATCH", "/api/v1/patients/{patient_id}"): 409,
    ("DELETE", "/api/v1/patients/{patient_id}"): 409,
    ("GET", "/api/v1/patients/{patient_id}/episodes"): 410,
    ("GET", "/api/v1/patients/{patient_id}/procedures"): 410,
    ("GET", "/api/v1/patients/{patient_id}/outcomes"): 410,
    ("GET", "/api/v1/patients/{patient_id}/tasks"): 410,
    ("GET", "/api/v1/patients/{patient_id}/assessments"): 410,
    ("POST", "/api/v1/patients/{patient_id}/assessments"): 409,
    ("GET", "/api/v1/assessments/{assessment_id}"): 410,
    ("GET", "/api/v1/episodes/{episode_id}"): 410,
    ("PATCH", "/api/v1/episodes/{episode_id}"): 409,
    ("POST", "/api/v1/episodes"): 409,
    ("POST", "/api/v1/outcomes"): 409,
    ("POST", "/api/v1/procedures"): 409,
    ("GET", "/api/v1/procedures/{procedure_id}"): 410,
    ("POST", "/api/v1/check-ins"): 409,
    ("PATCH", "/api/v1/tasks/{task_id}"): 409,
    ("GET", "/api/v1/fhir/Patient/{patient_id}/$export-record"): 410,
    # Searches across patients answer 200 and leave the retracted patient out:
    ("GET", "/api/v1/patients"): 200,
    ("GET", "/api/v1/worklist"): 200,
    # The audit trail stays readable to auditors: the retraction itself is accountable.
    ("GET", "/api/v1/audit/{entity}/{entity_id}"): 200,
    ("GET", "/api/v1/audit"): 200,
    # These create a new patient; there is no retracted patient for them to refuse.
    ("POST", "/api/v1/patients"): 0,
    ("POST", "/api/v1/fhir/$import-record"): 0,
}


def test_every_registry_route_refuses_a_retracted_patient(app: FastAPI) -> None:
    registry_routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method, operation in operations.items()
        if "Registry" in operation.get("tags", [])
    }
    assert registry_routes == set(RETRACTED_ROUTES), "a registry route has no retraction case"
    with TestClient(app, headers=bearer()) as client:
        made = _record(client)
        patient_id = made["patient"]["id"]
        episode_id = made["episode"]["id"]
        procedure_id = made["procedure"]["id"]
        case = {"case_id": "r", "diagnoses": [{"condition": "leg_dvt", "status": "confirmed"}]}
        assessment = client.post(f"/api/v1/patients/{patient_id}/assessments", json=case).json()
        task = client.get(f"/api/v1/patients/{patient_id}/tasks").json()[0]
        assert (
            client.delete(f"/api/v1/patients/{patient_id}", params={"version": 1}).status_code
            == 204
        )
        ids = {
            "patient_id": patient_id, "episode_id": episode_id, "procedure_id": procedure_id,
            "assessment_id": assessment["id"], "task_id": task["id"],
            "entity": "patient", "entity_id": patient_id,
        }  # fmt: skip
        bodies: dict[tuple[str, str], Any] = {
            ("PATCH", "/api/v1/patients/{patient_id}"): {"version": 2, "birth_year": 1990},
            ("POST", "/api/v1/patients/{patient_id}/assessments"): case,
            ("PATCH", "/api/v1/episodes/{episode_id}"): {"version": 1, "status": "closed"},
            ("POST", "/api/v1/episodes"): {"patient_id": patient_id, "condition": "leg_dvt"},
            ("POST", "/api/v1/outcomes"): {
                "episode_id": episode_id, "measure": "death", "present": True,
                "assessed_at": NOW.isoformat(),
            },
            ("POST", "/api/v1/procedures"): _stent(episode_id, 1),
            ("POST", "/api/v1/check-ins"): {
                "procedure_id": procedure_id, "submitted_at": NOW.isoformat(),
            },
            ("PATCH", "/api/v1/tasks/{task_id}"): {"version": 2, "status": "done"},
        }  # fmt: skip
        params = {
            ("DELETE", "/api/v1/patients/{patient_id}"): {"version": 2},
            ("GET", "/api/v1/audit"): {"since": NOW.isoformat()},
        }
        answers = {}
        for (method, template), expected in RETRACTED_ROUTES.items():
            if expected == 0:
                continue
            response = client.request(
                method,
                template.format(**ids),
                json=bodies.get((method, template)),
                params=params.get((method, template)),
            )
            answers[(method, template)] = response.status_code
            if expected == 200:
                assert patient_id not in response.text or "audit" in template
        assert answers == {k: v for k, v in RETRACTED_ROUTES.items() if v != 0}


def test_a_write_whose_response_was_lost_is_stored_once_when_retried(app: FastAPI) -> None:
    with served(app) as base, httpx.Client(base_url=base, timeout=10, headers=bearer()) as http:
        made = _record(http)
        body = _stent(made["episode"]["id"], 3)
        key = {"Idempotency-Key": "7d4f6a52-retry-1"}
        with pytest.raises(httpx.ReadTimeout):
            http.post(
                "/api/v1/procedures",
                json=body,
                headers={**key, "X-Test-Hold-Response": "2"},
                timeout=0.5,
            )  # the connection is dropped after the server committed
        retried = http.post("/api/v1/procedures", json=body, headers=key)
        assert retried.status_code == 201, retried.text
        again = http.post("/api/v1/procedures", json=body, headers=key)
        assert again.json() == retried.json()
        procedures = http.get(f"/api/v1/patients/{made['patient']['id']}/procedures").json()
        assert len(procedures) == 2  # the first report and the retried one, once
        other_body = http.post(
            "/api/v1/procedures", json=_stent(made["episode"]["id"], 2), headers=key
        )
        assert other_body.status_code == 422
        assert other_body.json()["errors"][0]["pointer"] == "/headers/Idempotency-Key"
        patient = http.post("/api/v1/patients", json={}, headers={"Idempotency-Key": "p-1"})
        assert http.post(
            "/api/v1/patients", json={}, headers={"Idempotency-Key": "p-1"}
        ).json() == (patient.json())


@pytest.mark.slow  # a load: 4 writers x many requests over a real socket (seconds)
def test_four_clients_writing_one_episode_get_201_or_409_never_5xx(app: FastAPI) -> None:
    statuses: Counter[int] = Counter()
    with served(app) as base:
        with httpx.Client(base_url=base, timeout=30, headers=bearer()) as http:
            episode_id = _record(http)["episode"]["id"]
        barrier = threading.Barrier(4)

        def client(number: int) -> None:
            with httpx.Client(base_url=base, timeout=30, headers=bearer()) as http:
                for round_ in range(25):
                    barrier.wait()
                    body = _stent(episode_id, 29 - round_ - number / 10)
                    statuses[http.post("/api/v1/procedures", json=body).status_code] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sum(statuses.values()) == 100
    assert set(statuses) <= {201, 409}, statuses
    assert statuses[201] >= 25


def test_conflict_answers_name_the_version(app: FastAPI) -> None:
    with TestClient(app, headers=bearer()) as client:
        patient = client.post("/api/v1/patients", json={}).json()
        stale = client.patch(
            f"/api/v1/patients/{patient['id']}", json={"version": 9, "birth_year": 1990}
        )
        assert stale.status_code == 409
        assert stale.json()["errors"][0]["pointer"] == "/version"


def test_evaluations_are_audited_with_the_caller(app: FastAPI) -> None:
    case = Path(__file__).resolve().parents[2] / "examples" / "cases" / "cvt-pregnancy.yaml"
    with TestClient(app, headers=bearer()) as client:
        headers = {"content-type": "application/yaml"}
        response = client.post("/api/v1/evaluate", content=case.read_bytes(), headers=headers)
        assert response.status_code == 200
        trail = client.get("/api/v1/audit/operation/evaluate").json()
    assert [e["agent"][0]["who"]["identifier"]["value"] for e in trail] == [
        "https://auth.test#integration-engine"
    ]
    assert trail[0]["subtype"][0]["code"] == "operation"


def test_the_audit_export_over_rest_needs_audit_read(app: FastAPI) -> None:
    with TestClient(app) as client:
        patient = client.post("/api/v1/patients", json={}, headers=bearer()).json()
        since = (NOW - timedelta(minutes=5)).isoformat()
        refused = client.get(
            "/api/v1/audit", params={"since": since}, headers=bearer("system/Patient.rs")
        )
        assert refused.status_code == 403
        exported = client.get(
            "/api/v1/audit",
            params={"since": since, "patient": patient["id"]},
            headers=bearer("system/AuditEvent.rs"),
        )
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("application/fhir+ndjson")
        events = [json.loads(line) for line in exported.text.splitlines()]
        assert [e["action"] for e in events] == ["C", "R"]  # the create; the export itself
        bad = client.get("/api/v1/audit", params={"since": "yesterday"}, headers=bearer())
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["pointer"] == "since"
        assert client.get("/api/v1/audit", params={"since": since}).status_code == 401
