"""NUL bytes and database errors on both databases: refused at the edge with 422 naming the
field, never a 5xx, and no identifier sent reaches the log (the review found the MRN twice
and a name and SSN four times in the PostgreSQL server log)."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from db_support import BACKENDS, fresh_database
from identity_support import bearer, identity_settings
from venapath.api.app import create_app
from venapath.api.logs import JsonFormatter
from venapath.cdshooks.feedback import MemoryFeedbackStore
from venapath.kb.model import KnowledgeBase
from venapath.persistence.database import Database
from venapath.services.registry import Registry
from venapath.settings import load_settings

MRN = "MRN-SECRET-4711"
NAME = "John Q Public, SSN 078-05-1120"
IDENTIFIERS = (MRN, "078-05-1120", "John Q Public")
JSON = {"content-type": "application/json"}


@pytest.fixture(params=BACKENDS)
def registry_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    with fresh_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def server_log() -> Iterator[io.StringIO]:
    """Everything logged while the test runs, formatted as the server writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def _client(kb: KnowledgeBase, database: Database) -> TestClient:
    settings = load_settings(env="development", **identity_settings())
    app = create_app(
        settings, kb=kb, feedback=MemoryFeedbackStore(), registry=Registry(database, kb)
    )
    return TestClient(app, raise_server_exceptions=False, headers=bearer())


def test_nul_in_any_text_field_is_422_naming_it_on_both_databases(
    kb: KnowledgeBase, registry_db: Database, server_log: io.StringIO
) -> None:
    with _client(kb, registry_db) as client:
        mrn = client.post("/api/v1/patients", json={"mrn": f"{MRN}\u0000x"})
        patient = client.post("/api/v1/patients", json={"mrn": MRN, "sex": "male"})
        assert patient.status_code == 201, patient.text
        episode = client.post(
            "/api/v1/episodes",
            json={
                "patient_id": patient.json()["id"],
                "condition": "leg_dvt",
                "notes": f"Patient {NAME}\u0000",
            },
        )
        surrogate = client.post("/api/v1/patients", content='{"mrn": "H-\\ud800"}', headers=JSON)
        path = client.get(f"/api/v1/episodes/{patient.json()['id']}%00")
    answers = [mrn, episode, surrogate, path]
    assert [a.status_code for a in answers] == [422, 422, 422, 422]
    assert mrn.json()["errors"][0]["pointer"] == "/mrn"
    assert episode.json()["errors"][0]["pointer"] == "/notes"
    assert surrogate.json()["errors"][0]["pointer"] == "/mrn"
    logged = server_log.getvalue()
    assert [name for name in IDENTIFIERS if name in logged] == []


def test_an_unexpected_error_logs_neither_its_text_nor_a_traceback_of_values(
    kb: KnowledgeBase, registry_db: Database, server_log: io.StringIO
) -> None:
    registry = Registry(registry_db, kb)

    def fail(*_: object, **__: object) -> None:
        raise RuntimeError(f"driver said: value {MRN!r} refused for {NAME}")

    settings = load_settings(env="development", **identity_settings())
    app = create_app(settings, kb=kb, feedback=MemoryFeedbackStore(), registry=registry)
    registry.create_patient = fail  # type: ignore[method-assign]
    with TestClient(app, raise_server_exceptions=False, headers=bearer()) as client:
        response = client.post("/api/v1/patients", json={"mrn": MRN})
    assert response.status_code == 500
    assert MRN not in response.text
    logged = server_log.getvalue()
    assert "RuntimeError" in logged  # the type and place are kept for the on-call engineer
    assert [name for name in IDENTIFIERS if name in logged] == []


def test_database_errors_never_carry_their_parameters(registry_db: Database) -> None:
    with pytest.raises(DBAPIError) as caught, registry_db.engine.connect() as connection:
        connection.execute(text("INSERT INTO no_such_table VALUES (:mrn)"), {"mrn": MRN})
    assert MRN not in str(caught.value)
    assert "hidden" in str(caught.value)
