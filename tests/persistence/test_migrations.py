"""Migrations are the schema's source of truth: they match the table models, and each one
can be undone and redone with data in the tables (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from db_support import BACKENDS, fresh_url
from venapath.persistence import migrate
from venapath.persistence.database import Database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models_and_step_down_and_up(backend: str, tmp_path: Path) -> None:
    with fresh_url(backend, tmp_path) as url:
        database = Database(url)
        try:
            migrate.upgrade(database, "0001")
            with database.engine.begin() as connection:
                connection.execute(
                    text(
                        "INSERT INTO patients (id, pseudonym, version, created_at, updated_at) "
                        "VALUES ('p1', 'KEPT-1', 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    )
                )
            with pytest.raises(migrate.SchemaOutOfDateError, match="expected"):
                migrate.check(database)
            migrate.upgrade(database)
            migrate.check(database)
            assert migrate.current(database) == migrate.head()
            migrate.downgrade(database, "0001")
            migrate.upgrade(database)
            migrate.check(database)
            with database.engine.connect() as connection:
                kept = connection.execute(text("SELECT pseudonym FROM patients")).scalar_one()
            assert kept == "KEPT-1"
        finally:
            database.dispose()
