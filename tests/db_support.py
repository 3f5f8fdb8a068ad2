"""Databases for tests: a fresh SQLite file, and a fresh PostgreSQL schema when
VENAPATH_TEST_DATABASE_URL is set (`.ci/run` sets it for the local server)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

from venapath.persistence import migrate
from venapath.persistence.database import Database

PG_URL = os.environ.get("VENAPATH_TEST_DATABASE_URL")
NO_PG = "VENAPATH_TEST_DATABASE_URL is not set (CI sets it for the local PostgreSQL)"
BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.skipif(not PG_URL, reason=NO_PG)),
]


@contextmanager
def fresh_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database URL nobody else uses, removed afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / f'registry-{uuid.uuid4().hex[:8]}.sqlite3'}"
        return
    assert PG_URL is not None
    schema = f"vp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL, pool_pre_ping=True)
    with admin.begin() as connection:
        connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    with fresh_url(backend, tmp_path) as url:
        database = Database(url)
        migrate.upgrade(database)
        try:
            yield database
        finally:
            database.dispose()
