"""Databases for tests: a fresh SQLite file, and a fresh PostgreSQL schema when
VENAPATH_TEST_DATABASE_URL is set (`.ci/run` sets it for the local server).

A fresh SQLite database is a copy of one migrated once per test process: running every
migration again for each of hundreds of tests costs more than the tests themselves. The
migrations themselves are tested in `tests/persistence/test_migrations.py`."""

from __future__ import annotations

import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from functools import cache
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
    pytest.param(
        "postgresql",
        id="postgresql",
        marks=[pytest.mark.skipif(not PG_URL, reason=NO_PG), pytest.mark.slow],
    ),
]
"""The PostgreSQL cases are `slow` (a schema and every migration per test): `make test` runs
them where VENAPATH_TEST_DATABASE_URL is set, `make unit` never does."""


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


@cache
def migrated_sqlite_template() -> Path:
    """A SQLite file at the newest revision, made once per test process."""
    folder = Path(tempfile.mkdtemp(prefix="venapath-template-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "template.sqlite3"
    database = Database(f"sqlite:///{path}")
    migrate.upgrade(database)
    database.dispose()
    return path


def _copy_sqlite(source: Path, url: str) -> None:
    """Copy with SQLite's backup API, so the copy is consistent whatever the journal mode."""
    target = make_url(url).database
    assert target is not None
    with closing(sqlite3.connect(source)) as origin, closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)


@contextmanager
def fresh_database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database nobody else uses, disposed of afterwards."""
    with fresh_url(backend, tmp_path) as url:
        if backend == "sqlite":
            _copy_sqlite(migrated_sqlite_template(), url)
        database = Database(url)
        if backend != "sqlite":
            migrate.upgrade(database)
        try:
            yield database
        finally:
            database.dispose()
